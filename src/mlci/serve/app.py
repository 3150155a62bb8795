"""The prediction service: an ASGI app with ``/predict``, ``/health``, ``/metadata``, ``/metrics``.

Starlette, uvicorn, orjson and prometheus-client are imported only when a service
is built, so the rest of mlci never pays for them.

Design, chosen by measurement (bench/serve_bench.py, bench/README.md): Starlette's
routing, with the body read straight from the ASGI channel (bounded, with a
deadline), parsed by orjson, validated one pass per column into one float block
(numeric schemas), scored by onnxruntime directly on that block (one session run
for labels and probabilities), and answered by orjson, which encodes numpy arrays
natively. Logging and metrics stay off the hot path: a queue put and a few counter
increments.
"""

from __future__ import annotations

import itertools
import logging
import math
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from secrets import token_hex
from typing import TYPE_CHECKING, Any, Protocol

from mlci.errors import InputError
from mlci.results import to_jsonable
from mlci.serve.payload import (
    ARROW_TYPES,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_ROWS,
    JSON_TYPES,
    PARQUET_TYPES,
    Batch,
    ColumnType,
    InputSchema,
    PayloadError,
    parse_request,
)

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from starlette.responses import Response
    from starlette.types import ASGIApp

    from mlci.serve.metrics import ServiceMetrics
    from mlci.serve.predlog import PredictionLog

__all__ = [
    "INSTALL_HINT",
    "Limits",
    "Prediction",
    "Predictor",
    "ServedModel",
    "create_app",
    "load_served_model",
    "require_stack",
]

INSTALL_HINT = "reinstall mlci with its dependencies (`pip install --force-reinstall mlci`)"
INLINE_ROWS = 32
_FLOAT32_MAX = 3.4028234663852886e38
INLINE_ROWS_FAST = 20_000  # onnxruntime on a float block: about 50 us per 1,000 rows
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
log = logging.getLogger("mlci.serve")


def require_stack() -> None:
    """Check that the serving stack (Starlette, uvicorn, orjson, prometheus-client) imports.

    Raises:
        InputError: with the install hint when a part is missing.
    """
    try:
        import orjson  # noqa: F401
        import prometheus_client  # noqa: F401
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise InputError(
            f"mlci serve: the prediction service needs Starlette, uvicorn, orjson and"
            f" prometheus-client ({exc.name} is missing); {INSTALL_HINT}"
        ) from None


class Predictor(Protocol):
    """What the service needs from a loaded model (`mlci.model.load.LoadedModel` fits)."""

    @property
    def feature_names(self) -> Sequence[str] | None: ...  # noqa: D102

    @property
    def classes(self) -> Sequence[Any] | None: ...  # noqa: D102

    @property
    def format(self) -> str: ...  # noqa: D102

    def predict(self, frame: pd.DataFrame) -> Any: ...  # noqa: D102

    def predict_proba(self, frame: pd.DataFrame) -> Any: ...  # noqa: D102


@dataclass
class Prediction:
    """What the model answered for a batch.

    Attributes:
        labels: One prediction per row (labels or values).
        proba: Class probabilities (rows x classes), None for a regressor.
    """

    labels: np.ndarray
    proba: np.ndarray | None


@dataclass
class Limits:
    """What one service accepts and how much it does at once.

    Attributes:
        max_body_bytes: Largest request body (413 above it).
        max_rows: Largest batch (413 above it, counted before the rows are built).
        max_concurrent: Requests handled at once; more get 503 at once.
        max_buffered_bytes: Request bodies held in memory at once, all requests
            together; a body that would pass it gets 503.
        predict_threads: Predictions of large batches run at once in worker threads.
    """

    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_rows: int = DEFAULT_MAX_ROWS
    max_concurrent: int = 64
    max_buffered_bytes: int = 256 * 1024 * 1024
    predict_threads: int = 2


