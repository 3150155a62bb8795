"""Parse and validate prediction requests against the model's input schema.

No web framework here, so the rules are tested without a server. A body is JSON
(records, a bare list of records, or columns), an Arrow IPC stream or a Parquet
file; each becomes a `Batch` of typed columns. Validation is one pass per column
(a set of value types, then one vectorized conversion and range check), never one
Python call per value on the common paths. Every rejection is a `PayloadError`
carrying the HTTP status and a message that names the offending column, row or
limit.

Limits (all refused with 4xx before the model runs): the body size (checked by the
caller while reading), the number of rows (counted before the rows are built: from
the braces of a JSON body, the footer of a Parquet file, the batch headers of an
Arrow stream or file), the decoded size of an Arrow or Parquet body (at most 64
times its encoded size, read from the footer, or from the batch headers and each
compressed buffer's length prefix before anything is decompressed), JSON nesting
(1,024 levels, orjson's), numbers outside the float range (``1e400``, a 4,000-digit
integer), ``NaN``/``Infinity`` (not JSON), and ``null`` in a column whose schema
says the model cannot take it.
"""

from __future__ import annotations

import re
import struct
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from itertools import chain
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Literal, cast

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = [
    "ARROW_TYPES",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_ROWS",
    "JSON_TYPES",
    "PARQUET_TYPES",
    "Batch",
    "ColumnType",
    "InputSchema",
    "PROBED",
    "PayloadError",
    "parse_body",
    "parse_request",
    "schema_from_frame",
]

ColumnType = Literal["number", "integer", "string", "boolean", "any"]
_TYPES: tuple[ColumnType, ...] = ("number", "integer", "string", "boolean", "any")
#: The column types `schema_from_frame` probes for missing values (boolean: never null).
PROBED: tuple[ColumnType, ...] = ("number", "integer", "string")
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
DEFAULT_MAX_ROWS = 100_000
JSON_TYPES = frozenset({"application/json"})
ARROW_TYPES = frozenset(
    {"application/vnd.apache.arrow.stream", "application/vnd.apache.arrow.file"}
)
PARQUET_TYPES = frozenset(
    {"application/vnd.apache.parquet", "application/x-parquet", "application/parquet"}
)
_MAX_LISTED = 10
# A decoded Arrow or Parquet body may not grow past this many times its encoded size
# (a compressed column of one repeated value is a decompression bomb).
_MAX_EXPANSION = 64
_FLOAT32_MAX = 3.4028234663852886e38
_STRING_LITERAL = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)


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


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass(frozen=True)
class InputSchema:
    """The columns a model takes, in order, with a JSON type for each.

    Attributes:
        columns: Column name to type; the order is the model's input order.
        strict: Refuse columns the model does not take (else they are dropped).
        nullable: Column name to whether the model takes a missing value there (found
            at registration by feeding the model a null in that column); a column
            not listed is unknown: nulls pass and the answer is checked instead.
        passthrough: Columns a request may carry that are not model inputs (the
            configured id columns, for the prediction log); taken out of the body as
            text (`Batch.extra`) before it is validated. Not part of `to_dict`.
    """

    columns: Mapping[str, ColumnType]
    strict: bool = True
    nullable: Mapping[str, bool] = field(default_factory=dict)
    passthrough: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The schema as JSON data (for ``GET /metadata`` and the registry metadata).

        With ``nullable`` flags, ``probed`` lists the column types the flags were found
        by feeding the model a null (`PROBED`); older registrations recorded integer
        columns as not nullable without asking the model (see `from_dict`).
        """
        out = []
        for name, kind in self.columns.items():
            col: dict[str, Any] = {"name": name, "type": kind}
            if name in self.nullable:
                col["nullable"] = self.nullable[name]
            out.append(col)
        if not self.nullable:
            return {"columns": out}
        return {"columns": out, "probed": list(PROBED)}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> InputSchema | None:
        """The schema of `to_dict`'s JSON data, or None when it names no column.

        An unknown type is ``any``. A ``nullable: false`` on a column whose type was
        not probed (an integer column of a registration older than ``probed``) is
        dropped: nulls pass there and the model's answer is checked instead.
        """
        columns = raw.get("columns")
        if not isinstance(columns, list):
            return None
        probed = raw.get("probed")
        asked = set(probed) if isinstance(probed, list) else {"number", "string"}
        cols: dict[str, ColumnType] = {}
        nullable: dict[str, bool] = {}
        for col in columns:
            if isinstance(col, Mapping) and isinstance(col.get("name"), str):
                kind = col.get("type")
                cols[col["name"]] = kind if kind in _TYPES else "any"
                flag = col.get("nullable")
                if isinstance(flag, bool) and (flag or cols[col["name"]] in asked):
                    nullable[col["name"]] = flag
        return cls(cols, nullable=nullable) if cols else None

    @cached_property
    def numeric(self) -> bool:
        """Whether every column is a number (one float block serves the whole batch)."""
        return bool(self.columns) and all(k == "number" for k in self.columns.values())

    @cached_property
    def names(self) -> list[str]:
        """The column names, in the model's order."""
        return list(self.columns)

    @cached_property
    def getter(self) -> Callable[[Any], Any]:
        """Picks a record's values in the model's order (C-level)."""
        return itemgetter(*self.columns)


