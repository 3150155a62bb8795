"""Gates and the blessing: does the candidate beat (or at least match) production?

The contracts (DESIGN.md): value bounds ``min``/``max``; change bounds against
the baseline ``max_drop``/``min_gain``, absolute or relative, where the relative
change is ``(candidate - baseline) / |baseline|`` and the direction of each
metric is known. A missing or NaN metric fails closed; a zero baseline under a
relative bound fails closed instead of becoming infinite; no gates configured
means not blessed unless ``allow_ungated``; the first model (no baseline) is
blessed on its value gates only, with a visible note.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mlci.config import Gate
from mlci.model.bootstrap import Interval

__all__ = [
    "Blessing",
    "GateResult",
    "SliceMetrics",
    "bless",
    "evaluate_gates",
    "relative_change",
]

#: Slack for float round-off when comparing against a bound.
TOLERANCE = 1e-12


@dataclass
class GateResult:
    """One gate applied to one metric (optionally on one slice).

    Attributes:
        metric: The metric (or budget quantity) gated.
        slice: ``column=value`` when the gate ran on a slice, else None.
        rule: ``min``, ``max``, ``max_drop``, ``min_gain``, ``significant`` or a budget name.
        threshold: The bound from the config.
        observed: The candidate's value.
        baseline: The baseline's value (change rules), else None.
        change: The direction-aware change the rule judged (positive = better;
            relative when the gate is relative), else None.
        passed: Whether the gate passed.
        reason: One sentence saying why.
    """

    metric: str
    slice: str | None
    rule: str
    threshold: float | bool | None
    observed: float | None
    baseline: float | None
    passed: bool
    reason: str
    change: float | None = None

    def to_payload(self) -> dict[str, Any]:
        """The ``gates[]`` entry of ``model.json`` (docs/results.md)."""
        return {
            "metric": self.metric,
            "slice": self.slice,
            "rule": self.rule,
            "threshold": self.threshold,
            "observed": self.observed,
            "baseline": self.baseline,
            "change": self.change,
            "passed": self.passed,
            "reason": self.reason,
        }


@dataclass
class SliceMetrics:
    """Metrics of one slice for both models."""

    column: str
    value: Any
    rows: int
    metrics: dict[str, float | None]
    baseline_metrics: dict[str, float | None] | None = None

    @property
    def label(self) -> str:
        """``column=value``."""
        return f"{self.column}={self.value}"


@dataclass
class Blessing:
    """The verdict on the candidate.

    Attributes:
        blessed: Whether the candidate may be promoted.
        reason: One sentence explaining the verdict.
        notes: Things a reviewer must see (first model, skipped gates, trusted loads).
    """

    blessed: bool
    reason: str
    notes: list[str] = field(default_factory=list)


def _finite(value: float | None) -> bool:
    return value is not None and isinstance(value, int | float) and math.isfinite(value)


def _fmt(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.4g}"


def relative_change(candidate: float, baseline: float) -> float | None:
    """``(candidate - baseline) / |baseline|``; None when the baseline is 0 and they differ."""
    if baseline == 0:
        return 0.0 if candidate == 0 else None
    return (candidate - baseline) / abs(baseline)


def _missing(metric: str, errors: Mapping[str, str], value: Any, who: str) -> str:
    why = errors.get(metric)
    if value is None and why:
        return f"{who} {metric} could not be computed ({why}); failing closed"
    if value is None:
        return f"{who} {metric} is missing; failing closed"
    return f"{who} {metric} is {value} (not a finite number); failing closed"


@dataclass(frozen=True)
class _Subject:
    """What one gate judges: a metric, on the whole eval set or a slice, and its value."""

    metric: str
    slice_label: str | None
    observed: float | None

    @property
    def where(self) -> str:
        return f"{self.metric} [{self.slice_label}]" if self.slice_label else self.metric

    def result(
        self,
        rule: str,
        threshold: Any,
        passed: bool,
        reason: str,
        change: float | None = None,
        base: float | None = None,
    ) -> GateResult:
        observed = self.observed if _finite(self.observed) else None
        return GateResult(
            self.metric, self.slice_label, rule, threshold, observed, base, passed, reason, change
        )


def _gate_one(
    metric: str,
    gate: Gate,
    *,
    slice_label: str | None,
    observed: float | None,
    baseline: float | None,
    has_baseline: bool,
    higher: bool,
    errors: Mapping[str, str],
    baseline_errors: Mapping[str, str],
    interval: Interval | None,
    bootstrapped: bool,
    skipped: list[str],
) -> list[GateResult]:
    subject = _Subject(metric, slice_label, observed)
    out = _value_bounds(subject, gate, errors)
    change_rules: list[tuple[str, Any]] = [
        (r, b)
        for r, b in (("max_drop", gate.max_drop), ("min_gain", gate.min_gain))
        if b is not None
    ]
    if gate.significant:
        change_rules.append(("significant", True))
    if not change_rules:
        return out
    if not has_baseline:
        skipped.extend(f"{subject.where}.{rule}" for rule, _ in change_rules)
        return out
    for rule, bound in change_rules:
        if not _finite(observed):
            reason = _missing(metric, errors, observed, "the candidate's")
            out.append(subject.result(rule, bound, False, reason))
            continue
        if not _finite(baseline):
            reason = _missing(metric, baseline_errors, baseline, "the baseline's")
            out.append(
                subject.result(
                    rule, bound, False, reason + "; a change bound needs the baseline value"
                )
            )
            continue
        assert observed is not None and baseline is not None
        gain = (observed - baseline) if higher else (baseline - observed)
        if rule == "significant":
            out.append(_significance(subject, gain, baseline, interval if bootstrapped else None))
        else:
            out.append(_change_bound(subject, rule, bound, gate, gain, baseline, higher))
    return out


def _value_bounds(subject: _Subject, gate: Gate, errors: Mapping[str, str]) -> list[GateResult]:
    """The ``min`` and ``max`` rules: the candidate's value itself, no baseline needed."""
    out: list[GateResult] = []
    observed = subject.observed
    for rule, bound in (("min", gate.min), ("max", gate.max)):
        if bound is None:
            continue
        if not _finite(observed):
            reason = _missing(subject.metric, errors, observed, "the candidate's")
            out.append(subject.result(rule, bound, False, reason))
            continue
        assert observed is not None
        passed = observed >= bound - TOLERANCE if rule == "min" else observed <= bound + TOLERANCE
        word = "at least" if rule == "min" else "at most"
        why = f" ({gate.note})" if gate.note else ""
        reason = f"{subject.where} is {_fmt(observed)}; must be {word} {bound:g}{why}"
        out.append(subject.result(rule, bound, passed, reason))
    return out


