"""The prediction log's writer: a second of traffic becomes the same rows, slice by slice."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

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
