"""Mergeable data profiles: the statistics schema inference and drift need, built in chunks.

A profile keeps, per column: counts, nulls, values that do not fit the column's
type, and either numeric statistics (min, max, mean, variance, two exactly
mergeable sketches, the exact values of small columns, the distinct values of
low-cardinality columns) or category counts (top values plus an "other" bucket).

Both numeric sketches merge *exactly*, so profiling shards and merging gives the
same sketch as profiling the whole:

- an equi-width histogram whose bin width is a power of two, with bins aligned at
  multiples of the width and at most `HIST_BINS` bins; coarsening is a bit shift,
  and the width is a function of the global min and max only;
- a logarithmic sketch (DDSketch-like, relative accuracy `LOG_ALPHA`) for
  heavy-tailed columns where the histogram's width is too coarse.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from mlci import jsonio
from mlci.data.io import cut
from mlci.errors import InputError
from mlci.results import MAX_SAMPLES, to_jsonable

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mlci.config import Config

__all__ = [
    "DISTINCT_LIMIT",
    "EXACT_LIMIT",
    "HIST_BINS",
    "PROFILE_FORMAT",
    "TOP_K",
    "ColumnProfile",
    "Converted",
    "Kind",
    "NumericStats",
    "Profile",
    "Profiler",
    "TextStats",
    "convert",
    "infer_kind",
    "is_profile_file",
    "load_profile",
    "merge_profiles",
    "profile_files",
    "profile_path",
    "reference_profile",
    "write_profile",
]

Kind = Literal["numeric", "datetime", "bool", "text"]
PROFILE_FORMAT = "mlci-profile/1"
HIST_BINS = 4096
LOG_ALPHA = 0.01
EXACT_LIMIT = 5000
DISTINCT_LIMIT = 32
TOP_K = 2000
_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}
_EPOCH = "1970-01-01"
_ZONED = r"(?:[Zz]|[+-]\d\d(?::?\d\d)?)\s*$"


# -- typing a column ---------------------------------------------------------------------


@dataclass
class Converted:
    """A chunk of one column converted to its kind.

    Attributes:
        values: float64 array (numeric; datetime as seconds since the epoch, NaN for
            null or invalid) or a pandas Series of strings (text and bool; null
            and invalid rows are None).
        null: Rows that are null in the data.
        invalid: Rows that are present but do not fit the kind (e.g. text in a
            numeric column).
        int_dtype: Whether the source was stored as integers.
        counts: The count of each present value (text and bool), when a check made it.
        unsupported: Why the chunk cannot be checked as its kind (e.g. times with and
            without a time zone), or None.
    """

    values: Any
    null: np.ndarray
    invalid: np.ndarray
    int_dtype: bool = False
    counts: Any = None
    unsupported: str | None = None


def infer_kind(series: pd.Series) -> Kind | None:
    """The kind of a column from one chunk; None when every value is null."""
    import pandas as pd
    from pandas.api import types as pt

    if pt.is_bool_dtype(series.dtype):
        return "bool"
    if pt.is_datetime64_any_dtype(series.dtype):
        return "datetime"
    if pt.is_numeric_dtype(series.dtype):
        return "numeric"
    sample = series.dropna().head(1000)
    if len(sample) == 0:
        return None
    if all(isinstance(v, bool) for v in sample):
        return "bool"
    text = sample.astype(str)
    lowered = set(text.str.strip().str.lower().unique())
    if lowered <= (_TRUE | _FALSE) and lowered & {"true", "false", "t", "f", "yes", "no"}:
        return "bool"
    numbers = pd.to_numeric(text, errors="coerce")
    if numbers.notna().mean() >= 0.5:
        return "numeric"
    if text.str.contains(r"^\d{4}-\d\d-\d\d", regex=True).mean() >= 0.9:
        dates = pd.to_datetime(text, errors="coerce", utc=True, format="ISO8601")
        if dates.notna().mean() >= 0.9:
            return "datetime"
    return "text"


def convert(series: pd.Series, kind: Kind) -> Converted:
    """Convert one chunk of a column to ``kind``, separating nulls from invalid values."""
    import numpy as np
    import pandas as pd
    from pandas.api import types as pt

    null = series.isna().to_numpy()
    dtype = series.dtype
    if kind == "numeric":
        if pt.is_bool_dtype(dtype):
            return Converted(series.astype("float64").to_numpy(), null, np.zeros_like(null))
        if pt.is_numeric_dtype(dtype):
            values = series.to_numpy(dtype="float64", na_value=np.nan)
            return Converted(values, null, np.zeros_like(null), pt.is_integer_dtype(dtype))
        if pt.is_datetime64_any_dtype(dtype):
            return Converted(np.full(len(series), np.nan), null, ~null)
        text = series.astype("str").where(~null)
        numbers = pd.to_numeric(text, errors="coerce")
        values = numbers.to_numpy(dtype="float64", na_value=np.nan, copy=True)
        invalid = ~null & np.isnan(values)
        inf = np.isinf(values)
        if inf.any():  # 1e400 is a number beyond the float range, not infinity
            spelled = text[inf].str.strip().str.lower().str.lstrip("+-").isin(["inf", "infinity"])
            beyond = np.flatnonzero(inf)[~spelled.to_numpy(dtype=bool)]
            invalid[beyond] = True
            values[beyond] = np.nan
        return Converted(values, null, invalid)
    if kind == "datetime":
        if pt.is_datetime64_any_dtype(dtype):
            dates = series
        elif pt.is_numeric_dtype(dtype) or pt.is_bool_dtype(dtype):
            return Converted(np.full(len(series), np.nan), null, ~null)
        else:
            text = series.astype("str").where(~null)
            zoned = text.str.contains(_ZONED, regex=True, na=False).to_numpy(dtype=bool)
            present = ~null
            if zoned.any() and not zoned[present].all():
                return Converted(
                    np.full(len(series), np.nan),
                    null,
                    np.zeros_like(null),
                    unsupported="times with a time zone mixed with times without one",
                )
            dates = pd.to_datetime(text, errors="coerce", utc=True, format="ISO8601")
        if getattr(dates.dt, "tz", None) is not None:
            dates = dates.dt.tz_convert(None)
        seconds = (
            (dates - pd.Timestamp(_EPOCH))
            .dt.total_seconds()
            .to_numpy(dtype="float64", na_value=np.nan)
        )
        return Converted(seconds, null, ~null & np.isnan(seconds))
    if kind == "bool":
        if pt.is_bool_dtype(dtype):
            text = series.map({True: "true", False: "false"})
        else:
            lowered = series.astype("str").str.strip().str.lower().where(~null)
            text = lowered.map(lambda v: "true" if v in _TRUE else "false" if v in _FALSE else None)
        out = text.astype("object").where(~null, None)
        invalid = ~null & out.isna().to_numpy()
        return Converted(out, null, invalid)
    if (pt.is_string_dtype(dtype) and not pt.is_object_dtype(dtype)) or _text_categories(dtype):
        # Nulls of a string dtype are already missing: masking them again would copy
        # the Arrow array (a third of the checks' time on eight text columns).
        return Converted(series, null, np.zeros_like(null))
    if pt.is_float_dtype(dtype):
        # CSV readers turn integer codes with gaps into floats: 3.0 reads as "3".
        values = series.to_numpy(dtype="float64", na_value=np.nan)
        integral = np.isfinite(values) & (values == np.round(values))
        text = series.astype("str")
        if integral.all() or (integral | null).all():
            text = pd.Series(
                # nulls (NaN) become 0 before the cast, which NaN has no int64 value for
                np.where(null, "", np.where(null, 0.0, values).astype("int64").astype("str")),
                index=series.index,
            )
    else:
        text = series.astype("str")
    return Converted(text.where(~null, None), null, np.zeros_like(null))


def _text_categories(dtype: Any) -> bool:
    """Whether ``dtype`` is a pandas categorical of text (a Parquet dictionary column)."""
    import pandas as pd
    from pandas.api import types as pt

    return isinstance(dtype, pd.CategoricalDtype) and pt.is_string_dtype(dtype.categories.dtype)


def text_counts(values: pd.Series) -> pd.Series:
    """The count of each present value of a text column, in order of first appearance.

    A categorical's counts come from its codes; categories absent from the chunk are
    dropped and, when the order can matter (more values than `TOP_K`), the counts are
    put in the order the values first appear, as for plain text.
    """
    import numpy as np

    counts = values.value_counts(sort=False, dropna=True)
    if not _text_categories(values.dtype):
        return counts
    counts = counts[counts.to_numpy() > 0]
    if len(counts) > TOP_K:
        codes = values.cat.codes.to_numpy()
        present, first = np.unique(codes[codes >= 0], return_index=True)
        counts = counts.loc[values.cat.categories[present[np.argsort(first)]]]
    return counts


# -- numeric statistics ------------------------------------------------------------------


def _kmin(lo: float, hi: float) -> int:
    """The smallest power-of-two exponent whose aligned bins cover [lo, hi] in HIST_BINS bins."""
    amax = max(abs(lo), abs(hi))
    kfloor = math.frexp(amax)[1] - 53 if amax > 0 else -60
    span = hi - lo
    k = kfloor
    if span > 0:
        k = max(k, math.ceil(math.log2(span / (HIST_BINS - 1))) - 1)
    while math.floor(math.ldexp(hi, -k)) - math.floor(math.ldexp(lo, -k)) > HIST_BINS - 1:
        k += 1
    return k


def _coarsen(idx: np.ndarray, shift: int) -> np.ndarray:
    import numpy as np

    if shift <= 0:
        return idx
    if shift >= 62:
        return np.where(idx >= 0, 0, -1).astype("int64")
    return idx >> shift


def _sum_by_key(keys: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import numpy as np

    if keys.size == 0:
        return keys.astype("int64"), counts.astype("int64")
    uniq, inverse = np.unique(keys, return_inverse=True)
    summed = np.bincount(inverse, weights=counts, minlength=uniq.size)
    return uniq.astype("int64"), np.rint(summed).astype("int64")


def _bincount(
    idx: np.ndarray, bounds: tuple[int, int] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values of ``idx``, sorted, and their counts.

    ``bounds``: the smallest and the largest value when the caller knows them.
    """
    import numpy as np

    if idx.size == 0:
        return np.zeros(0, "int64"), np.zeros(0, "int64")
    lo, hi = bounds if bounds is not None else (int(idx.min()), int(idx.max()))
    if hi - lo > 10 * idx.size + 100_000:
        return _sum_by_key(idx, np.ones(idx.size, "int64"))
    if lo:
        idx = idx - lo
    counts = np.bincount(idx, minlength=hi - lo + 1)
    nz = np.nonzero(counts)[0]
    return (nz + lo).astype("int64"), counts[nz].astype("int64")


