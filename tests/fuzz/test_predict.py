"""`POST /predict` fuzzed in-process: every hostile body is a 4xx with a JSON error, never a 5xx.

The service is driven through its ASGI application (no socket): one request per case,
under the case time limit (no hang) and the case memory limit, like the command
surfaces of the harness. Bodies come from ``corpus/predict/`` (hostile requests kept
as files), from ``corpus/json/`` (hostile JSON in general), and from a Hypothesis
property over JSON bodies built around the model's real feature names. Slow and
stalled uploads over real sockets are tested in ``tests/serve/test_hardening.py``.
"""

from __future__ import annotations

import asyncio
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.harness import CASE_MB, CASE_SECONDS, CORPUS, _peak_mb

BODIES = sorted(
    p
    for folder in ("predict", "json")
    for p in (CORPUS / folder).glob("*")
    if not p.name.startswith(".") and p.name != "README.md"
)


@dataclass
class Answer:
    """What the service answered to one request."""

    status: int | None
    body: bytes
    hung: bool
    grew_mb: float

    def problems(self, *, ok_allowed: bool) -> list[str]:
        """Every broken promise (empty: the case held)."""
        found = []
        if self.hung:
            found.append(f"hang: no answer after {CASE_SECONDS:g} s")
            return found
        assert self.status is not None
        if self.status >= 500:
            found.append(f"status {self.status} (a bug, or an error blamed on the server)")
        elif self.status == 200 and not ok_allowed:
            found.append("status 200 for a hostile body")
        elif self.status != 200:
            if not 400 <= self.status < 500:
                found.append(f"unexpected status {self.status}")
            try:
                error = json.loads(self.body)
            except ValueError:
                found.append(f"error body is not JSON: {self.body[:200]!r}")
            else:
                if not isinstance(error, dict) or not isinstance(error.get("error"), str):
                    found.append(f"error body has no error message: {self.body[:200]!r}")
        if self.grew_mb > CASE_MB:
            found.append(f"peak memory grew by {self.grew_mb:.0f} MB (limit {CASE_MB})")
        return found


async def _call(app: Any, body: bytes, content_type: bytes) -> tuple[int, bytes]:
    """One ``POST /predict`` through the ASGI channel; the status and the whole body."""
    sent = False
    done = asyncio.Event()
    status = 0
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await done.wait()  # the client stays until the answer is complete
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])
        elif message["type"] == "http.response.body":
            chunks.append(bytes(message.get("body", b"")))
            if not message.get("more_body"):
                done.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/predict",
        "raw_path": b"/predict",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", content_type),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    await app(scope, receive, send)
    return status, b"".join(chunks)


def post(app: Any, body: bytes, content_type: bytes = b"application/json") -> Answer:
    """Send ``body`` to ``/predict`` under the case time limit; measure memory growth."""
    before = _peak_mb()

    async def bounded() -> tuple[int, bytes]:
        return await asyncio.wait_for(_call(app, body, content_type), CASE_SECONDS)

    try:
        status, answer = asyncio.run(bounded())
    except TimeoutError:
        return Answer(None, b"", True, _peak_mb() - before)
    return Answer(status, answer, False, _peak_mb() - before)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, list[str]]:
    """The ASGI app serving a real classifier (ONNX, as deploy serves it) and its features."""
    from mlci.model.load import load_model
    from mlci.model.onnx import export_onnx
    from mlci.serve.app import Limits, create_app, load_served_model
    from tests.serve.helpers import eval_frame, train_classifier

    folder = tmp_path_factory.mktemp("fuzz-predict")
    frame = eval_frame().drop(columns="target")
    result = export_onnx(load_model(train_classifier(folder)), frame, folder / "model.onnx")
    assert result.passed
    app = create_app(load_served_model(folder / "model.onnx"), limits=Limits(max_rows=1000))
    return app, list(frame.columns)


@pytest.fixture(scope="module")
def app(served: tuple[Any, list[str]]) -> Any:
    return served[0]


def test_a_valid_body_is_answered(served: tuple[Any, list[str]]) -> None:
    # The driver itself works: a good row gets a prediction.
    app, features = served
    answer = post(app, json.dumps([dict.fromkeys(features, 1.0)]).encode())
    assert answer.status == 200, answer.body[:500]
    assert "predictions" in json.loads(answer.body)


@pytest.mark.parametrize("path", BODIES, ids=[f"{p.parent.name}/{p.name}" for p in BODIES])
def test_hostile_body(app: Any, path: Path) -> None:
    answer = post(app, path.read_bytes())
    assert not answer.problems(ok_allowed=False), (
        answer.problems(ok_allowed=False),
        answer.body[:500],
    )


def test_millions_of_empty_records_are_refused_while_parsing(app: Any) -> None:
    body = b"[" + b",".join([b"{}"] * 2_000_000) + b"]"
    answer = post(app, body)
    assert not answer.problems(ok_allowed=False), answer.body[:500]


@pytest.mark.parametrize(
    "content_type", [b"", b"text/plain", b"application/json; charset=latin-1", b"\xff\x00"]
)
def test_odd_content_types(app: Any, content_type: bytes) -> None:
    answer = post(app, b'[{"mean_radius": 1.0}]', content_type)
    assert not answer.problems(ok_allowed=False), answer.body[:500]


# Values a JSON feature can hold, the edges included (NaN and Infinity are written as
# the bare words Python's json module emits, which strict parsers refuse).
_NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**60), max_value=10**60),
    st.sampled_from([1e308, -1e308, 5e-324, 3.5e38, -3.5e38, 0.0, -0.0]),
)
_SCALARS = st.one_of(st.none(), st.booleans(), _NUMBERS, st.text(max_size=20))
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)


@st.composite
def _bodies(draw: st.DrawFn, features: list[str]) -> tuple[Any, bool]:
    """A JSON body and whether it could be valid (every value a finite float-range number)."""
    kind = draw(st.sampled_from(["any", "records", "columns"]))
    if kind == "any":
        return draw(_JSON), False
    names = st.one_of(st.sampled_from(features), st.text(max_size=10))
    value = st.one_of(_NUMBERS, _SCALARS, _JSON)
    rows = draw(st.lists(st.dictionaries(names, value, max_size=len(features) + 2), max_size=4))
    if kind == "records":
        wrapped = draw(st.booleans())
        return ({"records": rows} if wrapped else rows), _could_be_valid(rows, features)
    columns = {k: [r.get(k) for r in rows] for r in rows for k in r}
    return {"columns": columns}, _could_be_valid(rows, features)


def _could_be_valid(rows: list[dict[str, Any]], features: list[str]) -> bool:
    def finite(v: Any) -> bool:
        return (
            isinstance(v, int | float)
            and not isinstance(v, bool)
            and math.isfinite(float(v))
            and abs(float(v)) < 3.4e38
        )

    return bool(rows) and all(
        set(r) == set(features) and all(finite(v) for v in r.values()) for r in rows
    )


def test_generated_json_bodies(served: tuple[Any, list[str]]) -> None:
    app, features = served

    @given(_bodies(features))
    def check(case: tuple[Any, bool]) -> None:
        body, could_be_valid = case
        text = json.dumps(body, allow_nan=True).encode()
        answer = post(app, text)
        # A body that could be valid may be answered 200; any other must be a 4xx.
        problems = answer.problems(ok_allowed=could_be_valid)
        assert not problems, (problems, text[:300], answer.body[:300])

    check()
