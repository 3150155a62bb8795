"""Drift of current data against a reference, computed from two profiles alone.

The test is picked per column by type and size, as the best tools do: with at
most `SMALL_SAMPLE` reference values, Kolmogorov-Smirnov for numeric columns,
chi-square for categorical ones and a two-proportion Z-test for binary ones
(p-values); above that, effect sizes that do not flag trivial differences at
large N: the Wasserstein distance normalized by the reference's standard
deviation for numeric columns and the Jensen-Shannon distance for categorical
ones. PSI is available on request. Numeric columns with at most
`LOW_CARDINALITY` distinct values are treated as categorical, so a 30% -> 50%
shift of a 0/1 label is seen. Bins are open at both ends: values outside the
reference's range land in the outer bins, where they count as drift.

`compare_profiles` is the entry point for every caller (data validation, label
and prediction drift in model, monitor and retrain code), and `drift_findings` is
the one rule that turns a drift report into findings for all of them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from mlci.config import DriftConfig
from mlci.results import Finding, Severity

if TYPE_CHECKING:
    import numpy as np

    from mlci.config import Config
    from mlci.data.profile import ColumnProfile, NumericStats, Profile

__all__ = [
    "DEFAULT_THRESHOLDS",
    "LOW_CARDINALITY",
    "SMALL_SAMPLE",
    "ColumnDrift",
    "DriftReport",
    "column_drift",
    "compare_profiles",
    "drift_findings",
    "watched_drift_findings",
]

Method = Literal["auto", "ks", "chi2", "z", "wasserstein", "jensenshannon", "psi"]
ColumnKind = Literal["feature", "label", "prediction"]

SMALL_SAMPLE = 1000
LOW_CARDINALITY = 5
PSI_BINS = 10
PSI_EPS = 1e-4
#: p-value thresholds for tests (drift when p < threshold), distance thresholds otherwise
#: (drift when statistic >= threshold).
DEFAULT_THRESHOLDS: dict[str, float] = {
    "ks": 0.05,
    "chi2": 0.05,
    "z": 0.05,
    "wasserstein": 0.1,
    "jensenshannon": 0.1,
    "psi": 0.1,
}
_P_VALUE_METHODS = {"ks", "chi2", "z"}


@dataclass
class ColumnDrift:
    """The drift verdict of one column.

    Attributes:
        column: The column name.
        method: The test or distance used (``none`` when the column was skipped).
        statistic: The raw statistic (KS D, chi-square, z, distance, PSI), or None.
        p_value: The p-value for tests, None for distances.
        threshold: The threshold the verdict used.
        drifted: The verdict.
        kind: ``feature``, ``label`` or ``prediction``.
        severity: The severity a drift of this column carries.
        note: Why a column was skipped, or how it was treated.
    """

    column: str
    method: str
    statistic: float | None
    p_value: float | None
    threshold: float | None
    drifted: bool
    kind: ColumnKind = "feature"
    severity: str = "warning"
    note: str | None = None

    @property
    def tested(self) -> bool:
        """Whether a test was run (False for skipped columns)."""
        return self.method != "none"

    def to_dict(self) -> dict[str, Any]:
        """The verdict as results-JSON data (see docs/results.md)."""
        out: dict[str, Any] = {
            "column": self.column,
            "method": self.method,
            "statistic": _finite(self.statistic),
            "p_value": _finite(self.p_value),
            "threshold": self.threshold,
            "drifted": self.drifted,
            "severity": self.severity,
            "kind": self.kind,
        }
        if self.note:
            out["note"] = self.note
        return out


@dataclass
class DriftReport:
    """Per-column verdicts and the dataset-level verdict."""

    columns: list[ColumnDrift] = field(default_factory=list)
    share: float = 0.0
    share_threshold: float = 0.5
    dataset_drift: bool = False

    @property
    def drifted(self) -> list[ColumnDrift]:
        """The columns that drifted."""
        return [c for c in self.columns if c.drifted]

    def to_dict(self) -> dict[str, Any]:
        """The ``drift`` payload of ``data.json``."""
        return {
            "share": self.share,
            "share_threshold": self.share_threshold,
            "dataset_drift": self.dataset_drift,
            "columns": [c.to_dict() for c in self.columns],
        }


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


# -- distributions on a common support ---------------------------------------------------


def _categorical(
    ref: ColumnProfile, cur: ColumnProfile
) -> tuple[list[str], np.ndarray, np.ndarray]:
    import numpy as np

    def counts(col: ColumnProfile) -> tuple[dict[str, int], int]:
        if col.text is not None:
            return col.text.counts, col.text.other
        assert col.numeric is not None and col.numeric.distinct is not None
        return {_num_key(v): c for v, c in col.numeric.distinct.items()}, 0

    rc, ro = counts(ref)
    cc, co = counts(cur)
    keys = sorted(set(rc) | set(cc))
    r = [rc.get(k, 0) for k in keys]
    c = [cc.get(k, 0) for k in keys]
    if ro or co:
        keys.append("(other)")
        r.append(ro)
        c.append(co)
    return keys, np.asarray(r, dtype="float64"), np.asarray(c, dtype="float64")


def _num_key(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)


def _grid(
    ref: NumericStats, cur: NumericStats
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Support points, their upper cell edges, and both sides' counts on the finer sketch."""
    import numpy as np

    from mlci.data.profile import LOG_ALPHA, _coarsen

    k = max(ref.hist_k, cur.hist_k)
    width = math.ldexp(1.0, k)
    scale = math.sqrt(ref.mean**2 + ref.variance) or 1.0
    if width <= 2 * LOG_ALPHA * scale:
        ri = _coarsen(ref.hist_idx, k - ref.hist_k)
        ci = _coarsen(cur.hist_idx, k - cur.hist_k)
        keys = np.union1d(ri, ci)
        rcount = np.zeros(keys.size)
        ccount = np.zeros(keys.size)
        np.add.at(rcount, np.searchsorted(keys, ri), ref.hist_count)
        np.add.at(ccount, np.searchsorted(keys, ci), cur.hist_count)
        points = (keys + 0.5) * width
        return points, (keys + 1.0) * width, rcount, ccount
    gamma = (1 + LOG_ALPHA) / (1 - LOG_ALPHA)

    def side(s: NumericStats) -> tuple[np.ndarray, np.ndarray]:
        neg = -np.power(gamma, s.log_neg_idx.astype("float64"))
        pos = np.power(gamma, s.log_pos_idx.astype("float64"))
        upper = np.concatenate([neg / gamma, [0.0] if s.log_zero else [], pos])
        counts = np.concatenate(
            [s.log_neg_count, [s.log_zero] if s.log_zero else [], s.log_pos_count]
        )
        return upper, counts.astype("float64")

    ru, rc = side(ref)
    cu, cc = side(cur)
    uppers = np.union1d(ru, cu)
    rcount = np.zeros(uppers.size)
    ccount = np.zeros(uppers.size)
    np.add.at(rcount, np.searchsorted(uppers, ru), rc)
    np.add.at(ccount, np.searchsorted(uppers, cu), cc)
    lowers = np.where(uppers > 0, uppers / gamma, np.where(uppers < 0, uppers * gamma, 0.0))
    points = np.where(uppers == 0, 0.0, (uppers + lowers) / 2)
    return points, uppers, rcount, ccount


