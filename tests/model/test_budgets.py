from __future__ import annotations

from mlci.config import Budgets
from mlci.model.budgets import measure_budgets, peak_memory_mb
from mlci.model.load import load_model
from tests.model.models import Models


def test_budgets_are_measured_and_gated(models: Models) -> None:
    assert models.binary.good_onnx is not None
    model = load_model(models.binary.good_onnx)
    limits = Budgets(max_size_mb=0.000001, max_latency_p95_ms=10_000, min_throughput_rows_s=1e12)
    results = {
        r.name: r
        for r in measure_budgets(
            model, models.binary.eval, limits, single_rows=30, batch_rows=2000, min_seconds=0.05
        )
    }
    assert set(results) == {
        "size_mb",
        "latency_p50_ms",
        "latency_p95_ms",
        "throughput_rows_s",
        "memory_mb",
    }
    assert results["size_mb"].observed == models.binary.good_onnx.stat().st_size / 1024 / 1024
    assert results["size_mb"].passed is False
    assert results["latency_p95_ms"].passed is True
    assert 0 < results["latency_p50_ms"].observed <= results["latency_p95_ms"].observed
    assert results["throughput_rows_s"].passed is False  # nobody predicts 1e12 rows/s
    assert results["throughput_rows_s"].observed > 1000
    assert results["memory_mb"].limit is None and results["memory_mb"].passed is True
    assert results["memory_mb"].to_payload()["unit"] == "MB"


def test_report_only_latency_stops_early_and_says_how_many_calls(models: Models) -> None:
    """No latency limit: a slow model is timed for report_only_seconds, not 100 calls."""
    import time

    model = load_model(models.binary.good)
    predict = model.predict
    calls = []

    def slow(X):  # type: ignore[no-untyped-def]
        calls.append(len(X))
        time.sleep(0.02)
        return predict(X)

    model.predict = slow  # type: ignore[method-assign]
    kwargs = {"single_rows": 60, "batch_rows": 100, "min_seconds": 0.0, "report_only_seconds": 0.1}
    results = {r.name: r for r in measure_budgets(model, models.binary.eval, Budgets(), **kwargs)}
    timed = calls.count(1) - 5  # five warm-up calls
    assert timed == 20  # MIN_SINGLE_ROWS: 20 calls of 20 ms already pass 0.1 s
    assert results["latency_p95_ms"].detail.endswith(", 20 one-row calls")
    assert results["latency_p50_ms"].observed >= 20
    # a latency limit is gated on every one of the single_rows calls
    calls.clear()
    limits = Budgets(max_latency_p95_ms=10_000)
    results = {r.name: r for r in measure_budgets(model, models.binary.eval, limits, **kwargs)}
    assert calls.count(1) - 5 == 60
    assert results["latency_p95_ms"].detail.endswith(", 60 one-row calls")


def test_peak_memory_sees_a_large_allocation() -> None:
    import numpy as np

    mb = peak_memory_mb(lambda: np.ones(20 * 1024 * 1024 // 8).sum())
    assert 15 < mb < 200