def _hist_index(x: np.ndarray, k: int, *, floor: bool = True) -> np.ndarray:
    """The histogram bin of each value: floor(x / 2**k) (``floor`` False: x / 2**k is whole)."""
    import numpy as np

    if -1000 < k < 1000:
        # Scaling by a power of two is exact (correctly rounded where it underflows),
        # as ldexp is, at a fraction of its cost.
        scaled = x * math.ldexp(1.0, -k)
    else:
        scaled = np.ldexp(x, -k)
    if floor:
        np.floor(scaled, out=scaled)
    return scaled.astype("int64")


def _log_sketch(
    x: np.ndarray, lo: float, hi: float, weights: np.ndarray | None = None
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray], int]:
    """The logarithmic sketch of finite values: positive, negative (by magnitude), zeros.

    ``lo`` and ``hi`` are the smallest and the largest value; ``weights``: how many times
    each value counts (distinct values with their counts). Returns (index, count) of
    the positive values, the same of the negative values, and the number of zeros. One
    pass over all values: the index ceil(log|x| / log gamma) and the sign make one key,
    counted once, instead of selecting the positive and the negative values apart.
    """
    import numpy as np

    def count(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return _bincount(keys) if weights is None else _sum_by_key(keys, weights)

    log_gamma = math.log((1 + LOG_ALPHA) / (1 - LOG_ALPHA))
    none: tuple[np.ndarray, np.ndarray] = (np.zeros(0, "int64"), np.zeros(0, "int64"))
    if lo > 0 or hi < 0:  # one sign, no zero: the index alone is the key
        magnitude = np.log(x) if lo > 0 else np.log(-x)
        magnitude /= log_gamma
        np.ceil(magnitude, out=magnitude)
        counted = count(magnitude.astype("int64"))
        return (counted, none, 0) if lo > 0 else (none, counted, 0)
    magnitude = np.abs(x)
    zeros = magnitude == 0
    zero = int(np.count_nonzero(zeros) if weights is None else weights[zeros].sum())
    if zero:
        magnitude[zeros] = 1.0  # log 1 = 0; counted apart below
    np.log(magnitude, out=magnitude)
    magnitude /= log_gamma
    np.ceil(magnitude, out=magnitude)
    # key = 3 * index + class (0 positive, 1 negative, 2 zero): sorted keys of one
    # class are sorted indexes.
    key = magnitude.astype("int64")
    key *= 3
    key += x < 0
    if zero:
        key[zeros] = 2
    keys, counts = count(key)
    cls = keys % 3
    out = []
    for c in (0, 1):
        mine = cls == c
        out.append(((keys[mine] - c) // 3, counts[mine]))
    return out[0], out[1], zero


def _m2(x: np.ndarray, mean: float) -> float:
    """Sum of squared deviations from ``mean`` (the same sum as ``np.square(x - mean).sum()``)."""
    import numpy as np

    dev = x - mean
    np.square(dev, out=dev)
    return float(dev.sum())


def _integral(x: np.ndarray) -> bool:
    """Whether every value is a whole number (the first values decide most columns)."""
    import numpy as np

    head = x[:1024]
    if not np.all(head == np.floor(head)):
        return False
    return bool(np.all(x == np.floor(x)))


@dataclass
class NumericStats:
    """Mergeable statistics of the finite values of a numeric or datetime column."""

    n: int = 0
    min: float | None = None
    max: float | None = None
    mean: float = 0.0
    m2: float = 0.0
    pos_inf: int = 0
    neg_inf: int = 0
    integral: bool = True
    hist_k: int = 0
    hist_idx: Any = None
    hist_count: Any = None
    log_pos_idx: Any = None
    log_pos_count: Any = None
    log_neg_idx: Any = None
    log_neg_count: Any = None
    log_zero: int = 0
    values: list[float] | None = field(default_factory=list)
    distinct: dict[float, int] | None = field(default_factory=dict)

    def __post_init__(self) -> None:
        import numpy as np

        for name in (
            "hist_idx",
            "hist_count",
            "log_pos_idx",
            "log_pos_count",
            "log_neg_idx",
            "log_neg_count",
        ):
            value = getattr(self, name)
            setattr(self, name, np.asarray(value if value is not None else [], dtype="int64"))

    @property
    def variance(self) -> float:
        """Population variance of the finite values (0 when fewer than two)."""
        return self.m2 / self.n if self.n > 1 else 0.0

    @property
    def std(self) -> float:
        """Population standard deviation."""
        return math.sqrt(self.variance)

    def add(self, x: np.ndarray) -> None:
        """Add a chunk of values (NaN already removed; infinities counted, not binned)."""
        import numpy as np

        inf = np.isinf(x)
        if inf.any():
            self.pos_inf += int(np.count_nonzero(x == np.inf))
            self.neg_inf += int(np.count_nonzero(x == -np.inf))
            x = x[~inf]
        if x.size == 0:
            return
        other = NumericStats.of(x)
        self.merge(other)

    @classmethod
    def of(cls, x: np.ndarray) -> NumericStats:
        """Statistics of finite values ``x``."""
        import numpy as np

        lo, hi = float(x.min()), float(x.max())
        mean = float(x.mean())
        k = _kmin(lo, hi)
        integral = _integral(x)
        # Whole numbers in bins of width 2**k <= 1: one bin per value, so the bins are
        # the distinct values and their counts (the floor changes nothing).
        per_value = integral and k <= 0
        # floor(x / 2**k) grows with x: the extreme bins are those of the extremes.
        ends = _hist_index(np.array([lo, hi]), k)
        hidx, hcount = _bincount(
            _hist_index(x, k, floor=not per_value), (int(ends[0]), int(ends[1]))
        )
        if per_value:  # the logarithmic sketch of each distinct value, times its count
            (pidx, pcount), (nidx, ncount), zero = _log_sketch(
                np.ldexp(hidx.astype("float64"), k), lo, hi, hcount
            )
        else:
            (pidx, pcount), (nidx, ncount), zero = _log_sketch(x, lo, hi)
        distinct: dict[float, int] | None = None
        head = np.unique(x[: 4 * DISTINCT_LIMIT])
        if head.size <= DISTINCT_LIMIT:
            if per_value and not (zero and np.signbit(x[x == 0]).any()):
                uniq, counts = np.ldexp(hidx.astype("float64"), k), hcount
            else:
                uniq, counts = np.unique(x, return_counts=True)
            if uniq.size <= DISTINCT_LIMIT:
                distinct = {float(u): int(c) for u, c in zip(uniq, counts, strict=True)}
        return cls(
            n=int(x.size),
            min=lo,
            max=hi,
            mean=mean,
            m2=_m2(x, mean),
            integral=integral,
            hist_k=k,
            hist_idx=hidx,
            hist_count=hcount,
            log_pos_idx=pidx,
            log_pos_count=pcount,
            log_neg_idx=nidx,
            log_neg_count=ncount,
            log_zero=zero,
            values=[float(v) for v in x] if x.size <= EXACT_LIMIT else None,
            distinct=distinct,
        )

    def merge(self, other: NumericStats) -> None:
        """Fold ``other`` into this one (exact for every sketch)."""
        import numpy as np

        self.pos_inf += other.pos_inf
        self.neg_inf += other.neg_inf
        if other.n == 0:
            return
        if self.n == 0:
            inf = (self.pos_inf, self.neg_inf)
            self.__dict__.update(other.__dict__)
            self.values = list(other.values) if other.values is not None else None
            self.distinct = dict(other.distinct) if other.distinct is not None else None
            self.pos_inf, self.neg_inf = inf
            return
        assert self.min is not None and self.max is not None
        assert other.min is not None and other.max is not None
        n = self.n + other.n
        delta = other.mean - self.mean
        self.m2 = self.m2 + other.m2 + delta * delta * self.n * other.n / n
        self.mean = self.mean + delta * other.n / n
        self.n = n
        self.min, self.max = min(self.min, other.min), max(self.max, other.max)
        self.integral = self.integral and other.integral
        k = max(self.hist_k, other.hist_k, _kmin(self.min, self.max))
        self.hist_idx, self.hist_count = _sum_by_key(
            np.concatenate(
                [
                    _coarsen(self.hist_idx, k - self.hist_k),
                    _coarsen(other.hist_idx, k - other.hist_k),
                ]
            ),
            np.concatenate([self.hist_count, other.hist_count]),
        )
        self.hist_k = k
        self.log_pos_idx, self.log_pos_count = _sum_by_key(
            np.concatenate([self.log_pos_idx, other.log_pos_idx]),
            np.concatenate([self.log_pos_count, other.log_pos_count]),
        )
        self.log_neg_idx, self.log_neg_count = _sum_by_key(
            np.concatenate([self.log_neg_idx, other.log_neg_idx]),
            np.concatenate([self.log_neg_count, other.log_neg_count]),
        )
        self.log_zero += other.log_zero
        if self.values is not None and other.values is not None and n <= EXACT_LIMIT:
            self.values = self.values + other.values
        else:
            self.values = None
        if self.distinct is not None and other.distinct is not None:
            merged = dict(self.distinct)
            for key, count in other.distinct.items():
                merged[key] = merged.get(key, 0) + count
            self.distinct = merged if len(merged) <= DISTINCT_LIMIT else None
        else:
            self.distinct = None

    def to_dict(self) -> dict[str, Any]:
        """The statistics as JSON data."""
        return {
            "n": self.n,
            "min": self.min,
            "max": self.max,
            "mean": self.mean,
            "m2": self.m2,
            "pos_inf": self.pos_inf,
            "neg_inf": self.neg_inf,
            "integral": self.integral,
            "hist": {
                "k": self.hist_k,
                "index": self.hist_idx.tolist(),
                "count": self.hist_count.tolist(),
            },
            "log": {
                "alpha": LOG_ALPHA,
                "pos_index": self.log_pos_idx.tolist(),
                "pos_count": self.log_pos_count.tolist(),
                "neg_index": self.log_neg_idx.tolist(),
                "neg_count": self.log_neg_count.tolist(),
                "zero": self.log_zero,
            },
            "values": self.values,
            "distinct": None
            if self.distinct is None
            else {"values": list(self.distinct), "counts": list(self.distinct.values())},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NumericStats:
        """Read statistics written by `to_dict`."""
        hist, log = data["hist"], data["log"]
        distinct = data.get("distinct")
        return cls(
            n=int(data["n"]),
            min=data["min"],
            max=data["max"],
            mean=float(data["mean"]),
            m2=float(data["m2"]),
            pos_inf=int(data["pos_inf"]),
            neg_inf=int(data["neg_inf"]),
            integral=bool(data["integral"]),
            hist_k=int(hist["k"]),
            hist_idx=hist["index"],
            hist_count=hist["count"],
            log_pos_idx=log["pos_index"],
            log_pos_count=log["pos_count"],
            log_neg_idx=log["neg_index"],
            log_neg_count=log["neg_count"],
            log_zero=int(log["zero"]),
            values=[float(v) for v in data["values"]] if data.get("values") is not None else None,
            distinct=None
            if distinct is None
            else {
                float(v): int(c)
                for v, c in zip(distinct["values"], distinct["counts"], strict=True)
            },
        )


# -- category statistics -----------------------------------------------------------------


@dataclass
class TextStats:
    """Mergeable counts of the values of a text or bool column: top `TOP_K` plus "other"."""

    n: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    other: int = 0
    truncated: bool = False

    @property
    def distinct(self) -> int:
        """Distinct values seen (a lower bound when truncated)."""
        return len(self.counts)

    def add(self, values: pd.Series) -> None:
        """Add a chunk of non-null strings."""
        self.add_counts(text_counts(values))

    def add_counts(self, counts: pd.Series) -> None:
        """Add the value counts of a chunk (value -> count)."""
        chunk = TextStats(n=int(counts.sum()))
        if len(counts) > TOP_K:
            top = counts.nlargest(TOP_K)
            chunk.other = chunk.n - int(top.sum())
            chunk.truncated = True
            counts = top
        chunk.counts = {str(k): int(v) for k, v in counts.items()}
        self.merge(chunk)

    def merge(self, other: TextStats) -> None:
        """Fold ``other`` in; the top `TOP_K` are kept, the rest goes to "other"."""
        self.n += other.n
        self.other += other.other
        self.truncated = self.truncated or other.truncated
        counts = self.counts
        for key, count in other.counts.items():
            counts[key] = counts.get(key, 0) + count
        if len(counts) > TOP_K:
            ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
            self.other += sum(c for _, c in ordered[TOP_K:])
            counts = dict(ordered[:TOP_K])
            self.truncated = True
        self.counts = counts

    def to_dict(self) -> dict[str, Any]:
        """The counts as JSON data (most frequent first)."""
        ordered = dict(sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0])))
        return {"n": self.n, "counts": ordered, "other": self.other, "truncated": self.truncated}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TextStats:
        """Read counts written by `to_dict`."""
        return cls(
            n=int(data["n"]),
            counts={str(k): int(v) for k, v in data["counts"].items()},
            other=int(data["other"]),
            truncated=bool(data["truncated"]),
        )


# -- columns and profiles ---------------------------------------------------------------


@dataclass
class ColumnProfile:
    """Everything known about one column."""

    name: str
    kind: Kind | None = None
    count: int = 0
    nulls: int = 0
    invalid: int = 0
    invalid_samples: list[dict[str, Any]] = field(default_factory=list)
    int_dtype: bool = False
    numeric: NumericStats | None = None
    text: TextStats | None = None
    unique: bool | None = None
    unsupported: str | None = None

    @property
    def present(self) -> int:
        """Non-null values (valid or not)."""
        return self.count - self.nulls

    @property
    def logical_type(self) -> str:
        """float, int, bool, category/string (decided by the schema), datetime, or null."""
        if self.kind == "numeric":
            assert self.numeric is not None
            if self.numeric.n and self.numeric.integral and (self.int_dtype or self.nulls > 0):
                return "int"
            return "float"
        if self.kind == "text":
            return "string"
        return self.kind or "null"

    def ensure_stats(self) -> None:
        """Create the statistics object the kind needs."""
        if self.kind in ("numeric", "datetime") and self.numeric is None:
            self.numeric = NumericStats()
        if self.kind in ("text", "bool") and self.text is None:
            self.text = TextStats()

    def merge(self, other: ColumnProfile) -> None:
        """Fold the profile of the same column from another shard into this one."""
        if self.unsupported or other.unsupported:
            self.unsupported = self.unsupported or other.unsupported
            self.kind, self.numeric, self.text, self.unique = None, None, None, False
            self.count += other.count
            self.nulls += other.nulls
            return
        if self.kind is None:
            self.kind = other.kind
        elif other.kind is not None and other.kind != self.kind:
            raise InputError(
                f"column {self.name!r} is {self.kind} in one profile and {other.kind} in another;"
                " profile the shards with the same data types"
            )
        self.ensure_stats()
        if self.unique is False or other.unique is False:
            self.unique = False
        elif self.count and other.count:
            disjoint = (
                self.numeric is not None
                and other.numeric is not None
                and self.numeric.n > 0
                and other.numeric.n > 0
                and (self.numeric.max < other.numeric.min or other.numeric.max < self.numeric.min)  # type: ignore[operator]
            )
            self.unique = True if (self.unique and other.unique and disjoint) else None
        else:
            self.unique = self.unique if other.count == 0 else other.unique
        room = MAX_SAMPLES - len(self.invalid_samples)
        self.invalid_samples += [
            {"row": s["row"] + self.count, "value": s["value"]}
            for s in other.invalid_samples[:room]
        ]
        self.count += other.count
        self.nulls += other.nulls
        self.invalid += other.invalid
        self.int_dtype = self.int_dtype or other.int_dtype
        self.unsupported = self.unsupported or other.unsupported
        if self.numeric is not None and other.numeric is not None:
            self.numeric.merge(other.numeric)
        if self.text is not None and other.text is not None:
            self.text.merge(other.text)

    def to_dict(self) -> dict[str, Any]:
        """The column profile as JSON data."""
        return {
            "kind": self.kind,
            "type": self.logical_type,
            "count": self.count,
            "nulls": self.nulls,
            "invalid": self.invalid,
            "invalid_samples": self.invalid_samples,
            "int_dtype": self.int_dtype,
            "unique": self.unique,
            "numeric": self.numeric.to_dict() if self.numeric else None,
            "text": self.text.to_dict() if self.text else None,
            "unsupported": self.unsupported,
        }

    @classmethod
    def from_dict(cls, name: str, data: Mapping[str, Any]) -> ColumnProfile:
        """Read a column profile written by `to_dict`."""
        return cls(
            name=name,
            kind=data["kind"],
            count=int(data["count"]),
            nulls=int(data["nulls"]),
            invalid=int(data["invalid"]),
            invalid_samples=list(data.get("invalid_samples") or []),
            int_dtype=bool(data.get("int_dtype")),
            unique=data.get("unique"),
            numeric=NumericStats.from_dict(data["numeric"]) if data.get("numeric") else None,
            text=TextStats.from_dict(data["text"]) if data.get("text") else None,
            unsupported=str(data["unsupported"]) if data.get("unsupported") else None,
        )


@dataclass
class Profile:
    """The profile of a data set: rows and one `ColumnProfile` per column, in order."""

    rows: int = 0
    columns: dict[str, ColumnProfile] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)

    def kinds(self) -> dict[str, Kind]:
        """The kind of every column whose kind is known."""
        return {n: c.kind for n, c in self.columns.items() if c.kind is not None}

    def merge(self, other: Profile) -> None:
        """Fold a shard's profile into this one (columns missing on one side count as null)."""
        for name, col in other.columns.items():
            if name not in self.columns:
                self.columns[name] = ColumnProfile(name, count=self.rows, nulls=self.rows)
            self.columns[name].merge(col)
        for name, col in self.columns.items():
            if name not in other.columns:
                col.merge(ColumnProfile(name, count=other.rows, nulls=other.rows))
        self.rows += other.rows
        self.sources += other.sources

    def to_dict(self) -> dict[str, Any]:
        """The profile as strict-JSON data."""
        data: dict[str, Any] = to_jsonable(
            {
                "format": PROFILE_FORMAT,
                "rows": self.rows,
                "sources": self.sources,
                "columns": {n: c.to_dict() for n, c in self.columns.items()},
            }
        )
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Profile:
        """Read a profile written by `to_dict`."""
        return cls(
            rows=int(data["rows"]),
            sources=[str(s) for s in data.get("sources", [])],
            columns={
                str(n): ColumnProfile.from_dict(str(n), c) for n, c in data["columns"].items()
            },
        )