def schema_from_frame(
    frame: pd.DataFrame,
    features: Sequence[str] | None = None,
    *,
    model: Any = None,
) -> InputSchema:
    """The schema of the ``features`` columns of ``frame`` (all columns when None).

    With ``model`` (anything with ``predict``/``predict_proba`` on a frame), each
    column is also probed for missing values: a copy of a few rows with that column
    set to null must predict without error and with finite outputs for the column to
    be ``nullable``.
    """
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
    nullable = _probe_nulls(model, frame[cols], out) if model is not None and len(frame) else {}
    return InputSchema(out, nullable=nullable)


def _finite_outputs(model: Any, rows: pd.DataFrame) -> bool:
    import numpy as np

    try:
        pred = np.asarray(model.predict(rows))
        proba = model.predict_proba(rows)
    except Exception:  # noqa: BLE001 - any refusal means "cannot take a null here"
        return False
    if pred.dtype.kind == "f" and not np.isfinite(pred).all():
        return False
    return proba is None or bool(np.isfinite(np.asarray(proba, dtype=np.float64)).all())


def _probe_nulls(
    model: Any, frame: pd.DataFrame, kinds: Mapping[str, ColumnType]
) -> dict[str, bool]:
    """Which columns the model takes a missing value in (see `schema_from_frame`)."""
    import numpy as np

    base = frame.head(3).reset_index(drop=True)
    out: dict[str, bool] = {}
    for name, kind in kinds.items():
        if kind not in PROBED:
            out[name] = False  # a true/false column is served without nulls
            continue
        rows = base.copy()
        # A null in an integer column is served as NaN in a float column, as pandas
        # reads a CSV column of integers with a gap: the probe sends exactly that.
        rows[name] = pd_na_object(len(rows)) if kind == "string" else np.nan
        out[name] = _finite_outputs(model, rows)
    return out


def pd_na_object(n: int) -> Any:
    """``n`` missing strings as pandas reads them from a CSV (an object array of NaN)."""
    import numpy as np

    return np.full(n, np.nan, dtype=object)


# -- the parsed batch --------------------------------------------------------------------


@dataclass
class Batch:
    """A validated batch: either one float block (numeric schemas) or typed columns.

    Attributes:
        names: Column names, in the model's order (or as sent without a schema).
        rows: Number of rows.
        matrix: ``rows x len(names)`` float64 block when every column is a number.
        columns: Column name to a 1-d array (or list) when the schema is mixed.
        nulls: Whether any value is missing.
        extra: The schema's passthrough columns the request carried (not model inputs),
            as arrays of text (None where missing).
    """

    names: list[str]
    rows: int
    matrix: np.ndarray | None = None
    columns: dict[str, Any] | None = None
    nulls: bool = False
    extra: dict[str, Any] | None = None
    _frame: pd.DataFrame | None = None

    def frame(self) -> pd.DataFrame:
        """The batch as a DataFrame (built once, on first use)."""
        import pandas as pd

        if self._frame is None:
            if self.matrix is not None:
                self._frame = pd.DataFrame(self.matrix, columns=self.names, copy=False)
            else:
                self._frame = pd.DataFrame(self.columns, columns=self.names)
        return self._frame

    def null_columns(self, row: int) -> list[str]:
        """Names of the columns that are missing in ``row``."""
        import numpy as np

        if self.matrix is not None:
            return [n for n, v in zip(self.names, self.matrix[row], strict=True) if np.isnan(v)]
        frame = self.frame()
        return [n for n in self.names if frame[n].isna().iloc[row]]


# -- JSON --------------------------------------------------------------------------------


def _too_many(body: bytes, max_rows: int) -> bool:
    """Whether a JSON body holds more than ``max_rows`` records (+1 for the wrapper).

    Counted on the bytes before parsing, so a body of millions of ``{}`` is refused
    without building millions of dicts: the brace count is an upper bound, and only
    when it is over the limit are braces inside strings set aside for an exact count.
    """
    if len(body) < 3 * (max_rows + 1):
        return False  # an object takes at least 3 bytes ("{}," ): no need to count
    import numpy as np

    # numpy compares 16-64 bytes an instruction: 3-6x faster than bytes.count here.
    if int(np.count_nonzero(np.frombuffer(body, np.uint8) == 0x7B)) <= max_rows + 1:
        return False
    return _STRING_LITERAL.sub(b'""', body).count(b"{") > max_rows + 1


def _loads(body: bytes, max_rows: int) -> Any:
    import orjson

    if _too_many(body, max_rows):
        raise PayloadError(413, f"more than {max_rows} records in one request; split the batch")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        hint = (
            "; numbers must be finite and within the float range (NaN, Infinity and 1e400"
            " are refused; send null for a missing value)"
            if "number" in str(exc) or "NaN" in str(exc)
            else ""
        )
        raise PayloadError(400, f"invalid JSON: {exc}{hint}"[:500]) from None


_SHAPE = (
    'body must be {"records": [{column: value, ...}, ...]}, a list of such objects,'
    ' or {"columns": {column: [values]}}'
)


