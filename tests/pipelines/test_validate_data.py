"""`mlci validate-data` end to end: config and flags, results, Actions outputs, bad inputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlci.cli import main
from mlci.report.escape import md
from mlci.results import read_results
from tests.data.conftest import load_cancer, mixed_frame, write
from tests.helpers import build_file_tree


@pytest.fixture
def cancer() -> pd.DataFrame:
    return load_cancer().copy()


CONFIG = """\
version: 1
task: classification
data:
  reference: data/reference.csv
  current: data/current.csv
  target: target
  schema: mlci/schema.yaml
  chunk_rows: 1000
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cancer: pd.DataFrame) -> Path:
    """A project with the breast cancer data split at random into reference and current."""
    shuffled = cancer.sample(frac=1.0, random_state=0).reset_index(drop=True)
    build_file_tree(tmp_path, {"mlci.yaml": CONFIG})
    write(shuffled.iloc[:300], tmp_path / "data" / "reference.csv")
    write(shuffled.iloc[300:], tmp_path / "data" / "current.csv")
    monkeypatch.chdir(tmp_path)
    assert main(["schema", "infer", "data/reference.csv", "--margin", "2"]) == 0
    return tmp_path


def _doc(root: Path, results: str = "mlci-results") -> dict:
    return read_results(root / results / "data.json")


def test_clean_split_passes_and_writes_data_json(project, capsys):
    assert main(["validate-data"]) == 0
    out = capsys.readouterr().out
    assert "validate-data: data/current.csv: 269 rows, 31 columns" in out
    assert "passed: 0 error(s)" in out
    doc = _doc(project)
    assert doc["kind"] == "data" and doc["passed"] is True
    assert (doc["rows"], doc["columns"]) == (269, 31)
    drift = doc["drift"]
    assert drift["dataset_drift"] is False and drift["share_threshold"] == 0.5
    label = next(c for c in drift["columns"] if c["column"] == "target")
    assert label["kind"] == "label" and label["method"] == "z"
    assert {c["method"] for c in drift["columns"]} == {"ks", "z"}
    data = doc["provenance"]["data"]
    assert data["current"]["path"] == "data/current.csv"
    assert data["current"]["fingerprint"].startswith("sha256:")
    assert data["schema"]["path"] == "mlci/schema.yaml"


def test_flags_override_the_config_and_drift_fails(project, cancer, capsys):
    ordered = cancer.sort_values("target")
    write(ordered.iloc[:284], project / "ref2.csv")
    write(ordered.iloc[284:], project / "cur2.parquet")
    code = main(
        [
            "validate-data",
            "--current",
            "cur2.parquet",
            "--reference",
            "ref2.csv",
            "--results",
            "out",
        ]
    )
    assert code == 1
    doc = _doc(project, "out")
    assert doc["passed"] is False and doc["drift"]["dataset_drift"] is True
    dataset = [f for f in doc["findings"] if f["check"] == "drift" and "column" not in f]
    assert dataset and dataset[0]["severity"] == "error"
    assert dataset[0]["message"].startswith("dataset drift: ")
    label = [f for f in doc["findings"] if f.get("column") == "target" and f["check"] == "drift"]
    assert label[0]["message"].startswith("label column 'target' drifted (z: p-value")
    assert doc["counts"]["drift"]["error"] == 1
    assert "FAILED" in capsys.readouterr().out


def test_no_drift_flag(project):
    assert main(["validate-data", "--no-drift"]) == 0
    assert _doc(project)["drift"] is None


def test_blocking_column_drift_fails_the_check(project, cancer):
    shifted = cancer.sample(frac=1.0, random_state=0).iloc[300:].copy()
    shifted["mean_radius"] *= 1.15
    write(shifted, project / "data" / "current.csv")
    assert main(["validate-data"]) == 0  # drift of one column is a warning by default
    (project / "mlci.yaml").write_text(
        CONFIG + "  drift:\n    columns:\n      mean_radius: {severity: error}\n"
    )
    assert main(["validate-data"]) == 1
    finding = next(f for f in _doc(project)["findings"] if f["check"] == "drift")
    assert (finding["column"], finding["severity"]) == ("mean_radius", "error")


