from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mlci.data.profile import (
    EXACT_LIMIT,
    Profile,
    Profiler,
    load_profile,
    merge_profiles,
    profile_path,
    write_profile,
)
from mlci.errors import InputError
from tests.data.conftest import mixed_frame, write


def _profile(frame: pd.DataFrame, chunk: int | None = None, **kw) -> Profile:
    p = Profiler(**kw)
    step = chunk or len(frame)
    for start in range(0, len(frame), step):
        p.update(start, frame.iloc[start : start + step])
    return p.finish()


def _sketches(profile: Profile) -> dict:
    """Everything but the floating-point moments, which merge up to rounding only."""
    data = profile.to_dict()["columns"]
    out = {}
    for name, col in data.items():
        col = dict(col)
        if col["numeric"]:
            num = dict(col["numeric"])
            num["mean"] = round(num["mean"], 6)
            num["m2"] = float(f"{num['m2']:.9g}")
            col["numeric"] = num
        out[name] = col
    return out


def test_kinds_and_types_are_inferred():
    prof = _profile(mixed_frame(3000, 0), track_unique=True)
    types = {n: c.logical_type for n, c in prof.columns.items()}
    assert types == {
        "id": "int",
        "age": "int",
        "income": "float",
        "score": "float",
        "city": "string",
        "member": "bool",
        "seen": "datetime",
        "label": "int",
    }
    assert prof.columns["id"].unique is True
    assert prof.columns["age"].unique is False
    assert prof.columns["city"].text.counts.keys() == {"Paris", "Lyon", "Nice", "Lille"}
    assert prof.columns["label"].numeric.distinct.keys() == {0.0, 1.0}


def test_moments_are_exact(cancer):
    prof = _profile(cancer, chunk=100)
    for name in ("mean_radius", "worst_area"):
        stats = prof.columns[name].numeric
        assert stats.mean == pytest.approx(cancer[name].mean(), rel=1e-12)
        assert stats.variance == pytest.approx(cancer[name].var(ddof=0), rel=1e-9)
        assert (stats.min, stats.max) == (cancer[name].min(), cancer[name].max())


def test_chunked_and_whole_profiles_are_identical():
    frame = mixed_frame(20_000, 1)
    assert _sketches(_profile(frame)) == _sketches(_profile(frame, chunk=1234))


def test_merged_shards_equal_the_whole_exactly(tmp_path):
    frame = mixed_frame(30_000, 2)
    whole = _profile(frame)
    shards = [_profile(frame.iloc[i : i + 7000]) for i in range(0, 30_000, 7000)]
    merged = merge_profiles(shards)
    assert merged.rows == 30_000
    assert _sketches(merged) == _sketches(whole)
    # through files, as matrix jobs would do it
    paths = [write_profile(s, tmp_path / f"s{i}.json") for i, s in enumerate(shards)]
    assert _sketches(merge_profiles(load_profile(p) for p in paths)) == _sketches(whole)


def test_histogram_keeps_resolution_for_offset_data():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"year": 2000.0 + rng.normal(0, 1, 50_000)})
    stats = _profile(frame).columns["year"].numeric
    width = 2.0**stats.hist_k
    assert width < 0.01  # the histogram, unlike a relative-error sketch, resolves 2000 +- 1


