"""The prediction log's writer: a second of traffic becomes the same rows, slice by slice."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from mlci.serve import predlog as predlog_module
from mlci.serve.app import Prediction
from mlci.serve.payload import Batch
from mlci.serve.predlog import LogSettings, PredictionLog


def _numeric(rows: int, start: float, names: list[str]) -> tuple[Batch, Prediction]:
    matrix = start + np.arange(rows * len(names), dtype=np.float64).reshape(rows, len(names))
    labels = (np.arange(rows) % 2).astype(np.int64)
    proba = np.column_stack([1 - labels * 0.75, labels * 0.75])
    return Batch(names, rows, matrix=matrix), Prediction(labels, proba)


def test_many_requests_in_one_flush_keep_every_row_in_order(tmp_path: Path) -> None:
    names = ["a", "b", "c"]
    settings = LogSettings(tmp_path / "log", flush_seconds=3600)  # one flush, at close
    log = PredictionLog(settings, version=4, classes=[0, 1])
    sizes = [1] * (predlog_module.SLICE_ENTRIES * 2 + 7) + [40, 1, 3]  # several slices
    sent = []
    for i, n in enumerate(sizes):
        batch, result = _numeric(n, 1000.0 * i, names)
        log.submit(batch, result, f"req-{i}")
        sent.append((batch, result))
    # A request with other columns in the middle starts another row group (and file).
    mixed = Batch(["a", "text"], 2, columns={"a": np.array([1.0, 2.0]), "text": ["x", None]})
    log.submit(mixed, Prediction(np.array([1, 0]), np.array([[0.2, 0.8], [0.9, 0.1]])), "mixed")
    batch, result = _numeric(5, -1.0, names)
    log.submit(batch, result, "after")
    sent.append((batch, result))
    log.close()

    files = sorted((tmp_path / "log").glob("*.parquet"))
    assert len(files) == 3  # numeric, mixed, numeric again: the columns changed twice
    first = pq.ParquetFile(files[0])
    assert first.metadata.num_row_groups == 1  # one flush, one row group
    table = first.read().to_pandas()
    assert len(table) == sum(sizes)
    assert table["request_id"].tolist() == [
        f"req-{i}" for i, n in enumerate(sizes) for _ in range(n)
    ]
    assert table["row"].tolist() == [r for n in sizes for r in range(n)]
    expected = np.concatenate([b.matrix for b, _ in sent[:-1]])
    assert np.array_equal(table[names].to_numpy(), expected)
    assert np.array_equal(
        table["prediction"].to_numpy(), np.concatenate([r.labels for _, r in sent[:-1]])
    )
    assert np.allclose(
        table[["proba_0", "proba_1"]].to_numpy(), np.concatenate([r.proba for _, r in sent[:-1]])
    )
    assert (table["model_version"] == 4).all()
    assert table["timestamp"].is_monotonic_increasing

    middle = pq.read_table(files[1])
    assert middle.column("text").to_pylist() == ["x", None]
    assert middle.column("request_id").to_pylist() == ["mixed"] * 2
    last = pq.read_table(files[2]).to_pandas()
    assert last["request_id"].tolist() == ["after"] * 5 and last["row"].tolist() == list(range(5))
    assert log.rows_written == sum(sizes) + 2 + 5


def test_passthrough_id_columns_are_taken_out_of_every_body_kind() -> None:
    import io

    import orjson
    import pyarrow as pa
    import pytest

    from mlci.serve.payload import InputSchema, PayloadError, parse_request

    schema = InputSchema({"a": "number", "b": "number"}, passthrough=("id",))
    records = [{"a": 1.0, "b": 2.0, "id": 7}, {"a": 3.0, "b": 4.0, "id": "x-8"}]
    table = pa.table({"a": [1.0, 3.0], "id": [7, 9], "b": [2.0, 4.0]})
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    bodies = {
        "records": (orjson.dumps({"records": records}), "application/json", ["7", "x-8"]),
        "bare list": (orjson.dumps(records), "application/json", ["7", "x-8"]),
        "columns": (
            orjson.dumps({"columns": {"a": [1.0, 3.0], "b": [2.0, 4.0], "id": [7.0, True]}}),
            "application/json",
            ["7", "true"],
        ),
        "arrow": (sink.getvalue(), "application/vnd.apache.arrow.stream", ["7", "9"]),
    }
    for kind, (body, ctype, ids) in bodies.items():
        batch = parse_request(body, schema, content_type=ctype)
        assert batch.names == ["a", "b"] and batch.matrix is not None, kind
        assert batch.matrix.tolist() == [[1.0, 2.0], [3.0, 4.0]], kind
        assert batch.extra is not None and batch.extra["id"].tolist() == ids, kind
    without = parse_request(orjson.dumps({"records": [{"a": 1.0, "b": 2.0}]}), schema)
    assert without.extra is None
    missing = parse_request(
        orjson.dumps([{"a": 1.0, "b": 2.0, "id": 1}, {"a": 1.0, "b": 2.0}]), schema
    )
    assert missing.extra is not None and missing.extra["id"].tolist() == ["1", None]
    with pytest.raises(PayloadError, match="unexpected columns 'id'"):
        parse_request(orjson.dumps(records), InputSchema({"a": "number", "b": "number"}))
    with pytest.raises(PayloadError, match="an id is a plain value"):
        parse_request(orjson.dumps([{"a": 1.0, "b": 2.0, "id": [1]}]), schema)


def test_logged_ids_are_a_column_of_text(tmp_path: Path) -> None:
    log = PredictionLog(LogSettings(tmp_path / "log", flush_seconds=3600), version=1, classes=None)
    for i in range(3):
        batch, result = _numeric(2, float(i), ["a"])
        batch.extra = {"id": np.array([f"{i}-0", None], dtype=object)}
        log.submit(batch, Prediction(result.labels, None), f"r{i}")
    log.close()
    (part,) = (tmp_path / "log").glob("*.parquet")
    table = pq.read_table(part)
    assert table.column("id").type == "string"
    assert table.column("id").to_pylist() == ["0-0", None, "1-0", None, "2-0", None]
    assert table.column_names[:2] == ["a", "id"]


def test_blocks_and_queued_answers_keep_every_row_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small blocks, so one flush fills several; a request larger than a block gets its
    # own; labels of shape (n, 1) are flattened; an answer that cannot go into a block
    # (labels of Python objects) is queued between two blocks, its rows in their place.
    monkeypatch.setattr(predlog_module, "BLOCK_ROWS", 8)
    names = ["a", "b"]
    log = PredictionLog(
        LogSettings(tmp_path / "log", flush_seconds=3600), version=2, classes=[0, 1]
    )
    sizes = [1, 3, 5, 1, 20, 2, 7, 1, 1, 4]
    sent = []
    for i, n in enumerate(sizes):
        batch, result = _numeric(n, 100.0 * i, names)
        if i == 3:
            result = Prediction(result.labels.reshape(-1, 1), result.proba)
        if i == 6:
            result = Prediction(result.labels.astype(object), result.proba)
        log.submit(batch, result, f"r{i}")
        sent.append((batch, result))
    log.close()

    (part,) = (tmp_path / "log").glob("*.parquet")
    assert pq.ParquetFile(part).metadata.num_row_groups == 1  # one flush, one row group
    table = pq.read_table(part).to_pandas()
    assert table["request_id"].tolist() == [f"r{i}" for i, n in enumerate(sizes) for _ in range(n)]
    assert table["row"].tolist() == [r for n in sizes for r in range(n)]
    assert np.array_equal(table[names].to_numpy(), np.concatenate([b.matrix for b, _ in sent]))
    labels = np.concatenate([np.asarray(r.labels, np.int64).reshape(-1) for _, r in sent])
    assert np.array_equal(table["prediction"].to_numpy(), labels)
    assert np.allclose(
        table[["proba_0", "proba_1"]].to_numpy(), np.concatenate([r.proba for _, r in sent])
    )
    assert table["timestamp"].is_monotonic_increasing
    assert log.rows_written == sum(sizes) and log.rows_dropped == 0


def test_a_full_queue_counts_the_rows_of_blocks(tmp_path: Path) -> None:
    settings = LogSettings(tmp_path / "log", flush_seconds=3600, max_queue_rows=10)
    dropped: list[int] = []
    log = PredictionLog(settings, version=None, classes=[0, 1], on_drop=dropped.append)
    for i, n in enumerate([4, 4, 4, 2]):  # the third does not fit, the fourth does
        batch, result = _numeric(n, float(i), ["a"])
        log.submit(batch, result, f"r{i}")
    log.close()
    assert dropped == [4] and log.rows_dropped == 4 and log.rows_written == 10
    (part,) = (tmp_path / "log").glob("*.parquet")
    assert (
        pq.read_table(part).column("request_id").to_pylist() == ["r0"] * 4 + ["r1"] * 4 + ["r3"] * 2
    )


def _wait(condition: Callable[[], bool], what: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"waited {seconds:.0f} s for {what}"
        time.sleep(0.02)


# A service that logs a few requests in a bare interpreter, then reports what it imported.
_SERVICE = """
import os, sys, time
from pathlib import Path
import numpy as np
from mlci.serve.app import Prediction
from mlci.serve.payload import Batch
from mlci.serve.predlog import LogSettings, PredictionLog