@dataclass
class ServedModel:
    """A loaded model with what the service says about it.

    Attributes:
        predictor: The loaded model.
        schema: Input columns and types (None: take the columns as sent).
        metadata: Registry metadata, or a small description of a plain file.
        version: The registry version, when served from the registry.
        path: The file the predictor was loaded from.
    """

    predictor: Predictor
    schema: InputSchema | None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    version: int | None = None
    path: Path | None = None
    _fast: Any = field(default=None, init=False, repr=False)
    _classes: list[Any] | None = field(default=None, init=False, repr=False)
    _session_run: Any = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self._fast = _onnx_fast_path(self.predictor, self.schema)
        if self._fast is not None:
            self._session_run = _session_runner(self.predictor.session)  # type: ignore[attr-defined]
        classes = self.predictor.classes
        self._classes = list(classes) if classes is not None and len(classes) > 0 else None

    @property
    def classes(self) -> list[Any] | None:
        """The class labels (None for a regressor)."""
        return self._classes

    @property
    def fast(self) -> bool:
        """Whether float blocks go straight to onnxruntime (cheap enough to run inline)."""
        return self._fast is not None

    def run(self, batch: Batch) -> Prediction:
        """Score ``batch``: labels, and probabilities for a classifier."""
        import numpy as np

        if self._fast is not None and batch.matrix is not None:
            name, dtype = self._fast
            m = batch.matrix
            if dtype is np.float32 and not _fits_float32(m, batch.nulls):
                _too_big_for_float32(batch)
            outputs = self._session_run({name: m.astype(dtype)})
            labels = outputs[0]
            if labels.ndim == 2 and labels.shape[1] == 1:
                labels = labels.reshape(-1)
            proba = outputs[1] if len(outputs) > 1 and self._classes is not None else None
            return Prediction(labels, proba)
        frame = batch.frame()
        labels = np.asarray(self.predictor.predict(frame))
        proba = self.predictor.predict_proba(frame) if self._classes is not None else None
        return Prediction(labels, None if proba is None else np.asarray(proba, np.float64))

    def predict(self, frame: pd.DataFrame) -> dict[str, Any]:
        """Predictions (and class probabilities for classifiers) of a frame, as JSON data."""
        batch = Batch([str(c) for c in frame.columns], len(frame), _frame=frame)
        result = self.run(batch)
        out: dict[str, Any] = {"predictions": to_jsonable(result.labels.tolist())}
        if result.proba is not None:
            out["probabilities"] = to_jsonable(result.proba.tolist())
            out["classes"] = to_jsonable(self.classes)
        out["model_version"] = self.version
        return out


def _session_runner(session: Any) -> Any:
    """A function running ``session`` on a feed dict, for all its outputs.

    onnxruntime's C-level ``run`` when the session has one: the Python wrapper checks
    the feed's names and devices again on every call, which costs a fifth of a single
    row's prediction; this service always feeds its one input as a numpy array.
    """
    names = [output.name for output in session.get_outputs()]
    inner = getattr(session, "_sess", None)
    if inner is not None and callable(getattr(inner, "run", None)):
        return lambda feed: inner.run(names, feed, None)
    return lambda feed: session.run(names, feed)  # pragma: no cover - other onnxruntimes


_SMALL = 256  # values: below this, Python over a list beats numpy's per-call cost


def _fits_float32(m: np.ndarray, nulls: bool) -> bool:
    """Whether every value of ``m`` is within the float32 range (NaN, a null, is)."""
    import numpy as np

    if nulls:
        return not bool((np.abs(m) > _FLOAT32_MAX).any())  # NaN compares False
    if m.size <= _SMALL:
        return bool(max(map(abs, m.ravel().tolist())) <= _FLOAT32_MAX)
    # The largest and smallest value: two passes without the temporary block of abs().
    return float(m.max()) <= _FLOAT32_MAX and float(m.min()) >= -_FLOAT32_MAX


def _all_finite(values: np.ndarray) -> bool:
    """Whether every value is finite."""
    import numpy as np

    if values.size <= _SMALL:
        return all(map(math.isfinite, values.ravel().tolist()))
    return bool(np.isfinite(values).all())


def _too_big_for_float32(batch: Batch) -> None:
    import numpy as np

    assert batch.matrix is not None
    big = np.abs(batch.matrix) > _FLOAT32_MAX
    if not big.any():
        return
    row, col = (int(x[0]) for x in np.nonzero(big))
    raise PayloadError(
        422,
        f"column {batch.names[col]!r}, row {row}: {batch.matrix[row, col]:g} is beyond the"
        " range of the model's 32-bit float input",
    )


def _onnx_fast_path(predictor: Any, schema: InputSchema | None) -> tuple[str, Any] | None:
    """``(input name, dtype)`` when an ONNX model takes the schema's float block as is."""
    import numpy as np

    inputs = getattr(predictor, "inputs", None)
    session = getattr(predictor, "session", None)
    if session is None or not inputs or len(inputs) != 1 or schema is None:
        return None
    if not schema.numeric or list(schema.columns) != list(predictor.feature_names or []):
        return None
    dtype = {"tensor(float)": np.float32, "tensor(double)": np.float64}.get(inputs[0].type)
    outputs = getattr(predictor, "outputs", [])
    if dtype is None or (len(outputs) > 1 and outputs[1].type.startswith("seq")):
        return None  # a ZipMap output (list of dicts) takes the general path
    return inputs[0].name, dtype


