"""The results documents: strict JSON out, validated JSON in."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from mlci.errors import InputError
from mlci.results import (
    MAX_SAMPLES,
    Finding,
    file_fingerprint,
    has_errors,
    make_document,
    read_results,
    to_jsonable,
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


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "not a valid results document (Expecting property name enclosed in double quotes"),
        (
            '{"schema_version": 1, "kind": "data", "passed": NaN, "findings": [], "provenance": {}}',
            "not a valid results document (NaN is not valid JSON)",
        ),
        ("[]", "not a valid results document: data.json: expected object, got list"),
        (
            '{"schema_version": 9, "kind": "data", "passed": true, "findings": [], "provenance": {}}',
            "not a valid results document: data.json.schema_version: expected 1, got 9",
        ),
        (
            '{"schema_version": 1, "kind": "data", "passed": true, "provenance": {},'
            ' "findings": [{"check": "x", "severity": "fatal", "message": "m"}]}',
            "data.json.findings[0].severity: expected one of ['error', 'warning', 'info'], got 'fatal'",
        ),
    ],
)
def test_untrusted_documents_are_refused(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "data.json"
    path.write_text(content)
    with pytest.raises(InputError) as info:
        read_results(path)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)


def test_missing_and_oversized(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="results file not found; run `mlci validate-data`"):
        read_results(tmp_path / "model.json")
    big = tmp_path / "data.json"
    big.write_text(" " * 2000)
    with pytest.raises(InputError, match="over the 1000 limit"):
        read_results(big, max_bytes=1000)


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
