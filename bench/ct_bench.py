"""Benchmark `mlci monitor` and the decision phase of `mlci retrain` against a hand-written floor.

For each size, synthetic classification data (make_classification, 20 features) is
written as Parquet: a reference half, a current half with a covariate shift in two
columns, and delayed labels joined by id. A logistic regression is trained on the
reference and registered as production in a local registry. Then, each in its own
process (wall time and peak RSS):

- ``mlci monitor``: feature drift, prediction drift (the model run on both sides),
  label drift, live metrics through the gates; issues off (no GitHub);
- ``mlci retrain`` decision: fresh data profiled, checked and compared with the
  reference, then the policy decides (no drift in the watched column -> no training);
- floor: the same questions by hand in plain pandas/scipy/scikit-learn (read both
  files, ``scipy.stats.ks_2samp`` per column, predict, accuracy) with no results file.

Usage: python bench/ct_bench.py [--rows 10000 100000 1000000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

FEATURES = 20


def build(root: Path, rows: int) -> None:
    import numpy as np
    import pandas as pd
    import skops.io as sio
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    from mlci.registry import make_event
    from mlci.registry.local import LocalRegistry

    X, y = make_classification(n_samples=2 * rows, n_features=FEATURES, random_state=0)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(FEATURES)])
    frame.insert(0, "id", np.arange(len(frame)))
    frame["target"] = y
    ref, cur = frame.iloc[:rows], frame.iloc[rows:].copy()
    cur["f0"] = cur["f0"] * 1.5 + 0.5
    cur["f1"] = cur["f1"] + 1.0
    (root / "data").mkdir(parents=True)
    ref.to_parquet(root / "data" / "reference.parquet")
    cur.drop(columns=["target"]).to_parquet(root / "data" / "current.parquet")
    cur[["id", "target"]].to_parquet(root / "data" / "labels.parquet")
    cur.to_parquet(root / "data" / "fresh.parquet")
    model = LogisticRegression(max_iter=500).fit(
        ref[[f"f{i}" for i in range(FEATURES)]], ref["target"]
    )
    sio.dump(model, root / "model.skops")
    reg = LocalRegistry(root / ".mlci" / "registry")
    v = reg.register(
        {"model.skops": root / "model.skops"},
        {
            "created": "2026-01-01T00:00:00+00:00",
            "model_file": "model.skops",
            "metrics": {"accuracy": 0.9},
            "blessing": {"blessed": True, "reason": "bench"},
        },
    )
    reg.record(make_event("promote", v.version))
    config = {
        "version": 1,
        "task": "classification",
        "data": {
            "reference": "data/reference.parquet",
            "target": "target",
            "id_columns": ["id"],
            "drift": {"ignore": ["id"]},
        },
        "model": {"path": "model.skops", "gates": {"accuracy": {"min": 0.5, "max_drop": 0.5}}},
        "retrain": {"policy": "on-drift", "drift_columns": ["f5"], "data": "data/fresh.parquet"},
        "monitor": {
            "current": "data/current.parquet",
            "labels": "data/labels.parquet",
            "open_issues": False,
        },
    }
    (root / "mlci.yaml").write_text(json.dumps(config), encoding="utf-8")


def floor(root: Path) -> None:
    import pandas as pd
    import skops.io as sio
    from scipy.stats import ks_2samp

    ref = pd.read_parquet(root / "data" / "reference.parquet")
    cur = pd.read_parquet(root / "data" / "current.parquet")
    labels = pd.read_parquet(root / "data" / "labels.parquet")
    cols = [f"f{i}" for i in range(FEATURES)]
    drifted = [c for c in cols if ks_2samp(ref[c], cur[c]).pvalue < 0.05]
    model = sio.load(
        root / "model.skops", trusted=sio.get_untrusted_types(file=root / "model.skops")
    )
    pred = model.predict(cur[cols])
    ref_pred = model.predict(ref[cols])
    ks_2samp(ref_pred, pred)
    acc = (cur[["id"]].merge(labels, on="id")["target"].to_numpy() == pred).mean()
    print(len(drifted), acc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--floor", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.floor:
        floor(args.floor)
        return
    mlci = [sys.executable, "-m", "mlci"]
    print("| rows (each side) | what | wall s | peak RSS MB | exit |")
    print("| ---: | --- | ---: | ---: | ---: |")
    for rows in args.rows:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            build(root, rows)
            cases = {
                "floor: pandas + scipy ks_2samp + predict": [
                    sys.executable,
                    __file__,
                    "--floor",
                    str(root),
                ],
                "mlci monitor": [
                    *mlci,
                    "monitor",
                    "--config",
                    str(root / "mlci.yaml"),
                    "--results",
                    str(root / "r"),
                ],
                "mlci retrain (decision only)": [
                    *mlci,
                    "retrain",
                    "--config",
                    str(root / "mlci.yaml"),
                    "--results",
                    str(root / "r"),
                ],
            }
            for name, argv in cases.items():
                # ru_maxrss of children is a running maximum: measure each case in a fresh
                # grandchild so the figure is its own.
                wrapper = [
                    sys.executable,
                    "-c",
                    "import resource, subprocess, sys, time; t = time.perf_counter();"
                    " r = subprocess.run(sys.argv[1:], capture_output=True).returncode;"
                    " m = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024;"
                    " print(time.perf_counter() - t, m, r)",
                    *argv,
                ]
                out = subprocess.run(
                    wrapper, capture_output=True, text=True, check=True
                ).stdout.split()
                print(
                    f"| {rows:,} | {name} | {float(out[0]):.2f} | {float(out[1]):.0f} | {out[2]} |"
                )
            sys.stdout.flush()


if __name__ == "__main__":
    main()
