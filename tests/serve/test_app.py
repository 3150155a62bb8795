from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import requests

from mlci.model.load import load_model
from mlci.model.onnx import export_onnx
from mlci.serve.app import create_app, load_served_model
from mlci.serve.payload import InputSchema, PayloadError, parse_body, schema_from_frame
from mlci.serve.server import RunningServer, start_server
from tests.serve.helpers import eval_frame, train_classifier, train_regressor


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("serve-models")


@pytest.fixture(scope="module")
def skops_path(model_dir: Path) -> Path:
    return train_classifier(model_dir)


@pytest.fixture(scope="module")
def server(skops_path: Path) -> Iterator[RunningServer]:
    features = eval_frame().drop(columns="target")
    served = load_served_model(
        skops_path,
        metadata={"version": 3, "input_schema": schema_from_frame(features).to_dict()},
        version=3,
    )
    with start_server(create_app(served, max_body_bytes=200_000, max_rows=500)) as running:
        yield running


def _rows(n: int) -> list[dict[str, float]]:
    return eval_frame().drop(columns="target").head(n).to_dict(orient="records")


def test_predict_records_matches_offline(server: RunningServer, skops_path: Path) -> None:
    rows = _rows(25)
    resp = requests.post(f"{server.url}/predict", json={"records": rows}, timeout=10)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    offline = load_model(skops_path)
    frame = eval_frame().drop(columns="target").head(25)
    assert body["predictions"] == offline.predict(frame).tolist()
    assert np.allclose(body["probabilities"], offline.predict_proba(frame), atol=1e-12)
    assert body["classes"] == [0, 1]
    assert body["model_version"] == 3


def test_predict_columns_and_bare_list(server: RunningServer) -> None:
    rows = _rows(4)
    columns = {k: [r[k] for r in rows] for k in rows[0]}
    by_columns = requests.post(f"{server.url}/predict", json={"columns": columns}, timeout=10)
    bare = requests.post(f"{server.url}/predict", json=rows, timeout=10)
    assert by_columns.status_code == bare.status_code == 200
    assert by_columns.json()["predictions"] == bare.json()["predictions"]
    # The answer names no server software; it carries the date HTTP asks for.
    assert "server" not in bare.headers and "date" in bare.headers


def test_health_and_metadata(server: RunningServer) -> None:
    health = requests.get(f"{server.url}/health", timeout=10).json()
    assert health["status"] == "ok" and health["model_version"] == 3
    assert health["format"] == "skops"
    meta = requests.get(f"{server.url}/metadata", timeout=10).json()
    assert meta["features"][0] == "mean_radius"
    assert meta["input_schema"]["columns"][0] == {"name": "mean_radius", "type": "number"}
    assert meta["classes"] == [0, 1]


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"{not json", 400, "invalid JSON"),
        (b'{"records": []}', 422, '"records" must be a non-empty list'),
        (b'{"rows": [1]}', 422, 'give exactly one of "records"'),
        (b"42", 422, "body must be"),
    ],
)
def test_bad_bodies(server: RunningServer, body: bytes, status: int, message: str) -> None:
    resp = requests.post(
        f"{server.url}/predict", data=body, headers={"content-type": "application/json"}, timeout=10
    )
    assert resp.status_code == status
    assert message in resp.json()["error"]


def test_wrong_columns_are_named(server: RunningServer) -> None:
    row = _rows(1)[0]
    del row["mean_radius"]
    row["colour"] = 3
    resp = requests.post(f"{server.url}/predict", json={"records": [row]}, timeout=10)
    assert resp.status_code == 422
    assert resp.json()["error"].startswith(
        "missing columns 'mean_radius'; unexpected columns 'colour' (the model takes"
    )


def test_wrong_type_is_named(server: RunningServer) -> None:
    rows = _rows(3)
    rows[2]["mean_texture"] = "high"
    resp = requests.post(f"{server.url}/predict", json={"records": rows}, timeout=10)
    assert resp.status_code == 422
    assert resp.json()["error"] == "column 'mean_texture', row 2: expected a number, got 'high'"