def _json_columns(data: Any, schema: InputSchema | None, max_rows: int, body: bytes = b"") -> Batch:
    wrappers = 1 if isinstance(data, dict) else 0  # the "records" key
    if isinstance(data, list):
        data = {"records": data}
    if not isinstance(data, dict):
        raise PayloadError(422, _SHAPE)
    if ("records" in data) == ("columns" in data) or len(data) != 1:
        raise PayloadError(
            422,
            'give exactly one of "records" (a list of objects) or "columns" (an object of'
            " lists), and no other key",
        )
    if "records" in data:
        records = data["records"]
        if isinstance(records, dict):
            records = [records]
        if not isinstance(records, list) or not records:
            raise PayloadError(422, '"records" must be a non-empty list of objects')
        if len(records) > max_rows:
            raise PayloadError(413, f"batch of {len(records)} rows is over the limit of {max_rows}")
        return _records(records, schema, _Source(body, wrappers))
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
    rows = lengths.pop()
    if rows > max_rows:
        raise PayloadError(413, f"batch of {rows} rows is over the limit of {max_rows}; split it")
    names = _check_names(list(columns), schema)
    return _typed_columns({n: columns[n] for n in names}, names, rows, schema)


# A columnar body of plain numbers is parsed column by column: its skeleton (the
# wrapper and the keys) by the patterns below, each column's array by simdjson straight
# into a buffer of doubles (no Python float per number: half of orjson's time per column,
# the number grammar as strict as RFC 8259; orjson where simdjson is not installed, with
# the same checks). One array at a time also keeps the work in the CPU cache. Anything
# else (nulls, strings, escapes in keys, unknown or repeated columns, a number beyond the
# float range, a malformed body) takes the general path, which names the problem.
_WS = rb"[ \t\n\r]*"
_COLUMNS_HEAD = re.compile(_WS + rb"\{" + _WS + rb'"columns"' + _WS + rb":" + _WS + rb"\{")
_COLUMN_KEY = re.compile(_WS + rb'"([\x20\x21\x23-\x5b\x5d-\x7e]*)"' + _WS + rb":" + _WS)
_COLUMN_NEXT = re.compile(_WS + rb"(?:(,)|\}" + _WS + rb"\}" + _WS + rb"\Z)")
_NUMBER_BYTES = b"0123456789.eE+-, \t\n\r"


#: Bodies up to this size are read by one simdjson call (fewer Python steps per column:
#: a sixth less CPU at 1,000 rows); larger ones one array at a time, which keeps each
#: array's work in the CPU cache (a tenth less CPU at 10,000 rows).
_WHOLE_BODY_BYTES = 1 << 20
_RETRY = object()  # the whole-body reader's "read it one array at a time instead"


def _plain_columns(body: bytes, schema: InputSchema, max_rows: int) -> Batch | None:
    """The float block of ``{"columns": {...}}`` holding only numbers, or None (general path)."""
    head = _COLUMNS_HEAD.match(body)
    if head is None:
        return None
    if len(body) <= _WHOLE_BODY_BYTES:
        whole = _whole_body_columns(body, schema, max_rows)
        if whole is not _RETRY:
            return cast("Batch | None", whole)
    return _array_by_array(body, head.end(), schema, max_rows)


def _whole_body_columns(body: bytes, schema: InputSchema, max_rows: int) -> Any:
    """`_plain_columns` by one simdjson parse of the body: a Batch, None or ``_RETRY``.

    Taken only when it cannot differ from the general path: no backslash in the body (so
    no escaped key), one ``[`` per model column (so no nested array, which simdjson's
    buffer would flatten), exactly the model's keys once each, and nothing but numbers
    in every array (simdjson refuses anything else: None). A number simdjson declines
    (an integer beyond 64 bits) or a malformed body: ``_RETRY``, for the array-by-array
    reader, which reads such integers by orjson and sends the rest to the general path.
    """
    import numpy as np

    names = schema.names
    brackets = int(np.count_nonzero(np.frombuffer(body, np.uint8) == 0x5B))
    if brackets != len(names) or b"\\" in body:
        return _RETRY
    parser = _parser()
    if not parser:
        return _RETRY
    doc: Any = None
    columns: Any = None
    array: Any = None
    try:
        doc = parser.parse(body)
        columns = doc["columns"]
        if len(doc) != 1 or len(columns) != len(names):
            return None
        block: Any = None
        for j, name in enumerate(names):
            array = columns[name]
            rows = len(array)
            if block is None:
                if not 0 < rows <= max_rows:
                    return None
                block = np.empty((len(names), rows))
            elif rows != block.shape[1]:
                return None
            block[j] = np.frombuffer(array.as_buffer(of_type="d"), dtype=np.float64)
    except (KeyError, TypeError, AttributeError):  # a missing column, a non-number
        return None
    except (ValueError, RuntimeError):  # malformed, or a number beyond 64 bits
        return _RETRY
    finally:
        del array, columns, doc  # the parser's next document needs them released
    matrix = np.ascontiguousarray(block.T)
    return Batch(names, len(matrix), matrix=matrix)


