"""Running the prediction service with uvicorn: in the foreground, or in a thread for tests.

Bounded under load: uvicorn's ``limit_concurrency`` caps open connections plus tasks
(503 past it), ``h11_max_incomplete_event_size`` caps a request's headers, keep-alive
connections idle past ``timeout_keep_alive`` are closed, and a connection that has not
sent complete request headers within ``HEADER_TIMEOUT_S`` (a slow or stalled client) is
closed by the protocol below, and so is one whose body has not arrived within
``BODY_TIMEOUT_S`` after its headers (with a 408).
"""

from __future__ import annotations

import gc
import socket
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlci.errors import DeployError, InputError
from mlci.serve.app import require_stack

if TYPE_CHECKING:
    from starlette.types import ASGIApp

__all__ = ["RunningServer", "bind_socket", "run_server", "start_server"]

STARTUP_TIMEOUT_S = 30.0
HEADER_TIMEOUT_S = 10.0
BODY_TIMEOUT_S = 30.0
KEEP_ALIVE_S = 5
MAX_CONNECTIONS = 2048
MAX_HEADER_BYTES = 64 * 1024


def _timeout_answer(seconds: float) -> bytes:
    body = (
        f'{{"error": "the body did not arrive within {seconds:g} s; send it faster",'
        ' "status": 408}'
    ).encode()
    head = (
        "HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    ).encode()
    return head + body


def _protocol(header_timeout_s: float, body_timeout_s: float) -> Any:
    """The HTTP protocol of uvicorn (httptools when installed, else h11) with deadlines.

    One timer per connection, armed when it opens and after each answer, costs the
    request nothing: when it fires and no request has started since, the client is
    too slow with its headers and the connection is closed (uvicorn alone keeps a
    client that drips one byte at a time forever); when a request has started but its
    body is still incomplete, the timer is armed once more for the body, and then the
    client gets a 408 and the connection is closed (the app sees a disconnect, marked
    ``mlci.body_timeout`` in its scope).
    """
    base: Any
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

        base = HttpToolsProtocol
    except ImportError:  # pragma: no cover - httptools is optional for uvicorn
        from uvicorn.protocols.http.h11_impl import H11Protocol

        base = H11Protocol

    class Guarded(base):  # type: ignore[misc]
        _mlci_timer: Any = None
        _mlci_cycle: Any = None
        _mlci_body_cycle: Any = None

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._mlci_arm(header_timeout_s)

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._mlci_arm(header_timeout_s)

        def _mlci_arm(self, seconds: float) -> None:
            if self._mlci_timer is not None:
                self._mlci_timer.cancel()
            self._mlci_cycle = self.cycle
            self._mlci_timer = self.loop.call_later(seconds, self._mlci_check)

        def _mlci_check(self) -> None:
            self._mlci_timer = None
            if self.transport.is_closing():
                return
            cycle = self.cycle
            if cycle is None or (cycle is self._mlci_cycle and cycle.response_complete):
                self.transport.close()  # no complete request headers in time
                return
            if cycle.response_complete or not cycle.more_body:
                return  # the whole body is in: the app is working on it
            if self._mlci_body_cycle is not cycle:
                self._mlci_body_cycle = cycle  # headers in time: now the body's deadline
                self._mlci_arm(body_timeout_s)
                return
            cycle.scope["mlci.body_timeout"] = True
            if not cycle.response_started:
                self.transport.write(_timeout_answer(body_timeout_s))
            cycle.disconnected = True
            cycle.message_event.set()
            self.transport.close()

        def connection_lost(self, exc: Exception | None) -> None:
            if self._mlci_timer is not None:
                self._mlci_timer.cancel()
                self._mlci_timer = None
            super().connection_lost(exc)

    return Guarded


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0 picks a free one).

    Raises:
        InputError: when the address cannot be bound (in use, not local).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Small responses must not wait for a delayed ACK (Nagle): accepted sockets inherit this.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise InputError(
            f"--host {host} --port {port}: cannot listen there ({exc.strerror});"
            " pick another port or host"
        ) from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


