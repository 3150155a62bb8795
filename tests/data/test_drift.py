"""Drift: the lessons of DESIGN.md, each shown on real or generated data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mlci.config import DriftColumn, DriftConfig
from mlci.data.drift import ColumnDrift, DriftReport, column_drift, compare_profiles, drift_findings
from mlci.data.profile import Profile, Profiler, merge_profiles
from tests.data.conftest import mixed_frame


def _profile(frame: pd.DataFrame) -> Profile:
    p = Profiler()
    p.update(0, frame)
    return p.finish()


def _verdicts(report) -> dict[str, tuple[str, bool]]:
    return {c.column: (c.method, c.drifted) for c in report.columns}


# -- open-ended bins -------------------------------------------------------------------


@pytest.mark.parametrize("n", [400, 50_000])
@pytest.mark.parametrize("method", ["auto", "psi", "ks", "wasserstein"])
def test_values_beyond_the_reference_range_are_drift(n, method):
    rng = np.random.default_rng(0)
    ref = _profile(pd.DataFrame({"x": rng.uniform(0, 1, n)}))
    # a quarter of the current values lie above anything the reference had
    cur_values = np.concatenate([rng.uniform(0, 1, 3 * n // 4), rng.uniform(1.5, 3, n // 4)])
    cur = _profile(pd.DataFrame({"x": cur_values}))
    result = column_drift(ref.columns["x"], cur.columns["x"], method=method)
    assert result.drifted, result


def test_psi_outer_bins_are_open():
    rng = np.random.default_rng(1)
    ref = _profile(pd.DataFrame({"x": rng.normal(0, 1, 20_000)}))
    inside = _profile(pd.DataFrame({"x": rng.normal(0, 1, 20_000)}))
    # same shape, but 20% of the mass moved far below the reference minimum
    outside_values = rng.normal(0, 1, 20_000)
    outside_values[:4000] = -50.0
    outside = _profile(pd.DataFrame({"x": outside_values}))
    psi_in = column_drift(ref.columns["x"], inside.columns["x"], method="psi")
    psi_out = column_drift(ref.columns["x"], outside.columns["x"], method="psi")
    assert psi_in.statistic < 0.02 and not psi_in.drifted
    assert psi_out.statistic > 0.2 and psi_out.drifted


# -- binary and low-cardinality columns --------------------------------------------------


@pytest.mark.parametrize(("n", "method"), [(500, "z"), (100_000, "jensenshannon")])
@pytest.mark.parametrize("as_type", ["int", "bool", "str"])
def test_binary_shift_30_to_50_percent_is_drift(n, method, as_type):
    rng = np.random.default_rng(2)

    def column(p: float) -> pd.Series:
        values = rng.random(n) < p
        return pd.Series(values.astype({"int": "int64", "bool": "bool", "str": "str"}[as_type]))

    ref = _profile(pd.DataFrame({"y": column(0.3)}))
    same = _profile(pd.DataFrame({"y": column(0.3)}))
    shifted = _profile(pd.DataFrame({"y": column(0.5)}))
    hit = column_drift(ref.columns["y"], shifted.columns["y"])
    miss = column_drift(ref.columns["y"], same.columns["y"])
    assert (hit.method, hit.drifted) == (method, True)
    assert (miss.method, miss.drifted) == (method, False)


def test_z_test_matches_the_textbook_two_proportion_test():
    ref = _profile(pd.DataFrame({"y": [1] * 30 + [0] * 70}))
    cur = _profile(pd.DataFrame({"y": [1] * 50 + [0] * 50}))
    result = column_drift(ref.columns["y"], cur.columns["y"])
    pooled = 0.4
    z = (0.5 - 0.3) / np.sqrt(pooled * (1 - pooled) * (2 / 100))
    assert result.method == "z"
    assert abs(result.statistic) == pytest.approx(z)
    assert result.p_value == pytest.approx(2 * stats.norm.sf(z))


def test_small_categorical_uses_chi_square():
    rng = np.random.default_rng(3)
    ref = _profile(pd.DataFrame({"c": rng.choice(list("abcd"), 800)}))
    cur = _profile(pd.DataFrame({"c": rng.choice(list("abcd"), 800, p=[0.55, 0.15, 0.15, 0.15])}))
    result = column_drift(ref.columns["c"], cur.columns["c"])
    assert result.method == "chi2" and result.drifted and result.p_value < 1e-6


def test_new_category_alone_is_drift():
    ref = _profile(pd.DataFrame({"c": ["a", "b"] * 5000}))
    cur = _profile(pd.DataFrame({"c": ["a", "b"] * 3500 + ["z"] * 3000}))
    assert column_drift(ref.columns["c"], cur.columns["c"]).drifted


# -- effect sizes at large N --------------------------------------------------------------


def test_large_n_uses_effect_sizes_not_p_values():
    rng = np.random.default_rng(4)
    n = 200_000
    ref = _profile(pd.DataFrame({"x": rng.normal(0, 1, n)}))
    # a trivial shift of 0.03 standard deviations
    cur = _profile(pd.DataFrame({"x": rng.normal(0.03, 1, n)}))
    ks = column_drift(ref.columns["x"], cur.columns["x"], method="ks")
    auto = column_drift(ref.columns["x"], cur.columns["x"])
    assert ks.drifted and ks.p_value < 1e-6  # the p-value flags a trivial difference
    assert auto.method == "wasserstein" and not auto.drifted
    assert auto.statistic == pytest.approx(0.03, abs=0.01)  # the effect size says how big it is
    big = _profile(pd.DataFrame({"x": rng.normal(0.3, 1, n)}))
    result = column_drift(ref.columns["x"], big.columns["x"])
    assert result.drifted and result.statistic == pytest.approx(0.3, abs=0.02)


def test_wasserstein_from_sketches_matches_scipy_on_heavy_tails():
    rng = np.random.default_rng(5)
    a, b = rng.lognormal(0, 1.5, 50_000), rng.lognormal(0.2, 1.5, 50_000)
    a[:3] = 1e7  # outliers that make equi-width bins useless
    ref, cur = _profile(pd.DataFrame({"x": a})), _profile(pd.DataFrame({"x": b}))
    got = column_drift(ref.columns["x"], cur.columns["x"]).statistic
    want = stats.wasserstein_distance(a, b) / a.std()
    assert got == pytest.approx(want, rel=0.05)


def test_small_samples_use_exact_ks():
    rng = np.random.default_rng(6)
    a, b = rng.normal(0, 1, 300), rng.normal(0.4, 1, 300)
    ref, cur = _profile(pd.DataFrame({"x": a})), _profile(pd.DataFrame({"x": b}))
    result = column_drift(ref.columns["x"], cur.columns["x"])
    want = stats.ks_2samp(a, b)
    assert result.method == "ks"
    assert (result.statistic, result.p_value) == pytest.approx((want.statistic, want.pvalue))


# -- no false alarms ------------------------------------------------------------------------


FEATURES = ["age", "income", "score", "city", "member", "label"]


@pytest.mark.parametrize("n", [5_000, 20_000, 200_000])
def test_no_false_alarms_on_an_undrifted_copy(n):
    ref = _profile(mixed_frame(n, 10))
    for seed in (11, 12, 13):
        report = compare_profiles(ref, _profile(mixed_frame(n, seed)), columns=FEATURES)
        assert report.drifted == [], [c.to_dict() for c in report.drifted]
        assert not report.dataset_drift


def test_small_sample_tests_are_calibrated():
    """Below 1,000 rows the tests are p-values at 0.05: about 5% chance hits, no more."""
    ref = _profile(mixed_frame(600, 10))
    hits = tests = 0
    for seed in range(100, 140):
        report = compare_profiles(ref, _profile(mixed_frame(600, seed)), columns=FEATURES)
        assert {c.method for c in report.columns} == {"ks", "chi2", "z"}
        assert not report.dataset_drift
        hits += len(report.drifted)
        tests += len(report.columns)
    assert hits / tests <= 0.1


def test_real_data_split_in_halves_does_not_drift(cancer):
    shuffled = cancer.sample(frac=1.0, random_state=0)
    ref, cur = _profile(shuffled.iloc[:285]), _profile(shuffled.iloc[285:])
    report = compare_profiles(ref, cur)
    drifted = [c.column for c in report.drifted]
    # 31 tests at alpha 0.05: at most a chance hit or two, never dataset drift
    assert len(drifted) <= 2 and not report.dataset_drift


def test_real_data_sorted_by_the_label_drifts(cancer):
    ordered = cancer.sort_values("target")
    ref, cur = _profile(ordered.iloc[:284]), _profile(ordered.iloc[284:])
    report = compare_profiles(ref, cur, kinds={"target": "label"})
    label = next(c for c in report.columns if c.column == "target")
    assert label.kind == "label" and label.drifted
    assert report.dataset_drift and report.share > 0.5


# -- merged shard profiles -------------------------------------------------------------------


@pytest.mark.parametrize("n", [800, 60_000])
def test_merged_shard_profiles_give_the_same_verdicts(n):
    ref_frame = mixed_frame(n, 20)
    cur_frame = mixed_frame(n, 21, shift=0.3, p_label=0.5)
    whole_ref, whole_cur = _profile(ref_frame), _profile(cur_frame)
    step = n // 4 + 7
    shard_ref = merge_profiles(_profile(ref_frame.iloc[i : i + step]) for i in range(0, n, step))
    shard_cur = merge_profiles(_profile(cur_frame.iloc[i : i + step]) for i in range(0, n, step))
    a = compare_profiles(whole_ref, whole_cur)
    b = compare_profiles(shard_ref, shard_cur)
    assert _verdicts(a) == _verdicts(b)
    for x, y in zip(a.columns, b.columns, strict=True):
        if x.statistic is None:  # skipped columns (the datetime one)
            assert y.statistic is None and x.method == "none"
        else:
            assert x.statistic == pytest.approx(y.statistic, rel=1e-9, abs=1e-12)
    assert {c.column for c in a.drifted} >= {"income", "score", "label"}


# -- settings ----------------------------------------------------------------------------------


def test_per_column_overrides_and_ignore():
    ref = _profile(mixed_frame(5000, 30))
    cur = _profile(mixed_frame(5000, 31, shift=0.3))
    settings = DriftConfig(
        columns={
            "score": DriftColumn(method="psi", threshold=5.0, severity="error"),
            "age": DriftColumn(method="ks"),
        },
        ignore=["income"],
        share=0.9,
    )
    report = compare_profiles(ref, cur, settings)
    by = {c.column: c for c in report.columns}
    assert "income" not in by
    assert (by["score"].method, by["score"].threshold, by["score"].drifted) == ("psi", 5.0, False)
    assert by["score"].severity == "error"
    assert by["age"].method == "ks" and by["age"].p_value is not None
    assert by["seen"].method == "none" and "datetime" in by["seen"].note
    assert report.share_threshold == 0.9


def test_label_and_prediction_drift_reuse_the_same_function():
    rng = np.random.default_rng(7)
    ref = _profile(pd.DataFrame({"pred": rng.random(3000) < 0.2, "proba": rng.beta(2, 5, 3000)}))
    cur = _profile(pd.DataFrame({"pred": rng.random(3000) < 0.45, "proba": rng.beta(4, 4, 3000)}))
    report = compare_profiles(ref, cur, kinds={"pred": "prediction", "proba": "prediction"})
    assert all(c.kind == "prediction" and c.drifted for c in report.columns)
    assert report.share == 0.0  # label/prediction drift is reported, not counted as feature drift
    payload = report.to_dict()
    assert set(payload) == {"share", "share_threshold", "dataset_drift", "columns"}
    assert set(payload["columns"][0]) >= {
        "column",
        "method",
        "statistic",
        "p_value",
        "threshold",
        "drifted",
        "severity",
        "kind",
    }


def test_empty_column_is_skipped_not_passed():
    ref = _profile(pd.DataFrame({"x": [None] * 5 + [None] * 5, "y": range(10)}))
    cur = _profile(pd.DataFrame({"x": [1.0] * 10, "y": range(10)}))
    result = column_drift(ref.columns["x"], cur.columns["x"])
    assert result.method == "none" and not result.tested and "empty" in result.note


# -- the one drift-finding rule --------------------------------------------------------------


def _report_of(*columns: ColumnDrift, dataset: bool = False) -> DriftReport:
    tested = [c for c in columns if c.kind == "feature" and c.tested]
    share = sum(c.drifted for c in tested) / len(tested) if tested else 0.0
    return DriftReport(list(columns), share=share, share_threshold=0.5, dataset_drift=dataset)


def _ks(name: str, p: float, *, kind: str = "feature") -> ColumnDrift:
    return ColumnDrift(name, "ks", 0.3, p, 0.05, p < 0.05, kind=kind)  # type: ignore[arg-type]


def test_drift_findings_correct_p_values_for_the_number_of_features_tested() -> None:
    # 10 features: a p-value must be under 0.05 / 10 = 0.005 to count.
    columns = [_ks(f"f{i}", 0.5) for i in range(7)]
    columns += [_ks("weak", 0.01), _ks("strong", 0.001), _ks("watched", 0.02)]
    columns += [ColumnDrift("dist", "wasserstein", 0.4, None, 0.1, True)]
    columns += [_ks("target", 0.03, kind="label")]  # a test of its own: not corrected
    found = drift_findings(_report_of(*columns), watched=["watched"])
    assert [f.column for f in found] == ["strong", "watched", "dist", "target"]
    assert found[0].message == "column 'strong' drifted (ks: p-value 0.001 < 0.05)"
    assert found[-1].message == "label column 'target' drifted (ks: p-value 0.03 < 0.05)"


def test_drift_findings_take_severities_from_the_config_and_add_dataset_drift() -> None:
    settings = DriftConfig(columns={"pinned": DriftColumn(severity="warning")})
    report = _report_of(
        _ks("a", 0.0001), _ks("b", 0.0001), _ks("off", 0.0001), _ks("pinned", 0.0001), dataset=True
    )
    report.columns[-1].severity = "warning"
    found = drift_findings(
        report,
        settings,
        checks={"drift": "error"},
        column_checks={"off": {"drift": "off"}, "pinned": {"drift": "off"}},
    )
    assert [(f.column, f.severity) for f in found] == [
        ("a", "error"),
        ("b", "error"),
        ("pinned", "warning"),  # the drift override wins over column_checks
        (None, "error"),
    ]
    assert (
        found[-1].message == "dataset drift: 4 of 4 feature columns drifted (100%, threshold 50%)"
    )
    assert drift_findings(report, DriftConfig(dataset_severity="off"))[-1].column == "pinned"
