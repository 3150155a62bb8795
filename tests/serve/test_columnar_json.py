"""The columnar JSON fast path gives what the general path gives, or steps aside.

`_plain_columns` parses ``{"columns": {...}}`` of plain numbers column by column; for
every body it either returns the same float block as the general path (orjson on the
whole body, then the per-column checks) or returns None, so that every bad body still
gets the general path's error.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlci.serve.payload import (
    InputSchema,
    PayloadError,
    _json_columns,
    _loads,
    _plain_columns,
    parse_request,
)

SCHEMA = InputSchema({"a": "number", "b": "number"}, nullable={"b": False})


@pytest.fixture(autouse=True, params=["whole body", "array by array"])
def _reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test runs with both readers of the fast path (small bodies take the first)."""
    from mlci.serve import payload

    if request.param == "array by array":
        monkeypatch.setattr(payload, "_WHOLE_BODY_BYTES", -1)


def _general(body: bytes) -> object:
    try:
        batch = _json_columns(_loads(body, 1000), SCHEMA, 1000)
    except PayloadError as exc:
        return ("error", exc.status, exc.message)
    assert batch.matrix is not None
    return batch.matrix.tolist()


def _served(body: bytes) -> object:
    """What the service's parser gives for ``body``: the float block, or its error."""
    try:
        batch = parse_request(body, SCHEMA)
    except PayloadError as exc:
        return ("error", exc.status, exc.message)
    assert batch.matrix is not None
    return batch.matrix.tolist()


def _agrees(body: bytes) -> bool:
    """Whether the fast path took ``body`` (checking it agrees with the general path)."""
    fast = _plain_columns(body, SCHEMA, 1000)
    if fast is None:
        return False
    assert fast.matrix is not None and fast.matrix.flags.c_contiguous and not fast.nulls
    assert fast.names == ["a", "b"] and fast.rows == len(fast.matrix)
    assert fast.matrix.tolist() == _general(body)
    return True


@pytest.mark.parametrize(
    "body",
    [
        b'{"columns": {"a": [1, 2.5], "b": [3, -4e10]}}',
        b'{"columns":{"b":[3,-4e10],"a":[1,2.5]}}',
        b' {\n "columns" : {\n  "a" : [ 1 , 2.5 ] ,\n  "b" : [3,\t-4E+10] } } \n',
        b'{"columns": {"a": [1, 2.5], "b": [3, 123456789012345678901234567890]}}',
        b'{"columns": {"a": [1, 2.5], "b": [-0, 1E-400]}}',
        b'{"columns": {"a": [1, 2.5], "b": [3, -9223372036854775809]}}',
        b'{"columns": {"a": [18446744073709551615, 2.5], "b": [3, 9223372036854775808]}}',
    ],
)
def test_plain_numbers_take_the_fast_path_with_the_same_block(body: bytes) -> None:
    assert _agrees(body)
    batch = parse_request(body, SCHEMA)
    assert batch.matrix is not None and batch.matrix.tolist() == _general(body)


@pytest.mark.parametrize(
    "body",
    [
        b'{"columns": {"a": [1, 2.5], "b": [3, null]}}',
        b'{"columns": {"a": [1, 2.5], "b": [3, true]}}',
        b'{"columns": {"a": [1, 2.5], "b": [3, "4"]}}',
        b'{"columns": {"a": [1, 2.5], "b": [3, [4]]}}',
        b'{"columns": {"a": [[1], [2.5]], "b": [3, 4]}}',
        b'{"columns": {"a": [[1, 2.5]], "b": [3, 4]}}',
        b'{"columns": {"a": [[1]], "b": 3}}',
        b'{"columns": {"a": "[", "b": [3]}}',
        b'{"columns": {"a": {"x": 1}, "b": [3]}}',
        b'{"columns": {"a": [1, 2.5], "b": {"[": 3}}}',
        b'{"columns": {"a": [1, 2.5], "b": [3, "]"]}}',
        b'{"columns": {"a": [1, 2.5], "b": [3, 4]}, "columns": {"a": [1], "b": [2]}}',
        b'{"columns": {"a": [1, 2.5], "b": [3, 4], "a": [5, 6]}}',
        b'{"columns": {"a": [1, 2.5], "b": [3, 4], "b": [3, 4]}}',
        b'{"columns": {"a": [1, 2.5], "b": [3, "\xff"]}}',
        b'{"columns": {"a": [1, 2.5], "b": [3]}}',
        b'{"columns": {"a": [1, 2.5], "b": [3, 01]}}',
        b'{"columns": {"a": [1, 2.5], "b": [3, 1.]}}',
        b'{"columns": {"a": [1, 2.5], "b": [3, .5]}}',
        b'{"columns": {"a": [1, 2.5], "b": [3, +5]}}',
        b'{"columns": {"a": [1, 2.5], "b": [3, 1e400]}}',
        b'{"columns": {"a": [1, 2.5], "b": [3, 1e]}}',
        b'{"columns": {"a": [1, 2.5], "b": [3, 1e5.5]}}',
        b'{"columns": {"a": [1, 2.5], "b": [3, -]}}',
        b'{"columns": {"a": [1, 2.5], "b": [3, NaN]}}',
        b'{"columns": {"a": [1, 2.5], "b": [3, 4,]}}',
        b'{"columns": {"a": [1, 2.5], "b": [3 4]}}',
        b'{"columns": {"a": [1, 2.5], "b": [3, 4]},}',
        b'{"columns": {"a": [1, 2.5], "b": [3, 4]}} x',
        b'{"columns": {"a": [1, 2.5], "b": [3, 4]}}\x00',
        b'{"columns": {"a": [1, 2.5], "b": [3, 4]]}}',
        b'{"columns": {"a": [1, 2.5], "b": [3, 4]}, "x": 1}',
        b'{"columns": {"a": [1, 2.5], "b": [3, 4], "c": [1, 2]}}',
        b'{"columns": {"a": [1, 2.5], "a": [3, 4]}}',
        b'{"columns": {"a": [1, 2.5]}}',
        b'{"columns": {"a": [], "b": []}}',
        b'{"columns": {"a": [1, 2.5], "b\\u0000": [3, 4]}}',
        b'{"columns": {"a": [1, 2.5], "\\u0062": [3, 4]}}',
        b'{"records": [{"a": 1, "b": 2}]}',
    ],
)
def test_anything_else_gets_the_general_paths_answer(body: bytes) -> None:
    assert not _agrees(body)
    assert repr(_served(body)) == repr(_general(body))  # NaN (a null) equals itself in its repr


