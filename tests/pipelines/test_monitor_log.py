"""`mlci monitor --current LOGDIR`: the prediction log of `mlci serve`, per model version."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlci.cli import main
from mlci.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from tests.pipelines import ct_project
from tests.pipelines.ct_project import results, write_config

ct_template = ct_project.ct_template
project = ct_project.project

LOG = {"monitor": {"labels": "data/labels.csv", "open_issues": False}}


def write_part(
    folder: Path,
    name: str,
    frame: pd.DataFrame,
    *,
    predictions: np.ndarray,
    version: int | None,
    when: dt.datetime,
    prefix: str,
    rows_per_request: int = 1,
) -> pd.DataFrame:
    """One finished log part with the columns `mlci serve --log-dir` writes; returns its keys."""
    folder.mkdir(parents=True, exist_ok=True)
    n = len(frame)
    features = frame.drop(columns=["id", "target"])
    request = np.arange(n) // rows_per_request
    columns = {c: pa.array(features[c].to_numpy()) for c in features.columns}
    columns["prediction"] = pa.array(predictions)
    columns["model_version"] = pa.array([version] * n, type=pa.int64())
    columns["request_id"] = pa.array([f"{prefix}-{r}" for r in request])
    columns["row"] = pa.array((np.arange(n) % rows_per_request).astype(np.int32))
    stamp = int(when.timestamp() * 1e6)
    columns["timestamp"] = pa.array([stamp] * n, type=pa.timestamp("us", tz="UTC"))
    pq.write_table(pa.table(columns), folder / f"{name}.parquet", row_group_size=40)
    return pd.DataFrame({"request_id": columns["request_id"].to_pylist(), "row": columns["row"]})


def _monitor(root: Path, *extra: str) -> int:
    return main(
        [
            "monitor",
            "--config",
            str(root / "mlci.yaml"),
            "--results",
            "mlci-results",
            "--current",
            str(root / "logs"),
            *extra,
        ]
    )


@pytest.fixture
def logged(project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Ten days ago v1 answered batch1 well; today it answers the shifted batch2 badly."""
    monkeypatch.delenv("GITHUB_REPOSITORY", raising=False)
    write_config(project, LOG)
    now = dt.datetime.now(dt.UTC)
    b1 = pd.read_csv(project / "data" / "batch1.csv")
    b2 = pd.read_csv(project / "data" / "batch2.csv")
    write_part(
        project / "logs",
        "predictions-old",
        b1,
        predictions=b1["target"].to_numpy(),
        version=1,
        when=now - dt.timedelta(days=10),
        prefix="old",
    )
    wrong = b2["target"].to_numpy().copy()
    wrong[: len(wrong) // 3] = 1 - wrong[: len(wrong) // 3]
    keys = write_part(
        project / "logs",
        "predictions-new",
        b2,
        predictions=wrong,
        version=1,
        when=now - dt.timedelta(hours=1),
        prefix="new",
        rows_per_request=4,
    )
    (project / "logs" / "predictions-open.parquet.part").write_bytes(b"half written")
    keys.assign(target=b2["target"]).to_csv(project / "data" / "labels.csv", index=False)
    return project


def test_the_log_in_a_window_drifts_and_decays(logged: Path) -> None:
    assert _monitor(logged, "--since", "7d") == EXIT_FAILED

    doc = results(logged, "monitor")
    b2 = pd.read_csv(logged / "data" / "batch2.csv")
    b1 = pd.read_csv(logged / "data" / "batch1.csv")
    assert doc["rows"] == len(b2)
    assert doc["log"]["rows_outside_window"] == len(b1)
    assert doc["version_judged"] == 1
    drifted = {c["column"] for c in doc["drift"]["columns"] if c["drifted"]}
    assert {"mean_texture", "worst_area"} <= drifted
    assert doc["labels"] == "data/labels.csv joined on request_id, row"
    expected = 1 - (len(b2) // 3) / len(b2)
    assert doc["live_metrics"]["accuracy"] == pytest.approx(expected)
    (v1,) = doc["versions"]
    assert v1["rows"] == len(b2) and v1["labelled"] == len(b2)
    assert v1["prediction_drift"]["column"] == "prediction"
    problems = {p["key"] for p in doc["problems"]}
    assert {"data-drift", "metric-accuracy"} <= problems


def test_without_a_window_every_row_counts(logged: Path) -> None:
    _monitor(logged)
    doc = results(logged, "monitor")
    assert doc["rows"] == len(pd.read_csv(logged / "data" / "batch1.csv")) + len(
        pd.read_csv(logged / "data" / "batch2.csv")
    )
    assert doc["log"]["rows_outside_window"] == 0


def test_each_model_version_is_reported(logged: Path) -> None:
    b1 = pd.read_csv(logged / "data" / "batch1.csv")
    write_part(
        logged / "logs",
        "predictions-v2",
        b1,
        predictions=b1["target"].to_numpy(),
        version=2,
        when=dt.datetime.now(dt.UTC),
        prefix="v2",
    )
    _monitor(logged, "--since", "7d")
    doc = results(logged, "monitor")
    assert [v["version"] for v in doc["versions"]] == [2, 1]
    v2 = doc["versions"][0]
    assert v2["rows"] == len(b1) and v2["labelled"] == 0
    assert not {"mean_texture", "worst_area"} & set(v2["drifted"])
    assert doc["version_judged"] == 1  # production still answers: it is judged
    assert any("v2 is not in the registry" in n for n in doc["notes"])


def test_rows_logged_without_a_version_are_named_as_such(logged: Path) -> None:
    # A service started with --model (a file, not a registry version) logs no version:
    # the notes say so, and how to log one, instead of naming a "vNone".
    for part in (logged / "logs").glob("*.parquet"):
        part.unlink()
    b2 = pd.read_csv(logged / "data" / "batch2.csv")
    write_part(
        logged / "logs",
        "predictions-file",
        b2,
        predictions=b2["target"].to_numpy(),
        version=None,
        when=dt.datetime.now(dt.UTC),
        prefix="file",
    )
    _monitor(logged, "--since", "7d")
    doc = results(logged, "monitor")
    assert doc["version_judged"] is None
    notes = [n for n in doc["notes"] if "answered no logged row" in n]
    assert notes == [
        "production v1 answered no logged row in the window; judging the rows logged"
        " without a model version (a service started with --model serves none; serve the"
        " registered version to log it)"
    ], doc["notes"]
    assert (
        "no delayed label joined a row of the rows logged without a model version: live"
        " metrics skipped" in doc["notes"]
    )
    assert not any("vNone" in n for n in doc["notes"])


def test_an_empty_window_checks_nothing(logged: Path) -> None:
    assert _monitor(logged, "--since", "1m") == EXIT_OK
    doc = results(logged, "monitor")
    assert doc["rows"] == 0 and doc["problems"] == []
    assert any("no logged rows in the time window" in n for n in doc["notes"])


@pytest.mark.parametrize("window", ["7", "-3d", "1y", "d"])
def test_a_bad_window_is_a_usage_error(
    logged: Path, window: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _monitor(logged, f"--since={window}") == EXIT_USAGE
    err = capsys.readouterr().err
    assert "--since" in err and "e.g. 7d" in err and "Traceback" not in err


def test_a_window_on_a_data_file_is_a_usage_error(
    logged: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "monitor",
            "--config",
            str(logged / "mlci.yaml"),
            "--current",
            str(logged / "data" / "batch1.csv"),
            "--since",
            "7d",
        ]
    )
    assert code == EXIT_USAGE
    assert "prediction log folder" in capsys.readouterr().err


def test_prediction_drift_follows_the_predictions_production_recorded(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """v2 recorded its predictions on its training data (all 1 here): its logged rows are
    compared with those; v1 recorded none, so its rows are compared with its model run
    on data.reference (about 60 % 1), as before."""
    monkeypatch.delenv("GITHUB_REPOSITORY", raising=False)
    write_config(project, LOG)
    b2 = pd.read_csv(project / "data" / "batch2.csv")
    ones = np.ones(len(b2), dtype=np.int64)
    assert ct_project.promote_with_reference(project, project / "data" / "batch2.csv", ones) == 2
    now = dt.datetime.now(dt.UTC)
    for version in (1, 2):
        write_part(
            project / "logs",
            f"predictions-v{version}",
            b2,
            predictions=ones,
            version=version,
            when=now,
            prefix=f"v{version}",
        )
    assert _monitor(project) in (EXIT_OK, EXIT_FAILED)

    doc = results(project, "monitor")
    versions = {v["version"]: v for v in doc["versions"]}
    assert doc["version_judged"] == 2
    assert versions[2]["reference"] == "training data of v2"
    assert versions[2]["prediction_drift"]["drifted"] is False
    assert versions[2]["prediction_drift"]["statistic"] == pytest.approx(0.0)
    assert doc["prediction_drift"] == versions[2]["prediction_drift"]
    assert "prediction-drift" not in {p["key"] for p in doc["problems"]}
    assert versions[1]["reference"] == "data.reference"
    assert versions[1]["prediction_drift"]["drifted"] is True


def test_labels_join_by_id_columns_that_are_not_features(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The model does not take ``id`` (data.id_columns): requests carry it beside the
    features, the log keeps it, and delayed labels written by id alone are joined."""
    import requests

    from mlci.config import load_config
    from mlci.model.baseline import served_file
    from mlci.registry import open_registry
    from mlci.serve.app import create_app, load_served_model
    from mlci.serve.predlog import open_prediction_log
    from mlci.serve.server import start_server

    monkeypatch.delenv("GITHUB_REPOSITORY", raising=False)
    write_config(project, LOG)
    config = load_config(project / "mlci.yaml")
    registry = open_registry(config, backend="local")
    v1 = registry.get(1)
    folder = registry.download(1, project / "v1")
    served = load_served_model(
        folder / str(served_file(v1, trusted=True)),
        metadata=v1.metadata,
        version=1,
        trusted=True,
    )
    assert "id" not in served.predictor.feature_names
    predlog = open_prediction_log(served, config, log_dir=project / "logs")
    assert predlog is not None and served.schema is not None
    assert served.schema.passthrough == ("id",)
    b2 = pd.read_csv(project / "data" / "batch2.csv")
    with start_server(create_app(served, prediction_log=predlog)) as running:
        for start in range(0, len(b2), 25):
            rows = b2.iloc[start : start + 25].drop(columns=["target"])
            answer = requests.post(
                f"{running.url}/predict", json={"records": rows.to_dict("records")}, timeout=30
            )
            assert answer.status_code == 200, answer.text
    predlog.close()
    logged = pq.read_table(project / "logs").to_pandas()
    assert logged["id"].tolist() == [str(i) for i in b2["id"]]
    b2[["id", "target"]].to_csv(project / "data" / "labels.csv", index=False)  # no request_id

    assert _monitor(project) in (EXIT_OK, EXIT_FAILED)
    doc = results(project, "monitor")
    assert doc["labels"] == "data/labels.csv joined on id"
    (v1_entry,) = doc["versions"]
    assert v1_entry["labelled"] == len(b2)
    assert "id" not in {c["column"] for c in doc["drift"]["columns"]}
