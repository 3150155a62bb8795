"""`mlci serve` keeps freed memory for the next request (glibc's malloc thresholds)."""

from __future__ import annotations

import platform

import pytest

from mlci.serve import server


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt")
def test_glibc_takes_the_thresholds() -> None:
    assert server.keep_freed_memory() is True


def test_the_foreground_server_sets_them_before_serving(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    calls: list[str] = []
    monkeypatch.setattr(server, "keep_freed_memory", lambda: calls.append("malloc") or True)
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: calls.append("run"))

    async def app(scope: object, receive: object, send: object) -> None:  # never called
        raise AssertionError

    server.run_server(app, host="127.0.0.1", port=0, log_level="warning")
    assert calls == ["malloc", "run"]
