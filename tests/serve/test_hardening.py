"""Hostile requests and hostile clients, over real sockets on loopback.

Every loop here is bounded and every wait has a deadline; nothing asserts on time.
"""

from __future__ import annotations

import io
import json
import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import requests

from mlci.model.load import load_model
from mlci.model.onnx import export_onnx
from mlci.serve.app import Limits, create_app, load_served_model
from mlci.serve.payload import (
    InputSchema,
    PayloadError,
    _plain_columns,
    parse_request,
    schema_from_frame,
)
from mlci.serve.server import RunningServer, start_server
from tests.serve.helpers import eval_frame, train_classifier

JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hardening-models")


@pytest.fixture(scope="module")
def onnx_path(model_dir: Path) -> Path:
    skops_path = train_classifier(model_dir)
    frame = eval_frame().drop(columns="target")
    result = export_onnx(load_model(skops_path), frame, model_dir / "model.onnx")
    assert result.passed
    return model_dir / "model.onnx"


@pytest.fixture(scope="module")
def server(onnx_path: Path) -> Iterator[RunningServer]:
    # A bare ONNX file: no nullable information, so a null reaches the model and its
    # answer is checked.
    served = load_served_model(onnx_path)
    limits = Limits(max_rows=1000, max_concurrent=200)
    app = create_app(served, limits=limits)
    with start_server(app, header_timeout_s=1.0, body_timeout_s=1.0) as running:
        yield running


def _row() -> dict[str, float]:
    return eval_frame().drop(columns="target").head(1).to_dict(orient="records")[0]


def _post(server: RunningServer, body: bytes) -> requests.Response:
    return requests.post(f"{server.url}/predict", data=body, headers=JSON, timeout=30)


def _with(value: str) -> bytes:
    row = _row()
    text = json.dumps({"records": [row]})
    return text.replace(json.dumps(row["mean_radius"]), value, 1).encode()


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b'{"records": [{}]}', 422, "an empty object"),
        (b"[{}]", 422, "an empty object"),
        (b'{"records": {}}', 422, "an empty object"),
        (b'{"records": [{}, {}]}', 422, "an empty object"),
        (b'{"columns": {}}', 422, '"columns" must be a non-empty object'),
        (b'{"records": [1, 2]}', 422, "records[0]: expected an object"),
        (b"[" * 100_000 + b"]" * 100_000, 400, "invalid JSON"),
        (b'{"records": [{"a": ' + b"[" * 3000 + b"]" * 3000 + b"}]}", 400, "invalid JSON"),
        (_with("1" + "0" * 4000), 400, "within the float range"),
        (_with("NaN"), 400, "invalid JSON"),
        (_with("Infinity"), 400, "invalid JSON"),
        (_with("-Infinity"), 400, "invalid JSON"),
        (_with("1e400"), 400, "within the float range"),
        (_with('"12.5"'), 422, "column 'mean_radius', row 0: expected a number, got '12.5'"),
        (_with("true"), 422, "column 'mean_radius', row 0: expected a number, got True"),
        (_with("[1]"), 422, "column 'mean_radius', row 0: expected a number, got [1]"),
        (_with("1e39"), 422, "beyond the range of the model's 32-bit float input"),
        (_with("null"), 422, "row 0: the model cannot take a missing value in 'mean_radius'"),
        (b'{"records": [{"x": 1}], "extra": 1}', 422, "and no other key"),
        (b"\xff\xfe", 400, "invalid JSON"),
    ],
)
def test_bad_requests_are_4xx_with_a_json_error(
    server: RunningServer, body: bytes, status: int, message: str
) -> None:
    resp = _post(server, body)
    assert resp.status_code == status, resp.text
    err = resp.json()
    assert message in err["error"]
    assert err["status"] == status and err["request_id"] == resp.headers["x-request-id"]


def test_a_value_beyond_float32_is_refused_in_any_batch(server: RunningServer) -> None:
    # A null elsewhere in the batch (NaN in the block) does not hide it, nor does a
    # batch past the small-batch path.
    row = _row()
    other = next(k for k in row if k != "mean_radius")
    with_null = {**row, "mean_radius": 1e39, other: None}
    many = [row] * 20
    many = [*many[:7], {**row, "mean_radius": -1e39}, *many[8:]]
    for records, where in (([with_null], "row 0"), (many, "row 7")):
        resp = _post(server, json.dumps({"records": records}).encode())
        assert resp.status_code == 422, resp.text
        message = resp.json()["error"]
        assert f"column 'mean_radius', {where}:" in message
        assert "beyond the range of the model's 32-bit float input" in message


