"""Benchmark of mlci's paired bootstrap: rows x resamples of accuracy, F1 and ROC AUC.

Run: python bench/bootstrap_bench.py [--rows 100000] [--resamples 1000] [--check]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from mlci.model.bootstrap import paired_bootstrap
from mlci.model.evaluate import Predictions

METRICS = ["accuracy", "f1_macro", "roc_auc"]


def synthetic(rows: int, seed: int, noise: float) -> tuple[Predictions, Predictions]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, rows)

    def model(scale: float) -> Predictions:
        logit = (2 * y - 1) * scale + rng.normal(0, 1, rows)
        p1 = 1 / (1 + np.exp(-logit))
        proba = np.column_stack([1 - p1, p1])
        return Predictions(y, (p1 > 0.5).astype(int), proba, [0, 1], "classification")

    return model(1.0 + noise), model(1.0)


def loop_reference(cand: Predictions, base: Predictions, resamples: int, seed: int) -> float:
    """The naive per-resample loop with scikit-learn, for comparison (seconds)."""
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    rng = np.random.default_rng(seed)
    n = len(cand.y_true)
    start = time.perf_counter()
    for _ in range(resamples):
        idx = rng.integers(0, n, n)
        for p in (cand, base):
            y = p.y_true[idx]
            accuracy_score(y, p.y_pred[idx])
            f1_score(y, p.y_pred[idx], average="macro")
            roc_auc_score(y, p.proba[idx, 1])
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--loop-resamples",
        type=int,
        default=20,
        help="resamples timed for the naive scikit-learn loop (extrapolated)",
    )
    args = parser.parse_args()
    cand, base = synthetic(args.rows, 0, 0.05)
    times, cpu = [], []
    for _ in range(args.repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        out = paired_bootstrap(cand, base, METRICS, resamples=args.resamples, seed=0)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"rows={args.rows} resamples={args.resamples} metrics={','.join(METRICS)} (both models)")
    print(f"cores={os.cpu_count()} load average (1 min) at the end={load:.1f}")
    print(f"{'method':<34} {'wall s':>10} {'cpu s':>10}")
    print(f"{'mlci paired_bootstrap (best)':<34} {min(times):>10.2f} {min(cpu):>10.2f}")
    mid = sorted(range(len(times)), key=times.__getitem__)[len(times) // 2]
    print(f"{'mlci paired_bootstrap (median)':<34} {times[mid]:>10.2f} {cpu[mid]:>10.2f}")
    if args.loop_resamples:
        t = loop_reference(cand, base, args.loop_resamples, 0)
        est = t * args.resamples / args.loop_resamples
        print(f"{'sklearn loop (extrapolated)':<34} {est:>10.2f} {'':>10}")
    for name, iv in out.items():
        print(f"  {name:<10} ci=[{iv.ci_low:+.4f}, {iv.ci_high:+.4f}] significant={iv.significant}")


if __name__ == "__main__":
    main()
