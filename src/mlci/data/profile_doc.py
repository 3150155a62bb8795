"""The typed structure of a saved profile (``mlci profile -o``), checked before it is used.

A reference profile may come from anywhere (a cache, an artifact, a hand edit), so
`check_profile` validates the JSON against this structure, and names the field
that does not fit, before `mlci.data.profile.Profile.from_dict` reads a value. The
same classes give the profile's JSON Schema (`profile_schema`). Fields a newer
writer adds are allowed and left unread.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

from mlci import jsonio
from mlci.errors import ConfigError, InputError
from mlci.typedload import json_schema, spec

__all__ = ["ProfileDoc", "check_profile", "profile_schema"]


@dataclass(frozen=True)
class HistDoc:
    """The fixed-width histogram of a numeric column."""

    OPEN_KEYS: ClassVar[bool] = True

    k: int = spec(doc="Bin width exponent")
    index: list[int] = spec(factory=list, doc="Bin indices")
    count: list[int] = spec(factory=list, doc="Counts per bin")


@dataclass(frozen=True)
class LogDoc:
    """The log-scale histogram of a numeric column."""

    OPEN_KEYS: ClassVar[bool] = True

    alpha: float | None = spec(None, "Relative bin width")
    pos_index: list[int] = spec(factory=list, doc="Bins of positive values")
    pos_count: list[int] = spec(factory=list, doc="Counts of positive values")
    neg_index: list[int] = spec(factory=list, doc="Bins of negative values")
    neg_count: list[int] = spec(factory=list, doc="Counts of negative values")
    zero: int = spec(0, "Count of zeros", minimum=0)


@dataclass(frozen=True)
class DistinctDoc:
    """The distinct values of a low-cardinality numeric column."""

    values: list[float] = spec(factory=list, doc="Values")
    counts: list[int] = spec(factory=list, doc="Count of each value")


@dataclass(frozen=True)
class NumericDoc:
    """Mergeable statistics of a numeric or datetime column."""

    OPEN_KEYS: ClassVar[bool] = True

    n: int = spec(doc="Values counted", minimum=0)
    hist: HistDoc = spec(doc="Histogram")
    log: LogDoc = spec(doc="Log-scale histogram")
    min: float | None = spec(None, "Smallest value")
    max: float | None = spec(None, "Largest value")
    mean: float | None = spec(None, "Mean")
    m2: float | None = spec(None, "Sum of squared deviations")
    pos_inf: int = spec(0, "+inf values", minimum=0)
    neg_inf: int = spec(0, "-inf values", minimum=0)
    integral: bool = spec(False, "All values are whole numbers")
    values: list[float] | None = spec(None, "A sample of values")
    distinct: DistinctDoc | None = spec(None, "Distinct values and counts")


@dataclass(frozen=True)
class TextDoc:
    """Counts of the values of a text or bool column."""

    OPEN_KEYS: ClassVar[bool] = True

    n: int = spec(doc="Values counted", minimum=0)
    counts: dict[str, int] = spec(factory=dict, doc="Count per value (the most frequent)")
    other: int = spec(0, "Values outside counts", minimum=0)
    truncated: bool = spec(False, "Whether counts were cut")


@dataclass(frozen=True)
class ColumnDoc:
    """Everything known about one column."""

    OPEN_KEYS: ClassVar[bool] = True

    count: int = spec(doc="Rows", minimum=0)
    nulls: int = spec(doc="Null values", minimum=0)
    kind: str | None = spec(None, "numeric, datetime, bool or text")
    type: str | None = spec(None, "The logical type")
    invalid: int = spec(0, "Values of the wrong type", minimum=0)
    invalid_samples: list[dict[str, Any]] = spec(factory=list, doc="Some invalid values")
    int_dtype: bool = spec(False, "Stored as integers")
    unique: bool | None = spec(None, "All values distinct")
    numeric: NumericDoc | None = spec(None, "Numeric statistics")
    text: TextDoc | None = spec(None, "Value counts")
    unsupported: str | None = spec(None, "Why the column's type is not checked")


@dataclass(frozen=True)
class ProfileDoc:
    """A saved profile: rows and one column profile per column, in order."""

    OPEN_KEYS: ClassVar[bool] = True

    format: str = spec(doc="mlci-profile/1")
    rows: int = spec(doc="Rows profiled", minimum=0)
    columns: dict[str, ColumnDoc] = spec(doc="Column profiles by name")
    sources: list[str] = spec(factory=list, doc="Files profiled")


def check_profile(data: Any, source: str) -> None:
    """Refuse ``data`` unless it fits `ProfileDoc`.

    Raises:
        InputError: naming ``source`` and the fields that do not fit.
    """
    try:
        jsonio.validate_typed(ProfileDoc, _bulk_checked(data), source=source)
    except ConfigError as exc:
        problems = [f"{i.path}: {i.message}" if i.path else i.message for i in exc.issues]
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise InputError(
            f"{source}: damaged profile: {'; '.join(problems[:5])}{more};"
            " write it again with `mlci profile`"
        ) from None


# The long number lists of a numeric column's sketches: checked here in one C-level pass
# each (a set of value types) instead of one typed conversion per number, which took
# half a second on the profile of a 1M-row, 35-column file.
_INT_LISTS = {
    "hist": ("index", "count"),
    "log": ("pos_index", "pos_count", "neg_index", "neg_count"),
    "distinct": ("counts",),
}
_FLOAT_LISTS = {"distinct": ("values",)}
_INTS = frozenset({int})
_NUMBERS = frozenset({int, float})


def _fits(values: Any, types: frozenset[type]) -> bool:
    if not isinstance(values, list) or not set(map(type, values)) <= types:
        return False
    return types is _INTS or all(map(math.isfinite, values))


def _bulk_checked(data: Any) -> Any:
    """``data`` with every long number list that passes the bulk check emptied (a copy).

    A list that does not pass is left in place, so the typed check names its bad item.
    """
    if not isinstance(data, dict) or not isinstance(data.get("columns"), dict):
        return data
    columns = {}
    for name, col in data["columns"].items():
        numeric = col.get("numeric") if isinstance(col, dict) else None
        if not isinstance(numeric, dict):
            columns[name] = col
            continue
        numeric = dict(numeric)
        if _fits(numeric.get("values"), _NUMBERS):
            numeric["values"] = []
        for part in ("hist", "log", "distinct"):
            sketch = numeric.get(part)
            if not isinstance(sketch, dict):
                continue
            sketch = numeric[part] = dict(sketch)
            for key in _INT_LISTS.get(part, ()):
                if _fits(sketch.get(key), _INTS):
                    sketch[key] = []
            for key in _FLOAT_LISTS.get(part, ()):
                if _fits(sketch.get(key), _NUMBERS):
                    sketch[key] = []
        columns[name] = {**col, "numeric": numeric}
    return {**data, "columns": columns}


def profile_schema() -> dict[str, Any]:
    """The JSON Schema of a saved profile."""
    return json_schema(ProfileDoc, title="mlci profile")
