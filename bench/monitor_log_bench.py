"""Peak memory of ``mlci monitor --current LOGDIR`` as the prediction log grows.

Writes a prediction log shaped like ``mlci serve --log-dir``'s (8 numeric features,
``prediction``, ``proba_0``/``proba_1``, ``model_version`` (two versions),
``request_id``, ``row``, ``timestamp`` over 14 days, parts of at most 1,000,000 rows in
row groups of 65,536), delayed labels for 2% of the rows (CSV with ``request_id``,
``row``, ``target``), a 20,000-row reference, and runs the whole ``mlci monitor``
process with ``--since 7d`` for each size, reporting its peak RSS (``wait4``) and wall
time. The data is written by a child process, so the measuring process stays small
(on Linux a child's peak RSS counts its parent's at the moment it is spawned). The
memory should stay flat as the log grows; the labels' index is what grows (16 bytes
per label). Usage::

    python bench/monitor_log_bench.py                      # 1M and 10M rows
    python bench/monitor_log_bench.py --rows 200000 1000000  # quick
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FEATURES = [f"f{i}" for i in range(8)]
PART_ROWS = 1_000_000


def write_project(root: Path) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(1)
    (root / "data").mkdir(parents=True)
    ref = pd.DataFrame({f: rng.normal(size=20_000) for f in FEATURES})
    ref["target"] = (ref["f0"] + rng.normal(scale=0.5, size=len(ref)) > 0).astype(int)
    ref.to_csv(root / "data" / "reference.csv", index=False)
    (root / "mlci.yaml").write_text(
        "version: 1\n"
        "task: classification\n"
        "data:\n  reference: data/reference.csv\n  target: target\n"
        "model:\n  path: model.skops\n  metrics: [accuracy]\n"
        "  gates:\n    accuracy: {min: 0.5}\n"
        "registry: {backend: local, path: .mlci/registry}\n"
        "monitor: {labels: data/labels.csv, open_issues: false}\n",
        encoding="utf-8",
    )


def write_log(root: Path, rows: int) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    rng = np.random.default_rng(2)
    logs = root / "logs"
    logs.mkdir()
    now = time.time()
    labels = []
    done = 0
    part = 0
    while done < rows:
        n = min(PART_ROWS, rows - done)
        x = {f: rng.normal(loc=0.3 if f == "f1" else 0.0, size=n) for f in FEATURES}
        pred = (x["f0"] > 0).astype(np.int64)
        p1 = 1 / (1 + np.exp(-x["f0"]))
        ids = np.char.add("r", (np.arange(done, done + n) // 4).astype(str))
        row = (np.arange(done, done + n) % 4).astype(np.int32)
        stamps = ((now - rng.uniform(0, 14 * 86400, size=n)) * 1e6).astype(np.int64)
        columns = {f: pa.array(v) for f, v in x.items()}
        columns["prediction"] = pa.array(pred)
        columns["proba_0"] = pa.array(1 - p1)
        columns["proba_1"] = pa.array(p1)
        columns["model_version"] = pa.array(np.where(np.arange(n) % 3 == 0, 1, 2))
        columns["request_id"] = pa.array(ids)
        columns["row"] = pa.array(row)
        columns["timestamp"] = pa.array(stamps, type=pa.timestamp("us", tz="UTC"))
        pq.write_table(
            pa.table(columns),
            logs / f"predictions-{part:04d}.parquet",
            row_group_size=65_536,
            compression="zstd",
        )
        keep = rng.random(n) < 0.02
        y = ((x["f0"] + rng.normal(scale=0.5, size=n)) > 0).astype(np.int64)
        labels.append(
            pa.table(
                {"request_id": pa.array(ids[keep]), "row": pa.array(row[keep]), "target": y[keep]}
            )
        )
        done += n
        part += 1
    pacsv.write_csv(pa.concat_tables(labels), root / "data" / "labels.csv")


def run_monitor(root: Path) -> tuple[float, float, int]:
    """Wall seconds, peak RSS (MiB) and exit code of one monitor process."""
    cmd = [
        sys.executable,
        "-m",
        "mlci",
        "monitor",
        "--config",
        str(root / "mlci.yaml"),
        "--current",
        str(root / "logs"),
        "--since",
        "7d",
        "--results",
        str(root / "results"),
    ]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # noqa: S603
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        assert proc.stderr is not None
        sys.stderr.write(proc.stderr.read().decode())
    return wall, usage.ru_maxrss / 1024, code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--generate", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate is not None:
        write_project(args.generate)
        write_log(args.generate, args.rows[0])
        return
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print("| logged rows | rows in window | labels | log MiB | peak RSS MiB | wall s | exit |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for rows in args.rows:
        with tempfile.TemporaryDirectory(prefix="mlci-monitor-bench-") as tmp:
            root = Path(tmp)
            subprocess.run(  # noqa: S603
                [sys.executable, __file__, "--generate", str(root), "--rows", str(rows)],
                check=True,
            )
            size = sum(p.stat().st_size for p in (root / "logs").iterdir()) / 2**20
            labels = sum(1 for _ in (root / "data" / "labels.csv").open()) - 1
            wall, rss, code = run_monitor(root)
            doc = json.loads((root / "results" / "monitor.json").read_text())
            print(
                f"| {rows:,} | {doc['rows']:,} | {labels:,} | {size:,.0f} | {rss:,.0f}"
                f" | {wall:.1f} | {code} |",
                flush=True,
            )
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