def _schema_from_metadata(metadata: Mapping[str, Any]) -> InputSchema | None:
    raw = metadata.get("input_schema")
    return InputSchema.from_dict(raw) if isinstance(raw, Mapping) else None


_ONNX_TYPES: dict[str, ColumnType] = {
    "tensor(float)": "number",
    "tensor(double)": "number",
    "tensor(int64)": "integer",
    "tensor(int32)": "integer",
    "tensor(bool)": "boolean",
    "tensor(string)": "string",
}


def _schema_from_model(loaded: Any) -> InputSchema | None:
    """Column types from an ONNX graph's inputs; names only for other models."""
    names = loaded.feature_names
    if not names:
        return None
    inputs = getattr(loaded, "inputs", None)  # OnnxModel: onnxruntime NodeArg list
    if inputs and len(inputs) == 1:
        kind = _ONNX_TYPES.get(inputs[0].type, "any")
        return InputSchema({str(n): kind for n in names})
    if inputs:
        by_name = {i.name: _ONNX_TYPES.get(i.type, "any") for i in inputs}
        return InputSchema({str(n): by_name.get(n, "any") for n in names})
    return InputSchema({str(n): "any" for n in names})


def load_served_model(
    path: Path,
    *,
    metadata: Mapping[str, Any] | None = None,
    version: int | None = None,
    trusted: bool = False,
    features: Sequence[str] | None = None,
    trusted_types: Sequence[str] = (),
) -> ServedModel:
    """Load a model file for serving (ONNX through onnxruntime, skops safely).

    The input schema comes from the registry metadata (``input_schema``, recorded
    from the eval data at deploy time); for a bare file it is the model's feature
    names with types left to the model.
    """
    from mlci.model.load import load_model

    loaded = load_model(
        path,
        trusted=trusted,
        features=list(features) if features else None,
        trusted_types=trusted_types,
        serving=True,
    )
    meta = dict(metadata or {})
    schema = _schema_from_metadata(meta) or _schema_from_model(loaded)
    if not meta:
        meta = {"model_file": path.name, "sha256": loaded.sha256, "format": loaded.format}
    return ServedModel(loaded, schema, meta, version, path)


# -- the app -----------------------------------------------------------------------------


def _json(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    import orjson
    from starlette.responses import Response

    return Response(
        orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY),
        status_code=status,
        media_type="application/json",
        headers=dict(headers or {}),
    )


_Answer = tuple[int, bytes, list[tuple[bytes, bytes]]]
_JSON_HEADER = (b"content-type", b"application/json")


def _answer(body: Any, status: int, request_id: str, *, close: bool = False) -> _Answer:
    """A ``/predict`` answer for the raw ASGI channel: status, JSON bytes, headers."""
    import orjson

    data = orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)
    headers = [
        _JSON_HEADER,
        (b"content-length", str(len(data)).encode()),
        (b"x-request-id", request_id.encode()),
    ]
    if close:
        headers.append((b"connection", b"close"))  # the rest of the body is not read
    return status, data, headers


def _error(status: int, message: str, request_id: str) -> _Answer:
    body = {"error": message, "status": status, "request_id": request_id}
    return _answer(body, status, request_id, close=status in (408, 413, 503))


def _labels_json(labels: np.ndarray) -> Any:
    """Labels as orjson takes them: numeric arrays as they are, others as lists."""
    if labels.dtype.kind in "biuf":
        return labels
    return to_jsonable(labels.tolist())


def _bad_outputs(batch: Batch, result: Prediction) -> str | None:
    """Why the answer is not a prediction (non-finite values), naming the first row."""
    import numpy as np

    labels_ok = result.labels.dtype.kind != "f" or _all_finite(result.labels)
    proba_ok = result.proba is None or _all_finite(result.proba)
    if labels_ok and proba_ok:
        return None
    bad = np.zeros(len(result.labels), dtype=bool)
    if not labels_ok:
        bad |= ~np.isfinite(result.labels)
    if not proba_ok and result.proba is not None:
        bad |= ~np.isfinite(result.proba).all(axis=1)
    row = int(np.nonzero(bad)[0][0])
    missing = batch.null_columns(row) if batch.nulls else []
    why = (
        f"the model cannot take a missing value in {', '.join(map(repr, missing[:10]))}"
        if missing
        else "the model gave a non-finite answer"
    )
    return f"row {row}: {why}; send a value for every column this model needs"


