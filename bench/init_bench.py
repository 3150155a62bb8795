"""`mlci init` and the actions: wall time of detection, rendering and a real act run.

Usage: python bench/init_bench.py [--runs N] [--rows N]

Measures, as whole processes on a throwaway git repository:
  python -c pass                      the floor
  mlci init --dry-run (small repo)    detection + rendering of 5 files, nothing written
  mlci init --dry-run (big CSV)       the same with a CSV of --rows rows (header and at
                                      most 5000 target values are read, never the file)
  mlci init --check                   after init: the stale-check users run after upgrades
  act: config-check action            a real act run of the root action (install skipped)
and in-process: rendering all 16 option combinations.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.act.harness import git_repo, run_act  # noqa: E402
from tests.scaffold_helpers import COMBINATIONS, make_project  # noqa: E402


def timed(cmd: list[str], runs: int, cwd: Path | None = None) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, check=True, capture_output=True)
        out.append(time.perf_counter() - start)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    mlci = str(Path(sys.executable).parent / "mlci")
    rows: list[tuple[str, list[float]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        small = make_project(base / "small")
        big = make_project(base / "big")
        header = (big / "data" / "train.csv").read_text().splitlines()[:2]
        with (big / "data" / "train.csv").open("w") as fh:
            fh.write(header[0] + "\n")
            line = header[1] + "\n"
            fh.writelines(line for _ in range(args.rows))
        git_repo(big)
        rows.append(("python -c pass", timed([sys.executable, "-c", "pass"], args.runs)))
        rows.append(
            (
                "mlci init --dry-run (small repo)",
                timed([mlci, "init", "--dry-run", "-C", str(small)], args.runs),
            )
        )
        rows.append(
            (
                f"mlci init --dry-run ({args.rows:,}-row CSV)",
                timed([mlci, "init", "--dry-run", "-C", str(big)], args.runs),
            )
        )
        subprocess.run([mlci, "init", "--yes", "-C", str(small)], check=True, capture_output=True)
        rows.append(
            ("mlci init --check", timed([mlci, "init", "--check", "-C", str(small)], args.runs))
        )

        from tests.test_scaffold import render_combo

        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            for i, combo in enumerate(COMBINATIONS):
                render_combo(base / "combos" / str(i), combo)
            times.append(time.perf_counter() - start)
        rows.append(("render 16 combinations (in-process)", times))

        from tests.test_actions import VALID, _check_workflow

        act_times = []
        for i in range(max(3, args.runs // 2)):
            repo = git_repo(
                base / f"act{i}",
                {".github/workflows/c.yml": _check_workflow("config-check"), "mlci.yaml": VALID},
            )
            start = time.perf_counter()
            result = run_act(repo, ".github/workflows/c.yml", event_name="push")
            act_times.append(time.perf_counter() - start)
            assert result.job_result() == "success", result.log
        rows.append(("act: root action, config-check", act_times))

    floor = statistics.median(rows[0][1])
    print(f"{'what':<40} {'median s':>9} {'best s':>8} {'vs python':>10}")
    for name, values in rows:
        med = statistics.median(values)
        print(f"{name:<40} {med:>9.3f} {min(values):>8.3f} {med - floor:>+10.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