# -- the tests -------------------------------------------------------------------------


def _wasserstein(ref: NumericStats, cur: NumericStats) -> float:
    import numpy as np

    points, _, rc, cc = _grid(ref, cur)
    order = np.argsort(points, kind="stable")
    points, rc, cc = points[order], rc[order], cc[order]
    diff = np.abs(np.cumsum(rc) / rc.sum() - np.cumsum(cc) / cc.sum())[:-1]
    distance = float(np.sum(diff * np.diff(points)))
    scale = ref.std or abs(ref.mean) or 1.0
    return distance / scale


def _ks(ref: NumericStats, cur: NumericStats) -> tuple[float, float]:
    import numpy as np
    from scipy import stats

    if ref.values is not None and cur.values is not None:
        result = stats.ks_2samp(np.asarray(ref.values), np.asarray(cur.values))
        return float(result.statistic), float(result.pvalue)
    points, _, rc, cc = _grid(ref, cur)
    order = np.argsort(points, kind="stable")
    d = float(np.max(np.abs(np.cumsum(rc[order]) / rc.sum() - np.cumsum(cc[order]) / cc.sum())))
    en = ref.n * cur.n / (ref.n + cur.n)
    return d, float(stats.kstwo.sf(d, max(1, round(en))))


def _psi(r: np.ndarray, c: np.ndarray) -> float:
    import numpy as np

    rp = np.clip(r / r.sum(), PSI_EPS, None)
    cp = np.clip(c / c.sum(), PSI_EPS, None)
    return float(np.sum((cp - rp) * np.log(cp / rp)))


