"""The byte counts that stand in for a set of value types in large batches of records.

`_Source.only_numbers` may say "only numbers" only when the general path agrees; when
it says no, the set of types decides as before. The threshold is lowered here so that
small bodies take the byte counts.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlci.serve import payload
from mlci.serve.payload import InputSchema, PayloadError, parse_request

SCHEMA = InputSchema({"ta": "number", "fn": "number"})


def _parse(body: bytes) -> object:
    try:
        batch = parse_request(body, SCHEMA)
    except PayloadError as exc:
        return ("error", exc.status, exc.message)
    assert batch.matrix is not None
    return (batch.matrix.tolist(), batch.nulls)


def _both(body: bytes, monkeypatch: pytest.MonkeyPatch) -> tuple[object, object]:
    monkeypatch.setattr(payload, "_SCAN_VALUES", 10**9)
    general = _parse(body)
    monkeypatch.setattr(payload, "_SCAN_VALUES", 0)
    return general, _parse(body)


@pytest.mark.parametrize(
    "body",
    [
        b'{"records": [{"ta": 1, "fn": 2.5}, {"fn": -3e2, "ta": 0}]}',
        b'[{"ta": 1, "fn": 2.5}, {"fn": -3e2, "ta": 0}]',
        b'{"records": [{"ta": 1, "fn": true}, {"fn": -3e2, "ta": 0}]}',
        b'{"records": [{"ta": 1, "fn": false}, {"fn": -3e2, "ta": 0}]}',
        b'{"records": [{"ta": 1, "fn": null}, {"fn": -3e2, "ta": 0}]}',
        b'{"records": [{"ta": 1, "fn": "2.5"}, {"fn": -3e2, "ta": 0}]}',
        b'{"records": [{"ta": 1, "fn": 2, "fn": "2"}, {"fn": -3e2, "ta": 0}]}',
        b'{"records": [{"ta": 1, "\\u0066n": true}, {"fn": -3e2, "ta": 0}]}',
        b'{"records": [{"ta": 1, "f\\u006e": true}, {"fn": -3e2, "ta": 0}]}',
        b'{"records": [{"ta": 1, "fn": [1]}, {"fn": -3e2, "ta": 0}]}',
        b'{"records": [{"ta": 1, "fn": {}}, {"fn": -3e2, "ta": 0}]}',
        b'{"records": [{"ta": 1, "fn": 2, "x": 1}, {"fn": -3e2, "ta": 0}]}',
        b'{"records": [{"ta": 1}, {"fn": -3e2, "ta": 0}]}',
    ],
)
def test_the_byte_counts_agree_with_the_set_of_types(
    body: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    general, scanned = _both(body, monkeypatch)
    assert repr(scanned) == repr(general)  # NaN (a null) equals itself in its repr


def test_they_take_plain_numbers_and_step_aside_otherwise() -> None:
    source = payload._Source
    names = ["ta", "fn"]
    plain = b'{"records": [{"ta": 1, "fn": 2.5}, {"fn": -3e2, "ta": 0}]}'
    assert source(plain, 1).only_numbers(names, 2)
    assert source(plain[len(b'{"records": ') : -1], 0).only_numbers(names, 2)
    for bad in (b"true", b"false", b"null", b'"2.5"'):
        body = plain.replace(b"2.5", bad)
        assert not source(body, 1).only_numbers(names, 2), bad


_VALUES = st.sampled_from(["0", "1.5", "-2e3", "true", "false", "null", '"1"', '"t"', "[]"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_VALUES, _VALUES), min_size=1, max_size=5), st.booleans())
def test_random_records_agree(rows: list[tuple[str, str]], wrapped: bool) -> None:
    text = ", ".join(f'{{"ta": {a}, "fn": {b}}}' for a, b in rows)
    body = (f'{{"records": [{text}]}}' if wrapped else f"[{text}]").encode()
    with pytest.MonkeyPatch.context() as monkeypatch:
        general, scanned = _both(body, monkeypatch)
    assert repr(scanned) == repr(general)
    json.loads(body)  # the generator writes valid JSON
