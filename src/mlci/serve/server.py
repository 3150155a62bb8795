"""Running the prediction service with uvicorn: in the foreground, or in a thread for tests."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlci.errors import DeployError, InputError
from mlci.serve.app import require_stack

if TYPE_CHECKING:
    from starlette.applications import Starlette

__all__ = ["RunningServer", "bind_socket", "run_server", "start_server"]

STARTUP_TIMEOUT_S = 30.0


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


def _config(app: Starlette, log_level: str) -> Any:
    import uvicorn

    return uvicorn.Config(
        app,
        log_level=log_level,
        access_log=False,
        lifespan="off",
        timeout_keep_alive=30,
    )


def start_server(app: Starlette, *, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """Start ``app`` under uvicorn in a daemon thread and wait until it accepts requests.

    Raises:
        DeployError: when the server does not come up.
    """
    require_stack()
    import uvicorn

    sock = bind_socket(host, port)
    server = uvicorn.Server(_config(app, "warning"))
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


def run_server(app: Starlette, *, host: str, port: int, log_level: str = "info") -> None:
    """Serve ``app`` in the foreground until interrupted (^C)."""
    require_stack()
    import uvicorn

    sock = bind_socket(host, port)
    try:
        uvicorn.Server(_config(app, log_level)).run(sockets=[sock])
    finally:
        sock.close()
