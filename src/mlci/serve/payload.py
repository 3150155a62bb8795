"""Parse and validate prediction requests against the model's input schema.

Pure Python (plus pandas for the frame): no web framework here, so the rules
are tested without a server. Every rejection is a `PayloadError` carrying the
HTTP status and a message that names the offending column, row or limit.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_ROWS",
    "ColumnType",
    "InputSchema",
    "PayloadError",
    "parse_body",
    "schema_from_frame",
]

ColumnType = Literal["number", "integer", "string", "boolean", "any"]
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
DEFAULT_MAX_ROWS = 100_000
_MAX_LISTED = 10


class PayloadError(Exception):
    """A request the service refuses: an HTTP status (4xx) and a clear message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _names(items: Sequence[str]) -> str:
    shown = ", ".join(repr(c) for c in list(items)[:_MAX_LISTED])
    more = len(items) - _MAX_LISTED
    return shown + (f" and {more} more" if more > 0 else "")


@dataclass(frozen=True)
class InputSchema:
    """The columns a model takes, in order, with a JSON type for each.

    Attributes:
        columns: Column name to type; the order is the model's input order.
        strict: Refuse columns the model does not take (else they are dropped).
    """

    columns: Mapping[str, ColumnType]
    strict: bool = True

    def to_dict(self) -> dict[str, Any]:
        """The schema as JSON data (for ``GET /metadata``)."""
        return {"columns": [{"name": n, "type": t} for n, t in self.columns.items()]}


def schema_from_frame(frame: pd.DataFrame, features: Sequence[str] | None = None) -> InputSchema:
    """The schema of the ``features`` columns of ``frame`` (all columns when None)."""
    import pandas as pd

    cols = list(features) if features is not None else [str(c) for c in frame.columns]
    out: dict[str, ColumnType] = {}
    for name in cols:
        dtype = frame[name].dtype
        if pd.api.types.is_bool_dtype(dtype):
            out[name] = "boolean"
        elif pd.api.types.is_integer_dtype(dtype):
            out[name] = "integer"
        elif pd.api.types.is_numeric_dtype(dtype):
            out[name] = "number"
        elif pd.api.types.is_string_dtype(dtype) or isinstance(dtype, pd.CategoricalDtype):
            out[name] = "string"
        else:
            out[name] = "any"
    return InputSchema(out)


def _check_value(value: Any, kind: ColumnType) -> bool:
    if kind == "any":
        return True
    if kind == "number":
        return value is None or (isinstance(value, int | float) and not isinstance(value, bool))
    if kind == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and math.isfinite(value) and value.is_integer()
        )
    if kind == "string":
        return isinstance(value, str)
    return isinstance(value, bool)


_FAST_TYPES: dict[str, set[type]] = {
    "number": {int, float, type(None)},
    "integer": {int},
    "string": {str},
    "boolean": {bool},
}
_ARTICLE = {
    "number": "a number",
    "integer": "an integer",
    "string": "a string",
    "boolean": "true/false",
}


def _columns_of(data: Any) -> dict[str, list[Any]]:
    """Accept ``{"records": [...]}``, ``{"columns": {...}}``, or a bare list of records."""
    if isinstance(data, list):
        data = {"records": data}
    if not isinstance(data, dict):
        raise PayloadError(
            422,
            'body must be {"records": [{column: value, ...}, ...]}'
            ' or {"columns": {column: [values]}}',
        )
    if ("records" in data) == ("columns" in data):
        raise PayloadError(422, 'give exactly one of "records" (a list of objects) or "columns"')
    if "records" in data:
        records = data["records"]
        if isinstance(records, dict):
            records = [records]
        if not isinstance(records, list) or not records:
            raise PayloadError(422, '"records" must be a non-empty list of objects')
        first = records[0]
        if isinstance(first, dict) and all(
            type(rec) is dict and rec.keys() == first.keys() for rec in records
        ):
            names = list(first)  # the common case: every record has the same keys
        else:
            names = []
            seen: set[str] = set()
            for i, rec in enumerate(records):
                if not isinstance(rec, dict):
                    raise PayloadError(422, f"records[{i}]: expected an object of column values")
                for key in rec:
                    if key not in seen:
                        seen.add(key)
                        names.append(key)
            for i, rec in enumerate(records):
                missing = [n for n in names if n not in rec]
                if missing:
                    raise PayloadError(422, f"records[{i}]: missing columns {_names(missing)}")
        return {n: [rec[n] for rec in records] for n in names}
    columns = data["columns"]
    if not isinstance(columns, dict) or not columns:
        raise PayloadError(422, '"columns" must be a non-empty object of column name to list')
    lengths = set()
    for name, values in columns.items():
        if not isinstance(values, list):
            raise PayloadError(422, f"columns[{name!r}]: expected a list of values")
        lengths.add(len(values))
    if len(lengths) != 1 or 0 in lengths:
        raise PayloadError(422, "columns: every column needs the same, non-zero number of values")
    return dict(columns)


def parse_body(
    body: bytes,
    schema: InputSchema | None,
    *,
    max_rows: int = DEFAULT_MAX_ROWS,
) -> pd.DataFrame:
    """Turn a request body into the model's input frame, or raise `PayloadError`.

    Args:
        body: The raw JSON body.
        schema: Columns and types the model takes; None takes the columns as sent.
        max_rows: Largest batch accepted (413 above it).
    """
    import numpy as np
    import pandas as pd

    try:
        data = json.loads(body, parse_constant=lambda c: float(c))
    except (ValueError, UnicodeDecodeError) as exc:
        raise PayloadError(400, f"invalid JSON: {exc}") from None
    columns = _columns_of(data)
    rows = len(next(iter(columns.values())))
    if rows > max_rows:
        raise PayloadError(413, f"batch of {rows} rows is over the limit of {max_rows}; split it")
    if schema is None:
        return pd.DataFrame(columns)
    expected = list(schema.columns)
    missing = [c for c in expected if c not in columns]
    extra = [c for c in columns if c not in schema.columns]
    problems = []
    if missing:
        problems.append(f"missing columns {_names(missing)}")
    if extra and schema.strict:
        problems.append(f"unexpected columns {_names(extra)}")
    if problems:
        raise PayloadError(422, "; ".join(problems) + f" (the model takes {_names(expected)})")
    for name in expected:
        kind = schema.columns[name]
        if kind == "any" or {type(v) for v in columns[name]} <= _FAST_TYPES[kind]:
            continue  # every value has an accepted type: no per-value check needed
        for i, value in enumerate(columns[name]):
            if not _check_value(value, kind):
                raise PayloadError(
                    422, f"column {name!r}, row {i}: expected {_ARTICLE[kind]}, got {value!r}"[:500]
                )
    kinds = set(schema.columns.values())
    if kinds == {"number"}:
        # The common case (numeric features): one float block, no per-column objects.
        matrix = np.array([columns[n] for n in expected], dtype=np.float64).T
        return pd.DataFrame(matrix, columns=expected)
    frame: dict[str, Any] = {}
    for name in expected:
        kind = schema.columns[name]
        values = columns[name]
        if kind == "number":
            frame[name] = np.array(values, dtype=np.float64)  # null becomes NaN
        elif kind == "integer":
            frame[name] = np.array(values, dtype=np.int64)
        elif kind == "boolean":
            frame[name] = np.array(values, dtype=bool)
        elif kind == "string":
            frame[name] = np.array(values, dtype=object)
        else:
            frame[name] = pd.Series(values)  # pandas infers the dtype
    return pd.DataFrame(frame)
