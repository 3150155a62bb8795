"""The strict, bounded JSON reader and the atomic writer."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlci import jsonio
from mlci.errors import ConfigError, InputError
from mlci.typedload import spec


def refused(text: str | bytes) -> str:
    with pytest.raises(InputError) as info:
        jsonio.loads(text, source="doc.json")
    return str(info.value)


def test_plain_json_reads() -> None:
    assert jsonio.loads('{"a": [1, 2.5, null, true, "x"]}') == {"a": [1, 2.5, None, True, "x"]}


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_literals_are_refused(literal: str) -> None:
    assert refused(f'{{"a": {literal}}}') == (
        f"doc.json: {literal} is not valid JSON; write null (with a reason) instead;"
        " fix or regenerate the file"
    )


def test_float_out_of_range_is_refused() -> None:
    assert refused('{"a": 1e400}') == (
        "doc.json: the number 1e400 is out of the range of a float; fix or regenerate the file"
    )


@pytest.mark.parametrize("digits", [21, 400, 5000])
def test_huge_integers_are_refused(digits: int) -> None:
    assert refused('{"a": ' + "9" * digits + "}") == (
        f"doc.json: a whole number with {digits} digits is out of range (at most 20);"
        " fix or regenerate the file"
    )


def test_huge_float_text_is_refused() -> None:
    assert "out of range" in refused('{"a": 1.' + "0" * 5000 + "}")


@pytest.mark.parametrize("depth", [65, 500, 100_000])
def test_deep_nesting_is_refused(depth: int) -> None:
    assert refused("[" * depth + "]" * depth) == (
        "doc.json: nested more than 64 levels deep, deeper than mlci reads;"
        " fix or regenerate the file"
    )


def test_nesting_at_the_limit_reads() -> None:
    assert jsonio.loads("[" * 64 + "]" * 64) is not None


def test_syntax_errors_name_line_and_column() -> None:
    assert refused('{\n  "a": 1,\n}') == (
        "doc.json:3:1: not valid JSON (Expecting property name enclosed in double quotes);"
        " fix or regenerate the file"
    )


def test_not_utf8_is_refused() -> None:
    assert refused(b'{"a": "\xff"}') == (
        "doc.json: not UTF-8 text (byte 7), JSON must be UTF-8; fix or regenerate the file"
    )


def test_read_json_refuses_special_and_large_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(InputError, match="results document is a directory"):
        jsonio.read_json(tmp_path, what="results document")
    fifo = tmp_path / "data.json"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match=r"is a FIFO \(named pipe\), mlci reads only regular"):
        jsonio.read_json(fifo)
    link = tmp_path / "model.json"
    link.symlink_to("/dev/zero")
    with pytest.raises(InputError, match="is a device"):
        jsonio.read_json(link)
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"a": "x" * 300}))
    monkeypatch.setenv("MLCI_MAX_JSON_BYTES", "100")
    with pytest.raises(InputError) as info:
        jsonio.read_json(big)
    assert str(info.value) == (
        f"{big}: JSON file is {big.stat().st_size} bytes, over the limit of 100;"
        " set MLCI_MAX_JSON_BYTES to raise the limit (now 100)"
    )
    with pytest.raises(InputError, match="JSON file not found; check the path"):
        jsonio.read_json(tmp_path / "nope.json")


def test_write_json_is_strict_and_atomic(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "out.json"
    jsonio.write_json(path, {"b": 1, "a": "é"})
    assert path.read_text(encoding="utf-8") == '{\n  "b": 1,\n  "a": "é"\n}\n'
    with pytest.raises(ValueError):
        jsonio.write_json(path, {"x": float("nan")})
    # The failed write left the old document and no temporary file behind.
    assert json.loads(path.read_text(encoding="utf-8")) == {"b": 1, "a": "é"}
    assert [p.name for p in path.parent.iterdir()] == ["out.json"]


@dataclass(frozen=True)
class _Doc:
    name: str = spec(doc="A name")
    count: int = spec(0, "A count", minimum=0)
    tags: list[str] = spec(factory=list, doc="Tags")


def test_read_typed_names_the_file_and_every_field(tmp_path: Path) -> None:
    path = tmp_path / "doc.json"
    path.write_text('{"name": ["x"], "count": -1, "tags": [1, {}], "extra": 1}')
    with pytest.raises(ConfigError) as info:
        jsonio.read_typed(_Doc, path)
    assert [str(i) for i in info.value.issues] == [
        f"{path}: extra: unknown key; expected one of: count, name, tags",
        f"{path}: name: expected a string, got a list",
        f"{path}: count: expected a whole number of at least 0, got -1",
        f"{path}: tags[1]: expected a string, got a mapping",
    ]
    path.write_text('{"name": "x", "count": 2, "tags": ["a"]}')
    assert jsonio.read_typed(_Doc, path) == _Doc("x", 2, ["a"])


def test_read_typed_refuses_a_list_document(tmp_path: Path) -> None:
    path = tmp_path / "doc.json"
    path.write_text("[1]")
    with pytest.raises(ConfigError) as info:
        jsonio.read_typed(_Doc, path)
    assert str(info.value) == f"{path}: expected a JSON object, got a list"


@pytest.mark.parametrize("text", [r'{"a": "\ud800"}', r'{"\udfff": 1}', r'["x\uDBFFy"]'])
def test_a_lone_surrogate_escape_is_refused(text: str) -> None:
    with pytest.raises(InputError, match=r"^f.json: a \\u escape names half of a surrogate pair"):
        jsonio.loads(text, source="f.json")


def test_surrogate_pairs_and_escaped_backslashes_are_text() -> None:
    assert jsonio.loads(r'{"a": "\ud83d\ude00", "b": "\\ud800"}') == {"a": "😀", "b": "\\ud800"}


def test_a_record_of_a_json_lines_file_names_its_line() -> None:
    with pytest.raises(InputError, match=r"^d.jsonl:7:6: not valid JSON Lines \(Expecting"):
        jsonio.loads('{"a" 1}', source="d.jsonl", line=7, what="JSON Lines")
    with pytest.raises(InputError, match=r"^d.jsonl:7: NaN is not valid JSON"):
        jsonio.loads('{"a": NaN}', source="d.jsonl", line=7)