def _significance(
    subject: _Subject, gain: float, baseline: float, interval: Interval | None
) -> GateResult:
    """The ``significant`` rule: the bootstrap interval of the delta must exclude 0, upwards.

    ``interval`` is None when no bootstrap ran; the rule then fails closed.
    """
    where = subject.where
    if interval is None:
        reason = (
            f"{where}: a significant gain was required but no bootstrap interval"
            " exists (the baseline is a stored metrics file, or"
            " model.bootstrap.resamples is 0); failing closed"
        )
        return subject.result("significant", True, False, reason, gain, baseline)
    if interval.significant is None:
        reason = f"{where}: significance cannot be assessed: {interval.reason}; failing closed"
        return subject.result("significant", True, False, reason, gain, baseline)
    passed = bool(interval.significant and gain > 0)
    ci = f"[{_fmt(interval.ci_low)}, {_fmt(interval.ci_high)}]"
    verdict = (
        "a significant gain"
        if passed
        else "not a significant gain"
        if gain > 0 or not interval.significant
        else "a significant loss"
    )
    reason = f"{where} changed by {gain:+.4g} (better is positive), delta CI {ci}: {verdict}"
    return subject.result("significant", True, passed, reason, gain, baseline)


def _change_bound(
    subject: _Subject,
    rule: str,
    bound: Any,
    gate: Gate,
    gain: float,
    baseline: float,
    higher: bool,
) -> GateResult:
    """The ``max_drop`` and ``min_gain`` rules, absolute or relative to the baseline."""
    assert isinstance(bound, float | int)
    observed = subject.observed
    assert observed is not None
    where = subject.where
    change = gain
    unit = ""
    if gate.relative:
        rel = relative_change(observed, baseline)
        if rel is None:
            reason = (
                f"{where}: the baseline is 0, so the relative change is undefined;"
                " failing closed (use an absolute bound for this metric)"
            )
            return subject.result(rule, bound, False, reason, None, baseline)
        change = rel if higher else -rel
        unit = " (relative)"
    if rule == "max_drop":
        passed = -change <= bound + TOLERANCE
        # An improvement (or no change) is said as such, never as "a drop of -0".
        moved = (
            f"a drop of {-change:.4g}{unit}"
            if -change > TOLERANCE
            else f"a gain of {change:.4g}{unit}"
            if change > TOLERANCE
            else "no change"
        )
        text = (
            f"{where} is {_fmt(observed)} vs baseline {_fmt(baseline)}: {moved};"
            f" a drop of at most {bound:g} allowed"
        )
    else:
        passed = change >= bound - TOLERANCE
        text = (
            f"{where} is {_fmt(observed)} vs baseline {_fmt(baseline)}: a gain of"
            f" {change:+.4g}{unit}; at least {bound:g} required"
        )
    return subject.result(rule, bound, passed, text, change, baseline)


