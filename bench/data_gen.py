"""Seeded generator of the data validation benchmark's data sets (Parquet, written in row groups).

N rows: a key ``id`` (new keys in every file, as in a new batch), 20 float, 5 int,
8 categorical (3 to 1,000 levels), 2 datetime columns and a binary label, about 1% nulls
per feature column. Three files per N:

- ``reference.parquet``: the reference distribution;
- ``current.parquet``: the same distribution with the columns in ``DRIFTED`` drifted
  and violations injected (out-of-range values, an unexpected category, 5% NaN in f01,
  duplicate rows);
- ``undrifted.parquet``: a fresh sample of the reference distribution (no drift,
  no violations): any drift found there is a false alarm.

Usage: ``python bench/data_gen.py N OUTDIR``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

FLOATS = [f"f{i:02d}" for i in range(20)]
INTS = [f"i{i}" for i in range(5)]
LEVELS = [3, 5, 10, 20, 50, 100, 500, 1000]
CATS = [f"c{i}" for i in range(8)]
DATES = ["d0", "d1"]
LABEL = "label"
#: columns whose distribution differs in current.parquet
DRIFTED = ["f03", "f07", "f12", "i2", "c1", "c5", LABEL]
NULL_SHARE = 0.01
CHUNK = 1_000_000
_T0 = np.datetime64("2024-01-01T00:00:00", "s")


def _levels(k: int) -> np.ndarray:
    return np.array([f"L{k}_{j:04d}" for j in range(k)])


def _chunk(
    rng: np.random.Generator, n: int, drifted: bool, first_id: int = 0
) -> dict[str, np.ndarray]:
    cols: dict[str, np.ndarray] = {"id": np.arange(first_id, first_id + n, dtype="int64")}
    for i, name in enumerate(FLOATS):
        kind = i % 4
        shift = drifted and name in DRIFTED
        if kind == 0:
            x = rng.normal(10.0 * i, 1.0 + i / 10, n)
            if shift:
                x += 0.5 * (1.0 + i / 10)
        elif kind == 1:
            x = rng.lognormal(0.0, 0.8, n)
            if shift:
                x *= 1.5
        elif kind == 2:
            x = rng.uniform(-5.0, 5.0 + i, n)
            if shift:
                x = rng.uniform(-3.0, 7.0 + i, n)
        else:
            x = 2000.0 + rng.normal(0.0, 3.0, n)
            if shift:
                x = 2000.0 + rng.normal(0.0, 4.5, n)
        cols[name] = x
    for i, name in enumerate(INTS):
        lam = 3.0 + 5 * i
        if drifted and name in DRIFTED:
            lam *= 1.4
        cols[name] = rng.poisson(lam, n).astype("int64") + 100 * i
    for name, k in zip(CATS, LEVELS, strict=True):
        weights = 1.0 / np.arange(1, k + 1) ** 0.7
        if drifted and name in DRIFTED:
            weights = weights[::-1].copy()
        weights /= weights.sum()
        cols[name] = _levels(k)[rng.choice(k, n, p=weights)]
    for j, name in enumerate(DATES):
        seconds = rng.integers(0, 180 * 86400, n) + j * 86400
        cols[name] = _T0 + seconds
    p = 0.5 if drifted else 0.3
    cols[LABEL] = (rng.random(n) < p).astype("int64")
    return cols


def _table(cols: dict[str, np.ndarray], rng: np.random.Generator) -> pa.Table:
    arrays = {}
    n = len(cols[LABEL])
    for name, values in cols.items():
        mask = None if name in (LABEL, "id") else rng.random(n) < NULL_SHARE
        if values.dtype.kind == "M":
            arr = pa.array(values.astype("datetime64[us]"), mask=mask)
        elif values.dtype.kind in "US":
            arr = pa.array(values.astype(object), type=pa.string(), mask=mask)
        else:
            arr = pa.array(values, mask=mask)
        arrays[name] = arr
    return pa.table(arrays)


def _inject(cols: dict[str, np.ndarray], rng: np.random.Generator) -> dict[str, int]:
    n = len(cols[LABEL])
    k = max(5, n // 20_000)
    rows = rng.choice(n, 3 * k, replace=False)
    # out of range, yet too few and too close to move the distribution (f00 is N(0, 1))
    cols["f00"][rows[:k]] = 8.0
    c0 = cols["c0"].astype(object)
    c0[rows[k : 2 * k]] = "UNSEEN"  # unexpected category
    cols["c0"] = c0
    dup_from, dup_to = rows[2 * k : 2 * k + k // 2], rows[2 * k + k // 2 :]
    m = min(dup_from.size, dup_to.size)
    for name in cols:  # duplicate rows
        cols[name][dup_to[:m]] = cols[name][dup_from[:m]]
    return {"out_of_range": k, "unexpected_category": k, "duplicate_rows": m}


def generate(n: int, out: Path) -> dict[str, object]:
    """Write the three files for ``n`` rows into ``out`` (skipped when already there)."""
    out.mkdir(parents=True, exist_ok=True)
    truth_path = out / "truth.json"
    if truth_path.exists():
        return json.loads(truth_path.read_text())
    injected: dict[str, int] = {}
    for fname, seed, drifted in (
        ("reference.parquet", 1, False),
        ("current.parquet", 2, True),
        ("undrifted.parquet", 3, False),
    ):
        first_id = (seed - 1) * n  # every file brings keys the others never had
        rng = np.random.default_rng(seed)
        writer = None
        done = 0
        while done < n:
            size = min(CHUNK, n - done)
            cols = _chunk(rng, size, drifted, first_id + done)
            if fname == "current.parquet" and done == 0:
                injected = _inject(cols, rng)
                if drifted:
                    extra = rng.random(size) < 0.05  # NaN (not null) in Parquet: nan_or_inf
                    cols["f01"] = np.where(extra, np.nan, cols["f01"])
            table = _table(cols, rng)
            if writer is None:
                writer = pq.ParquetWriter(out / fname, table.schema)
            writer.write_table(table, row_group_size=min(size, 250_000))
            done += size
        assert writer is not None
        writer.close()
    truth = {"rows": n, "drifted": DRIFTED, "injected": injected}
    truth_path.write_text(json.dumps(truth, indent=2))
    return truth


if __name__ == "__main__":
    print(json.dumps(generate(int(sys.argv[1]), Path(sys.argv[2]))))