def test_millions_of_empty_records_are_refused_before_they_are_built() -> None:
    body = b"[" + b"{}," * 2_000_000 + b"{}]"
    with pytest.raises(PayloadError) as err:
        parse_request(body, None, max_rows=100_000)
    assert err.value.status == 413 and "more than 100000 records" in err.value.message
    # Braces inside strings do not count.
    text = json.dumps({"records": [{"s": "{" * 50}] * 3}).encode()
    assert len(parse_request(text, None, max_rows=5).frame()) == 3


def test_too_many_rows_in_every_body_kind(server: RunningServer) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    row = _row()
    table = pa.table({k: [v] * 1001 for k, v in row.items()})
    stream = io.BytesIO()
    with pa.ipc.new_stream(stream, table.schema) as writer:
        writer.write_table(table, max_chunksize=100)
    parquet = io.BytesIO()
    pq.write_table(table, parquet)
    for body, ctype in (
        (json.dumps({"records": [row] * 1001}).encode(), "application/json"),
        (json.dumps({"columns": table.to_pydict()}).encode(), "application/json"),
        (stream.getvalue(), "application/vnd.apache.arrow.stream"),
        (parquet.getvalue(), "application/vnd.apache.parquet"),
    ):
        resp = requests.post(
            f"{server.url}/predict", data=body, headers={"content-type": ctype}, timeout=30
        )
        assert resp.status_code == 413, (ctype, resp.text)
        assert "1000" in resp.json()["error"]


def test_a_columnar_body_gets_the_records_answer_byte_for_byte(server: RunningServer) -> None:
    """The columnar fast path and the records path give the same bytes back.

    300 rows (past every small-batch path), with edge numbers in every column: the
    float32 boundaries, subnormals, negative zero, integers beyond 2**53 and 2**64,
    long mantissas and exponents, written as JSON writes them.
    """
    frame = eval_frame().drop(columns="target")
    rows = [dict(r) for r in (frame.to_dict(orient="records") * 2)[:300]]
    edges = [
        "3.4028234663852886e38", "-3.4028234663852886e38", "1.1754943508222875e-38",
        "1e-45", "4.9e-324", "2.2250738585072014e-308", "-0.0", "0", "-0",
        "9007199254740993", "18446744073709551615", "123456789012345678901234567890",
        "0.30000000000000004", "1.0000000000000002", "7E1", "2.5e-3", "1e-400",
        "-123.456e-7", "16777217", "0.1",
    ]  # fmt: skip
    names = list(rows[0])
    for i in range(len(edges)):  # a marker in one cell per edge number, then its text
        rows[(7 * i) % len(rows)][names[i % len(names)]] = 1000.0 + i + 0.25
    records = json.dumps({"records": rows})
    columnar = json.dumps({"columns": {n: [r[n] for r in rows] for n in names}})
    for i, text in enumerate(edges):
        marker = json.dumps(1000.0 + i + 0.25)
        assert records.count(marker) == columnar.count(marker) == 1
        records, columnar = records.replace(marker, text), columnar.replace(marker, text)
    numbers = InputSchema({n: "number" for n in names})
    assert _plain_columns(columnar.encode(), numbers, 1000) is not None  # the fast path
    answers = []
    for body in (records, columnar):
        resp = requests.post(
            f"{server.url}/predict",
            data=body.encode(),
            headers={**JSON, "x-request-id": "same"},
            timeout=30,
        )
        assert resp.status_code == 200, resp.text
        answers.append(resp.content)
    assert answers[0] == answers[1]
    assert len(json.loads(answers[0])["predictions"]) == 300


