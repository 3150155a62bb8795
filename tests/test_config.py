"""mlci.yaml: loading, every kind of broken file, and the generated JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlci.cli import main
from mlci.config import config_schema, load_config, load_config_text
from mlci.errors import ConfigError
from mlci.templating import templates_dir

MINIMAL = "version: 1\ntask: classification\n"


def issues_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config_text(text)
    return [str(i) for i in info.value.issues]


def test_minimal_config_gets_defaults() -> None:
    cfg = load_config_text(MINIMAL)
    assert cfg.task == "classification"
    assert cfg.data.schema == "mlci/schema.yaml"
    assert cfg.data.drift.share == 0.5
    assert cfg.model.gates == {}
    assert cfg.model.allow_ungated is False
    assert cfg.registry.backend == "local"
    assert cfg.retrain.mode == "pull-request"


def test_full_config_is_typed() -> None:
    cfg = load_config_text(
        MINIMAL
        + "data:\n  target: y\n  id_columns: [id]\n  drift:\n    columns:\n      age: {method: psi, threshold: 0.2}\n"
        + "model:\n  gates:\n    accuracy: {min: 0.8, max_drop: 0.01, relative: true}\n"
        + "  custom_metrics:\n    mcc: {function: sklearn.metrics.matthews_corrcoef, higher_is_better: true}\n"
        + "  metrics: [accuracy, mcc]\n"
    )
    assert cfg.data.id_columns == ["id"]
    assert cfg.data.drift.columns["age"].method == "psi"
    assert cfg.data.drift.columns["age"].threshold == 0.2
    gate = cfg.model.gates["accuracy"]
    assert (gate.min, gate.max_drop, gate.relative) == (0.8, 0.01, True)
    assert cfg.model.custom_metrics["mcc"].higher_is_better is True


def test_the_example_config_is_valid() -> None:
    example = Path(__file__).resolve().parents[1] / "examples" / "breast-cancer" / "mlci.yaml"
    cfg = load_config(example)
    assert cfg.root == example.parent
    assert cfg.resolve("data/eval.csv") == example.parent / "data" / "eval.csv"


# Each case: the broken file, and the exact messages expected (all of them, in order).
BROKEN = {
    "tab_indentation": (
        "version: 1\ntask: classification\nmodel:\n\tpath: m.onnx\n",
        [
            "mlci.yaml:4:1: a tab is used for indentation; YAML allows only spaces, replace the"
            " tab with spaces"
        ],
    ),
    "empty_file": (
        "",
        ["mlci.yaml: the file is empty; run `mlci init` or start from `version: 1` and `task:`"],
    ),
    "comments_only": (
        "# nothing here\n",
        ["mlci.yaml: the file is empty; run `mlci init` or start from `version: 1` and `task:`"],
    ),
    "list_at_root": (
        "- version: 1\n",
        [
            "mlci.yaml:1:1: the top level is a list; mlci.yaml must be a mapping of keys such as"
            " `version:` and `task:`"
        ],
    ),
    "scalar_at_root": (
        "classification\n",
        [
            "mlci.yaml:1:1: the top level is a single value; mlci.yaml must be a mapping of keys"
            " such as `version:` and `task:`"
        ],
    ),
    "duplicate_keys": (
        "version: 1\ntask: classification\ntask: regression\n",
        ["mlci.yaml:3:1: task: duplicate key (first defined on line 2); keep only one"],
    ),
    "unknown_key_top": (
        MINIMAL + "modle: {}\n",
        ["mlci.yaml:3:1: modle: unknown key; did you mean 'model'?"],
    ),
    "unknown_keys_deep": (
        MINIMAL + "data:\n  drift:\n    treshold: 0.1\nmodel:\n  gates:\n    accuracy: {mn: 0.5}\n",
        [
            "mlci.yaml:5:5: data.drift.treshold: unknown key; did you mean 'threshold'?",
            "mlci.yaml:8:16: model.gates.accuracy.mn: unknown key; did you mean 'min'?",
        ],
    ),
    "wrong_types": (
        MINIMAL + "data:\n  id_columns: id\n  drift:\n    enabled: 'yes'\nmodel:\n  trusted: 1\n",
        [
            "mlci.yaml:4:15: data.id_columns: expected a list, got 'id'",
            "mlci.yaml:6:14: data.drift.enabled: expected true or false, got 'yes'",
            "mlci.yaml:8:12: model.trusted: expected true or false, got 1",
        ],
    ),
    "missing_required": (
        "version: 1\ndata: {}\n",
        ["mlci.yaml:1:1: missing required key 'task'"],
    ),
    "threshold_out_of_range": (
        MINIMAL
        + "data:\n  drift:\n    share: 1.5\nmodel:\n  gates:\n    accuracy:\n      min: high\n",
        [
            "mlci.yaml:5:12: data.drift.share: expected a number between 0 and 1, got 1.5",
            "mlci.yaml:9:12: model.gates.accuracy.min: expected a number between 0 and 1,"
            " got 'high'",
        ],
    ),
    "metric_range": (
        MINIMAL + "model:\n  gates:\n    roc_auc: {min: 1.2}\n",
        ["mlci.yaml:5:20: model.gates.roc_auc.min: expected a number between 0 and 1, got 1.2"],
    ),
    "unknown_metric": (
        MINIMAL + "model:\n  metrics: [acuracy]\n  gates:\n    f1: {min: 0.5}\n",
        [
            "mlci.yaml:4:13: model.metrics[0]: unknown metric 'acuracy'; did you mean"
            " 'accuracy'? (declare other metrics under model.custom_metrics)",
            "mlci.yaml:6:5: model.gates.f1: unknown metric 'f1'; did you mean 'f1_macro'?"
            " (declare other metrics under model.custom_metrics)",
        ],
    ),
    "metric_of_other_task": (
        "version: 1\ntask: regression\nmodel:\n  gates:\n    accuracy: {min: 0.5}\n",
        [
            "mlci.yaml:5:5: model.gates.accuracy: 'accuracy' is a classification metric but task"
            " is 'regression'; use a metric of this task or change `task`"
        ],
    ),
    "unknown_task": (
        "version: 1\ntask: clustering\n",
        [
            "mlci.yaml:2:7: task: 'clustering' is not allowed; expected one of: classification,"
            " regression"
        ],
    ),
    "misspelt_task": (
        "version: 1\ntask: regresion\n",
        ["mlci.yaml:2:7: task: 'regresion' is not allowed; did you mean 'regression'?"],
    ),
    "wrong_version": (
        "version: 2\ntask: regression\n",
        ["mlci.yaml:1:10: version: 2 is not allowed; expected one of: 1"],
    ),
    "python_tag": (
        "version: 1\ntask: !!python/object/apply:os.system ['echo pwned']\n",
        [
            "mlci.yaml:2:7: task: the YAML tag 'tag:yaml.org,2002:python/object/apply:os.system'"
            " is not allowed; mlci reads plain data only, remove the tag"
        ],
    ),
    "custom_tag": (
        "version: 1\ntask: classification\nmodel: !include other.yaml\n",
        [
            "mlci.yaml:3:8: model: the YAML tag '!include' is not allowed; mlci reads plain data"
            " only, remove the tag"
        ],
    ),
    "unknown_check_code": (
        MINIMAL + "data:\n  checks:\n    out_of_rang: error\n",
        [
            "mlci.yaml:5:5: data.checks.out_of_rang: unknown check 'out_of_rang'; did you mean"
            " 'out_of_range'?"
        ],
    ),
    "bad_severity": (
        MINIMAL + "data:\n  checks:\n    drift: fatal\n",
        [
            "mlci.yaml:5:12: data.checks.drift: 'fatal' is not allowed; expected one of: error,"
            " warning, off"
        ],
    ),
    "bad_cron": (
        MINIMAL + "retrain:\n  schedule: weekly\n",
        [
            "mlci.yaml:4:13: retrain.schedule: 'weekly' is not a cron expression with 5 fields;"
            " write e.g. '17 3 * * 1' (03:17 UTC every Monday)"
        ],
    ),
    "unknown_column_check_code": (
        MINIMAL + "data:\n  column_checks:\n    age:\n      out_of_rang: error\n",
        [
            "mlci.yaml:6:7: data.column_checks.age.out_of_rang: unknown check 'out_of_rang';"
            " did you mean 'out_of_range'?"
        ],
    ),
    "bad_monitor_cron": (
        MINIMAL + "monitor:\n  schedule: '0 6 * *'\n",
        [
            "mlci.yaml:4:13: monitor.schedule: '0 6 * *' is not a cron expression with 5 fields;"
            " write e.g. '23 6 * * *' (06:23 UTC every day)"
        ],
    ),
    "retrain_data_twice": (
        MINIMAL + "retrain:\n  data: fresh.csv\n  data_command: ./fetch.sh\n",
        [
            "mlci.yaml:5:17: retrain.data_command: set either retrain.data or"
            " retrain.data_command, not both"
        ],
    ),
    "negative_count": (
        MINIMAL + "model:\n  slices:\n    min_size: -3\n",
        ["mlci.yaml:5:15: model.slices.min_size: expected a whole number of at least 1, got -3"],
    ),
    "min_above_max": (
        MINIMAL + "model:\n  gates:\n    accuracy: {min: 0.9, max: 0.8}\n",
        ["mlci.yaml:5:31: model.gates.accuracy.max: max is smaller than min; swap them"],
    ),
    "merge_key": (
        MINIMAL + "base: &b {min: 0.5}\nmodel:\n  gates:\n    accuracy:\n      <<: *b\n",
        [
            "mlci.yaml:7:7: model.gates.accuracy: merge keys (<<) are not supported;"
            " write the keys out",
        ],
    ),
}


def test_a_path_the_command_needs_must_exist(tmp_path: Path) -> None:
    path = tmp_path / "mlci.yaml"
    path.write_text(MINIMAL + "data:\n  eval: data/holdout.csv\n")
    cfg = load_config(path)
    assert cfg.where("data", "eval") == f"{path}:4:9"
    with pytest.raises(ConfigError) as info:
        cfg.existing_path("data", "eval")
    assert str(info.value) == (
        f"{path}:4:9: data.eval: 'data/holdout.csv' does not exist (looked for"
        f" {tmp_path / 'data' / 'holdout.csv'}); check the path, or create the file first"
    )
    with pytest.raises(ConfigError) as info:
        cfg.existing_path("data", "reference", purpose="the drift reference")
    assert str(info.value) == (
        f"{path}:3:1: data.reference: not set, but this command needs it (the drift"
        " reference); add it to mlci.yaml or pass it as an option"
    )
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "holdout.csv").write_text("a\n1\n")
    assert cfg.existing_path("data", "eval") == tmp_path / "data" / "holdout.csv"


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_configs_report_every_problem_with_its_place(name: str) -> None:
    text, expected = BROKEN[name]
    assert issues_of(text) == expected


def test_invalid_yaml_names_the_place() -> None:
    # libyaml and the pure-Python parser word the problem differently; the place and fix agree.
    (issue,) = issues_of("version: 1\ntask: [classification\n")
    assert issue.startswith("mlci.yaml:3:1: invalid YAML (while parsing a flow sequence: ")
    assert issue.endswith("); fix the syntax at this position")


def test_python_tag_is_never_constructed(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = f"version: 1\ntask: !!python/object/apply:os.system ['touch {marker}']\n"
    issues_of(text)
    assert not marker.exists()


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "mlci.yaml"
    path.write_bytes(b"version: 1\ntask: \xff\xfe\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"{path}:2:7: not UTF-8 text (byte 17); save the file as UTF-8"


def test_config_check_cli_ok(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "mlci.yaml"
    path.write_text(MINIMAL)
    assert main(["config", "check", str(path)]) == 0
    assert capsys.readouterr().out == f"{path}: ok (classification, registry local)\n"


def test_config_check_cli_lists_all_errors_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "mlci.yaml"
    path.write_text(BROKEN["wrong_types"][0])
    assert main(["config", "check", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        f"mlci: error: {path}:4:15: data.id_columns: expected a list, got 'id'",
        f"mlci: error: {path}:6:14: data.drift.enabled: expected true or false, got 'yes'",
        f"mlci: error: {path}:8:12: model.trusted: expected true or false, got 1",
    ]
    assert "Traceback" not in captured.err


def test_config_check_missing_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["config", "check"]) == 2
    assert capsys.readouterr().err == (
        "mlci: error: mlci.yaml: config file not found; run `mlci init` to create it, or pass"
        " --config PATH\n"
    )


def test_config_check_under_actions_annotates(
    tmp_path: Path, gh_env: object, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "mlci.yaml"
    path.write_text("version: 1\ntask: clasification\n")
    assert main(["config", "check", str(path)]) == 2
    out = capsys.readouterr().out
    assert out == (
        f"::error file={path},line=2,title=mlci::{path}:2:7: task: 'clasification' is not"
        " allowed; did you mean 'classification'?\n"
    )


def test_schema_command_prints_generated_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "schema"]) == 0
    assert json.loads(capsys.readouterr().out) == config_schema()


def test_shipped_schema_is_current() -> None:
    shipped = json.loads((templates_dir() / "mlci.schema.json").read_text())
    assert shipped == config_schema(), "run `mlci config schema -o templates/mlci.schema.json`"


def test_schema_agrees_with_loader() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = config_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    good = {"version": 1, "task": "regression", "model": {"gates": {"rmse": {"max": 3}}}}
    assert list(validator.iter_errors(good)) == []
    bad = {"version": 1, "task": "regression", "modle": {}}
    assert [e.message for e in validator.iter_errors(bad)] == [
        "Additional properties are not allowed ('modle' was unexpected)"
    ]
    max_drop = schema["$defs"]["Gate"]["properties"]["max_drop"]
    assert max_drop["anyOf"] == [{"type": "number", "minimum": 0}, {"type": "null"}]


def test_a_removed_key_says_what_replaced_it(tmp_path: Path) -> None:
    path = tmp_path / "mlci.yaml"
    path.write_text("version: 1\ntask: classification\nreport:\n  check_run: false\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value.issues[0]) == (
        f"{path}:4:3: report.check_run: removed key; the check run is chosen where the report"
        " is posted (mlci report --check-run / --no-check-run; --post creates one unless"
        " --no-check-run); delete the key"
    )