def test_oversized_body_and_batch(server: RunningServer) -> None:
    big = json.dumps({"records": _rows(1) * 400}).encode()
    assert len(big) > 200_000
    resp = requests.post(
        f"{server.url}/predict", data=big, headers={"content-type": "application/json"}, timeout=10
    )
    assert resp.status_code == 413 and "over the limit of 200000" in resp.json()["error"]

    def chunks() -> Iterator[bytes]:  # chunked upload: no content-length to trust
        for i in range(0, len(big), 10_000):
            yield big[i : i + 10_000]

    resp = requests.post(
        f"{server.url}/predict",
        data=chunks(),
        headers={"content-type": "application/json"},
        timeout=10,
    )
    assert resp.status_code == 413
    row = _rows(1)[0]
    many = {"columns": {k: [v] * 501 for k, v in row.items()}}
    resp = requests.post(f"{server.url}/predict", json=many, timeout=10)
    assert resp.status_code == 413 and "batch of 501 rows" in resp.json()["error"]


def test_non_json_content_type(server: RunningServer) -> None:
    resp = requests.post(
        f"{server.url}/predict", data=b"a,b\n1,2", headers={"content-type": "text/csv"}, timeout=10
    )
    assert resp.status_code == 415


def test_onnx_service_agrees_with_skops(skops_path: Path, model_dir: Path) -> None:
    frame = eval_frame().drop(columns="target")
    result = export_onnx(load_model(skops_path), frame, model_dir / "model.onnx")
    assert result.passed
    served = load_served_model(model_dir / "model.onnx")
    assert served.predictor.format == "onnx"
    with start_server(create_app(served)) as running:
        rows = frame.head(50).to_dict(orient="records")
        body = requests.post(f"{running.url}/predict", json={"records": rows}, timeout=10).json()
    offline = load_model(skops_path)
    assert body["predictions"] == offline.predict(frame.head(50)).tolist()
    assert np.allclose(body["probabilities"], offline.predict_proba(frame.head(50)), atol=1e-4)
    # The service's session lets its worker threads sleep between runs; other loads keep
    # onnxruntime's default.
    spin = "session.intra_op.allow_spinning"
    options = served.predictor.session.get_session_options()  # type: ignore[attr-defined]
    assert options.get_session_config_entry(spin) == "0"
    plain = load_model(model_dir / "model.onnx").session  # type: ignore[attr-defined]
    with pytest.raises(RuntimeError, match="does not have configuration"):
        plain.get_session_options().get_session_config_entry(spin)


def test_regressor_and_model_errors_are_422(model_dir: Path) -> None:
    path, frame = train_regressor(model_dir)
    served = load_served_model(path)  # bare file: columns checked, types left to the model
    with start_server(create_app(served)) as running:
        rows = frame.drop(columns="target").head(3).to_dict(orient="records")
        ok = requests.post(f"{running.url}/predict", json=rows, timeout=10).json()
        assert "probabilities" not in ok and len(ok["predictions"]) == 3
        rows[0]["bmi"] = "fat"
        bad = requests.post(f"{running.url}/predict", json=rows, timeout=10)
    assert bad.status_code == 422
    assert bad.json()["error"].startswith("the model could not predict on this input")


def test_parse_body_types() -> None:
    schema = InputSchema({"n": "integer", "s": "string", "b": "boolean", "x": "number"})
    frame = parse_body(
        b'{"records": [{"n": 1, "s": "a", "b": true, "x": null}, {"n": 2.0, "s": "b", "b": false, "x": 1.5}]}',
        schema,
    )
    dtypes = frame.dtypes.astype(str).tolist()
    assert dtypes[0] == "int64" and dtypes[2:] == ["bool", "float64"]
    assert frame["s"].tolist() == ["a", "b"]
    assert np.isnan(frame["x"][0])
    with pytest.raises(PayloadError, match="column 'n', row 0: expected an integer, got 1.5"):
        parse_body(b'{"columns": {"n": [1.5], "s": ["a"], "b": [true], "x": [1]}}', schema)
    with pytest.raises(PayloadError, match=r"records\[0\]: missing columns 'y'"):
        parse_body(b'[{"x": 1}, {"y": 2}]', None)
