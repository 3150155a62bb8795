"""Prediction service against its floor and a peer, same model, same load generator, same run.

Trains a scikit-learn pipeline on breast cancer (30 numeric features), exports it to
ONNX, and starts, each as its own process on loopback:

- the **floor**: a 20-line Starlette + orjson + onnxruntime app with no validation
  (`FLOOR_APP` below), under uvicorn with the same HTTP stack as `mlci serve`;
- the floor again with onnxruntime's worker threads sleeping between runs instead of
  spinning (as `mlci serve` runs its model): on a 2-core machine a spinning worker takes
  a core from its own server and from the others;
- the floor again on uvicorn's pure-Python stack (h11, asyncio loop), to show what the
  stack choice is worth;
- `mlci serve --model model.onnx` (full validation, metrics on), then again with
  `--log-dir` (the prediction log's overhead);
- **MLServer** with its scikit-learn runtime (V2 inference protocol), when it is
  installed in ``bench/.venv-peer`` (``python3 -m venv bench/.venv-peer &&
  bench/.venv-peer/bin/pip install mlserver mlserver-sklearn``); skipped otherwise.

The load generator is a raw keep-alive socket with pre-encoded requests (so the
client's own JSON work does not hide the servers' differences). It measures the p50
and p99 of single-row requests (and each server process's CPU time per single-row
request, which a loaded machine blurs much less than latency), and rows/s of 1,000-row
record batches; for `mlci serve` also columnar JSON, Arrow IPC and Parquet bodies
(1,000- and 10,000-row batches). The servers take turns request by request (so every
sample pair sees the same load; each round starts with the next server) and the figures
are medians; run it under ``nice`` on a loaded machine and say so.

    python bench/serve_bench.py [--single 2000] [--batches 60]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FLOOR_APP = """
import os, numpy as np, onnxruntime as ort, orjson
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

options = ort.SessionOptions()
if os.environ.get("NO_SPIN"):  # the variant: worker threads sleep between runs
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
sess = ort.InferenceSession(os.environ["MODEL"], options, providers=["CPUExecutionProvider"])
name = sess.get_inputs()[0].name
features = orjson.loads(os.environ["FEATURES"])
NUMPY = orjson.OPT_SERIALIZE_NUMPY


async def predict(request):
    records = orjson.loads(await request.body())["records"]
    x = np.array([[r[f] for f in features] for r in records], dtype=np.float32)
    labels, proba = sess.run(None, {name: x})
    out = orjson.dumps({"predictions": labels, "probabilities": proba}, option=NUMPY)
    return Response(out, media_type="application/json")


app = Starlette(routes=[Route("/predict", predict, methods=["POST"])])
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Client:
    """One keep-alive HTTP/1.1 connection sending pre-encoded requests."""

    def __init__(self, port: int):
        self.port = port
        self._connect()

    def _connect(self) -> None:
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=60)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def send(self, raw: bytes) -> tuple[int, bytes]:
        """Send one request; reconnect once when the server closed an idle connection."""
        try:
            return self._send(raw)
        except (ConnectionError, BrokenPipeError):
            self.sock.close()
            self._connect()
            return self._send(raw)

    @staticmethod
    def encode(path: str, body: bytes, ctype: str = "application/json") -> bytes:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: {ctype}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body

    def _send(self, raw: bytes) -> tuple[int, bytes]:
        self.sock.sendall(raw)
        while b"\r\n\r\n" not in self.buf:
            self.buf += self._recv()
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        length = 0
        chunked = False
        for line in lines[1:]:
            key, _, value = line.partition(b":")
            if key.strip().lower() == b"content-length":
                length = int(value)
            if key.strip().lower() == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if chunked:
            body = b""
            while True:
                while b"\r\n" not in rest:
                    rest += self._recv()
                size_line, _, rest = rest.partition(b"\r\n")
                size = int(size_line, 16)
                while len(rest) < size + 2:
                    rest += self._recv()
                body += rest[:size]
                rest = rest[size + 2 :]
                if size == 0:
                    break
            self.buf = rest
            return status, body
        if len(rest) < length:  # a list of chunks joined once: no quadratic copying
            chunks, have = [rest], len(rest)
            while have < length:
                chunk = self._recv()
                chunks.append(chunk)
                have += len(chunk)
            rest = b"".join(chunks)
        self.buf = rest[length:]
        return status, rest[:length]

    def _recv(self) -> bytes:
        data = self.sock.recv(1 << 20)
        if not data:
            raise ConnectionError("server closed the connection")
        return data

    def close(self) -> None:
        self.sock.close()


