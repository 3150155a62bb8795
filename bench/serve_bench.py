"""Prediction service latency and throughput on loopback (`mlci serve`, Starlette + uvicorn).

Trains a scikit-learn pipeline on breast cancer (30 numeric features), saves it with
skops and exports it to ONNX, then for each file starts ``mlci serve --model FILE``
as its own process and measures, over a keep-alive connection:

- single-row latency p50/p99 of ``POST /predict`` (one record),
- batch throughput (rows/s) with batches of ``--batch`` rows,

next to the floor: the same prediction called in-process (no HTTP, no JSON).

    python bench/serve_bench.py [--requests 2000] [--batch 1000] [--batches 50]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _train(directory: Path) -> tuple[Path, Path, list[dict[str, float]]]:
    import skops.io as sio
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from mlci.model.load import load_model
    from mlci.model.onnx import export_onnx

    frame = load_breast_cancer(as_frame=True).frame
    frame.columns = [str(c).replace(" ", "_") for c in frame.columns]
    X, y = frame.drop(columns="target"), frame["target"]
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y)
    skops_path = directory / "model.skops"
    sio.dump(model, skops_path)
    onnx_path = directory / "model.onnx"
    result = export_onnx(load_model(skops_path), X, onnx_path)
    if not result.passed:
        raise SystemExit(f"ONNX export failed: {result.findings}")
    return skops_path, onnx_path, X.to_dict(orient="records")


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _in_process(path: Path, records: list[dict[str, float]], n: int) -> float:
    import pandas as pd

    from mlci.model.load import load_model

    model = load_model(path)
    one = pd.DataFrame(records[:1])
    times = []
    for _ in range(n):
        start = time.perf_counter()
        model.predict(one)
        model.predict_proba(one)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def _serve(
    path: Path, records: list[dict[str, float]], args: argparse.Namespace
) -> dict[str, float]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlci", "serve", "--model", str(path), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    session = requests.Session()
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                session.get(f"{url}/health", timeout=1).raise_for_status()
                break
            except requests.RequestException:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(
                        f"mlci serve did not start: {proc.stderr.read() if proc.stderr else ''}"
                    ) from None
                time.sleep(0.1)
        for i in range(50):  # warm-up
            session.post(f"{url}/predict", json={"records": records[i : i + 1]}, timeout=10)
        lat = []
        for i in range(args.requests):
            row = records[i % len(records) : i % len(records) + 1]
            start = time.perf_counter()
            resp = session.post(f"{url}/predict", json={"records": row}, timeout=10)
            lat.append(time.perf_counter() - start)
            resp.raise_for_status()
        batch = (records * (args.batch // len(records) + 1))[: args.batch]
        payload = {"records": batch}
        start = time.perf_counter()
        for _ in range(args.batches):
            session.post(f"{url}/predict", json=payload, timeout=60).raise_for_status()
        elapsed = time.perf_counter() - start
    finally:
        proc.terminate()
        proc.wait(10)
    return {
        "p50_ms": _percentile(lat, 0.50) * 1000,
        "p99_ms": _percentile(lat, 0.99) * 1000,
        "rows_s": args.batch * args.batches / elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="single-row requests")
    parser.add_argument("--batch", type=int, default=1000, help="rows per batch request")
    parser.add_argument("--batches", type=int, default=50, help="batch requests")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        skops_path, onnx_path, records = _train(Path(tmp))
        print(
            f"breast cancer LogisticRegression pipeline, 30 features; {args.requests} single-row"
            f" requests, {args.batches} batches of {args.batch} rows, keep-alive, loopback\n"
        )
        print(
            "| served file | runtime | single p50 ms | single p99 ms | batch rows/s"
            " | in-process p50 ms (floor) |"
        )
        print("| --- | --- | ---: | ---: | ---: | ---: |")
        for path, runtime in ((onnx_path, "onnxruntime"), (skops_path, "scikit-learn")):
            res = _serve(path, records, args)
            floor = _in_process(path, records, 500)
            print(
                f"| {path.name} | {runtime} | {res['p50_ms']:.2f} | {res['p99_ms']:.2f} |"
                f" {res['rows_s']:,.0f} | {floor:.3f} |"
            )


if __name__ == "__main__":
    main()