def test_columnar_arrow_and_parquet_bodies_agree_with_records(server: RunningServer) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = eval_frame().drop(columns="target").head(40)
    records = requests.post(
        f"{server.url}/predict", json={"records": frame.to_dict(orient="records")}, timeout=30
    ).json()
    table = pa.Table.from_pandas(frame, preserve_index=False)
    stream, ipc_file, parquet = io.BytesIO(), io.BytesIO(), io.BytesIO()
    with pa.ipc.new_stream(stream, table.schema) as writer:
        writer.write_table(table)
    with pa.ipc.new_file(ipc_file, table.schema) as writer:
        writer.write_table(table)
    pq.write_table(table, parquet)
    bodies = [
        (json.dumps({"columns": frame.to_dict(orient="list")}).encode(), "application/json"),
        (stream.getvalue(), "application/vnd.apache.arrow.stream"),
        (ipc_file.getvalue(), "application/vnd.apache.arrow.file"),
        (parquet.getvalue(), "application/vnd.apache.parquet"),
    ]
    for body, ctype in bodies:
        resp = requests.post(
            f"{server.url}/predict", data=body, headers={"content-type": ctype}, timeout=30
        )
        assert resp.status_code == 200, (ctype, resp.text)
        assert resp.json()["predictions"] == records["predictions"]
        assert np.allclose(resp.json()["probabilities"], records["probabilities"])
    bad = requests.post(
        f"{server.url}/predict",
        data=b"PAR1 not parquet",
        headers={"content-type": "application/vnd.apache.parquet"},
        timeout=30,
    )
    assert bad.status_code == 400 and "invalid Parquet body" in bad.json()["error"]
    strings = pa.table({c: [str(v) for v in frame[c]] for c in frame.columns})
    out = io.BytesIO()
    pq.write_table(strings, out)
    resp = requests.post(
        f"{server.url}/predict",
        data=out.getvalue(),
        headers={"content-type": "application/vnd.apache.parquet"},
        timeout=30,
    )
    assert resp.status_code == 422 and "expected a number, got string" in resp.json()["error"]


def test_request_id_is_in_every_answer(server: RunningServer) -> None:
    ok = requests.post(f"{server.url}/predict", json={"records": [_row()]}, timeout=30)
    assert ok.status_code == 200 and len(ok.json()["request_id"]) == 32
    assert ok.headers["x-request-id"] == ok.json()["request_id"]
    mine = requests.post(
        f"{server.url}/predict",
        json={"records": [_row()]},
        headers={"x-request-id": "order-17.a"},
        timeout=30,
    )
    assert mine.json()["request_id"] == "order-17.a"
    odd = requests.post(
        f"{server.url}/predict",
        json={"records": [_row()]},
        headers={"x-request-id": "a b\tc" * 30},
        timeout=30,
    )
    assert odd.json()["request_id"] != "a b\tc" * 30


def _rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _wait_closed(sock: socket.socket, deadline: float) -> bool:
    """Whether the server closed ``sock`` (EOF or reset) before ``deadline``."""
    sock.settimeout(max(0.01, deadline - time.monotonic()))
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return True
            if time.monotonic() > deadline:
                return False
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False


@pytest.mark.slow
def test_a_thousand_stalled_connections_are_closed_and_memory_stays_bounded(
    server: RunningServer,
) -> None:
    host, port = server.url.removeprefix("http://").split(":")
    before = _rss_bytes()
    stalled_headers: list[socket.socket] = []
    stalled_bodies: list[socket.socket] = []
    try:
        for i in range(1000):
            s = socket.create_connection((host, int(port)), timeout=10)
            if i % 2:  # headers that never end
                s.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                stalled_headers.append(s)
            else:  # a body that never ends (1 MB announced, 4 KB sent)
                s.sendall(
                    b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 1000000\r\n\r\n" + b" " * 4096
                )
                stalled_bodies.append(s)
        # The service still answers while they hang (or says it is busy, in JSON).
        resp = requests.post(f"{server.url}/predict", json={"records": [_row()]}, timeout=30)
        assert resp.status_code in (200, 503), resp.text
        assert "request_id" in resp.json()
        deadline = time.monotonic() + 30
        assert all(_wait_closed(s, deadline) for s in stalled_headers)
        answered = 0
        for s in stalled_bodies:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            head = s.recv(65536)
            assert head.startswith((b"HTTP/1.1 408", b"HTTP/1.1 503")), head[:100]
            answered += 1
        assert answered == 500
        assert _rss_bytes() - before < 200 * 1024 * 1024
    finally:
        for s in stalled_headers + stalled_bodies:
            s.close()
    resp = requests.post(f"{server.url}/predict", json={"records": [_row()]}, timeout=30)
    assert resp.status_code == 200


