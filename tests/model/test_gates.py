from __future__ import annotations

import math

import pytest

from mlci.config import Gate
from mlci.metrics import BUILTIN_METRICS
from mlci.model.bootstrap import Interval
from mlci.model.gates import SliceMetrics, bless, evaluate_gates, relative_change


def _hib(name: str) -> bool:
    return BUILTIN_METRICS[name].higher_is_better


def _run(gates, metrics, baseline=None, **kw):  # type: ignore[no-untyped-def]
    return evaluate_gates(
        gates, metrics=metrics, baseline_metrics=baseline, higher_is_better=_hib, **kw
    )


def test_value_bounds() -> None:
    results, _ = _run({"accuracy": Gate(min=0.9, max=0.99)}, {"accuracy": 0.95})
    assert [(r.rule, r.passed) for r in results] == [("min", True), ("max", True)]
    results, _ = _run({"accuracy": Gate(min=0.9)}, {"accuracy": 0.85})
    assert not results[0].passed
    assert results[0].reason == "accuracy is 0.85; must be at least 0.9"


@pytest.mark.parametrize("value", [None, math.nan, math.inf])
def test_missing_or_nan_metric_fails_closed(value: float | None) -> None:
    results, _ = _run(
        {"roc_auc": Gate(min=0.5, max_drop=0.1)},
        {"roc_auc": value},
        {"roc_auc": 0.9},
        errors={"roc_auc": "the model gives no class probabilities"} if value is None else {},
    )
    assert [r.passed for r in results] == [False, False]
    assert all("failing closed" in r.reason for r in results)
    if value is None:
        assert "could not be computed (the model gives no class probabilities)" in results[0].reason
    assert (
        bless(results, gates_configured=True, allow_ungated=False, has_baseline=True).blessed
        is False
    )


def test_change_bounds_know_the_direction() -> None:
    # accuracy: higher is better; a drop of 0.02 breaks max_drop 0.01
    results, _ = _run({"accuracy": Gate(max_drop=0.01)}, {"accuracy": 0.90}, {"accuracy": 0.92})
    assert not results[0].passed and results[0].change == pytest.approx(-0.02)
    # rmse: lower is better; 10 -> 11 is a drop of 1
    results, _ = _run({"rmse": Gate(max_drop=0.5)}, {"rmse": 11.0}, {"rmse": 10.0})
    assert not results[0].passed
    results, _ = _run({"rmse": Gate(max_drop=0.5)}, {"rmse": 9.0}, {"rmse": 10.0})
    assert results[0].passed and results[0].change == pytest.approx(1.0)
    # relative: (candidate - baseline) / |baseline|
    results, _ = _run({"rmse": Gate(min_gain=0.05, relative=True)}, {"rmse": 9.0}, {"rmse": 10.0})
    assert results[0].passed and results[0].change == pytest.approx(0.1)
    results, _ = _run({"r2": Gate(min_gain=0.01)}, {"r2": 0.5}, {"r2": 0.5})
    assert not results[0].passed
    assert "a gain of +0; at least 0.01 required" in results[0].reason


def test_zero_baseline_with_relative_bound_fails_closed_instead_of_infinity() -> None:
    results, _ = _run(
        {
            "log_loss": Gate(max_drop=0.1, relative=True),
            "accuracy": Gate(min_gain=0.1, relative=True),
        },
        {"log_loss": 0.3, "accuracy": 0.5},
        {"log_loss": 0.0, "accuracy": 0.0},
    )
    assert [r.passed for r in results] == [False, False]
    assert all("baseline is 0, so the relative change is undefined" in r.reason for r in results)
    assert relative_change(0.0, 0.0) == 0.0 and relative_change(1.0, 0.0) is None
    same, _ = _run(
        {"log_loss": Gate(max_drop=0.1, relative=True)}, {"log_loss": 0.0}, {"log_loss": 0.0}
    )
    assert same[0].passed


def test_baseline_value_missing_fails_closed() -> None:
    results, _ = _run({"accuracy": Gate(max_drop=0.01)}, {"accuracy": 0.9}, {"accuracy": None})
    assert not results[0].passed and "a change bound needs the baseline value" in results[0].reason


