"""The prediction log's cost to single-row requests, in rounds, against the same run without it.

Each run is one process answering single rows on the ASGI channel as fast as it can for
``--seconds`` (the event loop polling between calls, as a server's does), alone on the
machine: without the log, with ``--log-dir`` (this tree's mlci), and with ``--against
OLD/src`` also with the log of that older tree. Each round runs them one after the
other, in an order that turns every round, and each logged run is compared with the
unlogged run of its round. Printed: every run's p50, p99, p99.9 and requests, then for
each log the geometric mean of its rounds' ratios with their range.

    python bench/predlog_tail_bench.py [--seconds 5] [--rounds 9] [--busy N] [--against SRC]

With ``--busy N``, N more processes spin on the CPU the whole time, so the log's writer
process competes for a core as on a saturated machine. Runs side by side (two processes
at once, one logging) were tried first: on this 2-core VM one core ran about 30 % faster
than the other, so whichever side got it won, whatever it logged.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

KEYS = ("p50", "p99", "p99.9", "requests")


def _child(src: str | None, *args: Any) -> None:
    """`serve_bench._tail_child`, importing mlci from ``src`` when given."""
    if src is not None:
        sys.path.insert(0, src)
        os.environ["PYTHONPATH"] = src  # for the log's writer process too
    import serve_bench

    serve_bench._tail_child(*args)


def _spin(stop: Any) -> None:
    while not stop.is_set():
        for _ in range(100_000):
            pass


def _run(ctx: Any, src: str | None, args: tuple[Any, ...]) -> dict[str, float]:
    receiver, sender = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(src, *args, sender))
    proc.start()
    out: dict[str, float] = receiver.recv()
    proc.join()
    return out


def _summary(runs: dict[str, list[dict[str, float]]]) -> None:
    print("\n| log | " + " | ".join(f"{k} (range)" for k in KEYS) + " |")
    print("| --- |" + " ---: |" * len(KEYS))
    for name, results in runs.items():
        if name == "without":
            continue
        cells = []
        for key in KEYS:
            ratios = [r[key] / b[key] for r, b in zip(results, runs["without"], strict=True)]
            mean = math.exp(statistics.fmean(math.log(x) for x in ratios))
            cells.append(f"{mean:.3f} ({min(ratios):.2f}-{max(ratios):.2f})")
        print(f"| {name} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds of each run")
    parser.add_argument("--rounds", type=int, default=9, help="rounds")
    parser.add_argument("--busy", type=int, default=0, help="spinning processes beside")
    parser.add_argument("--against", metavar="SRC", help="also the log of this mlci tree")
    args = parser.parse_args()

    import serve_bench

    # spawn, not fork: a child forked after onnxruntime started its threads can hang.
    ctx = multiprocessing.get_context("spawn")
    configs: list[tuple[str, str | None, bool]] = [
        ("without", None, False),
        ("--log-dir", None, True),
    ]
    if args.against:
        configs.append(("--log-dir, --against", str(Path(args.against).resolve()), True))
    runs: dict[str, list[dict[str, float]]] = {name: [] for name, _, _ in configs}
    print(f"load average at start: {' / '.join(f'{x:.1f}' for x in os.getloadavg())}")
    stop = ctx.Event()
    spinners = [ctx.Process(target=_spin, args=(stop,)) for _ in range(args.busy)]
    for spinner in spinners:
        spinner.start()
    try:
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            onnx, _, records, _ = serve_bench._train(tmp)
            print("\n| round | log | p50 µs | p99 µs | p99.9 µs | requests |")
            print("| --- | --- | ---: | ---: | ---: | ---: |", flush=True)
            for round_ in range(args.rounds):
                turn = round_ % len(configs)
                for n, (name, src, logs) in enumerate(configs[turn:] + configs[:turn]):
                    log = tmp / f"log-{round_}-{n}" if logs else None
                    out = _run(ctx, src, (onnx, records, args.seconds, log))
                    runs[name].append(out)
                    cells = " | ".join(f"{out[k]:.0f}" for k in KEYS)
                    print(f"| {round_} | {name} | {cells} |", flush=True)
    finally:
        stop.set()
        for spinner in spinners:
            spinner.join()
    _summary(runs)
    print(f"\nload average at end: {' / '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
