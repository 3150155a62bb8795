"""The Arrow fast path gives the per-column path's float block, or steps aside."""

from __future__ import annotations

import io
import math

import numpy as np
import pyarrow as pa
import pytest

from mlci.serve.payload import InputSchema, PayloadError, _arrow_block, parse_request

SCHEMA = InputSchema({"a": "number", "b": "number"}, nullable={"b": False})
STREAM = "application/vnd.apache.arrow.stream"


def _stream(*batches: pa.RecordBatch) -> bytes:
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, batches[0].schema) as writer:
        for batch in batches:
            writer.write_batch(batch)
    return sink.getvalue()


def _batch(a: list[object], b: list[object], b_type: pa.DataType | None = None) -> pa.RecordBatch:
    columns = [pa.array(a, pa.float64()), pa.array(b, b_type or pa.float64())]
    return pa.record_batch(columns, names=["a", "b"])


@pytest.mark.parametrize(
    "batches",
    [
        [_batch([1.5, 2.0], [3.0, -4e10])],
        [_batch([1.5, 2.0], [3, 4], pa.int64())],
        [_batch([1.5, 2.0], [3.25, 4.5], pa.float32())],
        [_batch([1.5], [3.0]), _batch([2.0, -0.0], [4.0, 5.0])],  # several chunks
        [_batch([0.1, 2.0], [3, 2**40], pa.uint64())],
    ],
)
def test_plain_numbers_become_the_block_in_one_go(batches: list[pa.RecordBatch]) -> None:
    body = _stream(*batches)
    table = pa.Table.from_batches(batches)
    block = _arrow_block(table, ["a", "b"])
    assert block is not None and not block.nulls and block.matrix is not None
    expected = np.column_stack([table.column(n).to_numpy().astype(np.float64) for n in "ab"])
    assert block.matrix.tolist() == expected.tolist()
    parsed = parse_request(body, SCHEMA, content_type=STREAM)
    assert parsed.matrix is not None and parsed.matrix.tolist() == expected.tolist()


@pytest.mark.parametrize(
    ("b", "b_type", "message"),
    [
        ([3.0, None], pa.float64(), "column 'b', row 1: null, but the model cannot take"),
        ([3.0, math.nan], pa.float64(), "column 'b', row 1: null, but the model cannot take"),
        ([math.inf, 4.0], pa.float64(), "column 'b', row 0: inf is not a finite number"),
        (["x", "y"], pa.string(), "column 'b': expected a number, got string"),
        ([True, False], pa.bool_(), "column 'b': expected a number, got bool"),
    ],
)
def test_anything_else_takes_the_per_column_path(
    b: list[object], b_type: pa.DataType, message: str
) -> None:
    batch = _batch([1.5, 2.0], b, b_type)
    assert _arrow_block(pa.Table.from_batches([batch]), ["a", "b"]) is None
    with pytest.raises(PayloadError) as err:
        parse_request(_stream(batch), SCHEMA, content_type=STREAM)
    assert err.value.status == 422 and message in err.value.message


def test_a_null_where_the_model_takes_one_is_nan_in_the_block() -> None:
    schema = InputSchema({"a": "number", "b": "number"})
    batch = _batch([1.5, math.nan], [3.0, 4.0])
    parsed = parse_request(_stream(batch), schema, content_type=STREAM)
    assert parsed.nulls and parsed.matrix is not None and math.isnan(parsed.matrix[1, 0])


def test_values_whose_sum_overflows_are_taken() -> None:
    batch = _batch([1e308, 1e308], [3.0, 4.0])
    assert _arrow_block(pa.Table.from_batches([batch]), ["a", "b"]) is not None
    parsed = parse_request(_stream(batch), SCHEMA, content_type=STREAM)
    assert parsed.matrix is not None and parsed.matrix[:, 0].tolist() == [1e308, 1e308]