@dataclass
class RunningServer:
    """A service running in a background thread; `stop` shuts it down."""

    url: str
    server: Any
    thread: threading.Thread
    sock: socket.socket

    def stop(self) -> None:
        """Ask uvicorn to exit and wait for the thread."""
        self.server.should_exit = True
        self.thread.join(timeout=15)
        self.sock.close()

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def _config(
    app: ASGIApp,
    log_level: str,
    header_timeout_s: float = HEADER_TIMEOUT_S,
    body_timeout_s: float = BODY_TIMEOUT_S,
) -> Any:
    import uvicorn

    return uvicorn.Config(
        app,
        log_level=log_level,
        access_log=False,
        lifespan="off",
        loop="auto",  # uvloop when installed
        http=_protocol(header_timeout_s, body_timeout_s),
        timeout_keep_alive=KEEP_ALIVE_S,
        limit_concurrency=MAX_CONNECTIONS,
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        # Measured per request: the proxy-headers middleware is one more layer that
        # reads the headers (the service uses neither the client address nor the
        # scheme), and the server header two more header checks, for no use.
        proxy_headers=False,
        server_header=False,
    )


def start_server(
    app: ASGIApp,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    header_timeout_s: float = HEADER_TIMEOUT_S,
    body_timeout_s: float = BODY_TIMEOUT_S,
) -> RunningServer:
    """Start ``app`` under uvicorn in a daemon thread and wait until it accepts requests.

    Raises:
        DeployError: when the server does not come up.
    """
    require_stack()
    import uvicorn

    sock = bind_socket(host, port)
    server = uvicorn.Server(_config(app, "warning", header_timeout_s, body_timeout_s))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="mlci-serve", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise DeployError(
                f"prediction service on {host}:{sock.getsockname()[1]} did not start;"
                " run `mlci serve` to see its log"
            )
        time.sleep(0.01)
    bound_host, bound_port = sock.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    return RunningServer(f"http://{shown}:{bound_port}", server, thread, sock)


# glibc's mallopt parameters (malloc.h) and the values the service sets.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD = 32 << 20  # glibc's largest
TRIM_THRESHOLD = 128 << 20


def keep_freed_memory() -> bool:
    """Let glibc's malloc keep freed memory for the next request (False elsewhere).

    By default glibc serves each block over its mmap threshold (128 KiB at first, then
    the size of the last such block freed) from fresh pages of the system and returns
    them when it is freed, and gives the top of the heap back past a trim threshold:
    every request of a few MiB then page-faults its body, its copies and its block
    anew (measured in bench/serve_bench.py: 10,000-row columnar requests take 30 %
    less time without). Blocks below 32 MiB come from the heap instead, and up to
    128 MiB of freed heap is kept for reuse (the process stays at its peak up to that
    much). Another C library (musl, macOS) is left as it is.
    """
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )


class _Terminated(Exception):
    """SIGTERM arrived (uvicorn re-raises it after its graceful shutdown)."""


def _on_sigterm(_signum: int, _frame: Any) -> None:
    raise _Terminated


def run_server(app: ASGIApp, *, host: str, port: int, log_level: str = "info") -> None:
    """Serve ``app`` in the foreground until interrupted (^C or SIGTERM).

    uvicorn shuts down gracefully on either signal and then raises it again; SIGTERM
    is turned into a normal return here so the caller's cleanup (the prediction log's
    last file) runs.
    """
    require_stack()
    import signal

    import uvicorn

    sock = bind_socket(host, port)
    # The model, pandas and scikit-learn leave a large heap: moving it out of the
    # collector's reach keeps garbage collection pauses off the requests.
    gc.collect()
    gc.freeze()
    keep_freed_memory()
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if in_main else None
    try:
        uvicorn.Server(_config(app, log_level)).run(sockets=[sock])
    except _Terminated:
        pass
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)
        sock.close()
