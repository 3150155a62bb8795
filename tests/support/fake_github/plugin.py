"""The pytest plugin: the session server and the ``fake_github`` fixture."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.fake_github import FakeGitHub


class _Dispatcher:
    """Routes the session server's requests to the current test's `FakeGitHub`."""

    def __init__(self) -> None:
        self.current: FakeGitHub | None = None

    def __call__(self, request: Any) -> Any:
        from werkzeug import Response

        fake = self.current
        if fake is None:
            return Response('{"message": "Not Found"}', 404, content_type="application/json")
        return fake.handle(request)


@pytest.fixture(scope="session")
def _fake_github_server() -> Iterator[tuple[Any, _Dispatcher]]:
    from pytest_httpserver import HTTPServer

    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    dispatcher = _Dispatcher()
    server.expect_request(re.compile(".*")).respond_with_handler(dispatcher)
    server.start()
    try:
        yield server, dispatcher
    finally:
        server.clear()
        if server.is_running():
            server.stop()


@pytest.fixture
def fake_github(
    _fake_github_server: tuple[Any, _Dispatcher], monkeypatch: pytest.MonkeyPatch
) -> Iterator[FakeGitHub]:
    """A fresh stateful fake GitHub API; ``GITHUB_API_URL`` points at it during the test."""
    server, dispatcher = _fake_github_server
    fake = FakeGitHub(server.url_for("/").rstrip("/"))
    dispatcher.current = fake
    monkeypatch.setenv("GITHUB_API_URL", fake.url)
    try:
        yield fake
    finally:
        fake.released.set()
        dispatcher.current = None
    problems = list(fake.response_violations)
    if not fake.allow_violations:
        problems += fake.violations
    if problems:
        pytest.fail("fake GitHub saw contract violations:\n" + "\n".join(problems[:20]))