class Profiler:
    """Builds a `Profile` chunk by chunk.

    Args:
        kinds: The kind of each column (e.g. from a schema or the reference
            profile); other columns get theirs from the first chunk with data.
        track_unique: Whether to find out which int and text columns are unique
            keys (costs 8 bytes per row of each column that stays unique).
    """

    def __init__(self, kinds: Mapping[str, Kind] | None = None, *, track_unique: bool = False):
        self.kinds = dict(kinds or {})
        self.track_unique = track_unique
        self.profile = Profile()
        self._hashes: dict[str, list[np.ndarray] | None] = {}

    def update(
        self, offset: int, frame: pd.DataFrame, converted: Mapping[str, Converted] | None = None
    ) -> None:
        """Add one chunk whose first row is ``offset``; reuse conversions when given."""
        import numpy as np

        from mlci.data.io import PART_ATTR

        rows = len(frame)
        part = frame.attrs.get(PART_ATTR)
        for name, reason in (part.unsupported if part is not None else {}).items():
            col = self.profile.columns.get(name)
            if col is None:
                col = ColumnProfile(name, count=self.profile.rows, nulls=self.profile.rows)
                self.profile.columns[name] = col
            if col.unsupported is None:
                col.unsupported = cut(reason, 300)
                col.kind, col.numeric, col.text = None, None, None
        for raw_name in frame.columns:
            name = str(raw_name)
            col = self.profile.columns.get(name)
            if col is None:
                col = ColumnProfile(name, count=self.profile.rows, nulls=self.profile.rows)
                self.profile.columns[name] = col
            series = frame[raw_name]
            if col.kind is None and col.unsupported is None:
                col.kind = self.kinds.get(name) or infer_kind(series)
            if col.kind is None:
                col.count += rows
                col.nulls += rows
                continue
            col.ensure_stats()
            conv = converted.get(name) if converted else None
            if conv is None:
                conv = convert(series, col.kind)
            if conv.unsupported is not None:
                col.unsupported = cut(conv.unsupported, 300)
                col.kind, col.numeric, col.text = None, None, None
                col.count += rows
                col.nulls += rows
                continue
            col.count += rows
            col.nulls += int(np.count_nonzero(conv.null))
            bad = int(np.count_nonzero(conv.invalid))
            if bad:
                col.invalid += bad
                room = MAX_SAMPLES - len(col.invalid_samples)
                if room > 0:
                    rows_bad = np.flatnonzero(conv.invalid)[:room]
                    col.invalid_samples += [
                        {"row": offset + int(r) + 1, "value": cut(str(series.iloc[int(r)]))}
                        for r in rows_bad
                    ]
            col.int_dtype = col.int_dtype or conv.int_dtype
            if col.numeric is not None:
                values = conv.values
                col.numeric.add(values[~np.isnan(values)])
            elif col.text is not None:
                if conv.counts is not None:
                    col.text.add_counts(conv.counts)
                else:
                    col.text.add(conv.values[~(conv.null | conv.invalid)])
            if self.track_unique:
                self._track(col, conv)
        names = {str(c) for c in frame.columns}
        for name, col in self.profile.columns.items():
            if name not in names:
                col.count += rows
                col.nulls += rows
        self.profile.rows += rows

    def _track(self, col: ColumnProfile, conv: Converted) -> None:
        import numpy as np
        import pandas as pd

        state = self._hashes.get(col.name, [])
        if state is None or col.kind not in ("numeric", "text"):
            return
        if col.kind == "numeric" and not (col.numeric and col.numeric.integral):
            self._hashes[col.name] = None
            return
        keep = ~(conv.null | conv.invalid)
        if col.kind == "numeric":
            hashed = pd.util.hash_array(conv.values[keep])
        else:
            hashed = pd.util.hash_array(np.asarray(conv.values[keep], dtype=object))
        if np.unique(hashed).size != hashed.size:
            self._hashes[col.name] = None
            return
        state.append(hashed)
        self._hashes[col.name] = state

    def finish(self) -> Profile:
        """The finished profile (columns that were null everywhere get kind None)."""
        import numpy as np

        if self.track_unique:
            for name, col in self.profile.columns.items():
                state = self._hashes.get(name)
                if state is None or col.kind not in ("numeric", "text") or col.present == 0:
                    col.unique = False
                    continue
                allh = np.sort(np.concatenate(state))
                col.unique = bool(allh.size < 2 or not np.any(allh[1:] == allh[:-1]))
        return self.profile