def _array_by_array(body: bytes, pos: int, schema: InputSchema, max_rows: int) -> Batch | None:
    """`_plain_columns` one array at a time, from ``pos`` (after the wrapper's head).

    Each array is the bytes from its ``[`` to the first ``]``: valid JSON only when it is a
    flat array (a nested array or a ``]`` inside a string leaves it unclosed). Its values
    go to one row of a ``columns x rows`` block (a contiguous write), transposed once at
    the end into the model's ``rows x columns`` block (a third of the cost of writing
    each column into the strided block).
    """
    import numpy as np

    index = {name: j for j, name in enumerate(schema.names)}
    done: set[int] = set()
    block: Any = None
    view = memoryview(body)  # slices without copies
    while True:
        key = _COLUMN_KEY.match(body, pos)
        if key is None:
            return None
        j = index.get(key.group(1).decode("ascii"), -1)
        start = key.end()
        end = body.find(b"]", start) + 1
        if j < 0 or j in done or body[start : start + 1] != b"[" or end == 0:
            return None
        done.add(j)
        # A value takes 2 bytes at least ("1,"): count the commas only when the bytes
        # could hold more rows than the limit.
        long = block is None and end - start > 2 * max_rows
        if long and body.count(b",", start, end) >= max_rows:
            return None
        values = _number_array(view[start:end])
        if values is None:
            return None
        if block is None:
            block = np.empty((len(index), len(values)))
        if len(values) != block.shape[1] or not len(values):
            return None
        block[j] = values
        after = _COLUMN_NEXT.match(body, end)
        if after is None:
            return None
        if after.group(1) is None:
            break
        pos = after.end()
    if len(done) != len(index):
        return None  # orjson refuses a number beyond the float range: no inf to look for
    matrix = np.ascontiguousarray(block.T)
    return Batch(schema.names, len(matrix), matrix=matrix)


_SIMDJSON = threading.local()  # one reusable parser per thread (it keeps its buffers)


def _parser() -> Any:
    """This thread's simdjson parser, or False where simdjson is not installed."""
    parser: Any = getattr(_SIMDJSON, "parser", None)
    if parser is None:
        try:
            import simdjson
        except ImportError:  # no wheel for this platform: orjson alone
            _SIMDJSON.parser = parser = False
        else:
            _SIMDJSON.parser = parser = simdjson.Parser()
    return parser


def _number_array(span: bytes | memoryview) -> Any:
    """The numbers of the JSON array ``span`` as float64, or None when that is not all it is.

    ``span`` runs from a ``[`` to the first ``]``, so it cannot nest. simdjson reads it
    straight into doubles and refuses anything but numbers (a null, true/false, a string,
    an object): None. What it declines otherwise (an integer beyond 64 bits, which orjson
    reads as a float, or anything malformed) is read by orjson as before, when the bytes
    hold only number characters; orjson's error means None. None sends the body to the
    general path, which names the problem.
    """
    import numpy as np

    parser = _parser()
    if parser:
        # ``span`` starts with "[", so the document is an Array; it must be released
        # before the parser reads its next document.
        array: Any = None
        try:
            array = parser.parse(span)
            return np.frombuffer(array.as_buffer(of_type="d"), dtype=np.float64)
        except TypeError:  # a value that is not a number
            return None
        except (ValueError, RuntimeError):
            pass
        finally:
            del array
    import orjson

    text = bytes(span)
    if text.translate(None, _NUMBER_BYTES) != b"[]":
        return None  # a null, true/false, a string or a nested value
    try:
        return np.asarray(orjson.loads(text), dtype=np.float64)
    except (ValueError, TypeError, OverflowError):  # orjson's error is a ValueError
        return None


def _check_names(sent: list[str], schema: InputSchema | None) -> list[str]:
    """The model's column order; 422 naming missing (and, strict, unexpected) columns."""
    if schema is None:
        return sent
    expected = list(schema.columns)
    have = set(sent)
    missing = [c for c in expected if c not in have]
    extra = [c for c in sent if c not in schema.columns]
    problems = []
    if missing:
        problems.append(f"missing columns {_names(missing)}")
    if extra and schema.strict:
        problems.append(f"unexpected columns {_names(extra)}")
    if problems:
        raise PayloadError(422, "; ".join(problems) + f" (the model takes {_names(expected)})")
    return expected


@dataclass(frozen=True)
class _Source:
    """The body a list of records was parsed from, and how many wrapper keys it has."""

    body: bytes
    wrappers: int

    def only_numbers(self, names: list[str], rows: int) -> bool:
        """Whether the body holds nothing but the wrapper, each record's keys and numbers.

        Told from byte counts (numpy, a fraction of a set of types over the values).
        With no backslash every string is written as is, so the quotes count the
        strings: exactly the wrapper key plus each record's keys once leaves no room for
        a string value or a repeated key (the records were checked to hold exactly the
        model's keys). Then the letters t, f and n appear only in those keys, since
        numbers have none: one more is a true, a false or a null.
        """
        import numpy as np

        if not self.body:
            return False
        data = np.frombuffer(self.body, np.uint8)
        if np.count_nonzero(data == 0x5C):
            return False
        if int(np.count_nonzero(data == 0x22)) != 2 * (rows * len(names) + self.wrappers):
            return False
        keys = "".join(names).encode()
        wrapper = b"records" * self.wrappers
        return all(
            int(np.count_nonzero(data == c)) == rows * keys.count(c) + wrapper.count(c)
            for c in b"tfn"
        )


_NO_SOURCE = _Source(b"", 0)
#: Values in a batch of records from which the byte counts beat a set of types.
_SCAN_VALUES = 4096


def _records(records: list[Any], schema: InputSchema | None, source: _Source = _NO_SOURCE) -> Batch:
    first = records[0]
    if not isinstance(first, dict):
        raise PayloadError(422, "records[0]: expected an object of column values")
    if schema is not None and schema.numeric:
        fast = _numeric_records(records, schema.names, schema, source)
        if fast is not None:
            return fast
    names = _record_names(records)
    if not names:
        raise PayloadError(422, "records[0]: an empty object; send the model's columns")
    names = _check_names(names, schema)
    columns = {n: [rec.get(n, _MISSING) for rec in records] for n in names}
    gaps = [col.index(_MISSING) for col in columns.values() if _MISSING in col]
    if gaps:
        i = min(gaps)
        missing = [m for m in names if m not in records[i]]
        raise PayloadError(422, f"records[{i}]: missing columns {_names(missing)}")
    return _typed_columns(columns, names, len(records), schema)


