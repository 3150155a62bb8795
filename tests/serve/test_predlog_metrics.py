"""The prediction log (rolling Parquet files) and GET /metrics, through a real server."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pyarrow.dataset as ds
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from mlci.serve.app import create_app, load_served_model
from mlci.serve.metrics import ServiceMetrics
from mlci.serve.payload import schema_from_frame
from mlci.serve.predlog import LogSettings, PredictionLog
from mlci.serve.server import start_server
from tests.serve.helpers import eval_frame, train_classifier, train_regressor


@pytest.fixture(scope="module")
def skops_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_classifier(tmp_path_factory.mktemp("predlog-models"))


def _served(path: Path, version: int = 7):
    features = eval_frame().drop(columns="target")
    return load_served_model(
        path, metadata={"input_schema": schema_from_frame(features).to_dict()}, version=version
    )


def test_every_prediction_is_logged_with_its_request_id(skops_path: Path, tmp_path: Path) -> None:
    served = _served(skops_path)
    settings = LogSettings(tmp_path / "log", max_file_bytes=1, flush_seconds=0.05)
    predlog = PredictionLog(settings, version=served.version, classes=served.classes)
    frame = eval_frame().drop(columns="target")
    ids, answers = [], []
    with start_server(create_app(served, prediction_log=predlog)) as running:
        for start, n in ((0, 1), (1, 40), (41, 1), (42, 3)):
            rows = frame.iloc[start : start + n].to_dict(orient="records")
            resp = requests.post(f"{running.url}/predict", json={"records": rows}, timeout=30)
            assert resp.status_code == 200, resp.text
            ids.append(resp.json()["request_id"])
            answers.append(resp.json())
            time.sleep(0.1)  # let the writer take each request on its own (rotation by size)
        bad = requests.post(f"{running.url}/predict", json=[{}], timeout=30)
        assert bad.status_code == 422
    predlog.close()
    files = sorted((tmp_path / "log").glob("*.parquet"))
    assert len(files) >= 2, "max_file_bytes=1 finishes a file after each write"
    assert not list((tmp_path / "log").glob("*.part"))
    table = ds.dataset(files, format="parquet").to_table().to_pandas()
    assert len(table) == 45
    assert set(table["request_id"]) == set(ids)
    assert (table["model_version"] == 7).all()
    assert {"prediction", "proba_0", "proba_1", "row", "timestamp"} <= set(table.columns)
    assert str(table["timestamp"].dtype).startswith("datetime64") and "UTC" in str(
        table["timestamp"].dtype
    )
    big = table[table["request_id"] == ids[1]].sort_values("row")
    assert big["row"].tolist() == list(range(40))
    assert big["prediction"].tolist() == answers[1]["predictions"]
    assert np.allclose(big[["proba_0", "proba_1"]].to_numpy(), answers[1]["probabilities"])
    assert np.allclose(big["mean_radius"].to_numpy(), frame["mean_radius"].iloc[1:41])


def test_a_file_is_finished_when_it_is_old_enough(skops_path: Path, tmp_path: Path) -> None:
    served = _served(skops_path)
    settings = LogSettings(tmp_path / "log", max_file_seconds=0.2, flush_seconds=0.05)
    predlog = PredictionLog(settings, version=served.version, classes=served.classes)
    with start_server(create_app(served, prediction_log=predlog)) as running:
        rows = eval_frame().drop(columns="target").head(2).to_dict(orient="records")
        requests.post(f"{running.url}/predict", json=rows, timeout=30).raise_for_status()
        for _ in range(200):  # bounded wait: the writer checks the age on its own
            if list((tmp_path / "log").glob("*.parquet")):
                break
            time.sleep(0.05)
        assert len(list((tmp_path / "log").glob("*.parquet"))) == 1
    predlog.close()


def test_a_full_queue_drops_and_counts_instead_of_waiting(skops_path: Path, tmp_path: Path) -> None:
    served = _served(skops_path)
    metrics = ServiceMetrics(served.version, served.predictor.format, served.classes)
    settings = LogSettings(tmp_path / "log", max_queue_rows=5, flush_seconds=30)
    predlog = PredictionLog(
        settings, version=served.version, classes=served.classes, on_drop=metrics.dropped
    )
    with start_server(create_app(served, prediction_log=predlog, metrics=metrics)) as running:
        rows = eval_frame().drop(columns="target").head(4).to_dict(orient="records")
        for _ in range(3):
            requests.post(f"{running.url}/predict", json=rows, timeout=30).raise_for_status()
        text = requests.get(f"{running.url}/metrics", timeout=30).text
    predlog.close()
    assert predlog.rows_dropped == 8 and predlog.rows_written == 4
    assert 'mlci_prediction_log_dropped_rows_total{model_version="7"} 8.0' in text


def _families(text: str) -> dict[str, list]:
    return {f.name: f.samples for f in text_string_to_metric_families(text)}


def test_metrics_in_prometheus_format(skops_path: Path) -> None:
    served = _served(skops_path, version=3)
    with start_server(create_app(served)) as running:
        rows = eval_frame().drop(columns="target").head(30).to_dict(orient="records")
        ok = requests.post(f"{running.url}/predict", json=rows, timeout=30).json()
        requests.post(f"{running.url}/predict", json=[{}], timeout=30)
        requests.post(f"{running.url}/predict", data=b"{", timeout=30)
        resp = requests.get(f"{running.url}/metrics", timeout=30)
    assert resp.headers["content-type"].startswith("text/plain; version=")
    fams = _families(resp.text)
    requests_total = {
        (s.labels["route"], s.labels["status"]): s.value
        for s in fams["mlci_requests"]
        if s.name.endswith("_total")
    }
    assert requests_total == {("predict", "200"): 1, ("predict", "422"): 1, ("predict", "400"): 1}
    errors = [s for s in fams["mlci_request_errors"] if s.name.endswith("_total")]
    assert sum(s.value for s in errors) == 2
    assert all(s.labels["model_version"] == "3" for s in errors)
    count = [s for s in fams["mlci_request_duration_seconds"] if s.name.endswith("_count")]
    assert count[0].value == 3
    per_class = {
        s.labels["class"]: s.value for s in fams["mlci_predictions"] if s.name.endswith("_total")
    }
    assert per_class == {"0": ok["predictions"].count(0), "1": ok["predictions"].count(1)}
    info = fams["mlci_model_info"][0]
    assert info.labels == {"model_version": "3", "format": "skops"} and info.value == 1


def test_regression_metrics_are_a_histogram(tmp_path: Path) -> None:
    path, frame = train_regressor(tmp_path)
    served = load_served_model(path, version=1)
    with start_server(create_app(served)) as running:
        rows = frame.drop(columns="target").head(5).to_dict(orient="records")
        requests.post(f"{running.url}/predict", json=rows, timeout=30).raise_for_status()
        fams = _families(requests.get(f"{running.url}/metrics", timeout=30).text)
    # Buckets below zero: Prometheus histograms then carry no _sum/_count; +Inf counts.
    total = [s for s in fams["mlci_prediction_value"] if s.labels.get("le") == "+Inf"]
    assert total[0].value == 5 and "mlci_predictions" not in fams


def test_serve_log_dir_from_the_config(skops_path: Path, tmp_path: Path) -> None:
    from mlci.config import load_config_text
    from mlci.serve.predlog import open_prediction_log

    config = load_config_text(
        "version: 1\ntask: classification\nserve:\n  log_dir: logs/predictions\n"
        "  log_max_file_mb: 8\n  log_max_file_minutes: 15\n",
        root=tmp_path,
    )
    served = _served(skops_path)
    predlog = open_prediction_log(served, config, log_dir=None)
    assert predlog is not None
    try:
        assert predlog.settings.directory == tmp_path / "logs" / "predictions"
        assert predlog.settings.max_file_bytes == 8 * 1024 * 1024
        assert predlog.settings.max_file_seconds == 15 * 60
    finally:
        predlog.close()
    flag = open_prediction_log(served, config, log_dir=tmp_path / "flag")
    assert flag is not None and flag.settings.directory == tmp_path / "flag"
    flag.close()
    assert open_prediction_log(served, None, log_dir=None) is None