def _psi_numeric(ref: NumericStats, cur: NumericStats) -> float:
    """PSI over reference-quantile bins, the first and last open to -inf and +inf."""
    import numpy as np

    points, _, rc, cc = _grid(ref, cur)
    order = np.argsort(points, kind="stable")
    rc, cc = rc[order], cc[order]
    cdf = np.cumsum(rc) / rc.sum()
    cuts = np.searchsorted(cdf, np.arange(1, PSI_BINS) / PSI_BINS, side="left")
    group = np.searchsorted(np.unique(cuts), np.arange(rc.size), side="left")
    bins = int(group.max()) + 1
    return _psi(np.bincount(group, rc, bins), np.bincount(group, cc, bins))


def _jensenshannon(r: np.ndarray, c: np.ndarray) -> float:
    import numpy as np

    p, q = r / r.sum(), c / c.sum()
    m = (p + q) / 2

    def kl(a: np.ndarray) -> float:
        mask = a > 0
        return float(np.sum(a[mask] * np.log(a[mask] / m[mask])))

    return math.sqrt(max((kl(p) + kl(q)) / 2, 0.0))


def _chi2(r: np.ndarray, c: np.ndarray) -> tuple[float, float]:
    import numpy as np
    from scipy import stats

    keep = (r + c) > 0
    table = np.vstack([r[keep], c[keep]])
    if table.shape[1] < 2:
        return 0.0, 1.0
    result = stats.chi2_contingency(table, correction=False)
    return float(result.statistic), float(result.pvalue)


def _ztest(r: np.ndarray, c: np.ndarray) -> tuple[float, float]:
    from scipy import stats

    n1, n2 = float(r.sum()), float(c.sum())
    p1, p2 = r[0] / n1, c[0] / n2
    pooled = (r[0] + c[0]) / (n1 + n2)
    var = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    if var <= 0:
        return 0.0, 1.0
    z = float((p1 - p2) / math.sqrt(var))
    return z, float(2 * stats.norm.sf(abs(z)))


def _auto(categorical: bool, binary: bool, n_ref: int) -> str:
    if n_ref <= SMALL_SAMPLE:
        if categorical:
            return "z" if binary else "chi2"
        return "ks"
    return "jensenshannon" if categorical else "wasserstein"


def _skip_reason(ref: ColumnProfile, cur: ColumnProfile, method: str) -> str | None:
    """Why a column cannot be compared (empty side, changed kind, datetime), or None."""
    empty = "no values to compare (the column is empty on one side)"
    if ref.kind is None or cur.kind is None:
        return empty
    if ref.kind != cur.kind:
        return f"the column is {ref.kind} in the reference and {cur.kind} now"
    if ref.kind == "datetime" and method == "auto":
        return "datetime columns move with time; set data.drift.columns.<name>.method to test one"
    rn, cn = ref.numeric, cur.numeric
    if rn is not None and cn is not None:
        return empty if rn.n == 0 or cn.n == 0 else None
    if not ref.text or not cur.text or ref.text.n == 0 or cur.text.n == 0:
        return empty
    return None