_MISSING = object()


def _record_names(records: list[Any]) -> list[str]:
    first = records[0]
    keys = first.keys()
    if all(type(rec) is dict and rec.keys() == keys for rec in records):
        return list(first)  # the common case: every record has the same keys
    names: list[str] = []
    seen: set[str] = set()
    for i, rec in enumerate(records):
        if not isinstance(rec, dict):
            raise PayloadError(422, f"records[{i}]: expected an object of column values")
        for key in rec:
            if key not in seen:
                seen.add(key)
                names.append(key)
    return names


_PLAIN_NUMBERS = frozenset({int, float})
_NUMBERS_OR_NULL = frozenset({int, float, type(None)})


def _numeric_records(
    records: list[Any], names: list[str], schema: InputSchema, source: _Source
) -> Batch | None:
    """The float block of records whose values are all plain numbers or null, else None.

    One C-level pass picks each record's values in the model's order (a missing key
    falls through), one counts the keys (an extra column falls through), one collects
    the set of value types (a string such as ``"1.5"`` or a boolean, which numpy
    would convert, falls through; in a large batch, byte counts of the body tell that
    first, see `_Source.only_numbers`), and numpy converts the block in one call, as a
    hand-written app would. Anything that falls through takes the per-column path,
    which names the problem.
    """
    import numpy as np

    n, k = len(records), len(names)
    try:
        picked = list(map(schema.getter, records))
    except (KeyError, TypeError):
        return None
    if sum(map(len, records)) != k * n:
        return None
    if k == 1:
        picked = [(v,) for v in picked]
    if n * k >= _SCAN_VALUES and source.only_numbers(names, n):
        nulls = False
    else:
        types = set(map(type, chain.from_iterable(picked)))
        if not types <= _NUMBERS_OR_NULL:
            return None
        nulls = not types <= _PLAIN_NUMBERS
    try:
        matrix = np.array(picked, dtype=np.float64)  # null becomes NaN
    except (OverflowError, ValueError, TypeError):
        return None
    if matrix.shape != (n, k):
        return None
    if nulls:
        _check_null_columns(matrix, names, schema)
    return Batch(names, n, matrix=matrix, nulls=nulls)


def _check_null_columns(matrix: np.ndarray, names: list[str], schema: InputSchema) -> None:
    import numpy as np

    refused = [j for j, name in enumerate(names) if schema.nullable.get(name) is False]
    if not refused:
        return
    holes = np.isnan(matrix[:, refused])
    if holes.any():
        row, col = (int(x[0]) for x in np.nonzero(holes))
        name = names[refused[col]]
        raise PayloadError(
            422,
            f"column {name!r}, row {row}: null, but the model cannot take a missing value in"
            f" {name!r}; send a number",
        )


def _check_finite(matrix: np.ndarray, names: Sequence[str]) -> None:
    import numpy as np

    bad = np.isinf(matrix)
    if bad.any():
        row, col = (int(x[0]) for x in np.nonzero(bad))
        raise PayloadError(
            422,
            f"column {names[col]!r}, row {row}: {matrix[row, col]} is not a finite number;"
            " send finite numbers (null for a missing value)",
        )


_ARTICLE = {
    "number": "a number",
    "integer": "an integer",
    "string": "a string",
    "boolean": "true/false",
}
_ALLOWED: dict[str, frozenset[type]] = {
    "number": frozenset({int, float}),
    "integer": frozenset({int}),
    "string": frozenset({str}),
    "boolean": frozenset({bool}),
}


def _typed_columns(
    columns: Mapping[str, list[Any]], names: list[str], rows: int, schema: InputSchema | None
) -> Batch:
    """Check each column's values with one set of types, then convert it in one call."""
    import numpy as np

    out: dict[str, Any] = {}
    nulls = False
    for name in names:
        values = columns[name]
        kind: ColumnType = schema.columns[name] if schema is not None else "any"
        types = set(map(type, values))
        has_null = type(None) in types
        types.discard(type(None))
        if has_null:
            nulls = True
            _refuse_null(name, kind, values, schema)
        if kind == "any":
            out[name] = _any_column(name, values, types, has_null)
            continue
        _check_types(name, kind, values, types)
        out[name] = _CONVERT[kind](name, values, has_null)
    if schema is not None and schema.numeric:
        matrix = np.column_stack([out[n] for n in names]) if names else None
        return Batch(names, rows, matrix=matrix, nulls=nulls)
    return Batch(names, rows, columns=out, nulls=nulls)


def _refuse_null(
    name: str, kind: ColumnType, values: list[Any], schema: InputSchema | None
) -> None:
    """422 for a null in a column the model cannot take a missing value in."""
    if schema is not None and schema.nullable.get(name) is False:
        raise PayloadError(
            422,
            f"column {name!r}, row {values.index(None)}: null, but the model cannot take a"
            f" missing value in {name!r}; send {_ARTICLE.get(kind, 'a value')}",
        )


def _any_column(name: str, values: list[Any], types: set[type], has_null: bool) -> Any:
    """A column of any plain values (nested ones refused) as a pandas Series."""
    import pandas as pd

    bad = types & {list, dict}
    if bad:
        row = next(i for i, v in enumerate(values) if type(v) in bad)
        raise PayloadError(
            422, f"column {name!r}, row {row}: expected a plain value, got a nested one"
        )
    return pd.Series(values, dtype=object if has_null else None)