def _media_type(raw: str) -> str:
    return raw.split(";", 1)[0].strip().lower()


class _Predict:
    """``POST /predict`` on the raw ASGI channel (no per-request framework objects)."""

    def __init__(
        self,
        served: ServedModel,
        lim: Limits,
        stats: ServiceMetrics,
        prediction_log: PredictionLog | None,
    ):
        import anyio
        from starlette.requests import ClientDisconnect

        self.served = served
        self.lim = lim
        self.stats = stats
        self.prediction_log = prediction_log
        self.active = 0
        self.buffered = 0
        self.limiter = anyio.CapacityLimiter(lim.predict_threads)
        self.to_thread = anyio.to_thread.run_sync
        self.disconnect = ClientDisconnect
        self.classes_json = to_jsonable(served.classes) if served.classes is not None else None
        self.inline_rows = INLINE_ROWS_FAST if served.fast else INLINE_ROWS
        # Request ids: this process's random prefix and a counter (unique, 32 hex
        # digits; a random id per request costs a system call).
        self.id_prefix = token_hex(8)
        self.id_counter = itertools.count()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        t0 = time.perf_counter()
        # One pass over the raw headers (names arrive lower-cased).
        ctype_raw = length = sent_id = None
        for key, value in scope["headers"]:
            if key == b"content-type":
                ctype_raw = value
            elif key == b"content-length":
                length = value
            elif key == b"x-request-id":
                sent_id = value.decode("latin-1")
        rid = sent_id if sent_id and _REQUEST_ID.fullmatch(sent_id) else self.new_id()
        if self.active >= self.lim.max_concurrent:
            answer = _error(503, "the service is at its limit of concurrent requests; retry", rid)
        else:
            self.active += 1
            try:
                answer = await self.handle(scope, receive, rid, ctype_raw, length)
            finally:
                self.active -= 1
        status, data, headers = answer
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": data})
        self.stats.request("predict", status, time.perf_counter() - t0)

    def new_id(self) -> str:
        """A request id for a request that did not send a sane one."""
        return f"{self.id_prefix}{next(self.id_counter):016x}"

    async def read_body(self, receive: Any, length: bytes | None) -> bytes:
        """The body, bounded in size (this request's and all requests' together)."""
        # No timer here (one per request costs more than the prediction of a row):
        # the server's protocol ends a body that does not arrive in time.
        limit = self.lim.max_body_bytes
        declared = length.decode("latin-1") if length is not None else None
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise PayloadError(413, f"body of {declared} bytes is over the limit of {limit}")
        chunks: list[bytes] = []
        size = 0
        try:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise self.disconnect
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise PayloadError(413, f"body is over the limit of {limit} bytes")
                if self.buffered + len(chunk) > self.lim.max_buffered_bytes:
                    raise PayloadError(503, "the service is busy (memory); retry later")
                self.buffered += len(chunk)
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
        finally:
            self.buffered -= sum(map(len, chunks))
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def handle(
        self, scope: Any, receive: Any, rid: str, ctype_raw: bytes | None, length: bytes | None
    ) -> _Answer:
        """Read, parse, validate and score one request; every refusal is an answer."""
        ctype = _content_type(ctype_raw)
        if ctype is None:
            kinds = ", ".join(sorted(JSON_TYPES | ARROW_TYPES | PARQUET_TYPES))
            shown = _media_type((ctype_raw or b"").decode("latin-1"))
            return _error(415, f"content type {shown!r} is not one of {kinds}", rid)
        served = self.served
        try:
            body = await self.read_body(receive, length)
            batch = parse_request(
                body, served.schema, content_type=ctype, max_rows=self.lim.max_rows
            )
            del body
            if batch.rows <= self.inline_rows:  # a thread hop costs more than the prediction
                result = served.run(batch)
            else:  # big batches run in a thread so /health stays responsive
                result = await self.to_thread(served.run, batch, limiter=self.limiter)
            problem = _bad_outputs(batch, result)
            if problem is not None:
                raise PayloadError(422, problem)
        except PayloadError as exc:
            return _error(exc.status, exc.message, rid)
        except self.disconnect:
            if scope.get("mlci.body_timeout"):
                log.info("request %s: the body did not arrive in time; answered 408", rid)
                return 408, b"", []
            log.info("request %s: the client closed the connection before the body ended", rid)
            return 499, b"", []
        except (ValueError, TypeError, KeyError, InputError) as exc:
            # The model refused the input (e.g. an unseen category).
            message = f"the model could not predict on this input: {exc}"[:2000]
            return _error(422, message, rid)
        return self.success(batch, result, rid)

    def success(self, batch: Batch, result: Prediction, rid: str) -> _Answer:
        """The 200 answer; the predictions counted and logged."""
        out: dict[str, Any] = {"predictions": _labels_json(result.labels)}
        if result.proba is not None:
            out["probabilities"] = result.proba
            out["classes"] = self.classes_json
        out["model_version"] = self.served.version
        out["request_id"] = rid
        self.stats.predictions(result.labels)
        if self.prediction_log is not None:
            self.prediction_log.submit(batch, result, rid)
        return _answer(out, 200, rid)


