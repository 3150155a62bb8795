"""The prediction service: a Starlette app with ``/predict``, ``/health`` and ``/metadata``.

Starlette and uvicorn are an optional extra (``pip install 'mlci[serve]'``) and
are imported only when a service is built, so the rest of mlci never needs them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from mlci.errors import InputError
from mlci.results import to_jsonable
from mlci.serve.payload import (
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_ROWS,
    ColumnType,
    InputSchema,
    PayloadError,
    parse_body,
)

if TYPE_CHECKING:
    import pandas as pd
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse

__all__ = [
    "INSTALL_HINT",
    "Predictor",
    "ServedModel",
    "create_app",
    "load_served_model",
    "require_stack",
]

INSTALL_HINT = "install the serving extra with `pip install 'mlci[serve]'`"
INLINE_ROWS = 32
_TYPES: tuple[ColumnType, ...] = ("number", "integer", "string", "boolean", "any")


def require_stack() -> None:
    """Check that Starlette and uvicorn are importable.

    Raises:
        InputError: with the install hint when they are missing.
    """
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise InputError(
            f"mlci serve: the prediction service needs Starlette and uvicorn ({exc.name} is"
            f" missing); {INSTALL_HINT}"
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

    def predict(self, frame: pd.DataFrame) -> dict[str, Any]:
        """Predictions (and class probabilities for classifiers) as JSON data."""
        out: dict[str, Any] = {"predictions": _plain(self.predictor.predict(frame))}
        classes = self.predictor.classes
        if classes is not None and len(classes) > 0:
            out["probabilities"] = _plain(self.predictor.predict_proba(frame))
            out["classes"] = to_jsonable(list(classes))
        out["model_version"] = self.version
        return out


def _plain(values: Any) -> Any:
    """Model output as JSON data: ``tolist()`` when finite (fast), else NaN/inf become null."""
    import numpy as np

    if values is None:
        return None
    arr = np.asarray(values)
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        return to_jsonable(arr)
    if arr.dtype.kind in "biuf":
        return arr.tolist()
    return to_jsonable(arr)


def _schema_from_metadata(metadata: Mapping[str, Any]) -> InputSchema | None:
    raw = metadata.get("input_schema")
    if not isinstance(raw, Mapping) or not isinstance(raw.get("columns"), list):
        return None
    cols: dict[str, ColumnType] = {}
    for col in raw["columns"]:
        if isinstance(col, Mapping) and isinstance(col.get("name"), str):
            kind = col.get("type")
            cols[col["name"]] = kind if kind in _TYPES else "any"
    return InputSchema(cols) if cols else None


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
) -> ServedModel:
    """Load a model file for serving (ONNX through onnxruntime, skops safely).

    The input schema comes from the registry metadata (``input_schema``, recorded
    from the eval data at deploy time); for a bare file it is the model's feature
    names with types left to the model.
    """
    from mlci.model.load import load_model

    loaded = load_model(path, trusted=trusted, features=list(features) if features else None)
    meta = dict(metadata or {})
    schema = _schema_from_metadata(meta) or _schema_from_model(loaded)
    if not meta:
        meta = {"model_file": path.name, "sha256": loaded.sha256, "format": loaded.format}
    return ServedModel(loaded, schema, meta, version, path)


def _error(status: int, message: str) -> JSONResponse:
    from starlette.responses import JSONResponse

    return JSONResponse({"error": message, "status": status}, status_code=status)


def create_app(
    served: ServedModel,
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_rows: int = DEFAULT_MAX_ROWS,
) -> Starlette:
    """The Starlette application serving ``served``.

    Routes: ``POST /predict`` (JSON records or columns, a batch), ``GET /health``,
    ``GET /metadata``. Bad payloads get a 4xx with ``{"error": message}``: 400 for
    invalid JSON, 413 for an oversized body or batch, 415 for a non-JSON content
    type, 422 for wrong columns or types and for inputs the model rejects.
    """
    require_stack()
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    started = time.time()

    async def predict(request: Request) -> Response:
        ctype = request.headers.get("content-type", "application/json").split(";")[0].strip()
        if ctype and ctype != "application/json" and not ctype.endswith("+json"):
            return _error(415, f"content type {ctype!r} is not JSON; send application/json")
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_body_bytes:
            return _error(413, f"body of {declared} bytes is over the limit of {max_body_bytes}")
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_body_bytes:
                return _error(413, f"body is over the limit of {max_body_bytes} bytes")
            chunks.append(chunk)
        try:
            frame = parse_body(b"".join(chunks), served.schema, max_rows=max_rows)
        except PayloadError as exc:
            return _error(exc.status, exc.message)
        try:
            if len(frame) <= INLINE_ROWS:  # a thread hop costs more than the prediction
                result = served.predict(frame)
            else:  # big batches run in a thread so /health stays responsive
                result = await run_in_threadpool(served.predict, frame)
        except (ValueError, TypeError, KeyError, InputError) as exc:
            # The model refused the input (e.g. an unseen category, NaN where none is allowed).
            return _error(422, f"the model could not predict on this input: {exc}"[:2000])
        return JSONResponse(result)

    async def health(_request: Request) -> Response:
        return JSONResponse(
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
            "classes": to_jsonable(list(served.predictor.classes or [])),
            "input_schema": served.schema.to_dict() if served.schema else None,
            "metadata": to_jsonable(dict(served.metadata)),
        }
        return Response(json.dumps(body, allow_nan=False), media_type="application/json")

    return Starlette(
        routes=[
            Route("/predict", predict, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
            Route("/metadata", metadata, methods=["GET"]),
        ]
    )