@pytest.mark.parametrize(
    "values",
    [
        np.random.default_rng(1).normal(0, 1, 20_000),
        -np.random.default_rng(2).lognormal(0, 3, 5_000),
        np.random.default_rng(4).lognormal(0, 1, 5_000),
        np.random.default_rng(3).poisson(2, 5_000).astype("float64"),  # many zeros
        np.array([5e-324, -5e-324, 0.0, 1e-310, -3e-321, 7.0]),  # subnormals
        np.array([1e-300, 2e-300, -1e-300]),  # a bin width beyond the double range
        np.array([-1e150, 1e150, 0.0, 1.5]),
        np.array([0.0, 0.0]),
        np.array([-0.0, 0.0, 0.0, 1.0]),
        2000.0 + np.random.default_rng(5).integers(-3, 4, 5_000),
        np.array([0.0, 1e6, 0.0, 1e6]),  # whole numbers in bins wider than 1
        np.array([-3.0, 2.0, -3.0, 7.0] * 100),
    ],
)
def test_numeric_sketches_match_their_definitions(values):
    """The one-pass sketches give the bins of their definitions, value by value."""
    import math

    from mlci.data.profile import LOG_ALPHA, NumericStats, _kmin

    stats = NumericStats.of(values)
    k = _kmin(float(values.min()), float(values.max()))
    assert stats.hist_k == k
    hist = np.unique(np.floor(np.ldexp(values, -k)).astype("int64"), return_counts=True)
    assert stats.hist_idx.tolist() == hist[0].tolist()
    assert stats.hist_count.tolist() == hist[1].tolist()
    log_gamma = math.log((1 + LOG_ALPHA) / (1 - LOG_ALPHA))
    for sign, idx, count in (
        (1, stats.log_pos_idx, stats.log_pos_count),
        (-1, stats.log_neg_idx, stats.log_neg_count),
    ):
        side = sign * values[sign * values > 0]
        want = np.unique(np.ceil(np.log(side) / log_gamma).astype("int64"), return_counts=True)
        assert idx.tolist() == want[0].tolist() and count.tolist() == want[1].tolist()
    assert stats.log_zero == int(np.count_nonzero(values == 0))
    assert stats.integral == bool(np.all(values == np.floor(values)))
    uniq, counts = np.unique(values, return_counts=True)
    if np.unique(values[:128]).size <= 32 and uniq.size <= 32:
        assert stats.distinct == {float(u): int(c) for u, c in zip(uniq, counts, strict=True)}
        assert [str(v) for v in stats.distinct] == [str(float(u)) for u in uniq]
    else:
        assert stats.distinct is None


def test_exact_values_kept_only_for_small_columns():
    small = _profile(mixed_frame(EXACT_LIMIT, 3)).columns["score"].numeric
    big = _profile(mixed_frame(EXACT_LIMIT + 1, 3)).columns["score"].numeric
    assert small.values is not None and len(small.values) == EXACT_LIMIT
    assert big.values is None


def test_mixed_types_count_invalid_values_with_rows():
    frame = pd.DataFrame({"x": ["1", "2", "three", "4", None, "5.5"]})
    col = _profile(frame).columns["x"]
    assert col.kind == "numeric"
    assert (col.count, col.nulls, col.invalid) == (6, 1, 1)
    assert col.invalid_samples == [{"row": 3, "value": "three"}]


def test_mixed_types_across_chunks():
    frame = pd.DataFrame({"x": [1.0] * 50 + ["oops"] + [2.0] * 49}, dtype=object)
    p = Profiler()
    p.update(0, frame.iloc[:50].astype("float64"))
    p.update(50, frame.iloc[50:])
    col = p.finish().columns["x"]
    assert col.invalid == 1 and col.invalid_samples == [{"row": 51, "value": "oops"}]
    assert col.numeric.n == 99


def test_all_null_column_has_no_kind():
    frame = pd.DataFrame({"x": [None] * 10, "y": range(10)})
    col = _profile(frame).columns["x"]
    assert col.kind is None and col.nulls == 10


def test_profile_file_round_trip_is_strict_json(tmp_path):
    frame = mixed_frame(500, 4)
    frame.loc[3, "score"] = np.inf
    path = write(frame, tmp_path / "d.parquet")
    prof = profile_path(path, chunk_rows=100)
    out = write_profile(prof, tmp_path / "p.json")
    text = out.read_text()
    assert "NaN" not in text and "Infinity" not in text
    json.loads(text)
    again = load_profile(out)
    assert _sketches(again) == _sketches(prof)
    assert again.columns["score"].numeric.pos_inf == 1


def test_load_profile_errors(tmp_path):
    with pytest.raises(InputError, match="profile not found; write one with `mlci profile DATA"):
        load_profile(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(
        InputError,
        match="bad.json:1:2: not valid JSON .*; write it again with `mlci profile DATA -o ",
    ):
        load_profile(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text('{"a": 1}')
    with pytest.raises(InputError, match="not an mlci profile"):
        load_profile(tmp_path / "other.json")
