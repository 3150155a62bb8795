"""How long the prediction log's writer holds the GIL while it writes a second of traffic.

A request that arrives while the writer thread holds the GIL waits until the writer lets
go of it (at most the interpreter's 5 ms switch interval when the writer never does), so
the writer's longest stretch holding the GIL bounds what the log can add to a request's
latency, and its total bounds how often a request meets it. This measures both without
a server, so the figure does not depend on the machine's load: N answered requests of
the breast-cancer model (30 features, ONNX) are queued, then one flush (`_write`) runs
in this thread, and the thread's CPU time is cut at every point where the writer lets
go of the GIL (its pauses between steps, and its writes to the pipe of the writer
process, or in an older log the Parquet write, both of which run without it). Also
printed: what `submit` costs a request on the request path (the answers made first).

    python bench/predlog_bench.py [--requests 2500] [--repeat 7]

It uses only the log's public `submit` and its flush, so it also runs against an older
``src`` (``PYTHONPATH=OLD/src``) whose writer has no pauses.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))


def _measure(log: object, module: object, entries: list[object]) -> tuple[float, float]:
    """One flush of ``entries``: longest GIL stretch and total GIL time, in this thread."""
    holds: list[float] = []
    mark = [0.0]

    def cut() -> None:
        now = time.thread_time()
        holds.append(now - mark[0])
        mark[0] = now

    def released(function: Any) -> Any:
        """``function``, with the GIL released inside it: not counted."""

        def timed(*args: Any) -> Any:
            cut()
            try:
                return function(*args)
            finally:
                mark[0] = time.thread_time()

        return timed

    # Where the log lets go of the GIL: its pauses, and either the pipe to its writer
    # process or (an older log, a writer thread) the Parquet write.
    if hasattr(module, "_write_all"):
        owner, name = module, "_write_all"
    else:
        owner, name = module.PredictionLog, "_append"  # type: ignore[attr-defined]
    patched = [(owner, name, getattr(owner, name))]
    if hasattr(module, "_pause"):
        patched.append((module, "_pause", module._pause))  # type: ignore[attr-defined]
    for target, attr, function in patched:
        setattr(target, attr, released(function))
    try:
        mark[0] = time.thread_time()
        log._write(entries)  # type: ignore[attr-defined]
        cut()
    finally:
        for target, attr, function in patched:
            setattr(target, attr, function)
    return max(holds), sum(holds)


def _take_all(log: Any, take: Any) -> list[Any]:
    """Everything the log holds: queued, and its open block (older logs: the queue)."""
    if take is None:
        return list(log._queue)
    with log._lock:  # as the log's thread takes them
        return list(take())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2500, help="single-row requests")
    parser.add_argument("--repeat", type=int, default=7, help="flushes timed (median)")
    args = parser.parse_args()

    import orjson
    import serve_bench

    from mlci.serve import predlog as module
    from mlci.serve.app import load_served_model
    from mlci.serve.payload import parse_request

    print(f"load average at start: {' / '.join(f'{x:.1f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        onnx_path, _, records, _ = serve_bench._train(tmp)
        served = load_served_model(onnx_path)
        print("\n| queued | submit µs a request | longest GIL hold ms | GIL held in all ms |")
        print("| --- | ---: | ---: | ---: |")
        n = args.requests
        pool = records * 3
        for rows, count in ((1, n), (40, n // 10), (1000, 3)):
            # One flush, taken here, of one open block (as in the runs recorded in
            # bench/README.md).
            module.BLOCK_ROWS = 10**9
            settings = module.LogSettings(tmp / f"log-{rows}", flush_seconds=3600)
            log = module.PredictionLog(settings, version=1, classes=served.classes)
            answered = []
            for i in range(count):
                body = orjson.dumps({"records": pool[i % 400 : i % 400 + rows]})
                batch = parse_request(body, served.schema, max_rows=100_000)
                answered.append((batch, served.run(batch), f"{i:032x}"))
            # The writer never flushes by itself (flush_seconds is an hour): take what is
            # queued, the open block too (an older log has only its queue). A first round,
            # handed over, warms what a running log reuses.
            take = getattr(log, "_take", None)
            for _ in range(2):
                start = time.perf_counter()
                for batch, result, request_id in answered:
                    log.submit(batch, result, request_id)
                submit = (time.perf_counter() - start) / count
                entries = _take_all(log, take)
                if take is None:
                    log._queue.clear()
                _measure(log, module, entries)
            runs = sorted(_measure(log, module, entries) for _ in range(args.repeat))
            longest, total = (statistics.median(r[k] for r in runs) for k in range(2))
            print(
                f"| {count:,} requests of {rows} row{'s' if rows > 1 else ''}"
                f" | {submit * 1e6:.2f} | {longest * 1e3:.2f} | {total * 1e3:.2f} |"
            )
            log._queue.clear()
            log.close()
    print(f"\nload average at end: {' / '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