@dataclass
class _Plan:
    """The test chosen for one column and the distributions it runs on."""

    method: str
    numeric: bool
    categorical: bool
    keys: list[str]
    r: np.ndarray | None
    c: np.ndarray | None


def _plan(ref: ColumnProfile, cur: ColumnProfile, method: str) -> _Plan:
    """Categorical or numeric treatment, the test (``auto`` resolved) and its counts."""
    rn, cn = ref.numeric, cur.numeric
    numeric = rn is not None and cn is not None
    categorical = not numeric
    if rn is not None and cn is not None and rn.distinct is not None and cn.distinct is not None:
        categorical = len(set(rn.distinct) | set(cn.distinct)) <= LOW_CARDINALITY
    keys: list[str] = []
    r = c = None
    if categorical:
        keys, r, c = _categorical(ref, cur)
    n_ref = int(r.sum()) if r is not None else rn.n  # type: ignore[union-attr]
    chosen = _auto(categorical, len(keys) <= 2, n_ref) if method == "auto" else method
    if chosen in ("ks", "wasserstein") and categorical and not numeric:
        chosen = "chi2" if chosen == "ks" else "jensenshannon"
    if chosen in ("chi2", "z", "jensenshannon") and r is None:
        keys, r, c = _categorical_from_numeric(ref, cur)
    return _Plan(chosen, numeric, categorical, keys, r, c)


def _statistic(
    plan: _Plan, rn: NumericStats | None, cn: NumericStats | None
) -> tuple[float, float | None] | str:
    """``(statistic, p-value or None)`` of the planned test, or why it cannot run."""
    chosen, r, c = plan.method, plan.r, plan.c
    if chosen == "ks":
        return _ks(rn, cn)  # type: ignore[arg-type]
    if chosen == "wasserstein":
        return _wasserstein(rn, cn), None  # type: ignore[arg-type]
    if chosen == "psi":
        return (_psi(r, c) if r is not None else _psi_numeric(rn, cn)), None  # type: ignore[arg-type]
    if chosen == "jensenshannon":
        return _jensenshannon(r, c), None  # type: ignore[arg-type]
    if chosen == "chi2":
        return _chi2(r, c)  # type: ignore[arg-type]
    if chosen == "z":
        if len(plan.keys) > 2:
            return f"the Z-test needs a binary column; this one has {len(plan.keys)} values"
        return (0.0, 1.0) if len(plan.keys) < 2 else _ztest(r, c)  # type: ignore[arg-type]
    raise ValueError(f"unknown drift method {chosen!r}")


def column_drift(
    ref: ColumnProfile,
    cur: ColumnProfile,
    *,
    method: str = "auto",
    threshold: float | None = None,
    kind: ColumnKind = "feature",
    severity: str = "warning",
) -> ColumnDrift:
    """Drift of one column between two column profiles.

    Args:
        ref: The reference (training) column profile.
        cur: The current column profile.
        method: ``auto`` or one of ks, chi2, z, wasserstein, jensenshannon, psi.
        threshold: The threshold (default per method: `DEFAULT_THRESHOLDS`).
        kind: feature, label or prediction (carried into the result).
        severity: The severity a drift carries (carried into the result).

    Returns:
        The verdict with the raw statistic, p-value (tests only) and threshold.
    """
    why = _skip_reason(ref, cur, method)
    if why is None:
        plan = _plan(ref, cur, method)
        limit = threshold if threshold is not None else DEFAULT_THRESHOLDS[plan.method]
        outcome = _statistic(plan, ref.numeric, cur.numeric)
        why = outcome if isinstance(outcome, str) else None
    if why is not None:
        return ColumnDrift(ref.name, "none", None, None, None, False, kind, severity, why)
    assert not isinstance(outcome, str)
    statistic, p_value = outcome
    if plan.method in _P_VALUE_METHODS:
        drifted = p_value is not None and p_value < limit
    else:
        drifted = statistic >= limit
    note = None
    if plan.categorical and plan.numeric:
        note = f"{len(plan.keys)} distinct values: treated as categorical"
    if (ref.text and ref.text.truncated) or (cur.text and cur.text.truncated):
        note = "more distinct values than a profile keeps; rare values share the (other) bucket"
    return ColumnDrift(
        ref.name, plan.method, statistic, p_value, limit, bool(drifted), kind, severity, note
    )