log = PredictionLog(LogSettings(Path(sys.argv[1]), flush_seconds=0.05), version=1, classes=[0, 1])
for i in range(50):
    batch = Batch(["a", "b"], 1, matrix=np.array([[float(i), 2.0]]))
    log.submit(batch, Prediction(np.array([i % 2]), np.array([[0.4, 0.6]])), f"r{i}")
mixed = Batch(["a", "t"], 1, columns={"a": np.array([1.0]), "t": ["x"]})
log.submit(mixed, Prediction(np.array([0]), None), "typed")
while log.rows_written < 51:
    time.sleep(0.02)
print(log._process.proc.pid, "pyarrow" in sys.modules, "pandas" in sys.modules, flush=True)
if sys.argv[2] == "exit":  # the service dies without closing its log
    os._exit(0)
log.close()
"""


def _service(log_dir: Path, ending: str) -> list[str]:
    """Run `_SERVICE` in a bare interpreter; its printed words (writer pid, imports)."""
    return subprocess.run(
        [sys.executable, "-c", _SERVICE, str(log_dir), ending],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.split()


def test_the_service_process_does_no_arrow_work(tmp_path: Path) -> None:
    # Arrow and Parquet run in the writer process; the service only joins numpy arrays
    # and writes them to a pipe, so it never imports pyarrow (nor the pandas it loads).
    out = _service(tmp_path / "log", "close")
    assert out[1:] == ["False", "False"]
    files = sorted((tmp_path / "log").glob("*.parquet"))
    assert [pq.read_metadata(f).num_rows for f in files] == [50, 1]
    assert not list((tmp_path / "log").glob("*.part"))


def test_the_writer_finishes_its_file_when_the_service_dies(tmp_path: Path) -> None:
    # Killed, or ended without closing the log: the writer process sees its pipe close,
    # finishes the open file (renamed from .part, readable) and exits.
    writer = int(_service(tmp_path / "log", "exit")[0])

    def gone() -> bool:
        try:
            os.kill(writer, 0)
        except ProcessLookupError:
            return True
        return False

    _wait(gone, "the writer process to exit")
    _wait(lambda: not list((tmp_path / "log").glob("*.part")), "the open file to be finished")
    files = sorted((tmp_path / "log").glob("*.parquet"))
    assert sum(pq.read_metadata(f).num_rows for f in files) == 51


def test_a_writer_process_that_stops_is_replaced(tmp_path: Path) -> None:
    names = ["a", "b"]
    dropped: list[int] = []
    settings = LogSettings(tmp_path / "log", flush_seconds=0.05)
    log = PredictionLog(settings, version=1, classes=[0, 1], on_drop=dropped.append)
    batch, result = _numeric(3, 0.0, names)
    log.submit(batch, result, "before")
    _wait(lambda: log.rows_written == 3, "the first rows")
    first = log._process
    first.proc.kill()  # out of memory, or killed by hand
    first.proc.wait()
    _wait(lambda: log._process is not first, "another writer process")
    batch, result = _numeric(4, 10.0, names)
    log.submit(batch, result, "after")
    log.close()
    assert log.rows_written == 7 and dropped == []  # the flush that found it gone was empty
    after = [f for f in (tmp_path / "log").glob("*.parquet")]
    tables = [pq.read_table(f) for f in after]
    assert ["after"] * 4 in [t.column("request_id").to_pylist() for t in tables]
    assert list((tmp_path / "log").glob("*.part"))  # the killed writer's file stays unfinished


def test_blocks_handed_over_in_parts_keep_every_row_in_its_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small requests are copied into blocks (a new one when full), larger ones kept as
    # they are in their place, column-ordered ones too: every row comes out once, in
    # its place.
    monkeypatch.setattr(predlog_module, "BLOCK_ROWS", 16)
    monkeypatch.setattr(predlog_module, "COPY_ROWS", 5)
    names = ["a", "b", "c"]
    log = PredictionLog(
        LogSettings(tmp_path / "log", flush_seconds=0.01), version=1, classes=[0, 1]
    )
    sizes = [1, 5, 1, 1, 8, 6, 2, 1, 3, 4, 1, 1, 1, 1, 7, 30, 1, 2] * 3
    sent = []
    for i, n in enumerate(sizes):
        batch, result = _numeric(n, 100.0 * i, names)
        if i % 2:  # a column-ordered block, as a columnar body gives
            batch = Batch(names, n, matrix=np.asfortranarray(batch.matrix))
        log.submit(batch, result, f"r{i}")
        sent.append((batch, result))
        if i % 7 == 0:
            time.sleep(0.02)  # some flushes in between: arrays are used again
    log.close()
    parts = sorted((tmp_path / "log").glob("*.parquet"))
    table = pq.read_table(parts[0]).to_pandas() if len(parts) == 1 else None
    assert table is not None  # one file: the columns never changed
    assert table["request_id"].tolist() == [f"r{i}" for i, n in enumerate(sizes) for _ in range(n)]
    assert table["row"].tolist() == [r for n in sizes for r in range(n)]
    assert np.array_equal(table[names].to_numpy(), np.concatenate([b.matrix for b, _ in sent]))
    assert np.array_equal(
        table["prediction"].to_numpy(), np.concatenate([r.labels for _, r in sent])
    )
    assert np.array_equal(
        table[["proba_0", "proba_1"]].to_numpy(), np.concatenate([r.proba for _, r in sent])
    )
    assert log.rows_written == sum(sizes) and log.rows_dropped == 0


def test_request_ids_come_back_as_they_were_given(tmp_path: Path) -> None:
    # Copied requests carry their ids as UTF-8 in a buffer of NUL-ended ids; an id with
    # a NUL of its own (never from the service, which checks them) goes another way.
    names = ["a", "b"]
    log = PredictionLog(LogSettings(tmp_path / "log", flush_seconds=3600), version=1, classes=None)
    ids = ["plain", "ünïcødé-✓", "", "with\0nul", "after", "x" * 300]
    for i, request_id in enumerate(ids):
        batch, result = _numeric(1 + i % 3, 10.0 * i, names)
        log.submit(batch, Prediction(result.labels, None), request_id)
    log.close()
    (part,) = (tmp_path / "log").glob("*.parquet")
    logged = pq.read_table(part).column("request_id").to_pylist()
    assert logged == [i for n, i in enumerate(ids) for _ in range(1 + n % 3)]