def _content_type(raw: bytes | None) -> str | None:
    """The media type of a body the service takes (``+json`` is JSON), or None."""
    if raw is None or raw == b"application/json":
        return "application/json"
    ctype = _media_type(raw.decode("latin-1"))
    if ctype.endswith("+json"):
        return "application/json"
    if ctype in JSON_TYPES or ctype in ARROW_TYPES or ctype in PARQUET_TYPES:
        return ctype
    return None


def _framework_routes(served: ServedModel, stats: ServiceMetrics) -> ASGIApp:
    """``/health``, ``/metadata``, ``/metrics`` and the 405 of ``/predict``, on Starlette."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    started = time.time()
    classes_json = to_jsonable(served.classes) if served.classes is not None else None

    async def health(_request: Request) -> Response:
        return _json(
            {
                "status": "ok",
                "model_version": served.version,
                "format": served.predictor.format,
                "uptime_s": round(time.time() - started, 3),
            }
        )

    async def metadata(_request: Request) -> Response:
        body = {
            "model_version": served.version,
            "format": served.predictor.format,
            "features": to_jsonable(list(served.predictor.feature_names or [])),
            "classes": classes_json or [],
            "input_schema": served.schema.to_dict() if served.schema else None,
            "metadata": to_jsonable(dict(served.metadata)),
            "accepts": sorted(JSON_TYPES | ARROW_TYPES | PARQUET_TYPES),
        }
        return _json(body)

    async def metrics_route(_request: Request) -> Response:
        data, ctype = stats.render()
        return Response(data, media_type=None, headers={"content-type": ctype})

    async def predict_other(_request: Request) -> Response:
        return _json({"error": "use POST /predict", "status": 405}, 405, {"allow": "POST"})

    return Starlette(
        routes=[
            Route("/predict", predict_other, methods=["GET", "PUT", "PATCH", "DELETE"]),
            Route("/health", health, methods=["GET"]),
            Route("/metadata", metadata, methods=["GET"]),
            Route("/metrics", metrics_route, methods=["GET"]),
        ]
    )


def create_app(
    served: ServedModel,
    *,
    max_body_bytes: int | None = None,
    max_rows: int | None = None,
    limits: Limits | None = None,
    prediction_log: PredictionLog | None = None,
    metrics: ServiceMetrics | None = None,
) -> ASGIApp:
    """The ASGI application serving ``served``.

    Routes: ``POST /predict`` (JSON records or columns, an Arrow IPC stream or file, or
    Parquet; a batch), ``GET /health``, ``GET /metadata``, ``GET /metrics``
    (Prometheus). Bad requests get a 4xx with ``{"error": message, "status": code}``:
    400 for a body that does not parse, 408 for a body not received in time, 413 for
    an oversized body or batch, 415 for an unknown content type, 422 for wrong columns
    or types and for inputs the model cannot take; 503 when the service is at its
    limit of concurrent requests or buffered bytes. Every answer of ``/predict``
    carries a ``request_id`` (the client's ``X-Request-ID`` when it is sane).
    """
    require_stack()
    from mlci.serve.metrics import ServiceMetrics

    lim = limits or Limits()
    if max_body_bytes is not None:
        lim.max_body_bytes = max_body_bytes
    if max_rows is not None:
        lim.max_rows = max_rows
    stats = metrics or ServiceMetrics(served.version, served.predictor.format, served.classes)
    predict = _Predict(served, lim, stats, prediction_log)
    router = _framework_routes(served, stats)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        # The hot route skips the framework (measured: its per-request objects cost
        # more than validating a row); everything else goes through Starlette.
        if scope["type"] == "http" and scope["path"] == "/predict" and scope["method"] == "POST":
            await predict(scope, receive, send)
        else:
            await router(scope, receive, send)

    return app
