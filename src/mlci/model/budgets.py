"""Cost budgets of a model: file size, single-row latency, batch throughput, peak memory.

Measured on the model that will be served (the ONNX export when there is one,
run with onnxruntime). Each figure is always reported; a gate applies only when
``model.budgets`` sets a limit. Peak memory is the larger of the resident-set
growth (sampled from ``/proc/self/statm`` while predicting) and the peak of
Python-tracked allocations (``tracemalloc``, which sees numpy buffers):
onnxruntime's own arena is only visible in the first.
"""

from __future__ import annotations

import os
import threading
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlci.config import Budgets

if TYPE_CHECKING:
    import pandas as pd

    from mlci.model.load import LoadedModel

__all__ = ["BudgetResult", "measure_budgets", "peak_memory_mb"]

MB = 1024 * 1024
#: One-row calls timed at least, limit or not.
MIN_SINGLE_ROWS = 20


@dataclass
class BudgetResult:
    """One measured cost and its optional limit.

    Attributes:
        name: ``size_mb``, ``latency_p50_ms``, ``latency_p95_ms``, ``throughput_rows_s``
            or ``memory_mb``.
        observed: The measurement.
        limit: The configured limit, or None (reported, not gated).
        unit: ``MB``, ``ms`` or ``rows/s``.
        passed: Within the limit (True when there is no limit).
        higher_is_better: True for throughput (the limit is a minimum).
        detail: How it was measured.
    """

    name: str
    observed: float
    limit: float | None
    unit: str
    passed: bool
    higher_is_better: bool = False
    detail: str = ""

    def to_payload(self) -> dict[str, Any]:
        """The ``budgets[]`` entry of ``model.json``."""
        return {
            "name": self.name,
            "observed": self.observed,
            "limit": self.limit,
            "unit": self.unit,
            "passed": self.passed,
        }


def _rss_bytes() -> int | None:
    try:
        with Path("/proc/self/statm").open() as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):  # pragma: no cover - not Linux
        return None


def peak_memory_mb(fn: Callable[[], Any]) -> float:
    """Peak extra memory (MiB) while ``fn`` runs: RSS growth or tracked allocations."""
    start = _rss_bytes()
    peak = [start or 0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            now = _rss_bytes()
            if now is not None and now > peak[0]:
                peak[0] = now
            stop.wait(0.001)

    sampler = threading.Thread(target=sample, daemon=True) if start is not None else None
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base_traced = tracemalloc.get_traced_memory()[0]
    if sampler:
        sampler.start()
    try:
        fn()
    finally:
        traced_peak = tracemalloc.get_traced_memory()[1] - base_traced
        if not was_tracing:
            tracemalloc.stop()
        stop.set()
        if sampler:
            sampler.join()
    end = _rss_bytes()
    if end is not None and end > peak[0]:
        peak[0] = end
    rss_growth = peak[0] - start if start is not None else 0
    return max(rss_growth, traced_peak, 0) / MB


def _limit_result(
    name: str,
    observed: float,
    limit: float | None,
    unit: str,
    detail: str,
    higher: bool = False,
) -> BudgetResult:
    # Without a limit nothing can be exceeded: reported, and trivially within budget.
    passed = True
    if limit is not None:
        passed = observed >= limit if higher else observed <= limit
    return BudgetResult(name, observed, limit, unit, passed, higher, detail)


def measure_budgets(
    model: LoadedModel,
    X: pd.DataFrame,
    budgets: Budgets,
    *,
    single_rows: int = 100,
    batch_rows: int = 10_000,
    min_seconds: float = 0.1,
    report_only_seconds: float = 0.25,
) -> list[BudgetResult]:
    """Measure the model's costs on rows of ``X``.

    Args:
        model: The model as it will be served.
        X: Rows with the model's features (e.g. the eval data).
        budgets: ``model.budgets`` (limits; None means report only).
        single_rows: One-row predictions timed for the latency percentiles.
        batch_rows: Rows per batch for throughput and memory (``X`` is repeated).
        min_seconds: Time spent at least on the throughput measurement.
        report_only_seconds: Without a latency limit the percentiles are only reported,
            so the one-row calls stop once they took this long (after at least
            `MIN_SINGLE_ROWS`): a slow pipeline does not spend seconds of every CI run
            on a figure nobody gates. With a limit, all ``single_rows`` calls are timed.
    """
    import pandas as pd

    frame = model._select(X).reset_index(drop=True)
    results = [
        _limit_result(
            "size_mb",
            model.path.stat().st_size / MB,
            budgets.max_size_mb,
            "MB",
            f"size of {model.path.name}",
        )
    ]
    if len(frame) == 0:
        return results
    gated = budgets.max_latency_p50_ms is not None or budgets.max_latency_p95_ms is not None
    results += _latency(model, frame, budgets, single_rows, None if gated else report_only_seconds)
    repeats = -(-batch_rows // len(frame))
    batch = pd.concat([frame] * repeats, ignore_index=True).iloc[:batch_rows]
    results.append(_throughput(model, batch, budgets, min_seconds))
    memory = peak_memory_mb(lambda: (model.predict(batch), model.predict_proba(batch)))
    results.append(
        _limit_result(
            "memory_mb",
            memory,
            budgets.max_memory_mb,
            "MB",
            f"peak extra memory predicting {len(batch)} rows",
        )
    )
    return results


def _latency(
    model: LoadedModel,
    frame: pd.DataFrame,
    budgets: Budgets,
    single_rows: int,
    stop_after: float | None,
) -> list[BudgetResult]:
    """p50 and p95 of one-row predictions (stopping after ``stop_after`` seconds if set)."""
    import numpy as np

    rows = [frame.iloc[[i % len(frame)]] for i in range(single_rows)]
    for row in rows[:5]:  # warm-up: first calls allocate
        model.predict(row)
    times = np.empty(len(rows))
    n = 0
    for row in rows:
        start = time.perf_counter()
        model.predict(row)
        times[n] = time.perf_counter() - start
        n += 1
        if stop_after is not None and n >= MIN_SINGLE_ROWS and times[:n].sum() >= stop_after:
            break
    p50, p95 = (float(v) * 1000 for v in np.percentile(times[:n], [50, 95]))
    how = f"{model.format} runtime, {n} one-row calls"
    return [
        _limit_result("latency_p50_ms", p50, budgets.max_latency_p50_ms, "ms", how),
        _limit_result("latency_p95_ms", p95, budgets.max_latency_p95_ms, "ms", how),
    ]


def _throughput(
    model: LoadedModel, batch: pd.DataFrame, budgets: Budgets, min_seconds: float
) -> BudgetResult:
    """Rows per second predicting ``batch`` again and again for at least ``min_seconds``."""
    model.predict(batch)
    done, start = 0, time.perf_counter()
    while True:
        model.predict(batch)
        done += len(batch)
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            break
    return _limit_result(
        "throughput_rows_s",
        done / elapsed,
        budgets.min_throughput_rows_s,
        "rows/s",
        f"batches of {len(batch)} rows",
        higher=True,
    )
