"""Hostile YAML: bombs, depth, size, special files, huge numbers, dates, YAML 1.1 words."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mlci.cli import main
from mlci.config import load_config, load_config_text
from mlci.errors import ConfigError
from mlci.yamlio import load_file, load_with_marks

MINIMAL = "version: 1\ntask: classification\n"


def issues_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config_text(text)
    return [str(i) for i in info.value.issues]


def test_alias_bomb_is_refused_quickly() -> None:
    # Nine levels of nine: 9**9 values once expanded.
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    issues = issues_of("\n".join(lines) + "\n")
    assert len(issues) == 1
    assert issues[0].startswith("mlci.yaml:6:")
    assert "the aliases expand to more than 100000 values (an alias bomb?)" in issues[0]
    assert issues[0].endswith("write the values out")


def test_many_aliases_are_refused() -> None:
    text = "a: &a x\nb: [" + ", ".join(["*a"] * 1001) + "]\n"
    (issue,) = issues_of(text)
    assert issue.startswith("mlci.yaml:2:")
    assert "more than 1000 aliases (*name); write the values out" in issue


def test_a_few_aliases_still_work() -> None:
    text = MINIMAL + "data:\n  id_columns: &ids [id]\nmonitor:\n  current: x\n"
    assert load_config_text(text).data.id_columns == ["id"]
    marked = load_with_marks("a: &a [1, 2]\nb: *a\n", "f.yaml")
    assert marked.value == {"a": [1, 2], "b": [1, 2]}


@pytest.mark.parametrize("opener", ["[", "{a: "])
def test_deep_nesting_is_refused_without_crashing(opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    text = "x: " + opener * 500 + "1" + closer * 500 + "\n"
    (issue,) = issues_of(text)
    assert issue.startswith("mlci.yaml:1:")
    assert issue.endswith("nested more than 64 levels deep; flatten the document")
    # Far deeper (composing it would crash libyaml): refused by mlci or by libyaml's own limit.
    text = "x: " + opener * 100_000 + "1" + closer * 100_000 + "\n"
    (issue,) = issues_of(text)
    assert "nested more than 64 levels" in issue or "exceeded maximum nesting depth" in issue


def test_block_nesting_is_refused() -> None:
    text = "".join(" " * (2 * i) + f"k{i}:\n" for i in range(80)) + " " * 160 + "v: 1\n"
    (issue,) = issues_of(text)
    assert "nested more than 64 levels deep" in issue


def test_nul_byte_is_reported_by_line_and_column() -> None:
    (issue,) = issues_of("version: 1\ntask: clas\x00sification\n")
    assert issue == (
        "mlci.yaml:2:11: the control character U+0000 is not allowed in YAML; remove it"
        " (or write it as an escape such as \\0 inside double quotes)"
    )


def test_oversized_file_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "mlci.yaml"
    with path.open("w") as fh:
        fh.write(MINIMAL)
        fh.write("# " + "x" * (5 * 1024 * 1024) + "\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == (
        f"{path}: YAML file is {path.stat().st_size} bytes, over the limit of 4194304;"
        " set MLCI_MAX_YAML_BYTES to raise the limit (now 4194304)"
    )


def test_size_limit_can_be_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "mlci.yaml"
    path.write_text(MINIMAL + "# " + "x" * 200 + "\n")
    monkeypatch.setenv("MLCI_MAX_YAML_BYTES", "100")
    with pytest.raises(ConfigError, match="over the limit of 100"):
        load_config(path)
    monkeypatch.setenv("MLCI_MAX_YAML_BYTES", "1000")
    assert load_config(path).task == "classification"
    monkeypatch.setenv("MLCI_MAX_YAML_BYTES", "lots")
    with pytest.raises(Exception, match="MLCI_MAX_YAML_BYTES='lots': expected a whole number"):
        load_config(path)


def test_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_file(tmp_path)
    assert str(info.value) == (
        f"{tmp_path}: YAML file is a directory, mlci reads only regular files; pass the file itself"
    )


@pytest.mark.timeout(20)
def test_fifo_is_refused_without_hanging(tmp_path: Path) -> None:
    fifo = tmp_path / "mlci.yaml"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError) as info:
        load_config(fifo)
    assert str(info.value) == (
        f"{fifo}: YAML file is a FIFO (named pipe), mlci reads only regular files;"
        " pass a regular file"
    )


@pytest.mark.timeout(20)
def test_device_and_link_to_dev_zero_are_refused(tmp_path: Path) -> None:
    link = tmp_path / "mlci.yaml"
    link.symlink_to("/dev/zero")
    for path in (Path("/dev/zero"), link):
        with pytest.raises(ConfigError, match="is a device, mlci reads only regular files"):
            load_config(path)


@pytest.mark.timeout(20)
def test_cli_refuses_special_files_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    for path in (fifo, Path("/dev/zero")):
        assert main(["config", "check", str(path)]) == 2
        err = capsys.readouterr().err
        assert f"{path}: YAML file is a" in err and "Traceback" not in err


def test_5000_digit_integer_is_exit_2_with_its_place() -> None:
    issues = issues_of(MINIMAL + "model:\n  bootstrap:\n    resamples: " + "9" * 5000 + "\n")
    assert issues == [
        "mlci.yaml:5:16: model.bootstrap.resamples: expected a whole number between 0 and"
        " 100000, got a number with 5000 digits, which is out of range"
    ]


def test_400_digit_integer_in_a_float_field_is_exit_2() -> None:
    issues = issues_of(MINIMAL + "data:\n  drift:\n    share: 1" + "0" * 399 + "\n")
    assert issues == [
        "mlci.yaml:5:12: data.drift.share: expected a number between 0 and 1,"
        " got a number with 400 digits, which is out of range"
    ]


def test_400_digit_integer_in_a_gate_bound_is_exit_2() -> None:
    issues = issues_of(MINIMAL + "model:\n  gates:\n    accuracy: {min: 1" + "0" * 399 + "}\n")
    assert len(issues) == 1
    assert issues[0].startswith("mlci.yaml:5:21: model.gates.accuracy.min: expected a number")
    assert len(issues[0]) < 300


def test_moderately_large_integers_are_range_checked() -> None:
    issues = issues_of(MINIMAL + "model:\n  bootstrap:\n    seed: 123456789012345678901234567\n")
    assert issues == [
        "mlci.yaml:5:11: model.bootstrap.seed: expected a whole number between 0 and"
        " 4.29497e+09, got a number with 27 digits, which is out of range"
    ]


def test_float_overflow_is_exit_2() -> None:
    (issue,) = issues_of(MINIMAL + "data:\n  drift:\n    threshold: 1.0e+400\n")
    assert issue == (
        "mlci.yaml:5:16: data.drift.threshold: expected a number of at least 0, got inf"
    )


@pytest.mark.parametrize(
    ("key", "value", "bound"),
    [
        ("model:\n  bootstrap:\n    resamples", "1000000000", "between 0 and 100000"),
        ("data:\n  chunk_rows", "1000000000", "between 1000 and 1e+07"),
        ("deploy:\n  smoke_rows", "1000000000", "between 1 and 10000"),
    ],
)
def test_costs_have_upper_bounds(key: str, value: str, bound: str) -> None:
    (issue,) = issues_of(f"{MINIMAL}{key}: {value}\n")
    assert f"expected a whole number {bound}, got {value}" in issue


@pytest.mark.parametrize("date", ["2024-02-30", "2024-13-45"])
def test_impossible_dates_as_values_and_keys_do_not_crash(date: str) -> None:
    # As a value of a text field: it is the text the user wrote.
    cfg = load_config_text(MINIMAL + f"data:\n  target: {date}\n  id_columns: [{date}]\n")
    assert cfg.data.target == date
    assert cfg.data.id_columns == [date]
    # As a key: a name.
    cfg = load_config_text(MINIMAL + f"data:\n  drift:\n    columns:\n      {date}: {{}}\n")
    assert list(cfg.data.drift.columns) == [date]
    # Where a number belongs: refused with its place.
    issues = issues_of(MINIMAL + f"data:\n  drift:\n    share: {date}\n")
    assert issues == [
        f"mlci.yaml:5:12: data.drift.share: expected a number between 0 and 1, got {date!r}"
    ]


def test_valid_unquoted_date_where_text_belongs() -> None:
    cfg = load_config_text(MINIMAL + "report:\n  title: 2024-01-31\n")
    assert cfg.report.title == "2024-01-31"


def test_off_severity_unquoted_is_the_word_off() -> None:
    cfg = load_config_text(
        MINIMAL
        + "data:\n  checks: {drift: off, duplicate_rows: error}\n"
        + "  column_checks:\n    age: {out_of_range: off}\n"
        + "  drift:\n    severity: off\n    columns:\n      age: {severity: off}\n"
    )
    assert cfg.data.checks == {"drift": "off", "duplicate_rows": "error"}
    assert cfg.data.column_checks == {"age": {"out_of_range": "off"}}
    assert cfg.data.drift.severity == "off"
    assert cfg.data.drift.columns["age"].severity == "off"


def test_null_and_true_as_column_names() -> None:
    cfg = load_config_text(
        MINIMAL
        + "data:\n  id_columns: [null, true, yes, 1e3, 010]\n"
        + "  drift:\n    columns:\n      null: {method: psi}\n      true: {method: ks}\n"
    )
    assert cfg.data.id_columns == ["null", "true", "yes", "1e3", "010"]
    assert list(cfg.data.drift.columns) == ["null", "true"]


def test_a_word_yaml_reads_as_boolean_where_a_choice_belongs_names_the_choices() -> None:
    (issue,) = issues_of(MINIMAL + "registry:\n  backend: yes\n")
    assert issue == (
        "mlci.yaml:4:12: registry.backend: 'yes' (YAML reads it as true) is not allowed;"
        " expected one of: local, github"
    )


def test_a_mapping_where_text_belongs_says_to_quote() -> None:
    (issue,) = issues_of(MINIMAL + "report:\n  title: {a: 1}\n")
    assert issue == (
        "mlci.yaml:4:10: report.title: expected a string, got a mapping;"
        " quote the value to keep it as text"
    )


def test_not_utf8_is_reported_by_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "mlci.yaml"
    path.write_bytes(b"version: 1\ntask: \xff\xfe\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"{path}:2:7: not UTF-8 text (byte 17); save the file as UTF-8"