def test_on_actions_outputs_summary_and_annotations(project, gh_env, capsys, cancer):
    current = cancer.sample(frac=1.0, random_state=0).iloc[300:].copy()
    current.loc[current.index[:3], "mean_area"] = 1e9
    write(current, project / "data" / "current.csv")
    gh_env.workspace = project
    import os

    os.environ["GITHUB_WORKSPACE"] = str(project)
    assert main(["validate-data"]) == 1
    out = capsys.readouterr().out
    assert (
        "::error file=data/current.csv,title=mlci data%3A out_of_range::3 value(s) of 'mean_area'"
        in out
    )
    assert gh_env.outputs() == "passed=false\nresults-path=mlci-results/data.json\n"
    summary = gh_env.summary_text()
    assert summary.startswith("## mlci data validation: FAILED")
    assert f"| error | `out_of_range` | {md('mean_area')} |" in summary
    assert "### Drift: share" in summary


def test_outputs_are_written_on_error_paths(project, gh_env):
    assert main(["validate-data", "--current", "missing.csv"]) == 2
    assert gh_env.outputs() == "passed=false\nresults-path=\n"


def test_stored_reference_profile_is_enough(project, capsys):
    assert main(["profile", "data/reference.csv", "-o", "ref.profile.json"]) == 0
    (project / "data" / "reference.csv").unlink()  # never re-read
    assert main(["validate-data", "--reference-profile", "ref.profile.json"]) == 0
    assert _doc(project)["drift"]["columns"]


def test_merged_shard_profiles_give_the_same_results(project, cancer):
    ref = cancer.sample(frac=1.0, random_state=0).iloc[:300]
    for i in range(3):
        write(ref.iloc[i * 100 : (i + 1) * 100], project / "shards" / f"s{i}.csv")
        assert main(["profile", f"shards/s{i}.csv", "-o", f"shards/s{i}.json"]) == 0
    shards = [f"shards/s{i}.json" for i in range(3)]
    assert main(["profile", "merge", *shards, "-o", "merged.json"]) == 0
    assert main(["profile", "data/reference.csv", "-o", "whole.json"]) == 0
    verdicts = []
    for prof in ("merged.json", "whole.json"):
        main(["validate-data", "--reference-profile", prof, "--results", f"r-{prof}"])
        doc = _doc(project, f"r-{prof}")
        verdicts.append(
            [
                (c["column"], c["method"], c["drifted"], c["statistic"])
                for c in doc["drift"]["columns"]
            ]
        )
    assert verdicts[0] == verdicts[1]


def test_without_a_schema_file_one_is_inferred_from_the_reference(project):
    (project / "mlci" / "schema.yaml").unlink()
    code = main(["validate-data"])
    doc = _doc(project)
    assert code == (0 if doc["passed"] else 1)
    note = next(f for f in doc["findings"] if f["check"] == "schema_inferred")
    assert note["check"] == "schema_inferred" and note["severity"] == "info"
    assert "mlci schema infer" in note["message"]