def test_first_model_is_blessed_on_value_gates_only_with_a_note() -> None:
    gates = {"accuracy": Gate(min=0.9, max_drop=0.01, significant=True)}
    results, skipped = _run(gates, {"accuracy": 0.95}, None)
    assert [r.rule for r in results] == ["min"]
    assert skipped == ["accuracy.max_drop", "accuracy.significant"]
    b = bless(
        results,
        gates_configured=True,
        allow_ungated=False,
        has_baseline=False,
        skipped=skipped,
        first_model_note="no production model in the registry: first model",
    )
    assert b.blessed
    assert b.notes == [
        "no production model in the registry: first model; blessed on value gates only"
        " (change gates not applied: accuracy.max_drop, accuracy.significant)"
    ]
    # only change gates and no baseline: nothing was checked, so not blessed
    results, skipped = _run({"accuracy": Gate(max_drop=0.01)}, {"accuracy": 0.95}, None)
    b = bless(
        results, gates_configured=True, allow_ungated=False, has_baseline=False, skipped=skipped
    )
    assert not b.blessed and "no gate could be applied without a baseline" in b.reason


def test_no_gates_means_not_blessed_unless_allowed() -> None:
    b = bless([], gates_configured=False, allow_ungated=False, has_baseline=True)
    assert not b.blessed and "no gates configured" in b.reason
    b = bless([], gates_configured=False, allow_ungated=True, has_baseline=True)
    assert b.blessed and "model.allow_ungated" in b.notes[0]


def test_significant_gain_gate() -> None:
    gate = {"accuracy": Gate(significant=True)}
    sig = Interval(0.01, 0.05, True, None, 1000)
    results, _ = _run(gate, {"accuracy": 0.93}, {"accuracy": 0.9}, intervals={"accuracy": sig})
    assert results[0].passed and "a significant gain" in results[0].reason
    noise = Interval(-0.01, 0.05, False, "within noise", 1000)
    results, _ = _run(gate, {"accuracy": 0.93}, {"accuracy": 0.9}, intervals={"accuracy": noise})
    assert not results[0].passed and "not a significant gain" in results[0].reason
    unknown = Interval(0.0, 0.1, None, "only 12 eval rows: too few", 1000)
    results, _ = _run(gate, {"accuracy": 0.93}, {"accuracy": 0.9}, intervals={"accuracy": unknown})
    assert not results[0].passed
    assert "cannot be assessed: only 12 eval rows: too few; failing closed" in results[0].reason
    results, _ = _run(gate, {"accuracy": 0.93}, {"accuracy": 0.9}, intervals=None)
    assert not results[0].passed and "no bootstrap interval" in results[0].reason


def test_slice_gates() -> None:
    slices = [
        SliceMetrics("sex", "f", 50, {"accuracy": 0.95}, {"accuracy": 0.95}),
        SliceMetrics("sex", "m", 50, {"accuracy": 0.80}, {"accuracy": 0.90}),
    ]
    results, _ = _run(
        {"accuracy": Gate(min=0.85, max_drop=0.05, slices=True)},
        {"accuracy": 0.9},
        {"accuracy": 0.9},
        slices=slices,
    )
    failed = [(r.slice, r.rule) for r in results if not r.passed]
    assert failed == [("sex=m", "min"), ("sex=m", "max_drop")]
    b = bless(results, gates_configured=True, allow_ungated=False, has_baseline=True)
    assert not b.blessed and "accuracy [sex=m] min" in b.reason


def test_blocking_reasons_win() -> None:
    results, _ = _run({"accuracy": Gate(min=0.5)}, {"accuracy": 0.9})
    b = bless(
        results,
        gates_configured=True,
        allow_ungated=False,
        has_baseline=True,
        blocking=["the ONNX export fails the parity check"],
    )
    assert not b.blessed and "parity" in b.reason


def test_max_drop_wording_never_says_a_drop_of_minus_zero() -> None:
    gates = {"accuracy": Gate(max_drop=0.01)}
    better, _ = _run(gates, {"accuracy": 0.95}, {"accuracy": 0.93})
    assert better[0].reason == (
        "accuracy is 0.95 vs baseline 0.93: a gain of 0.02; a drop of at most 0.01 allowed"
    )
    same, _ = _run(gates, {"accuracy": 0.93}, {"accuracy": 0.93})
    assert "no change" in same[0].reason and "-0" not in same[0].reason
    worse, _ = _run(gates, {"accuracy": 0.90}, {"accuracy": 0.93})
    assert "a drop of 0.03;" in worse[0].reason


def test_a_value_gate_says_where_its_bound_comes_from() -> None:
    gate = Gate(min=0.627, note="majority-class accuracy (chance level)")
    results, _ = _run({"accuracy": gate}, {"accuracy": 0.95})
    assert results[0].reason == (
        "accuracy is 0.95; must be at least 0.627 (majority-class accuracy (chance level))"
    )
