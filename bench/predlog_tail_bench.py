"""The prediction log's writer-busy tail, in rounds, beside the same run without any log.

Each round runs two pairs of processes, one pair after the other. In each pair both
processes answer single rows on the ASGI channel as fast as they can for ``--seconds``
(the event loop polling between calls, as a server's does), side by side so under the
same load: first neither logs (A/A: how far two identical processes drift apart on this
machine), then one of them logs with ``--log-dir`` (A/B). Printed: each round's ratios
(second process over first) of p50, p99, p99.9 and requests answered, and their medians.

    python bench/predlog_tail_bench.py [--seconds 12] [--rounds 3]

On a machine whose cores are all busy with the two processes, whatever the log costs in
CPU comes out of the requests; the A/A rows say what spread is noise.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

KEYS = ("p50", "p99", "p99.9", "requests")


def _pair(
    ctx: object, onnx: Path, records: list[dict[str, float]], seconds: float, log: Path | None
) -> dict[str, float]:
    import serve_bench

    procs, pipes = [], []
    for directory in (None, log):
        receiver, sender = ctx.Pipe(duplex=False)  # type: ignore[attr-defined]
        proc = ctx.Process(  # type: ignore[attr-defined]
            target=serve_bench._tail_child, args=(onnx, records, seconds, directory, sender)
        )
        proc.start()
        procs.append(proc)
        pipes.append(receiver)
    first, second = (pipe.recv() for pipe in pipes)
    for proc in procs:
        proc.join()
    return {key: second[key] / first[key] for key in KEYS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=12.0, help="seconds of each run")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of A/A and A/B")
    args = parser.parse_args()

    import serve_bench

    # spawn, not fork: a child forked after onnxruntime started its threads can hang.
    ctx = multiprocessing.get_context("spawn")
    runs: dict[str, list[dict[str, float]]] = {"A/A (no log)": [], "A/B (--log-dir)": []}
    print(f"load average at start: {' / '.join(f'{x:.1f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        onnx, _, records, _ = serve_bench._train(tmp)
        print("\n| round | pair | p50 | p99 | p99.9 | requests | load |")
        print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
        for round_ in range(args.rounds):
            for name, log in (("A/A (no log)", None), ("A/B (--log-dir)", tmp / f"log-{round_}")):
                ratio = _pair(ctx, onnx, records, args.seconds, log)
                runs[name].append(ratio)
                cells = " | ".join(f"{ratio[key]:.3f}" for key in KEYS)
                print(f"| {round_} | {name} | {cells} | {os.getloadavg()[0]:.1f} |", flush=True)
        print("\n| median of the rounds | p50 | p99 | p99.9 | requests |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for name, ratios in runs.items():
            cells = " | ".join(f"{statistics.median(r[key] for r in ratios):.3f}" for key in KEYS)
            print(f"| {name} | {cells} |")


if __name__ == "__main__":
    main()
