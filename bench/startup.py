"""Start-up time of `mlci --help` and `mlci --version` next to bare Python, in the same run.

Usage: python bench/startup.py [--runs N]

Each command runs as a whole process N times (after one warm-up); the table shows
the median and best wall time and the difference to `python -c pass`. Target:
`mlci --help` under 0.25 s more than bare Python.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "mlci --version": [sys.executable, "-m", "mlci", "--version"],
    "mlci --help": [sys.executable, "-m", "mlci", "--help"],
    "mlci config check (example)": [
        sys.executable,
        "-m",
        "mlci",
        "config",
        "check",
        "examples/breast-cancer/mlci.yaml",
    ],
}


def measure(argv: list[str], runs: int) -> list[float]:
    subprocess.run(argv, check=True, capture_output=True)  # warm the file cache
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    results = {name: measure(argv, args.runs) for name, argv in COMMANDS.items()}
    base = statistics.median(results["python -c pass"])
    print(f"{'command':32} {'median s':>9} {'best s':>8} {'vs python':>10}")
    for name, times in results.items():
        med = statistics.median(times)
        print(f"{name:32} {med:9.3f} {min(times):8.3f} {med - base:+10.3f}")
    extra = statistics.median(results["mlci --help"]) - base
    verdict = "meets" if extra < 0.25 else "MISSES"
    print(f"\nmlci --help costs {extra:.3f} s more than bare Python ({verdict} the 0.25 s target)")
    return 0 if extra < 0.25 else 1


if __name__ == "__main__":
    raise SystemExit(main())