def test_schema_infer_and_profile_on_every_input_format(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    frame = mixed_frame(1500, 5)
    for name in ("d.csv", "d.csv.gz", "d.parquet", "d.jsonl"):
        write(frame, tmp_path / name)
        assert main(["schema", "infer", name, "-o", f"{name}.yaml"]) == 0
        assert (
            main(
                [
                    "validate-data",
                    "--current",
                    name,
                    "--schema",
                    f"{name}.yaml",
                    "--no-drift",
                    "--results",
                    name + ".r",
                ]
            )
            == 0
        )
    write(frame.iloc[:700], tmp_path / "dir" / "a.parquet")
    write(frame.iloc[700:], tmp_path / "dir" / "b.parquet")
    assert main(["profile", "dir", "-o", "dir.json"]) == 0
    assert json.loads((tmp_path / "dir.json").read_text())["rows"] == 1500


def test_parquet_keys_read_first_give_the_same_document(tmp_path, monkeypatch):
    """Parquet data with a key: rows are hashed only where the key repeats or is null."""
    from mlci.data.checks import Checker

    monkeypatch.chdir(tmp_path)
    (tmp_path / "mlci.yaml").write_text(
        "version: 1\ntask: classification\ndata:\n  chunk_rows: 1000\n"
    )
    frame = mixed_frame(5000, 1)
    assert main(["schema", "infer", _parquet(frame, "ref.parquet"), "-o", "s.yaml"]) == 0
    frame = frame.astype({"id": "float64"})  # room for null keys
    frame.loc[[10, 11, 4000], "id"] = np.nan
    frame.loc[4000] = frame.loc[10]  # a duplicate row with a null key
    frame.loc[4999] = frame.loc[3]  # a duplicate row, so a repeated key
    frame.loc[2500, "id"] = frame.loc[40, "id"]  # a repeated key, the rows differ
    _parquet(frame.iloc[:2000], "parts/a.parquet")
    _parquet(frame.iloc[2000:], "parts/b.parquet")
    calls: list[bool] = []
    index_keys = Checker.index_keys

    def spy(self, frames):
        calls.append(index_keys(self, frames))
        return calls[-1]

    def findings(current: str, out: str) -> list:
        argv = ["validate-data", "--current", current, "--schema", "s.yaml", "--no-drift"]
        assert main([*argv, "--results", out]) == 1
        return _doc(tmp_path, out)["findings"]

    monkeypatch.setattr(Checker, "index_keys", spy)
    indexed = findings("parts", "r1")
    monkeypatch.setattr(Checker, "index_keys", lambda self, frames: False)
    assert findings("parts", "r2") == indexed and calls == [True]
    dup = next(f for f in indexed if f["check"] == "duplicate_rows")
    assert [s["row"] for s in dup["samples"]] == [4001, 5000]
    assert next(f for f in indexed if f["check"] == "duplicate_key")["count"] == 2
    # A part without the key column: every row is hashed, as before.
    _parquet(frame.iloc[2000:].drop(columns=["id"]), "parts/b.parquet")
    monkeypatch.setattr(Checker, "index_keys", spy)
    unkeyed = findings("parts", "r3")
    monkeypatch.setattr(Checker, "index_keys", lambda self, frames: False)
    assert findings("parts", "r4") == unkeyed and calls == [True, False]


def test_a_key_column_missing_from_the_parquet_data_is_a_finding(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    frame = mixed_frame(1000, 2)
    assert main(["schema", "infer", _parquet(frame, "ref.parquet"), "-o", "s.yaml"]) == 0
    _parquet(frame.drop(columns=["id"]), "cur.parquet")
    argv = ["validate-data", "--current", "cur.parquet", "--schema", "s.yaml", "--no-drift"]
    assert main(argv) == 1
    found = {f["check"]: f for f in _doc(tmp_path)["findings"]}
    assert found["missing_column"]["column"] == "id"


def _parquet(frame: pd.DataFrame, name: str) -> str:
    write(frame, Path(name))
    return name


# -- bad inputs: exit 2 with the file named and a fix, or a finding ---------------------


def _usage_error(argv: list[str], capsys) -> str:
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    return err


def test_missing_current_file(project, capsys):
    err = _usage_error(["validate-data", "--current", "nope.csv"], capsys)
    assert (
        err
        == "mlci: error: nope.csv: data file not found; check the path (or the data section of mlci.yaml)\n"
    )


def test_empty_current_file(project, capsys):
    (project / "empty.csv").write_text("")
    err = _usage_error(["validate-data", "--current", "empty.csv"], capsys)
    assert "empty.csv: the file is empty (0 bytes); regenerate it or point at the right file" in err


def test_header_only_file(project, capsys):
    (project / "h.csv").write_text("mean_radius,target\n")
    err = _usage_error(["validate-data", "--current", "h.csv"], capsys)
    assert (
        "h.csv: the data has a header (or schema) but no rows; check that the file was written completely"
        in err
    )


def test_unparsable_csv(project, capsys):
    (project / "u.csv").write_text("mean_radius,target\n1.0,0\n2.0,1,7\n")
    err = _usage_error(["validate-data", "--current", "u.csv"], capsys)
    assert (
        "u.csv: cannot parse CSV (Error tokenizing data. C error: Expected 2 fields in line 3, saw 3)"
        in err
    )


def test_wrong_encoding(project, capsys):
    (project / "l.csv").write_bytes("mean_radius,city\n1.0,Besançon\n".encode("latin-1"))
    err = _usage_error(["validate-data", "--current", "l.csv"], capsys)
    assert "l.csv: column 'city', row 1: not UTF-8 text" in err and "re-save it as UTF-8" in err


def test_schema_that_matches_no_column(project, capsys):
    write(mixed_frame(50, 1), project / "other.csv")
    err = _usage_error(["validate-data", "--current", "other.csv"], capsys)
    assert "other.csv: none of its columns ('id', 'age', 'income'" in err
    assert "is in the schema mlci/schema.yaml ('mean_radius', 'mean_texture'" in err
    assert "re-infer the schema with `mlci schema infer`" in err


def test_missing_schema_file_named_by_flag(project, capsys):
    err = _usage_error(["validate-data", "--schema", "nope.yaml"], capsys)
    assert "nope.yaml: schema file not found; create it with `mlci schema infer REFERENCE" in err


def test_broken_schema_file(project, capsys):
    path = project / "mlci" / "schema.yaml"
    path.write_text(path.read_text().replace("type: float", "type: floot", 1))
    err = _usage_error(["validate-data"], capsys)
    assert "mlci/schema.yaml:" in err and "'floot' is not allowed; did you mean 'float'?" in err


def test_no_current_data_configured(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    err = _usage_error(["validate-data"], capsys)
    assert (
        "no current data to validate; pass --current PATH or set data.current in mlci.yaml" in err
    )


def test_missing_profile(project, capsys):
    err = _usage_error(["validate-data", "--reference-profile", "nope.json"], capsys)
    assert "nope.json: profile not found; write one with `mlci profile DATA -o nope.json`" in err


def test_all_null_column_is_a_finding(project, cancer):
    current = cancer.sample(frac=1.0, random_state=0).iloc[300:].copy()
    current["mean_radius"] = np.nan
    write(current, project / "data" / "current.csv")
    assert main(["validate-data"]) == 1
    finding = next(f for f in _doc(project)["findings"] if f.get("column") == "mean_radius")
    assert finding["check"] == "null_fraction"
    assert (
        finding["message"] == "all of the values of 'mean_radius' are null; nulls are not allowed"
    )
    assert finding["fraction"] == 1.0


def test_mixed_types_in_a_column_are_a_finding(project, cancer):
    current = cancer.sample(frac=1.0, random_state=0).iloc[300:].copy()
    current["mean_texture"] = current["mean_texture"].astype(object)
    current.iloc[4, current.columns.get_loc("mean_texture")] = "oops"
    write(current, project / "data" / "current.csv")
    assert main(["validate-data"]) == 1
    finding = next(f for f in _doc(project)["findings"] if f["check"] == "dtype_mismatch")
    assert finding["column"] == "mean_texture" and finding["count"] == 1
    assert finding["samples"] == [{"row": 5, "value": "oops"}]


def test_profile_merge_usage(project, capsys):
    err = _usage_error(["profile", "merge", "a.json"], capsys)
    assert "give the shard profiles and an output" in err