def _categorical_from_numeric(
    ref: ColumnProfile, cur: ColumnProfile
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Bin a numeric column on the common grid so categorical tests can run on it."""
    import numpy as np

    assert ref.numeric is not None and cur.numeric is not None
    if ref.numeric.distinct is not None and cur.numeric.distinct is not None:
        return _categorical(ref, cur)
    points, _, rc, cc = _grid(ref.numeric, cur.numeric)
    order = np.argsort(points, kind="stable")
    rc, cc = rc[order], cc[order]
    cdf = np.cumsum(rc) / rc.sum()
    cuts = np.unique(np.searchsorted(cdf, np.arange(1, PSI_BINS) / PSI_BINS, side="left"))
    group = np.searchsorted(cuts, np.arange(rc.size), side="left")
    bins = int(group.max()) + 1
    return [str(i) for i in range(bins)], np.bincount(group, rc, bins), np.bincount(group, cc, bins)


def compare_profiles(
    reference: Profile,
    current: Profile,
    settings: DriftConfig | None = None,
    *,
    columns: Sequence[str] | None = None,
    kinds: Mapping[str, ColumnKind] | None = None,
) -> DriftReport:
    """Drift of every column shared by two profiles, and the dataset-level verdict.

    Args:
        reference: The reference profile (e.g. of the training data).
        current: The profile of the data to judge.
        settings: Methods, thresholds, severities and ignored columns
            (``data.drift`` of mlci.yaml); defaults apply when None.
        columns: Only these columns (default: every column in both profiles).
        kinds: ``label`` or ``prediction`` for those columns; others are features.

    Returns:
        Per-column results in reference column order. The dataset drift share is
        the share of drifted feature columns among those tested; label and
        prediction drift are reported per column and do not count towards it.
    """
    cfg = settings or DriftConfig()
    kinds = kinds or {}
    names = (
        list(columns)
        if columns is not None
        else [n for n in reference.columns if n in current.columns]
    )
    report = DriftReport(share_threshold=cfg.share)
    for name in names:
        if name in cfg.ignore or name not in reference.columns or name not in current.columns:
            continue
        override = cfg.columns.get(name)
        method = override.method if override and override.method != "auto" else cfg.method
        threshold: float | None
        if override and override.threshold is not None:
            threshold = override.threshold
        else:  # a global threshold only means something for a named method
            threshold = cfg.threshold if method != "auto" else None
        severity = (override.severity if override and override.severity else None) or cfg.severity
        report.columns.append(
            column_drift(
                reference.columns[name],
                current.columns[name],
                method=method,
                threshold=threshold,
                kind=kinds.get(name, "feature"),
                severity=severity,
            )
        )
    features = [c for c in report.columns if c.kind == "feature" and c.tested]
    report.share = sum(c.drifted for c in features) / len(features) if features else 0.0
    report.dataset_drift = bool(features) and report.share >= cfg.share
    return report


def drift_findings(
    report: DriftReport,
    settings: DriftConfig | None = None,
    *,
    checks: Mapping[str, str] | None = None,
    column_checks: Mapping[str, Mapping[str, str]] | None = None,
    watched: Sequence[str] = (),
) -> list[Finding]:
    """The findings of a drift report: the one rule of validate-data, retrain and monitor.

    A drifted column is a finding with its severity: the column's ``data.drift``
    override, else ``data.column_checks[column].drift``, else ``data.checks.drift``,
    else ``data.drift.severity``; ``off`` drops it. Feature columns tested with a
    p-value must also pass the Bonferroni correction over the feature columns tested
    (p-value below threshold / their number): many columns checked on every run would
    otherwise alarm on most healthy runs (30 columns at 0.05: 1 - 0.95**30 = 79%).
    Distances count as they are (they do not flag trivial differences), and so do
    columns that are watched (``retrain.drift_columns``) or configured as errors; a
    label or prediction column is one test of its own. Dataset drift (the share of
    drifted feature columns, uncorrected, at or over ``data.drift.share``) is one more
    finding with ``data.drift.dataset_severity``.

    Args:
        report: From `compare_profiles`.
        settings: ``data.drift`` (default settings when None).
        checks: ``data.checks`` (check name to severity).
        column_checks: ``data.column_checks`` (column to check name to severity).
        watched: Columns whose drift always counts.
    """
    cfg = settings or DriftConfig()
    checks = checks or {}
    column_checks = column_checks or {}
    tested = [c for c in report.columns if c.kind == "feature" and c.tested]
    out: list[Finding] = []
    for col in report.columns:
        override = cfg.columns.get(col.column)
        if not (override and override.severity):
            col.severity = (
                column_checks.get(col.column, {}).get("drift")
                or checks.get("drift")
                or col.severity
            )
        if _counts(col, len(tested), watched):
            out.append(_column_finding(col))
    severity = cfg.dataset_severity
    if report.dataset_drift and severity != "off":
        out.append(_dataset_finding(report, severity, tested))
    return out


def watched_drift_findings(report: DriftReport, config: Config) -> list[Finding]:
    """`drift_findings` as the retrain and the monitor apply it.

    The project's drift, check and column-check settings, with ``retrain.drift_columns``
    always counting (validate-data calls `drift_findings` without watched columns).
    """
    return drift_findings(
        report,
        config.data.drift,
        checks=config.data.checks,
        column_checks=config.data.column_checks,
        watched=config.retrain.drift_columns,
    )


def _counts(col: ColumnDrift, n_tested: int, watched: Sequence[str]) -> bool:
    """Whether a column's drift is a finding (severity on; Bonferroni for p-value features)."""
    if not col.drifted or col.severity == "off":
        return False
    corrected = (
        col.kind != "feature"
        or col.p_value is None
        or col.threshold is None
        or col.p_value < col.threshold / max(n_tested, 1)
    )
    return corrected or col.column in watched or col.severity == "error"


def _column_finding(col: ColumnDrift) -> Finding:
    stat = f"{col.statistic:.4g}" if col.statistic is not None else "n/a"
    rule = (
        f"p-value {col.p_value:.3g} < {col.threshold:g}"
        if col.p_value is not None and col.threshold is not None
        else f"{stat} >= {col.threshold:g}"
        if col.threshold is not None
        else stat
    )
    what = {"label": "label ", "prediction": "prediction "}.get(col.kind, "")
    return Finding(
        "drift",
        col.severity,  # type: ignore[arg-type]
        f"{what}column {col.column!r} drifted ({col.method}: {rule})",
        column=col.column,
        observed=col.statistic,
        expected=col.threshold,
    )


def _dataset_finding(report: DriftReport, severity: Severity, tested: list[ColumnDrift]) -> Finding:
    drifted = sum(c.drifted for c in tested)
    return Finding(
        "drift",
        severity,
        f"dataset drift: {drifted} of {len(tested)} feature columns drifted"
        f" ({report.share:.0%}, threshold {report.share_threshold:.0%})",
        observed=report.share,
        expected=report.share_threshold,
        count=drifted,
        fraction=report.share,
    )