def test_more_rows_than_the_limit_are_left_to_the_general_path() -> None:
    body = json.dumps({"columns": {"a": [1.0] * 5, "b": [2.0] * 5}}).encode()
    assert _plain_columns(body, SCHEMA, 4) is None
    with pytest.raises(PayloadError) as err:
        parse_request(body, SCHEMA, max_rows=4)
    assert err.value.status == 413


_TOKENS = st.sampled_from(
    ["0", "1", "-1", "2.5", "-0.0", "1e5", "1E-3", "7e+2", "01", "1.", ".5", "+1", "1e",
     "--1", "1-", "1..2", "1e5.5", " ", "", "null", "true", '"x"', "[1]", "1e400", "-", "e"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.lists(_TOKENS, min_size=1, max_size=4), min_size=2, max_size=2),
    st.sampled_from([",", ", ", " , ", ",\n"]),
)
def test_random_number_texts_agree_with_the_general_path(
    columns: list[list[str]], sep: str
) -> None:
    arrays = ", ".join(
        f'"{name}": [{sep.join(tokens)}]' for name, tokens in zip("ab", columns, strict=True)
    )
    body = ('{"columns": {' + arrays + "}}").encode()
    if _agrees(body):
        return
    assert repr(_served(body)) == repr(_general(body))  # NaN (a null) equals itself in its repr


EDGE_NUMBERS = (
    b"[0, -0.0, 1, -1, 0.1, 1e-320, 4.9e-324, 2.2250738585072014e-308,"
    b" 1.7976931348623157e308, 9007199254740993, 9223372036854775807,"
    b" -9223372036854775808, 18446744073709551615, 1E+2, 1e-2, 123.456e-7]"
)


@pytest.mark.parametrize(
    "span",
    [
        EDGE_NUMBERS,
        b"[123456789012345678901234567890]",  # beyond 64 bits: simdjson declines, orjson reads
        b"[0.30000000000000004, 2.5e-3, -7E1]",
    ],
)
def test_simdjson_reads_every_number_as_orjson_does(span: bytes) -> None:
    """simdjson (straight to doubles) and orjson (Python floats) give the same bits."""
    import numpy as np
    import orjson
    import simdjson

    from mlci.serve import payload

    got = payload._number_array(span)
    assert isinstance(payload._SIMDJSON.parser, simdjson.Parser)  # the fast reader is used
    want = np.asarray(orjson.loads(span), dtype=np.float64)
    assert got.tobytes() == want.tobytes()


@pytest.mark.parametrize("span", [b"[1e400]", b"[1,,2]", b"[01]", b"[1.]", b"[-]", b"[.5]"])
def test_numbers_json_does_not_allow_are_left_to_the_general_path(span: bytes) -> None:
    from mlci.serve import payload

    assert payload._number_array(span) is None


def test_a_large_block_in_any_column_order_is_the_general_paths_block() -> None:
    """Many rows and columns sent out of the model's order: the same block, row by row."""
    import random

    import numpy as np

    rng = random.Random(7)
    names = [f"c{i}" for i in range(12)]
    schema = InputSchema({n: "number" for n in names})
    sent = names[::-1]
    columns = {n: [rng.uniform(-1e6, 1e6) for _ in range(700)] for n in sent}
    big = 123456789012345678901234567890  # an integer beyond 64 bits: orjson reads it
    columns["c3"][5] = big
    body = json.dumps({"columns": columns}).encode()
    fast = _plain_columns(body, schema, 1000)
    assert fast is not None and fast.matrix is not None and fast.matrix.flags.c_contiguous
    general = _json_columns(_loads(body, 1000), schema, 1000)
    assert general.matrix is not None
    assert fast.matrix.tobytes() == general.matrix.tobytes()
    assert fast.matrix.shape == (700, 12) and fast.matrix[5, 3] == float(big)
    assert np.array_equal(fast.matrix[:, 0], np.asarray(columns["c0"], dtype=np.float64))


@pytest.mark.parametrize(
    ("value", "fits"),
    [
        (3.4028234663852886e38, True),  # float32's largest value
        (-3.4028234663852886e38, True),
        (3.4028235e38, False),  # rounds to float32's largest, but is beyond it
        (-3.4028235e38, False),
        (1e39, False),
        (-1e300, False),
    ],
)
def test_the_float32_range_check_is_the_same_for_small_and_large_blocks(
    value: float, fits: bool
) -> None:
    import numpy as np

    from mlci.serve.app import _fits_float32

    for rows in (2, 1000):  # a list of Python floats below 256 values, numpy above
        block = np.ones((rows, 3))
        block[rows // 2, 1] = value
        assert _fits_float32(block, False) is fits
        assert _fits_float32(block, True) is fits