def evaluate_gates(
    gates: Mapping[str, Gate],
    *,
    metrics: Mapping[str, float | None],
    baseline_metrics: Mapping[str, float | None] | None,
    higher_is_better: Callable[[str], bool],
    errors: Mapping[str, str] | None = None,
    baseline_errors: Mapping[str, str] | None = None,
    intervals: Mapping[str, Interval] | None = None,
    slices: Sequence[SliceMetrics] = (),
) -> tuple[list[GateResult], list[str]]:
    """Apply every configured gate.

    Args:
        gates: ``model.gates``.
        metrics: The candidate's metrics.
        baseline_metrics: The baseline's metrics on the same rows, or None when
            there is no baseline (first model).
        higher_is_better: The direction of a metric.
        errors: Why a candidate metric is None.
        baseline_errors: Why a baseline metric is None.
        intervals: Bootstrap intervals of the deltas (None: no bootstrap was run).
        slices: Per-slice metrics, for gates with ``slices: true``.

    Returns:
        The gate results and the change gates that were not applied (no baseline).
    """
    errors = errors or {}
    baseline_errors = baseline_errors or {}
    has_baseline = baseline_metrics is not None
    results: list[GateResult] = []
    skipped: list[str] = []
    for metric, gate in gates.items():
        higher = higher_is_better(metric)
        results += _gate_one(
            metric,
            gate,
            slice_label=None,
            observed=metrics.get(metric),
            baseline=(baseline_metrics or {}).get(metric),
            has_baseline=has_baseline,
            higher=higher,
            errors=errors,
            baseline_errors=baseline_errors,
            interval=(intervals or {}).get(metric),
            bootstrapped=intervals is not None,
            skipped=skipped,
        )
        if not gate.slices:
            continue
        per_slice = Gate(
            min=gate.min,
            max=gate.max,
            max_drop=gate.max_drop,
            min_gain=gate.min_gain,
            relative=gate.relative,
        )
        for s in slices:
            results += _gate_one(
                metric,
                per_slice,
                slice_label=s.label,
                observed=s.metrics.get(metric),
                baseline=(s.baseline_metrics or {}).get(metric),
                has_baseline=has_baseline and s.baseline_metrics is not None,
                higher=higher,
                errors={},
                baseline_errors={},
                interval=None,
                bootstrapped=False,
                skipped=skipped,
            )
    return results, skipped


def bless(
    results: Sequence[GateResult],
    *,
    gates_configured: bool,
    allow_ungated: bool,
    has_baseline: bool,
    skipped: Sequence[str] = (),
    blocking: Sequence[str] = (),
    first_model_note: str = "no baseline: first model",
    first: str = "bless-on-value-gates",
) -> Blessing:
    """Decide the blessing from the gate results.

    Args:
        results: Every gate applied (metric gates and budgets).
        gates_configured: Whether ``model.gates`` (or a budget) names any gate.
        allow_ungated: ``model.allow_ungated``.
        has_baseline: Whether a baseline was compared against.
        skipped: Change gates not applied for lack of a baseline.
        blocking: Other reasons that forbid the blessing (e.g. failed ONNX parity).
        first_model_note: The note shown when there is no baseline.
        first: ``model.first``, the rule for the first model (no baseline):
            ``bless-on-value-gates`` judges it on its value gates; ``bless``
            blesses it unless a gate fails, even when no gate could be applied;
            ``block`` never blesses it.
    """
    notes: list[str] = []
    if not has_baseline:
        rule = {
            "bless-on-value-gates": "blessed on value gates only",
            "bless": "blessed unless a gate fails (model.first: bless)",
            "block": "not blessed automatically (model.first: block)",
        }.get(first, f"model.first: {first}")
        note = f"{first_model_note}; {rule}"
        if skipped:
            note += f" (change gates not applied: {', '.join(skipped)})"
        notes.append(note)
    failed = [r for r in results if not r.passed]
    if blocking:
        return Blessing(False, "not blessed: " + "; ".join(blocking), notes)
    if not has_baseline and first == "block":
        return Blessing(
            False,
            "not blessed: this is the first model and model.first is block; register it by"
            " hand (`mlci deploy`), or set model.first: bless-on-value-gates",
            notes,
        )
    if failed:
        names = ", ".join(
            f"{r.metric}{f' [{r.slice}]' if r.slice else ''} {r.rule}" for r in failed[:5]
        )
        more = f" and {len(failed) - 5} more" if len(failed) > 5 else ""
        return Blessing(False, f"not blessed: {len(failed)} gate(s) failed: {names}{more}", notes)
    if not results:
        if not has_baseline and first == "bless":
            return Blessing(
                True, "blessed: first model, no gate could be applied (model.first: bless)", notes
            )
        if allow_ungated:
            notes.append("no gate was applied; blessed because model.allow_ungated is true")
            return Blessing(True, "blessed without gates (model.allow_ungated)", notes)
        if gates_configured:
            return Blessing(
                False,
                "not blessed: no gate could be applied without a baseline; add a value gate"
                " (min/max) under model.gates, or set model.first: bless",
                notes,
            )
        return Blessing(
            False,
            "not blessed: no gates configured; add model.gates (e.g. accuracy: {min: 0.9})"
            " or set model.allow_ungated: true",
            notes,
        )
    return Blessing(True, f"blessed: all {len(results)} gate(s) passed", notes)
