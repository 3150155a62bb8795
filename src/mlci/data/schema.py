"""The data schema file: inference from a profile, YAML with comments, loading with positions.

`mlci schema infer` writes ``mlci/schema.yaml`` for people to edit. The file ends
with an ``inferred:`` section holding what mlci inferred; ``--update`` re-infers
and does a three-way merge: a field whose value differs from the previous
inference was edited by hand and is kept, a column deleted by hand stays
deleted, a column added by hand is kept, everything else takes the new value.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal

from mlci import typedload, yamlio
from mlci.data.profile import ColumnProfile, Profile
from mlci.errors import ConfigError, InputError
from mlci.typedload import spec

__all__ = [
    "DEFAULT_MARGIN",
    "DEFAULT_MAX_DOMAIN",
    "FUTURE_SLACK",
    "ColumnSchema",
    "DataSchema",
    "RowBounds",
    "infer_schema",
    "load_schema",
    "merge_update",
    "render_schema",
    "schema_kinds",
]

LogicalType = Literal["float", "int", "bool", "category", "string", "datetime"]
DEFAULT_MAX_DOMAIN = 100
#: Inferred number ranges are widened by this share of their width on each side.
DEFAULT_MARGIN = 0.1
#: Slack of the "not in the future" check of times, for clocks and time zones (seconds).
FUTURE_SLACK = 86_400.0


@dataclass(frozen=True)
class RowBounds:
    """How many rows the data may have."""

    min: int | None = spec(None, "Fewest rows allowed", minimum=0)
    max: int | None = spec(None, "Most rows allowed", minimum=0)


@dataclass(frozen=True)
class ColumnSchema:
    """What one column must look like."""

    type: LogicalType = spec(doc="float, int, bool, category, string or datetime")
    required: bool = spec(True, "A missing column is an error")
    nullable: bool = spec(True, "Nulls are allowed (see min_present for how many)")
    min_present: float | None = spec(
        None, "Smallest share of non-null values", minimum=0, maximum=1
    )
    min: float | None = spec(None, "Smallest allowed value (numbers)")
    max: float | None = spec(None, "Largest allowed value (numbers)")
    earliest: str | None = spec(None, "Earliest allowed time (datetimes, ISO 8601)")
    latest: str | None = spec(None, "Latest allowed time (datetimes, ISO 8601)")
    future: bool = spec(
        True, "Times after the moment of the check are allowed (false: they are out of range)"
    )
    domain: list[str] | None = spec(None, "Allowed values (category, bool)")
    min_domain_mass: float | None = spec(
        None, "Smallest share of values that must be in the domain", minimum=0, maximum=1
    )
    unique: bool = spec(False, "The column is a key: duplicates are errors")
    constant: bool = spec(False, "The column had a single value in the reference")


@dataclass(frozen=True)
class DataSchema:
    """mlci/schema.yaml: the columns and row count the data must have."""

    version: Literal[1] = spec(doc="Schema format version")
    rows: RowBounds = spec(factory=RowBounds, doc="Row-count bounds")
    columns: dict[str, ColumnSchema] = spec(factory=dict, doc="Columns by name, in data order")
    inferred: dict[str, ColumnSchema] = spec(
        factory=dict, doc="What mlci inferred last time (used by --update; do not edit)"
    )
    inferred_rows: RowBounds | None = spec(None, "Row bounds mlci inferred last time")


# -- inference ---------------------------------------------------------------------------


def _iso(seconds: float) -> str:
    import pandas as pd

    return str(pd.Timestamp(seconds, unit="s").isoformat())


def _now() -> float:
    import time

    return time.time()


def _seconds(text: str) -> float:
    import pandas as pd

    stamp = pd.Timestamp(text)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert(None)
    return float((stamp - pd.Timestamp("1970-01-01")).total_seconds())


def _infer_column(
    col: ColumnProfile,
    *,
    max_domain: int,
    margin: float,
    is_target: bool = False,
    is_key: bool = False,
) -> ColumnSchema:
    if col.unsupported is not None:
        return ColumnSchema(type="string", required=False, nullable=True, min_present=0.0)
    if col.kind is None:
        return ColumnSchema(type="string", nullable=True, min_present=0.0)
    null_frac = col.nulls / col.count if col.count else 0.0
    nullable = col.nulls > 0
    min_present = None
    if nullable:
        allowed = min(1.0, 2 * null_frac + 0.01)
        min_present = max(0.0, math.floor((1 - allowed) * 1000) / 1000)
    base: dict[str, Any] = {"nullable": nullable, "min_present": min_present}
    if col.kind in ("numeric", "datetime"):
        stats = col.numeric
        assert stats is not None
        lo, hi = stats.min, stats.max
        constant = stats.n > 0 and lo == hi
        if lo is not None and hi is not None and margin and col.kind == "numeric":
            pad = margin * (hi - lo)
            # A quantity never seen below zero (a count, an area) stays non-negative.
            lo, hi = (max(lo - pad, 0.0) if lo >= 0 else lo - pad), hi + pad
        if col.kind == "datetime":
            # New data brings new times: no upper bound, only "not in the future" when
            # the reference itself had none.
            lo = float(math.floor(lo)) if lo is not None else None
            past = stats.max is not None and stats.max <= _now() + FUTURE_SLACK
            return ColumnSchema(
                type="datetime",
                earliest=_iso(lo) if lo is not None else None,
                future=not past,
                constant=constant,
                **base,
            )
        typ = col.logical_type
        unique = bool(col.unique) and typ == "int"
        if is_key or unique:
            lo = hi = None  # a key: new batches bring new keys; only uniqueness is checked
        if typ == "int" and lo is not None and hi is not None:
            lo, hi = float(math.floor(lo)), float(math.ceil(hi))
        domain = None
        if is_target and typ == "int" and stats.distinct is not None:
            domain = [str(int(v)) for v in sorted(stats.distinct)]
        return ColumnSchema(
            type="int" if typ == "int" else "float",
            min=lo,
            max=hi,
            domain=domain,
            unique=unique,
            constant=constant,
            **base,
        )
    text = col.text
    assert text is not None
    values = list(text.to_dict()["counts"])
    constant = len(values) == 1 and not text.truncated
    if col.kind == "bool":
        return ColumnSchema(
            type="bool", domain=sorted(values), min_domain_mass=1.0, constant=constant, **base
        )
    if not text.truncated and len(values) <= max_domain and not col.unique:
        return ColumnSchema(
            type="category", domain=values, min_domain_mass=1.0, constant=constant, **base
        )
    return ColumnSchema(type="string", unique=bool(col.unique), constant=constant, **base)


def infer_schema(
    profile: Profile,
    *,
    max_domain: int = DEFAULT_MAX_DOMAIN,
    margin: float = DEFAULT_MARGIN,
    target: str | None = None,
    id_columns: Sequence[str] = (),
) -> DataSchema:
    """Infer a schema from the profile of reference data.

    Defaults that do not cry wolf on the next batch: key columns (unique ones and
    ``id_columns``) get no range, only uniqueness when unique; times get a lower
    bound and, instead of an upper one, "not in the future" (when the reference had
    no future times); number ranges are widened by ``margin``.

    Args:
        profile: The reference profile (with ``unique`` tracked for key detection).
        max_domain: Text columns with at most this many distinct values become
            ``category`` with their domain; others become ``string``.
        margin: Widen number ranges by this share of their width on each side
            (0.1 = 10%).
        target: The label column: an int label also gets its classes as a domain.
        id_columns: Columns that identify a row (``data.id_columns``): no range.
    """
    keys = set(id_columns)
    columns = {
        name: _infer_column(
            col,
            max_domain=max_domain,
            margin=margin,
            is_target=name == target,
            is_key=name in keys and name != target,
        )
        for name, col in profile.columns.items()
    }
    rows = RowBounds(min=max(1, profile.rows // 10), max=profile.rows * 10)
    return DataSchema(version=1, rows=rows, columns=columns, inferred=columns, inferred_rows=rows)


def merge_update(old: DataSchema, new: DataSchema) -> DataSchema:
    """Three-way merge for ``--update``: keep hand edits of ``old``, take the rest from ``new``."""
    merged: dict[str, ColumnSchema] = {}
    for name, fresh in new.columns.items():
        if name in old.columns and name in old.inferred:
            mine, base = old.columns[name], old.inferred[name]
            changes = {
                f.name: getattr(mine, f.name)
                for f in fields(ColumnSchema)
                if getattr(mine, f.name) != getattr(base, f.name)
            }
            merged[name] = dataclasses.replace(fresh, **changes)
        elif name in old.columns:
            merged[name] = old.columns[name]
        elif name in old.inferred:
            continue  # deleted by hand: stays deleted
        else:
            merged[name] = fresh
    for name, mine in old.columns.items():
        if name not in merged and name not in new.columns:
            merged[name] = mine
    rows = new.rows
    base_rows = old.inferred_rows
    if base_rows is None:
        rows = old.rows
    else:
        rows = RowBounds(
            min=old.rows.min if old.rows.min != base_rows.min else new.rows.min,
            max=old.rows.max if old.rows.max != base_rows.max else new.rows.max,
        )
    return DataSchema(
        version=1, rows=rows, columns=merged, inferred=new.columns, inferred_rows=new.rows
    )


def schema_kinds(schema: DataSchema) -> dict[str, Any]:
    """The profile kind of each schema column (numeric, datetime, bool, text)."""
    out: dict[str, Any] = {}
    for name, col in schema.columns.items():
        out[name] = {
            "float": "numeric",
            "int": "numeric",
            "datetime": "datetime",
            "bool": "bool",
        }.get(col.type, "text")
    return out


# -- YAML --------------------------------------------------------------------------------

_HEADER = """\
# mlci data schema: what `mlci validate-data` checks the current data against.
# Inferred by `mlci schema infer` from {source}; edit it freely:
#   type             float, int, bool, category, string or datetime
#   required         false: the column may be missing
#   nullable         false: no nulls at all; min_present: smallest share of non-null values
#   min, max         allowed range of numbers; earliest, latest: of datetimes (ISO 8601)
#   future           false: datetimes after the time of the check are out of range
#   domain           allowed values of a category; min_domain_mass: share that must be in it
#   unique           true: the column is a key, duplicates are errors
# `mlci schema infer --update` re-infers and keeps your edits: it compares this file
# with the `inferred:` section at the end, which records what mlci inferred last time.
"""


def _body(col: ColumnSchema) -> dict[str, Any]:
    out: dict[str, Any] = {"type": col.type}
    defaults = ColumnSchema(type=col.type)
    for f in fields(ColumnSchema):
        if f.name == "type":
            continue
        value = getattr(col, f.name)
        if value == getattr(defaults, f.name) and f.name not in ("nullable",):
            continue
        if f.name in ("min", "max") and value is not None and col.type == "int":
            value = int(value)
        out[f.name] = value
    return out


def _comment(prof: ColumnProfile | None, col: ColumnSchema) -> str:
    if prof is None:
        return ""
    if prof.unsupported is not None:
        return f"not checked: {prof.unsupported}"
    if prof.kind is None:
        return "all values were null in the reference"
    parts = [f"{100 * prof.nulls / prof.count:.1f}% null" if prof.count else "no rows"]
    if prof.invalid:
        parts.append(f"{prof.invalid} value(s) of another type (mixed types)")
    if prof.text is not None and col.type == "string":
        more = "+" if prof.text.truncated else ""
        parts.append(f"{prof.text.distinct}{more} distinct values")
    if prof.numeric is not None and prof.numeric.n and prof.kind == "numeric":
        parts.append(f"mean {prof.numeric.mean:.4g}, std {prof.numeric.std:.4g}")
    return ", ".join(parts)


def _indent(text: str, spaces: int) -> str:
    pad = " " * spaces
    return "".join(pad + line if line.strip() else line for line in text.splitlines(keepends=True))


def render_schema(schema: DataSchema, *, profile: Profile | None = None, source: str = "") -> str:
    """The schema as commented YAML (the ``inferred:`` section last)."""
    out = [_HEADER.format(source=source or "the reference data")]
    out.append("version: 1\n")
    rows = {k: v for k, v in dataclasses.asdict(schema.rows).items() if v is not None}
    out.append(yamlio.dump({"rows": rows}) if rows else "")
    out.append("columns:\n")
    for name, col in schema.columns.items():
        block = yamlio.dump({name: _body(col)})
        first, _, rest = block.partition("\n")
        note = _comment(profile.columns.get(name) if profile else None, col)
        if note and first.endswith(":"):
            first += f"  # {note}"
        out.append(_indent(first + "\n" + rest, 2))
    out.append(
        "\n# ---- what mlci inferred last time: `--update` uses it to keep your edits above."
        " Do not edit. ----\n"
    )
    if schema.inferred_rows is not None:
        inferred_rows = {
            k: v for k, v in dataclasses.asdict(schema.inferred_rows).items() if v is not None
        }
        out.append(yamlio.dump({"inferred_rows": inferred_rows}))
    if schema.inferred:
        out.append(yamlio.dump({"inferred": {n: _body(c) for n, c in schema.inferred.items()}}))
    return "".join(out)


def _semantic(schema: DataSchema, marked: yamlio.Marked) -> list[Any]:
    issues = []
    for name, col in schema.columns.items():
        path: tuple[str | int, ...] = ("columns", name)
        if col.min is not None and col.max is not None and col.min > col.max:
            issues.append(marked.issue((*path, "max"), "max is smaller than min; swap them"))
        numeric_only = ("min", "max")
        if col.domain is not None and col.type not in ("category", "bool", "int", "string"):
            issues.append(
                marked.issue(
                    (*path, "domain"), f"domain does not apply to {col.type} columns; remove it"
                )
            )
        if col.type not in ("float", "int"):
            for key in numeric_only:
                if getattr(col, key) is not None:
                    issues.append(
                        marked.issue(
                            (*path, key),
                            f"{key} applies to float and int columns, not {col.type};"
                            " remove it or change `type`",
                        )
                    )
        if not col.future and col.type != "datetime":
            issues.append(
                marked.issue(
                    (*path, "future"), f"future applies to datetime columns, not {col.type}"
                )
            )
        for key in ("earliest", "latest"):
            value = getattr(col, key)
            if value is None:
                continue
            if col.type != "datetime":
                issues.append(
                    marked.issue(
                        (*path, key),
                        f"{key} applies to datetime columns, not {col.type}; remove it",
                    )
                )
                continue
            try:
                _seconds(value)
            except ValueError:
                issues.append(
                    marked.issue(
                        (*path, key), f"expected an ISO 8601 time such as 2024-01-31, got {value!r}"
                    )
                )
    return issues


def load_schema(path: Path) -> DataSchema:
    """Read and validate a schema file.

    Raises:
        InputError: when the file does not exist.
        ConfigError: listing every problem with ``file:line:column``.
    """
    if not path.exists():
        raise InputError(
            f"{path}: schema file not found; create it with `mlci schema infer REFERENCE -o {path}`"
            " or pass --schema PATH"
        )
    marked = yamlio.load_file(path)
    if not isinstance(marked.value, dict):
        raise InputError(
            f"{path}: not a schema file (expected a mapping with `version:` and `columns:`);"
            " create it with `mlci schema infer`"
        )
    schema, issues = typedload.load_collect(DataSchema, marked)
    if schema is not None:
        issues = _semantic(schema, marked)
    if issues or schema is None:
        raise ConfigError(sorted(issues, key=lambda i: (i.line or 0, i.column or 0)))
    return schema
