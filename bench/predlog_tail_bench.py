"""The prediction log's writer-busy tail, in rounds, beside the same run without any log.

Each round runs two pairs of processes, one pair after the other. In each pair both
processes answer single rows on the ASGI channel as fast as they can for ``--seconds``
(the event loop polling between calls, as a server's does), side by side so under the
same load: first neither logs (A/A: how far two identical processes drift apart on this
machine), then one of them logs with ``--log-dir`` (A/B). Printed: each round's ratios
(second process over first) of p50, p99, p99.9 and requests answered, and their medians.

    python bench/predlog_tail_bench.py [--seconds 12] [--rounds 4] [--pin] [--against SRC]

With ``--pin`` each process's request thread runs on a core of its own, the two
swapping cores every round (so a slower core counts against each side alike; the log's
thread and writer process run on either). With ``--against OLD/src`` every round also
runs an A/B pair whose logging side imports mlci from that tree: an older log measured
in the same run as this one.

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


def _child(src: str | None, *args: object) -> None:
    """`serve_bench._tail_child`, importing mlci from ``src`` when given."""
    if src is not None:
        sys.path.insert(0, src)
        os.environ["PYTHONPATH"] = src  # for the log's writer process too
    import serve_bench

    serve_bench._tail_child(*args)  # type: ignore[arg-type]


def _pair(
    ctx: object,
    onnx: Path,
    records: list[dict[str, float]],
    seconds: float,
    log: Path | None,
    cpus: tuple[int, int] | None,
    src: str | None = None,
) -> dict[str, float]:
    procs, pipes = [], []
    for i, directory in enumerate((None, log)):
        receiver, sender = ctx.Pipe(duplex=False)  # type: ignore[attr-defined]
        cpu = None if cpus is None else cpus[i]
        proc = ctx.Process(  # type: ignore[attr-defined]
            target=_child,
            args=(src if i else None, onnx, records, seconds, directory, sender, cpu),
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
    parser.add_argument("--rounds", type=int, default=4, help="rounds of A/A and A/B")
    parser.add_argument("--pin", action="store_true", help="one core each, swapped a round")
    parser.add_argument("--against", metavar="SRC", help="also an A/B pair with this mlci")
    args = parser.parse_args()

    import serve_bench

    # spawn, not fork: a child forked after onnxruntime started its threads can hang.
    ctx = multiprocessing.get_context("spawn")
    pairs: list[tuple[str, str | None]] = [("A/A (no log)", None), ("A/B (--log-dir)", None)]
    if args.against:
        pairs.append(("A/B (--log-dir, --against)", str(Path(args.against).resolve())))
    runs: dict[str, list[dict[str, float]]] = {name: [] for name, _ in pairs}
    print(f"load average at start: {' / '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        onnx, _, records, _ = serve_bench._train(tmp)
        print("\n| round | pair | p50 | p99 | p99.9 | requests | load |")
        print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
        for round_ in range(args.rounds):
            cpus = (round_ % 2, 1 - round_ % 2) if args.pin else None
            for n, (name, src) in enumerate(pairs):
                log = tmp / f"log-{round_}-{n}" if n else None
                ratio = _pair(ctx, onnx, records, args.seconds, log, cpus, src)
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