def test_concurrency_cap_answers_503_in_json(onnx_path: Path) -> None:
    served = load_served_model(onnx_path)
    limits = Limits(max_concurrent=5)
    with start_server(create_app(served, limits=limits)) as running:
        host, port = running.url.removeprefix("http://").split(":")
        hanging = []
        try:
            for _ in range(5):  # five requests waiting for their bodies hold every slot
                s = socket.create_connection((host, int(port)), timeout=10)
                s.sendall(
                    b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 100\r\n\r\n{"
                )
                hanging.append(s)
            busy = None
            for _ in range(200):  # until the server has seen all five
                busy = requests.post(f"{running.url}/predict", json=[_row()], timeout=30)
                if busy.status_code == 503:
                    break
                time.sleep(0.02)
            assert busy is not None and busy.status_code == 503
            assert "limit of concurrent requests" in busy.json()["error"]
        finally:
            for s in hanging:
                s.close()


def test_an_aborted_upload_is_one_log_line(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    host, port = server.url.removeprefix("http://").split(":")
    with caplog.at_level(logging.INFO):
        s = socket.create_connection((host, int(port)), timeout=10)
        s.sendall(
            b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100000\r\n\r\n" + b"[" * 100
        )
        time.sleep(0.2)
        s.close()
        for _ in range(100):
            if any("closed the connection" in r.getMessage() for r in caplog.records):
                break
            time.sleep(0.05)
    lines = [r for r in caplog.records if "closed the connection" in r.getMessage()]
    assert len(lines) == 1
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


# -- missing values as the model was trained ---------------------------------------------


def _imputing_model(directory: Path) -> tuple[Path, object]:
    """A model that imputes a string feature (most frequent) and one-hot encodes it."""
    import pandas as pd
    import skops.io as sio
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    rng = np.random.default_rng(0)
    n = 300
    island = rng.choice(["Biscoe", "Dream", "Torgersen"], n).astype(object)
    island[rng.random(n) < 0.1] = np.nan
    mass = rng.normal(4.0, 0.5, n)
    mass[rng.random(n) < 0.1] = np.nan
    frame = pd.DataFrame({"island": island, "body_mass": mass})
    y = (pd.Series(island).fillna("Dream") == "Dream").astype(int) ^ (mass > 4.2)
    pre = ColumnTransformer(
        [
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")
                ),
                ["island"],
            ),
            ("num", SimpleImputer(strategy="median"), ["body_mass"]),
        ]
    )
    model = make_pipeline(pre, LogisticRegression()).fit(frame, y)
    path = directory / "imputing.skops"
    sio.dump(model, path)
    return path, frame


def test_nulls_in_columns_the_model_imputes_are_served(model_dir: Path) -> None:
    path, frame = _imputing_model(model_dir)
    loaded = load_model(path, trusted=True)  # our own model (numpy.dtype inside)
    schema = schema_from_frame(frame, model=loaded)
    assert schema.columns == {"island": "string", "body_mass": "number"}
    assert schema.nullable == {"island": True, "body_mass": True}
    served = load_served_model(
        path, metadata={"input_schema": schema.to_dict()}, version=1, trusted=True
    )
    with start_server(create_app(served)) as running:
        resp = requests.post(
            f"{running.url}/predict",
            json=[{"island": None, "body_mass": 3.9}, {"island": "Dream", "body_mass": None}],
            timeout=30,
        )
        assert resp.status_code == 200, resp.text
        sent = pd.DataFrame({"island": [np.nan, "Dream"], "body_mass": [3.9, np.nan]})
        offline = loaded.predict(sent)
        assert resp.json()["predictions"] == offline.tolist()
        meta = requests.get(f"{running.url}/metadata", timeout=30).json()
        assert meta["input_schema"]["columns"][0] == {
            "name": "island",
            "type": "string",
            "nullable": True,
        }


def test_null_where_the_schema_says_the_model_cannot_take_it(onnx_path: Path) -> None:
    frame = eval_frame().drop(columns="target")
    loaded = load_model(onnx_path)
    schema = schema_from_frame(frame, model=loaded)
    assert schema.nullable["mean_radius"] is False
    served = load_served_model(onnx_path, metadata={"input_schema": schema.to_dict()}, version=2)
    with start_server(create_app(served)) as running:
        row = _row()
        row["mean_texture"] = None
        resp = requests.post(f"{running.url}/predict", json=[row], timeout=30)
    assert resp.status_code == 422
    assert resp.json()["error"].startswith(
        "column 'mean_texture', row 0: null, but the model cannot take a missing value"
    )


def test_other_methods_on_predict_and_unknown_routes(server: RunningServer) -> None:
    get = requests.get(f"{server.url}/predict", timeout=30)
    assert get.status_code == 405 and get.json()["error"] == "use POST /predict"
    assert requests.get(f"{server.url}/nowhere", timeout=30).status_code == 404


def test_millions_of_empty_records_over_the_wire(server: RunningServer) -> None:
    body = b"[" + b"{}," * 2_000_000 + b"{}]"  # 6 MB, under the body limit
    resp = _post(server, body)
    assert resp.status_code == 413 and "more than 1000 records" in resp.json()["error"]


def _ipc(table: Any, *, file: bool, compression: str | None, chunk: int | None = None) -> bytes:
    import pyarrow as pa

    sink = io.BytesIO()
    options = pa.ipc.IpcWriteOptions(compression=compression)
    opener = pa.ipc.new_file if file else pa.ipc.new_stream
    with opener(sink, table.schema, options=options) as writer:
        writer.write_table(table, max_chunksize=chunk)
    return sink.getvalue()


def _no_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    import pyarrow as pa

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the body was decoded before it was bounded")

    monkeypatch.setattr(pa.ipc, "open_stream", refuse)
    monkeypatch.setattr(pa.ipc, "open_file", refuse)


@pytest.mark.parametrize("file", [False, True], ids=["stream", "file"])
def test_a_compressed_arrow_bomb_is_refused_before_it_is_decompressed(
    file: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow as pa

    # 20 MB of one repeated string compress to about a kilobyte.
    bomb = pa.table({"s": pa.array(["x" * 1_000_000] * 20, pa.large_string())})
    body = _ipc(bomb, file=file, compression="zstd")
    assert len(body) < 10_000
    kind = "file" if file else "stream"
    _no_decoding(monkeypatch)
    with pytest.raises(PayloadError) as err:
        parse_request(body, None, content_type=f"application/vnd.apache.arrow.{kind}")
    assert err.value.status == 413 and "decodes to over" in err.value.message


@pytest.mark.parametrize("file", [False, True], ids=["stream", "file"])
def test_compressed_arrow_rows_are_counted_from_the_batch_headers(
    file: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow as pa

    table = pa.table({"a": np.arange(110.0)})
    kind = f"application/vnd.apache.arrow.{'file' if file else 'stream'}"
    body = _ipc(table, file=file, compression="lz4", chunk=10)
    whole = parse_request(body, None, content_type=kind, max_rows=110)
    assert whole.rows == 110 and list(whole.frame()["a"]) == list(range(110))
    _no_decoding(monkeypatch)
    with pytest.raises(PayloadError) as err:
        parse_request(body, None, content_type=kind, max_rows=100)
    assert err.value.status == 413 and "more than 100 rows" in err.value.message


def test_a_broken_arrow_file_footer_is_a_400() -> None:
    import pyarrow as pa

    body = bytearray(_ipc(pa.table({"a": [1.0, 2.0]}), file=True, compression="zstd"))
    body[-10:-6] = (len(body) * 2).to_bytes(4, "little")  # footer length past the body
    with pytest.raises(PayloadError) as err:
        parse_request(bytes(body), None, content_type="application/vnd.apache.arrow.file")
    assert err.value.status == 400 and "invalid Arrow IPC body" in err.value.message


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([[1.0, 2.0], [3.0, 4.0]], "column 'b', row 0: expected a number, got [1.0, 2.0]"),
        ([{"x": 1}, {"x": 2}], "column 'b', row 0: expected a number, got {'x': 1}"),
        ([1.0, "2.5"], "column 'b', row 1: expected a number, got '2.5'"),
        ([1.0, True], "column 'b', row 1: expected a number, got True"),
        ([1.0, None], "column 'b', row 1: null, but the model cannot take a missing value"),
    ],
)
def test_a_numeric_columnar_body_with_a_bad_value_names_it(values: list[Any], message: str) -> None:
    from mlci.serve.payload import InputSchema

    schema = InputSchema({"a": "number", "b": "number"}, nullable={"b": False})
    good = json.dumps({"columns": {"a": [1, 2.5], "b": [3, -4e10]}}).encode()
    batch = parse_request(good, schema)
    assert batch.matrix is not None and batch.matrix.flags.c_contiguous
    assert batch.matrix.tolist() == [[1.0, 3.0], [2.5, -4e10]] and not batch.nulls
    body = json.dumps({"columns": {"a": [1.0, 2.0], "b": values}}).encode()
    with pytest.raises(PayloadError) as err:
        parse_request(body, schema)
    assert err.value.status == 422 and message in err.value.message