def _train(directory: Path) -> tuple[Path, Path, list[dict[str, float]], list[str]]:
    import joblib
    from sklearn.base import clone
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
    import skops.io as sio

    sio.dump(model, skops_path)
    joblib_path = directory / "model.joblib"  # fitted on arrays: the V2 protocol sends arrays
    joblib.dump(clone(model).fit(X.to_numpy(), y), joblib_path)
    onnx_path = directory / "model.onnx"
    result = export_onnx(load_model(skops_path), X, onnx_path)
    if not result.passed:
        raise SystemExit(f"ONNX export failed: {result.findings}")
    return onnx_path, joblib_path, X.to_dict(orient="records"), list(X.columns)


def _wait_up(port: int, proc: subprocess.Popen[bytes], probe: bytes) -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            client = Client(port)
            status, body = client.send(probe)
            client.close()
            if status == 200:
                return
            raise SystemExit(f"server answered {status}: {body[:300]!r}")
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"server did not start: {proc.args}") from None
            time.sleep(0.2)


def _start(cmd: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    # The log goes to a file: a pipe nobody reads fills up and stalls a chatty server.
    log = (cwd / f"server-{len(list(cwd.glob('server-*.log')))}.log").open("wb")
    return subprocess.Popen(
        cmd, env={**os.environ, **env}, cwd=cwd, stdout=subprocess.DEVNULL, stderr=log
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def _latency(client: Client, raws: list[bytes], n: int) -> list[float]:
    times = []
    for i in range(n):
        raw = raws[i % len(raws)]
        start = time.perf_counter()
        status, body = client.send(raw)
        times.append(time.perf_counter() - start)
        if status != 200:
            raise SystemExit(f"single-row request answered {status}: {body[:300]!r}")
    return times


def _throughput(client: Client, raw: bytes, rows: int, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        status, body = client.send(raw)
        if status != 200:
            raise SystemExit(f"batch request answered {status}: {body[:300]!r}")
    return rows * n / (time.perf_counter() - start)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


@dataclass
class Server:
    """A started server with the requests to send it."""

    name: str
    proc: subprocess.Popen[bytes]
    port: int
    single: list[bytes]
    bodies: dict[str, tuple[bytes, int]]
    rounds: dict[str, list[float]] = field(default_factory=dict)


def _cpu_seconds(pid: int, *, main_thread: bool = False) -> float:
    """User + system CPU time of a process (or its main thread) so far (Linux; 0 elsewhere).

    Under load a request's latency is mostly waiting for a core; the CPU time the
    server spends per request is what its own code costs, and moves much less. The
    main thread's alone leaves out onnxruntime's worker threads, which (in the floor)
    spin for a while after each run, also while another server is answering.
    """
    where = f"/proc/{pid}/task/{pid}/stat" if main_thread else f"/proc/{pid}/stat"
    try:
        fields = Path(where).read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rotated(servers: list[Server], turn: int) -> list[Server]:
    start = turn % len(servers)
    return servers[start:] + servers[:start]


def _interleaved(servers: list[Server], args: argparse.Namespace) -> None:
    """Request by request, the servers take turns, so each sample pair sees the same load.

    Single rows: ``args.single`` requests to each server, one after the other in turn
    (p50 and p99 of each). Batches: each body kind, one request to each server in turn;
    rows/s is the rows of a request over the median time of a request. The turn starts
    with the next server each round, so no server always follows the same one.
    """
    clients = {s.name: Client(s.port) for s in servers}
    try:
        lat: dict[str, list[float]] = {s.name: [] for s in servers}
        cpu0 = {s.name: _cpu_seconds(s.proc.pid) for s in servers}
        for i in range(args.single):
            for s in _rotated(servers, i):
                start = time.perf_counter()
                status, body = clients[s.name].send(s.single[i % len(s.single)])
                lat[s.name].append(time.perf_counter() - start)
                if status != 200:
                    raise SystemExit(f"{s.name}: single row answered {status}: {body[:200]!r}")
        for s in servers:
            used = _cpu_seconds(s.proc.pid) - cpu0[s.name]
            s.rounds["cpu_us"] = [used / args.single * 1e6]
            s.rounds["p50_ms"] = [_pct(lat[s.name], 0.5) * 1000]
            s.rounds["p99_ms"] = [_pct(lat[s.name], 0.99) * 1000]
        kinds = sorted({k for s in servers for k in s.bodies})
        for kind in kinds:
            takers = [s for s in servers if kind in s.bodies]
            rows = _rows_of(kind)
            times: dict[str, list[float]] = {s.name: [] for s in takers}
            client_cpu = {s.name: 0.0 for s in takers}
            cpu0 = {s.name: _cpu_seconds(s.proc.pid) for s in takers}
            main0 = {s.name: _cpu_seconds(s.proc.pid, main_thread=True) for s in takers}
            n = max(5, args.batches * 1000 // rows)
            for i in range(n):
                for s in _rotated(takers, i):
                    start, thread0 = time.perf_counter(), time.thread_time()
                    status, body = clients[s.name].send(s.bodies[kind][0])
                    times[s.name].append(time.perf_counter() - start)
                    client_cpu[s.name] += time.thread_time() - thread0
                    if status != 200:
                        raise SystemExit(f"{s.name}: {kind} answered {status}: {body[:200]!r}")
            for s in takers:
                s.rounds[kind] = [rows / statistics.median(times[s.name])]
                used = _cpu_seconds(s.proc.pid) - cpu0[s.name]
                s.rounds[f"{kind} server cpu ms"] = [used / n * 1000]
                used = _cpu_seconds(s.proc.pid, main_thread=True) - main0[s.name]
                s.rounds[f"{kind} main cpu ms"] = [used / n * 1000]
                s.rounds[f"{kind} client cpu ms"] = [client_cpu[s.name] / n * 1000]
    finally:
        for c in clients.values():
            c.close()


def _warm(server: Server) -> None:
    client = Client(server.port)
    try:
        _latency(client, server.single, 100)
        for raw, rows in server.bodies.values():
            _throughput(client, raw, rows, 3)
    finally:
        client.close()


def _bodies(records: list[dict[str, float]], names: list[str]) -> dict[str, tuple[bytes, str]]:
    import orjson
    import pyarrow as pa
    import pyarrow.parquet as pq

    def batch(n: int) -> list[dict[str, float]]:
        return (records * (n // len(records) + 1))[:n]

    out: dict[str, tuple[bytes, str]] = {}
    out["records 1k"] = (orjson.dumps({"records": batch(1000)}), "application/json")
    for n, tag in ((1000, "1k"), (10_000, "10k")):
        rows = batch(n)
        cols = {c: [r[c] for r in rows] for c in names}
        out[f"columns {tag}"] = (orjson.dumps({"columns": cols}), "application/json")
        table = pa.table(cols)
        sink = io.BytesIO()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        out[f"arrow {tag}"] = (sink.getvalue(), "application/vnd.apache.arrow.stream")
        sink = io.BytesIO()
        pq.write_table(table, sink, compression="none")
        out[f"parquet {tag}"] = (sink.getvalue(), "application/vnd.apache.parquet")
    return out


def _rows_of(name: str) -> int:
    return 10_000 if name.endswith("10k") else 1000


def _start_floor(
    name: str,
    tmp: Path,
    onnx_path: Path,
    names: list[str],
    records: list[dict[str, float]],
    stack: list[str],
    env: dict[str, str] | None = None,
) -> Server:
    import orjson

    (tmp / "floor_app.py").write_text(FLOOR_APP)
    port = _free_port()
    cmd = [sys.executable, "-m", "uvicorn", "floor_app:app", "--port", str(port)]
    cmd += ["--log-level", "warning", "--no-access-log", *stack]
    env = {"MODEL": str(onnx_path), "FEATURES": json.dumps(names), **(env or {})}
    proc = _start(cmd, env, tmp)
    single = [Client.encode("/predict", orjson.dumps({"records": [r]})) for r in records[:200]]
    body = orjson.dumps({"records": (records * 2)[:1000]})
    server = Server(
        name, proc, port, single, {"records 1k": (Client.encode("/predict", body), 1000)}
    )
    _wait_up(port, proc, single[0])
    return server


def _start_mlci(
    name: str,
    tmp: Path,
    onnx_path: Path,
    records: list[dict[str, float]],
    names: list[str],
    kinds: list[str],
    extra: list[str],
) -> Server:
    import orjson

    port = _free_port()
    cmd = [sys.executable, "-m", "mlci", "serve", "--model", str(onnx_path), "--port", str(port)]
    proc = _start([*cmd, *extra], {}, tmp)
    single = [Client.encode("/predict", orjson.dumps({"records": [r]})) for r in records[:200]]
    bodies = {
        kind: (Client.encode("/predict", body, ctype), _rows_of(kind))
        for kind, (body, ctype) in _bodies(records, names).items()
        if kind in kinds
    }
    server = Server(name, proc, port, single, bodies)
    _wait_up(port, proc, single[0])
    return server


def _start_mlserver(
    name: str, tmp: Path, joblib_path: Path, records: list[dict[str, float]], names: list[str]
) -> Server | str:
    peer = Path(__file__).parent / ".venv-peer" / "bin" / "mlserver"
    if not peer.exists():
        return "not installed (bench/.venv-peer)"
    import orjson

    models = tmp / "mlserver"
    (models / "model").mkdir(parents=True, exist_ok=True)
    (models / "model" / "model-settings.json").write_text(
        json.dumps(
            {
                "name": "model",
                "implementation": "mlserver_sklearn.SKLearnModel",
                "parameters": {"uri": str(joblib_path), "version": "v1"},
            }
        )
    )
    port = _free_port()
    (models / "settings.json").write_text(
        json.dumps(
            {
                "http_port": port,
                "grpc_port": _free_port(),
                "metrics_port": _free_port(),
                "parallel_workers": 0,
                "debug": False,
            }
        )
    )

    def v2(rows: list[dict[str, float]]) -> bytes:
        flat = [r[c] for r in rows for c in names]
        req = {
            "inputs": [
                {"name": "X", "shape": [len(rows), len(names)], "datatype": "FP64", "data": flat}
            ],
            "outputs": [{"name": "predict"}, {"name": "predict_proba"}],
        }
        return Client.encode("/v2/models/model/infer", orjson.dumps(req))

    proc = _start([str(peer), "start", str(models)], {}, tmp)
    single = [v2([r]) for r in records[:200]]
    server = Server(name, proc, port, single, {"records 1k": (v2((records * 2)[:1000]), 1000)})
    try:
        _wait_up(port, proc, single[0])
    except SystemExit as exc:
        _stop(proc)
        return f"did not start: {str(exc)[-300:]}"
    return server


def _in_process(
    onnx_path: Path, names: list[str], records: list[dict[str, float]], n: int, log_dir: Path
) -> dict[str, dict[str, float]]:
    """Each app called directly on the ASGI channel (no sockets), turn by turn: µs/request.

    This isolates what the handlers themselves cost, which the shared HTTP stack and a
    loaded machine blur in the loopback figures. ``mlci serve --log-dir`` is the same
    app with the prediction log on (its writer thread runs in this process, as it does
    in the service).
    """
    import asyncio

    import orjson

    from mlci.serve.app import create_app, load_served_model
    from mlci.serve.predlog import open_prediction_log

    os.environ["MODEL"], os.environ["FEATURES"] = str(onnx_path), json.dumps(names)
    namespace: dict[str, object] = {}
    exec(FLOOR_APP, namespace)  # noqa: S102 - the floor app of this file
    logged = load_served_model(onnx_path)
    predlog = open_prediction_log(logged, None, log_dir=log_dir)
    apps = {
        "floor": namespace["app"],
        "mlci serve": create_app(load_served_model(onnx_path)),
        "mlci serve --log-dir": create_app(logged, prediction_log=predlog),
    }
    bodies = {
        "single": orjson.dumps({"records": records[:1]}),
        "records 1k": orjson.dumps({"records": (records * 2)[:1000]}),
    }
    # Columnar bodies for `mlci serve` alone (the floor takes records only).
    columnar = {k: v[0] for k, v in _bodies(records, names).items() if k.startswith("columns")}

    async def call(app: object, body: bytes) -> float:
        scope = _scope()

        async def receive() -> dict[str, object]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(_message: dict[str, object]) -> None:
            return None

        start = time.perf_counter()
        await app(scope, receive, send)  # type: ignore[operator]
        return time.perf_counter() - start

    async def run() -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {name: {} for name in apps}
        for kind, body in bodies.items():
            times: dict[str, list[float]] = {name: [] for name in apps}
            for _ in range(n if kind == "single" else max(20, n // 50)):
                for name, app in apps.items():
                    times[name].append(await call(app, body))
            for name in apps:
                out[name][kind] = statistics.median(times[name]) * 1e6
        for kind, body in columnar.items():
            rows = _rows_of(kind)
            samples = [await call(apps["mlci serve"], body) for _ in range(max(20, n // rows))]
            out["mlci serve"][kind] = statistics.median(samples) * 1e6
        return out

    try:
        return asyncio.run(run())
    finally:
        if predlog is not None:
            predlog.close()


def _scope() -> dict[str, object]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/predict",
        "raw_path": b"/predict",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 2),
    }


def _tail_child(
    onnx_path: Path,
    records: list[dict[str, float]],
    seconds: float,
    log_dir: Path | None,
    conn: Any,
) -> None:
    """One side of `_log_tail`, in its own process: single-row calls for ``seconds``."""
    import asyncio
    import gc

    import orjson

    from mlci.serve import predlog as predlog_module
    from mlci.serve.app import create_app, load_served_model
    from mlci.serve.predlog import open_prediction_log

    holds: list[float] = []
    mark = [time.thread_time()]
    pause, write_all = predlog_module._pause, predlog_module._write_all
    write = predlog_module.PredictionLog._write

    def cut() -> None:
        if threading.current_thread().name != "mlci-predlog":
            return  # the log's first message, sent when it opens
        now = time.thread_time()
        holds.append(now - mark[0])
        mark[0] = now

    def timed_pause() -> None:
        cut()
        pause()
        mark[0] = time.thread_time()

    def timed_write_all(fd: int, data: object) -> None:  # the pipe runs without the GIL
        cut()
        write_all(fd, data)
        mark[0] = time.thread_time()

    def timed_write(self: predlog_module.PredictionLog, entries: object) -> None:
        mark[0] = time.thread_time()  # not the wait for the GIL before it
        write(self, entries)

    predlog_module._pause = timed_pause  # type: ignore[assignment]
    predlog_module._write_all = timed_write_all  # type: ignore[assignment]
    predlog_module.PredictionLog._write = timed_write  # type: ignore[method-assign]
    served = load_served_model(onnx_path)
    predlog = open_prediction_log(served, None, log_dir=log_dir) if log_dir else None
    app = create_app(served, prediction_log=predlog)
    bodies = [orjson.dumps({"records": [r]}) for r in records[:200]]
    gc.collect()
    gc.freeze()  # as mlci serve does at start-up

    async def call(body: bytes) -> float:
        async def receive() -> dict[str, object]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(_message: dict[str, object]) -> None:
            return None

        start = time.perf_counter()
        await app(_scope(), receive, send)
        return time.perf_counter() - start

    async def run() -> list[float]:
        for body in bodies:  # warm up; the writer's first flush opens its file
            await call(body)
        while predlog is not None and predlog.rows_written < len(bodies):
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.2)
        holds.clear()
        times: list[float] = []
        end = time.monotonic() + seconds
        i = 0
        while time.monotonic() < end:
            await asyncio.sleep(0)  # the loop polls (GIL released), as between requests
            times.append(await call(bodies[i % len(bodies)]))
            i += 1
        return times

    times = asyncio.run(run())
    if predlog is not None:
        predlog.close()
    out = {f"p{q * 100:g}": _pct(times, q) * 1e6 for q in (0.5, 0.99, 0.999)}
    out["requests"] = float(len(times))
    out["rows_written"] = float(predlog.rows_written if predlog else 0)
    out["longest hold"] = max(holds, default=0.0) * 1e6
    conn.send(out)
    conn.close()


def _log_tail(
    onnx_path: Path, records: list[dict[str, float]], seconds: float, log_dir: Path
) -> dict[str, dict[str, float]]:
    """The log's effect on the single-row tail while its writer works.

    Two processes at the same time (so under the same load), each calling its app on
    the ASGI channel for ``seconds``: `mlci serve` without and with the prediction log.
    Before each call the event loop polls for I/O, releasing the GIL as a server's does
    between requests: the writer may take it then, and the request waits until the
    writer lets go. The writer flushes every second of the run (the short in-process
    run above never sees a flush), and it must be a process of its own: a writer thread
    slows every request of its process, logged or not. Also measured: the writer's
    longest stretch holding the GIL: its thread's CPU time from the start of a flush to
    the first point where it lets go, and between two such points (the pauses between
    steps and the writes to the writer process's pipe, which run without the GIL).
    """
    import multiprocessing

    # spawn, not fork: a child forked after onnxruntime started its threads can hang
    # loading the model (a lock held by a thread that does not exist in the child).
    ctx = multiprocessing.get_context("spawn")
    procs, pipes = {}, {}
    for name, directory in (("without", None), ("with", log_dir)):
        receiver, sender = ctx.Pipe(duplex=False)
        proc = ctx.Process(
            target=_tail_child, args=(onnx_path, records, seconds, directory, sender)
        )
        proc.start()
        procs[name], pipes[name] = proc, receiver
    out = {name: pipes[name].recv() for name in procs}
    for proc in procs.values():
        proc.join()
    return out


def _print_log_overhead(
    med: dict[str, dict[str, float]],
    inproc: dict[str, dict[str, float]],
    tail: dict[str, dict[str, float]],
) -> None:
    """The prediction log's cost: the same app with and without ``--log-dir``, this run.

    Over loopback the two servers took turns request by request, and in-process the two
    apps took turns call by call, so each ratio compares figures measured under the same
    load. A ratio of 1.05 in time (or 0.95 in rows/s) is a 5 % slowdown.
    """
    plain, logged = med["mlci serve"], med["mlci serve --log-dir"]
    a, b = inproc["mlci serve"], inproc["mlci serve --log-dir"]
    rows = [
        ("loopback single p50 ms", plain["p50_ms"], logged["p50_ms"], ".3f"),
        ("loopback single p99 ms", plain["p99_ms"], logged["p99_ms"], ".2f"),
        ("loopback records 1k rows/s", plain["records 1k"], logged["records 1k"], ",.0f"),
        ("in-process single µs", a["single"], b["single"], ".0f"),
        ("in-process records 1k µs", a["records 1k"], b["records 1k"], ",.0f"),
    ]
    for tag in ("p50", "p99", "p99.9"):
        rows.append(
            (
                f"own process single {tag} µs, writer busy",
                tail["without"][tag],
                tail["with"][tag],
                ".0f",
            )
        )
    print("\n| prediction log overhead | without | with --log-dir | with / without |")
    print("| --- | ---: | ---: | ---: |")
    for name, without, with_log, fmt in rows:
        print(f"| {name} | {without:{fmt}} | {with_log:{fmt}} | {with_log / without:.3f} |")
    print(
        f"\nwriter busy: {tail['without']['requests']:,.0f} and {tail['with']['requests']:,.0f}"
        f" single-row requests, {tail['with']['rows_written']:,.0f} rows logged; the"
        f" writer's longest GIL hold {tail['with']['longest hold']:.0f} µs (thread CPU time)"
    )


def _print_bodies(
    floor: dict[str, float], quiet: dict[str, float], mlci: dict[str, float], kinds: list[str]
) -> None:
    """Each body's rows/s against the floor's records, by the clock and by CPU time.

    Against both floors: the floor app as written, and the same app with onnxruntime's
    worker threads sleeping between runs (``quiet``; a spinning worker takes a core on
    a 2-core machine, from its own server and from the others). Besides the wall-clock
    rows/s (what a client sees), the server's CPU time per request: its process's (all
    threads: spinning workers count) and its main thread's (the event loop, the
    parsing, the model's run on the calling thread), whose rows per CPU second a loaded
    machine blurs much less; and the load generator's own CPU time per request, which
    shows whether the client is what limits a figure (it sends pre-encoded bytes and
    reads the answer whole).
    """
    base, base_quiet = floor["records 1k"], quiet["records 1k"]
    base_main = 1000 / floor["records 1k main cpu ms"]
    print(
        "\n| body | rows/s | vs the floor's records 1k | vs the no-spinning floor's"
        " | server CPU ms/request | main thread CPU ms/request"
        " | rows per main-thread CPU s vs the floor's | client CPU ms/request |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    rows = [
        ("floor: records 1k", floor, "records 1k"),
        ("floor, no spinning: records 1k", quiet, "records 1k"),
        *((f"mlci serve: {k}", mlci, k) for k in kinds),
    ]
    for label, res, kind in rows:
        if kind not in res:
            continue
        main = res[f"{kind} main cpu ms"]
        print(
            f"| {label} | {res[kind]:,.0f} | {res[kind] / base:.1f}x"
            f" | {res[kind] / base_quiet:.1f}x | {res[f'{kind} server cpu ms']:.2f}"
            f" | {main:.2f} | {_rows_of(kind) / max(main, 1e-9) / base_main:.1f}x"
            f" | {res[f'{kind} client cpu ms']:.2f} |"
        )


def _predicted_rows(servers: list[Server]) -> int:
    """Rows the ``mlci serve --log-dir`` server says it answered (its ``/metrics``)."""
    import re

    import requests

    (server,) = (s for s in servers if s.name == "mlci serve --log-dir")
    text = requests.get(f"http://127.0.0.1:{server.port}/metrics", timeout=10).text
    found = re.search(r"^mlci_predicted_rows_total\{[^}]*\} (\S+)$", text, re.MULTILINE)
    return int(float(found.group(1))) if found else -1


def _logged_rows(directory: Path) -> int:
    """Rows in the finished files of a prediction log."""
    import pyarrow.parquet as pq

    return sum(pq.read_metadata(f).num_rows for f in directory.glob("*.parquet"))


def _load() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--single", type=int, default=2000, help="single-row requests a round")
    parser.add_argument("--batches", type=int, default=60, help="1,000-row batches a round")
    parser.add_argument(
        "--kinds",
        default="records 1k,columns 1k,arrow 1k,parquet 1k,columns 10k,arrow 10k,parquet 10k",
        help="comma-separated batch bodies for mlci serve",
    )
    parser.add_argument("--no-peer", action="store_true", help="skip MLServer")
    parser.add_argument(
        "--log-seconds",
        type=float,
        default=20.0,
        help="seconds of the in-process single-row run with the log's writer busy",
    )
    args = parser.parse_args()
    kinds = [k.strip() for k in args.kinds.split(",")]
    servers: list[Server] = []
    skipped: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        onnx_path, joblib_path, records, names = _train(tmp)
        print(f"load average at start: {_load()} (1/5/15 min), {os.cpu_count()} CPUs")
        try:
            servers.append(_start_floor("floor", tmp, onnx_path, names, records, []))
            servers.append(
                _start_floor(
                    "floor, no spinning",
                    tmp,
                    onnx_path,
                    names,
                    records,
                    [],
                    {"NO_SPIN": "1"},
                )
            )
            servers.append(
                _start_floor(
                    "floor, h11 + asyncio",
                    tmp,
                    onnx_path,
                    names,
                    records,
                    ["--http", "h11", "--loop", "asyncio"],
                )
            )
            servers.append(_start_mlci("mlci serve", tmp, onnx_path, records, names, kinds, []))
            servers.append(
                _start_mlci(
                    "mlci serve --log-dir",
                    tmp,
                    onnx_path,
                    records,
                    names,
                    ["records 1k"],
                    ["--log-dir", str(tmp / "predlog")],
                )
            )
            if not args.no_peer:
                peer = _start_mlserver("MLServer (sklearn)", tmp, joblib_path, records, names)
                if isinstance(peer, str):
                    skipped["MLServer (sklearn)"] = peer
                else:
                    servers.append(peer)
            for server in servers:
                _warm(server)
            _interleaved(servers, args)
            print(f"  measured (load {_load()})", flush=True)
            answered = _predicted_rows(servers)
        finally:
            for server in servers:
                _stop(server.proc)
        logged = _logged_rows(tmp / "predlog")
        inproc = _in_process(onnx_path, names, records, args.single, tmp / "predlog-asgi")
        tail = _log_tail(onnx_path, records, args.log_seconds, tmp / "predlog-tail")
    med = {s.name: {k: statistics.median(v) for k, v in s.rounds.items()} for s in servers}
    floor = med["floor"]
    print(
        "\n| server | single p50 ms | single p99 ms | records 1k rows/s"
        " | rows/s vs floor | p50 vs floor | server CPU µs/single | CPU vs floor |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, res in med.items():
        print(
            f"| {name} | {res['p50_ms']:.3f} | {res['p99_ms']:.2f} | {res['records 1k']:,.0f}"
            f" | {res['records 1k'] / floor['records 1k']:.2f}x"
            f" | {res['p50_ms'] / floor['p50_ms']:.2f}x"
            f" | {res['cpu_us']:.0f} | {res['cpu_us'] / max(floor['cpu_us'], 1e-9):.2f}x |"
        )
    for name, why in skipped.items():
        print(f"| {name} | {why} | | | | | | |")
    print("\n| in-process (ASGI, no sockets) | single µs | records 1k µs |")
    print("| --- | ---: | ---: |")
    for name, res in inproc.items():
        ratio = (
            ""
            if name == "floor"
            else (
                f" ({res['single'] / inproc['floor']['single']:.2f}x,"
                f" {res['records 1k'] / inproc['floor']['records 1k']:.2f}x)"
            )
        )
        print(f"| {name}{ratio} | {res['single']:.0f} | {res['records 1k']:,.0f} |")
    shown = [k for k in inproc["mlci serve"] if k.startswith("columns")]
    print(
        "\nin process, mlci serve: "
        + ", ".join(f"{k} {inproc['mlci serve'][k]:,.0f} µs" for k in shown)
        + f" (the floor's records 1k: {inproc['floor']['records 1k']:,.0f} µs)"
    )
    _print_log_overhead(med, inproc, tail)
    print(
        f"over loopback the --log-dir server answered {answered:,} rows and logged"
        f" {logged:,} ({answered - logged:,} dropped or lost)"
    )
    _print_bodies(floor, med["floor, no spinning"], med["mlci serve"], kinds)
    print(f"\nload average at end: {_load()}")


if __name__ == "__main__":
    main()