# -- files -------------------------------------------------------------------------------


def profile_path(
    path: Path,
    *,
    chunk_rows: int = 250_000,
    kinds: Mapping[str, Kind] | None = None,
    track_unique: bool = False,
) -> Profile:
    """Profile the data at ``path`` in bounded chunks (see `mlci.data.io.iter_frames`)."""
    from mlci.data.io import iter_frames

    profiler = Profiler(kinds, track_unique=track_unique)
    frames = iter_frames(path, chunk_rows=chunk_rows, read_ahead=True, text_as_categories=True)
    for offset, frame in frames:
        profiler.update(offset, frame)
    profile = profiler.finish()
    profile.sources = [str(path)]
    return profile


def merge_profiles(profiles: Iterable[Profile]) -> Profile:
    """Merge shard profiles, in order, into one."""
    out = Profile()
    for p in profiles:
        out.merge(p)
    return out


def is_profile_file(path: Path) -> bool:
    """Whether ``path`` looks like a profile written by `write_profile` (a ``.json`` file)."""
    return path.is_file() and path.suffix.lower() == ".json"


def write_profile(profile: Profile, path: Path) -> Path:
    """Write ``profile`` as strict JSON."""
    return jsonio.write_json(path, profile.to_dict(), indent=None)


def load_profile(path: Path) -> Profile:
    """Read a profile written by `write_profile`.

    Raises:
        InputError: when the file is missing or not an mlci profile.
    """
    if not path.exists() and not path.is_symlink():
        raise InputError(f"{path}: profile not found; write one with `mlci profile DATA -o {path}`")
    data = jsonio.read_json(
        path, what="profile", fix=f"write it again with `mlci profile DATA -o {path}`"
    )
    if not isinstance(data, dict) or data.get("format") != PROFILE_FORMAT:
        raise InputError(
            f'{path}: not an mlci profile (expected "format": "{PROFILE_FORMAT}"); write one'
            " with `mlci profile DATA -o PATH`"
        )
    from mlci.data.profile_doc import check_profile

    check_profile(data, str(path))  # every field the reader uses, before it is read
    try:
        return Profile.from_dict(data)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        # A list where an object belongs, a string where a count belongs: refused, not a crash.
        raise InputError(
            f"{path}: damaged profile ({exc!r}); write it again with `mlci profile`"
        ) from None


def profile_files(files: Sequence[Path], *, chunk_rows: int = 250_000) -> Profile:
    """One profile of several data files or saved profiles (each profiled, then merged)."""
    profiles = [
        load_profile(f) if is_profile_file(f) else profile_path(f, chunk_rows=chunk_rows)
        for f in files
    ]
    return merge_profiles(profiles)


def reference_profile(config: Config, *, purpose: str) -> Profile:
    """The training reference profile (``data.reference``: a data file or a saved profile).

    Raises:
        ConfigError: when ``data.reference`` is unset or missing.
    """
    path = config.existing_path("data", "reference", purpose=purpose)
    return profile_files([path], chunk_rows=config.data.chunk_rows)