def _check_types(name: str, kind: ColumnType, values: list[Any], types: set[type]) -> None:
    """422 naming the first value whose JSON type the column does not take."""
    allowed = _ALLOWED[kind]
    if kind == "integer" and float in types:
        allowed = allowed | {float}
    if not types <= allowed:
        row = next(i for i, v in enumerate(values) if v is not None and type(v) not in allowed)
        raise PayloadError(
            422,
            f"column {name!r}, row {row}: expected {_ARTICLE[kind]}, got {_short(values[row])}",
        )


def _number_column(name: str, values: list[Any], _has_null: bool) -> np.ndarray:
    import numpy as np

    try:
        arr = np.array(values, dtype=np.float64)  # null becomes NaN
    except OverflowError:
        row = next(i for i, v in enumerate(values) if isinstance(v, int) and abs(v) > 1e308)
        raise PayloadError(
            422, f"column {name!r}, row {row}: the number is out of the float range"
        ) from None
    _check_finite(arr.reshape(-1, 1), [name])
    return arr


def _integer_column(name: str, values: list[Any], has_null: bool) -> np.ndarray:
    """Integers as int64; with a null (which `_refuse_null` let through), float64 with NaN.

    A float column with NaN is how pandas reads a CSV column of integers with a gap,
    so a model that imputes the column takes it as it was trained.
    """
    import numpy as np

    try:
        arr = np.array(values, dtype=np.float64)  # null becomes NaN
    except OverflowError:
        arr = np.array([float("inf")])
    ok = np.isfinite(arr) & (np.mod(arr, 1) == 0) & (np.abs(arr) < 2**63)
    if has_null and len(arr) == len(values):
        ok |= np.isnan(arr)
    if not ok.all():
        row = int(np.nonzero(~ok)[0][0]) if len(arr) == len(values) else 0
        within = " within 64 bits" if isinstance(values[row], int) else ""
        raise PayloadError(
            422,
            f"column {name!r}, row {row}: expected {_ARTICLE['integer']}{within},"
            f" got {_short(values[row])}",
        )
    return arr if has_null else arr.astype(np.int64)


def _boolean_column(name: str, values: list[Any], has_null: bool) -> np.ndarray:
    import numpy as np

    if has_null:
        raise PayloadError(
            422, f"column {name!r}, row {values.index(None)}: null in a true/false column"
        )
    return np.array(values, dtype=bool)


def _string_column(_name: str, values: list[Any], has_null: bool) -> np.ndarray:
    """Strings in an object column; a missing value is NaN, as pandas reads a CSV."""
    import numpy as np

    arr = np.array(values, dtype=object)
    if has_null:
        arr[arr == None] = np.nan  # noqa: E711 - elementwise comparison
    return arr


_CONVERT: dict[str, Callable[[str, list[Any], bool], np.ndarray]] = {
    "number": _number_column,
    "integer": _integer_column,
    "boolean": _boolean_column,
    "string": _string_column,
}


# -- Arrow and Parquet -------------------------------------------------------------------


def _arrow_table(body: bytes, ctype: str, max_rows: int) -> Any:
    import pyarrow as pa

    limit = max(len(body) * _MAX_EXPANSION, 1 << 20)
    try:
        if ctype in PARQUET_TYPES:
            return _parquet_table(body, max_rows, limit)
        is_file = ctype.endswith(".file")
        _bound_ipc(body, is_file, max_rows, limit)  # before anything is decompressed
        reader = (
            pa.ipc.open_file(pa.BufferReader(body))
            if is_file
            else pa.ipc.open_stream(pa.BufferReader(body))
        )
        return reader.read_all()
    except PayloadError:
        raise
    except (pa.ArrowException, OSError, ValueError, IndexError, struct.error) as exc:
        what = "Parquet" if ctype in PARQUET_TYPES else "Arrow IPC"
        raise PayloadError(400, f"invalid {what} body: {str(exc)[:300]}") from None


def _parquet_table(body: bytes, max_rows: int, limit: int) -> Any:
    """A Parquet body, its rows and decoded size bounded by the footer before reading."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(pa.BufferReader(body))
    meta = pf.metadata
    if meta.num_rows > max_rows:
        raise PayloadError(
            413, f"batch of {meta.num_rows} rows is over the limit of {max_rows}; split it"
        )
    size = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    if size > limit:
        raise PayloadError(413, f"the Parquet body decodes to {size} bytes; split it")
    return pf.read()


# An Arrow IPC message's metadata is a flatbuffer (Arrow's format/Message.fbs); the
# few fields read here (a record batch's row count and body buffers, a file footer's
# blocks) bound the body before pyarrow decompresses anything.
_RECORD_BATCH = 3
_DICTIONARY_BATCH = 2


class _Flat:
    """Just enough of a flatbuffer reader: tables, scalars, sub-tables and vectors."""

    def __init__(self, data: bytes):
        self.data = data

    def root(self) -> int:
        return int(struct.unpack_from("<I", self.data, 0)[0])

    def field(self, table: int, index: int) -> int | None:
        """The position of a table's field, or None when it is absent."""
        vtable = table - struct.unpack_from("<i", self.data, table)[0]
        size = struct.unpack_from("<H", self.data, vtable)[0]
        if 4 + 2 * index >= size:
            return None
        offset = struct.unpack_from("<H", self.data, vtable + 4 + 2 * index)[0]
        return table + offset if offset else None

    def scalar(self, table: int, index: int, fmt: str) -> Any:
        at = self.field(table, index)
        return 0 if at is None else struct.unpack_from(fmt, self.data, at)[0]

    def table(self, table: int, index: int) -> int | None:
        at = self.field(table, index)
        return None if at is None else at + struct.unpack_from("<I", self.data, at)[0]

    def vector(self, table: int, index: int) -> tuple[int, int]:
        """``(position of the first element, count)`` of a vector field."""
        at = self.table(table, index)
        if at is None:
            return 0, 0
        return at + 4, int(struct.unpack_from("<I", self.data, at)[0])


