"""The results documents: strict JSON out, validated JSON in."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

from mlci.errors import InputError
from mlci.provenance import file_fingerprint
from mlci.results import (
    MAX_SAMPLES,
    Finding,
    RefusedDocument,
    has_errors,
    make_document,
    read_results,
    results_schemas,
    to_jsonable,
    validate_document,
    write_results,
)


def test_document_is_strict_json_and_round_trips(tmp_path: Path, gh_env) -> None:
    findings = [
        Finding("drift", "warning", "age drifted", column="age", observed=0.31),
        Finding(
            "out_of_range",
            "error",
            "3 values above the maximum",
            column="age",
            count=3,
            fraction=0.03,
            samples=[{"row": i, "value": float(v)} for i, v in enumerate(range(30))],
        ),
    ]
    doc = make_document(
        "data",
        passed=not has_errors(findings),
        findings=findings,
        payload={"rows": np.int64(100), "score": float("nan"), "inf": math.inf},
        provenance={"data": {"current": {"path": Path("d/cur.csv")}}},
    )
    path = write_results(tmp_path / "out", doc)
    assert path == tmp_path / "out" / "data.json"
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    back = read_results(path)
    assert back["passed"] is False
    assert [f["check"] for f in back["findings"]] == ["out_of_range", "drift"]
    assert len(back["findings"][0]["samples"]) == MAX_SAMPLES
    assert back["rows"] == 100 and back["score"] is None and back["inf"] is None
    assert back["provenance"]["data"]["current"]["path"] == "d/cur.csv"
    assert back["provenance"]["git_sha"] == "0123456789abcdef0123456789abcdef01234567"
    assert back["provenance"]["run_url"] == "https://github.com/octo/ml-project/actions/runs/42"


def test_to_jsonable_handles_numpy() -> None:
    assert to_jsonable({"a": np.float32(0.5), "b": np.array([1, 2]), "c": (np.nan,)}) == {
        "a": 0.5,
        "b": [1, 2],
        "c": [None],
    }


ENVELOPE = '"schema_version": 1, "passed": true, "provenance": {}'


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", ":1:2: not valid JSON (Expecting property name enclosed in double quotes)"),
        (
            '{"schema_version": 1, "kind": "data", "passed": NaN, "findings": [], "provenance": {}}',
            ": NaN is not valid JSON; write null (with a reason) instead",
        ),
        ("[]", ": expected a results document (an object), got a list"),
        (
            '{"schema_version": 9, "kind": "data", "passed": true, "findings": [], "provenance": {}}',
            ": schema_version: 9 is not allowed; expected one of: 1",
        ),
        (
            '{"schema_version": 1, "kind": "data", "passed": true, "provenance": {},'
            ' "findings": [{"check": "x", "severity": "fatal", "message": "m"}]}',
            ": findings[0].severity: 'fatal' is not allowed; expected one of: error, warning, info",
        ),
        (
            '{"schema_version": 1, "kind": "nope", "passed": true, "provenance": {}, "findings": []}',
            ": kind: expected one of data, model, deploy, retrain, monitor, tests, got 'nope'",
        ),
        ("{" + ENVELOPE + ', "kind": "data", "findings": [], "rows": 1e999}', "out of the range"),
        (
            "{" + ENVELOPE + ', "kind": "data", "findings": [], "rows": ' + "9" * 5000 + "}",
            ": a whole number with 5000 digits is out of range (at most 20)",
        ),
        (
            "{"
            + ENVELOPE
            + ', "kind": "data", "findings": [], "x": '
            + "[" * 500
            + "]" * 500
            + "}",
            ": nested more than 64 levels deep",
        ),
        (
            "{" + ENVELOPE + ', "kind": "data", "findings": [{"check": "x", "severity": "error",'
            ' "message": "m", "count": "Infinity"}]}',
            ": findings[0].count: expected a whole number of at least 0, got 'Infinity'",
        ),
        (
            "{" + ENVELOPE + ', "kind": "data", "findings": [{"check": "x", "severity": "error",'
            ' "message": "m", "metric": ["accuracy"]}]}',
            ": findings[0].metric: expected a string, got a list",
        ),
        (
            "{" + ENVELOPE + ', "kind": "data", "findings": [], "counts": {"drift": []}}',
            ": counts.drift: expected a mapping, got a list",
        ),
        (
            "{" + ENVELOPE + ', "kind": "data", "findings": [], "drift": {"columns": [{"column":'
            ' 3, "drifted": "yes"}]}}',
            ": drift.columns[0].drifted: expected true or false, got 'yes'",
        ),
    ],
)
def test_untrusted_documents_are_refused(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "data.json"
    path.write_text(content)
    with pytest.raises(InputError) as info:
        read_results(path)
    assert str(info.value).startswith(f"{path}")
    assert message in str(info.value)
    assert len(str(info.value)) < 1000


def test_model_documents_are_typed(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    path.write_text(
        "{" + ENVELOPE + ', "kind": "model", "findings": [], "metrics": {"accuracy": "high",'
        ' "f1": null}, "blessing": {"blessed": 1}, "gates": [{"metric": ["a"]}]}'
    )
    with pytest.raises(RefusedDocument) as info:
        read_results(path)
    assert info.value.problems == [
        "metrics.accuracy: expected a number, got 'high'",
        "gates[0].metric: expected a string, got a list",
        "blessing.blessed: expected true or false, got 1",
    ]


def test_a_document_of_another_kind_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_text("{" + ENVELOPE + ', "kind": "model", "findings": []}')
    with pytest.raises(RefusedDocument, match="holds a 'model' document, expected 'data'"):
        read_results(path, kind="data")


def test_missing_oversized_and_special_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(InputError, match="results file not found; run `mlci validate-data`"):
        read_results(tmp_path / "model.json")
    big = tmp_path / "data.json"
    big.write_text(" " * 2000)
    monkeypatch.setenv("MLCI_MAX_JSON_BYTES", "1000")
    with pytest.raises(InputError, match="results document is 2000 bytes, over the limit of 1000"):
        read_results(big)
    (tmp_path / "dir.json").mkdir()
    with pytest.raises(InputError, match="results document is a directory"):
        read_results(tmp_path / "dir.json")
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="results document is a FIFO"):
        read_results(fifo)
    link = tmp_path / "zero.json"
    link.symlink_to("/dev/zero")
    with pytest.raises(InputError, match="results document is a device"):
        read_results(link)


def test_a_writer_bug_is_not_written(tmp_path: Path) -> None:
    doc = make_document("data", passed=True, payload={"rows": "many"})
    with pytest.raises(ValueError, match=r"rows: expected a whole number of at least 0"):
        write_results(tmp_path, doc)
    assert not (tmp_path / "data.json").exists()


def test_shipped_results_schemas_are_current() -> None:
    docs = Path(__file__).resolve().parents[1] / "docs" / "results"
    schemas = results_schemas()
    if os.environ.get("MLCI_UPDATE_GOLDEN"):
        docs.mkdir(exist_ok=True)
        for kind, schema in schemas.items():
            (docs / f"{kind}.schema.json").write_text(json.dumps(schema, indent=2) + "\n")
    for kind, schema in schemas.items():
        shipped = json.loads((docs / f"{kind}.schema.json").read_text())
        assert shipped == schema, (
            "regenerate with MLCI_UPDATE_GOLDEN=1 pytest tests/test_results.py"
        )


def test_schemas_agree_with_the_loader(tmp_path: Path, gh_env) -> None:
    import jsonschema

    schemas = results_schemas()
    good = make_document(
        "data",
        passed=False,
        findings=[Finding("x", "error", "m", count=3, samples=[{"row": 1, "value": 2}])],
        payload={"rows": 3, "columns": 2, "counts": {"x": {"error": 1}}, "drift": None},
    )
    jsonschema.validate(good, schemas["data"])
    validate_document(good, source="data.json")
    bad = {**good, "rows": -1}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schemas["data"])
    with pytest.raises(RefusedDocument):
        validate_document(bad, source="data.json")


def test_fingerprint_of_file_and_directory(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.parquet").write_bytes(b"abc")
    (tmp_path / "f.csv").write_bytes(b"abc")
    assert file_fingerprint(tmp_path / "f.csv") == (
        "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )
    fp = file_fingerprint(tmp_path / "d")
    (tmp_path / "d" / "a.parquet").write_bytes(b"abd")
    assert file_fingerprint(tmp_path / "d") != fp
    json.dumps(fp)


@pytest.mark.parametrize(
    ("kind", "payload", "problem"),
    [
        (
            "data",
            '"findings": [{"check": "x", "severity": "error", "message": "m", "column": ["a"]}]',
            "findings[0].column: expected a string, got a list",
        ),
        (
            "model",
            '"findings": [], "slices": [{"column": "site", "metrics": {"accuracy": "high"}}]',
            "slices[0].metrics.accuracy: expected a number, got 'high'",
        ),
        (
            "model",
            '"findings": [], "features": {"candidate": "a,b"}',
            "features.candidate: expected a list, got 'a,b'",
        ),
        (
            "model",
            '"findings": [{"check": "x", "severity": "error", "message": "m",'
            ' "samples": [{"row": "1"}]}]',
            "findings[0].samples[0].row: expected a whole number of at least 0, got '1'",
        ),
    ],
)
def test_report_refuses_a_tampered_document_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, payload: str, problem: str
) -> None:
    from mlci.cli import main

    results = tmp_path / "results"
    results.mkdir()
    (results / f"{kind}.json").write_text("{" + ENVELOPE + f', "kind": "{kind}", ' + payload + "}")
    assert main(["report", "--results", str(results)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"mlci: error: {results / f'{kind}.json'}: {problem};"
        " re-run the step that wrote it with this mlci version\n"
    )
    assert not (results / "report.md").exists()


def test_typed_reading_gives_the_structure_and_the_json(tmp_path: Path, gh_env) -> None:
    from mlci.results import ModelResults, read_data_results, read_model_results

    doc = make_document(
        "model",
        passed=True,
        payload={
            "metrics": {"accuracy": 0.9, "f1": None},
            "blessing": {"blessed": True, "reason": "all gates passed", "notes": []},
            "gates": [{"metric": "accuracy", "rule": "min", "threshold": 0.8, "passed": True}],
            "extra": {"kept": [1]},
        },
    )
    path = write_results(tmp_path, doc)
    typed = read_model_results(path)
    assert isinstance(typed, ModelResults)
    assert typed.metrics == {"accuracy": 0.9, "f1": None}
    assert typed.blessing is not None and typed.blessing.blessed is True
    assert typed.gates[0].threshold == 0.8 and typed.gates[0].passed is True
    assert typed.raw["extra"] == {"kept": [1]}
    with pytest.raises(RefusedDocument, match="holds a 'model' document, expected 'data'"):
        read_data_results(path)


@pytest.mark.parametrize(
    ("kind", "payload", "problem"),
    [
        ("retrain", '"pull_request": {"number": "7"}', "pull_request.number: expected a whole"),
        ("retrain", '"decision": {"retrain": "yes"}', "decision.retrain: expected true or false"),
        ("retrain", '"champion": {"created": "x"}', "champion: missing required key 'version'"),
        ("retrain", '"data": {"files": "a.csv"}', "data.files: expected a list, got 'a.csv'"),
        ("monitor", '"problems": [{"key": "x"}]', "problems[0]: missing required key"),
        (
            "monitor",
            '"issues": [{"problem": "x", "number": -1, "action": "opened"}]',
            "issues[0].number: expected a whole number of at least 0, got -1",
        ),
        ("monitor", '"rollback": "done"', "rollback: expected a mapping, got 'done'"),
        (
            "monitor",
            '"label_drift": {"column": "y", "drifted": 1}',
            "label_drift.drifted: expected true or false, got 1",
        ),
    ],
)
def test_retrain_and_monitor_sub_parts_are_typed(
    tmp_path: Path, kind: str, payload: str, problem: str
) -> None:
    path = tmp_path / f"{kind}.json"
    path.write_text("{" + ENVELOPE + f', "kind": "{kind}", "findings": [], ' + payload + "}")
    with pytest.raises(RefusedDocument) as info:
        read_results(path, kind=kind)
    assert info.value.problems[0].startswith(problem)


def test_a_document_mlci_built_is_typed_or_a_bug(gh_env) -> None:
    from mlci.results import RetrainResults, as_typed

    doc = make_document("retrain", passed=True, payload={"outcome": "skipped"})
    typed = as_typed(RetrainResults, doc, what="retrain.json")
    assert typed.outcome == "skipped" and typed.raw["outcome"] == "skipped"
    bad = make_document("retrain", passed=True, payload={"decision": {"retrain": "no"}})
    with pytest.raises(ValueError, match=r"invalid retrain.json: .*decision.retrain"):
        as_typed(RetrainResults, bad, what="retrain.json")