def _batch_bounds(metadata: bytes, body: Any) -> tuple[int, int]:
    """``(rows, decoded body bytes)`` of a record or dictionary batch message."""
    flat = _Flat(metadata)
    message = flat.root()
    kind = flat.scalar(message, 1, "<B")
    if kind not in (_RECORD_BATCH, _DICTIONARY_BATCH):
        return 0, 0
    header = flat.table(message, 2)
    if header is None:
        return 0, 0
    if kind == _DICTIONARY_BATCH:
        header = flat.table(header, 1)
        if header is None:
            return 0, 0
        rows = 0  # dictionary values are not rows of the batch
    else:
        rows = int(flat.scalar(header, 0, "<q"))
    compressed = flat.field(header, 3) is not None
    start, count = flat.vector(header, 2)
    size = 0
    for i in range(count):
        offset, length = struct.unpack_from("<qq", metadata, start + 16 * i)
        if length <= 0:
            continue
        if not compressed:
            size += length
            continue
        # A compressed buffer starts with its decompressed length (-1: stored as is).
        declared = struct.unpack_from("<q", body, offset)[0] if length >= 8 else 0
        size += length - 8 if declared < 0 else declared
    return rows, size


def _ipc_messages(body: bytes, is_file: bool) -> Iterator[Any]:
    """Every message pyarrow would decode: the stream's, or the file footer's blocks."""
    import pyarrow as pa

    if not is_file:
        reader = pa.ipc.MessageReader.open_stream(pa.BufferReader(body))
        while True:
            try:
                yield reader.read_next_message()
            except StopIteration:
                return
    if len(body) < 18 or body[-6:] != b"ARROW1":
        raise ValueError("not an Arrow IPC file (no ARROW1 trailer)")
    footer_len = struct.unpack_from("<i", body, len(body) - 10)[0]
    if not 0 < footer_len <= len(body) - 10:
        raise ValueError("the file footer's length is out of range")
    flat = _Flat(body[len(body) - 10 - footer_len : len(body) - 10])
    footer = flat.root()
    for index in (2, 3):  # dictionaries, record batches
        start, count = flat.vector(footer, index)
        for i in range(count):
            offset, meta_len, _pad, body_len = struct.unpack_from(
                "<qiiq", flat.data, start + 24 * i
            )
            end = offset + meta_len + body_len
            if offset < 0 or meta_len < 0 or body_len < 0 or end > len(body):
                raise ValueError("a block of the file footer points outside the body")
            yield pa.ipc.read_message(pa.BufferReader(body[offset:end]))


def _bound_ipc(body: bytes, is_file: bool, max_rows: int, limit: int) -> None:
    """413 when the batches hold too many rows or decompress past ``limit``, before decoding."""
    rows = size = 0
    for message in _ipc_messages(body, is_file):
        if message.type not in ("record batch", "dictionary"):
            continue
        batch_rows, batch_size = _batch_bounds(message.metadata.to_pybytes(), message.body)
        rows += batch_rows
        size += batch_size
        if rows > max_rows:
            raise PayloadError(413, f"more than {max_rows} rows in one request; split it")
        if size > limit:
            raise PayloadError(413, f"the Arrow body decodes to over {limit} bytes; split it")


def _arrow_block(table: Any, names: list[str]) -> Batch | None:
    """The float block of a table whose columns are all numbers with none missing.

    A few calls for the whole table instead of a handful per column (which cost more
    than the data at 1,000 rows); None (a null, a NaN, an infinity or another type)
    leaves it to the per-column path, which names the problem.
    """
    import numpy as np
    import pyarrow as pa

    matrix = np.empty((table.num_rows, len(names)))
    for j, name in enumerate(names):
        col = table.column(name)
        typ = col.type
        if col.null_count or not (pa.types.is_floating(typ) or pa.types.is_integer(typ)):
            return None
        matrix[:, j] = col.to_numpy()
    if not np.isfinite(matrix).all():  # NaN (a missing value) or an infinity
        return None
    return Batch(names, table.num_rows, matrix=matrix)


def _arrow_batch(table: Any, schema: InputSchema | None) -> Batch:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if table.num_rows == 0:
        raise PayloadError(422, "the table has no rows")
    names = _check_names([str(n) for n in table.column_names], schema)
    if schema is not None and schema.numeric:
        block = _arrow_block(table, names)
        if block is not None:
            return block
    out: dict[str, Any] = {}
    nulls = False
    for name in names:
        col = table.column(name)
        typ = col.type
        kind: ColumnType = schema.columns[name] if schema is not None else "any"
        if pa.types.is_floating(typ):  # NaN is a missing value, as in pandas
            col = pc.if_else(pc.is_nan(col), pa.scalar(None, typ), col)
        n_null = col.null_count
        if n_null:
            nulls = True
            if schema is not None and schema.nullable.get(name) is False:
                row = int(pc.index(pc.is_null(col), True).as_py())
                raise PayloadError(
                    422,
                    f"column {name!r}, row {row}: null, but the model cannot take a missing"
                    f" value in {name!r}",
                )
        numeric = pa.types.is_integer(typ) or pa.types.is_floating(typ)
        ok = {
            "number": numeric,
            "integer": pa.types.is_integer(typ),
            "string": pa.types.is_string(typ) or pa.types.is_large_string(typ),
            "boolean": pa.types.is_boolean(typ),
            "any": not pa.types.is_nested(typ),
        }[kind]
        if not ok:
            raise PayloadError(
                422, f"column {name!r}: expected {_ARTICLE.get(kind, 'plain values')}, got {typ}"
            )
        if kind == "boolean" and n_null:
            row = int(pc.index(pc.is_null(col), True).as_py())
            raise PayloadError(422, f"column {name!r}, row {row}: null in a {kind} column")
        if kind == "number" or (kind == "integer" and n_null):  # a gap: float with NaN
            arr = col.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
            _check_finite(arr.reshape(-1, 1), [name])
            out[name] = arr
        elif kind in ("integer", "boolean"):
            out[name] = col.to_numpy(zero_copy_only=False)
        elif kind == "string":
            arr = np.array(col.to_pylist(), dtype=object)
            if n_null:
                arr[arr == None] = np.nan  # noqa: E711
            out[name] = arr
        else:
            out[name] = col.to_pandas()
    if schema is not None and schema.numeric:
        matrix = np.column_stack([out[n] for n in names])
        return Batch(names, table.num_rows, matrix=matrix, nulls=nulls)
    return Batch(names, table.num_rows, columns=out, nulls=nulls)


# -- entry points ------------------------------------------------------------------------


def parse_request(
    body: bytes,
    schema: InputSchema | None,
    *,
    content_type: str = "application/json",
    max_rows: int = DEFAULT_MAX_ROWS,
) -> Batch:
    """Turn a request body into a validated `Batch`, or raise `PayloadError`.

    Args:
        body: The raw body.
        schema: Columns and types the model takes; None takes the columns as sent.
        content_type: The media type (JSON, Arrow IPC stream or file, Parquet).
        max_rows: Largest batch accepted (413 above it).
    """
    if schema is not None and schema.passthrough:
        return _with_passthrough(body, schema, content_type, max_rows)
    if content_type in ARROW_TYPES or content_type in PARQUET_TYPES:
        return _arrow_batch(_arrow_table(body, content_type, max_rows), schema)
    if schema is not None and schema.numeric:
        fast = _plain_columns(body, schema, max_rows)
        if fast is not None:
            return fast
    return _json_columns(_loads(body, max_rows), schema, max_rows, body)


def parse_body(
    body: bytes,
    schema: InputSchema | None,
    *,
    max_rows: int = DEFAULT_MAX_ROWS,
) -> pd.DataFrame:
    """A JSON request body as the model's input frame, or raise `PayloadError`."""
    return parse_request(body, schema, max_rows=max_rows).frame()


def _with_passthrough(body: bytes, schema: InputSchema, content_type: str, max_rows: int) -> Batch:
    """`parse_request` for a schema with passthrough columns: taken out, then the rest.

    The passthrough values become text (the prediction log joins on their text form); a
    request without them is parsed as usual. The body takes the general path (its
    objects are built to take the columns out), so the fast paths are for schemas
    without passthrough columns.
    """
    import numpy as np

    inner = InputSchema(schema.columns, schema.strict, schema.nullable)
    extra: dict[str, Any] = {}
    if content_type in ARROW_TYPES or content_type in PARQUET_TYPES:
        table = _arrow_table(body, content_type, max_rows)
        for name in schema.passthrough:
            if name in table.column_names:
                extra[name] = table.column(name).to_pylist()
                table = table.drop_columns([name])
        batch = _arrow_batch(table, inner)
    else:
        data = _loads(body, max_rows)
        records = data if isinstance(data, list) else None
        if isinstance(data, dict) and isinstance(data.get("records"), (list, dict)):
            records = data["records"] if isinstance(data["records"], list) else [data["records"]]
        columns = data.get("columns") if isinstance(data, dict) else None
        for name in schema.passthrough:
            if records is not None and any(type(r) is dict and name in r for r in records):
                extra[name] = [r.pop(name, None) if type(r) is dict else None for r in records]
            elif isinstance(columns, dict) and name in columns and len(columns) > 1:
                extra[name] = columns.pop(name)
        batch = _json_columns(data, inner, max_rows, body)
    for name, values in extra.items():
        if not isinstance(values, list) or len(values) != batch.rows:
            raise PayloadError(422, f"column {name!r}: expected one value per row ({batch.rows})")
        text = [
            None if v is None else v if isinstance(v, str) else _id_text(name, v) for v in values
        ]
        extra[name] = np.array(text, dtype=object)
    batch.extra = extra or None
    return batch


def _id_text(name: str, value: Any) -> str | None:
    """An id value as text: numbers and booleans as JSON writes them; nothing nested."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        raise PayloadError(422, f"column {name!r}: an id is a plain value, got {_short(value)}")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).lower() if isinstance(value, bool) else str(value)
