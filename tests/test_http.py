"""The one HTTP policy: bounded waits, bounded answers, http(s) only."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from mlci.cli import main
from mlci.errors import GitHubAPIError, InputError
from mlci.github.api import GitHubClient
from mlci.http import DEFAULT_RETRY_AFTER, NoAnswer, RetryPolicy, http_url, retry_after, send


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": "soon"}, DEFAULT_RETRY_AFTER),
        ({"retry-after": "nan"}, DEFAULT_RETRY_AFTER),
        ({"retry-after": "1e400"}, DEFAULT_RETRY_AFTER),
        ({"retry-after": "99999999"}, 3600.0),
        ({"retry-after": "-5"}, 0.0),
        ({"retry-after": "Thu, 01 Jan 1970 00:00:00 GMT"}, 0.0),
        ({"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1010"}, 11.0),
        ({"x-ratelimit-remaining": "0", "x-ratelimit-reset": "tomorrow"}, DEFAULT_RETRY_AFTER),
        ({"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1e300"}, 3600.0),
        ({"x-ratelimit-remaining": "12"}, None),
        ({}, None),
    ],
)
def test_retry_after_is_bounded_and_malformed_headers_fall_back(headers, expected):
    assert retry_after(headers, now=1000.0) == expected


@pytest.mark.parametrize(
    "url", ["ftp://api.github.com", "file:///etc/passwd", "api.github.com", ""]
)
def test_only_http_urls_are_accepted(url):
    with pytest.raises(InputError, match="not an http"):
        http_url(url, "GITHUB_API_URL")
    with pytest.raises(InputError, match="GITHUB_API_URL"):
        GitHubClient("t", api_url=url)


def test_a_bad_github_api_url_is_exit_2(tmp_path, monkeypatch, capsys):
    (tmp_path / "data.json").write_text("{}")
    monkeypatch.setenv("GITHUB_API_URL", "file:///etc")
    monkeypatch.setenv("GITHUB_TOKEN", "t")
    monkeypatch.setenv("GITHUB_REPOSITORY", "octo/ml-project")
    code = main(["report", "--results", str(tmp_path), "--post", "--pr", "1"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err


def _serve(handler) -> Iterator[str]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    stop = threading.Event()

    def loop() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                conn.recv(65536)
                try:
                    handler(conn, stop)
                except OSError:
                    pass

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        server.close()


@pytest.fixture
def dripping() -> Iterator[str]:
    def handler(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
        conn.sendall(b"Content-Length: 100000\r\n\r\n[")
        while not stop.is_set():
            conn.sendall(b" ")
            time.sleep(0.05)

    yield from _serve(handler)


@pytest.fixture
def huge() -> Iterator[str]:
    def handler(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
        conn.sendall(b"Transfer-Encoding: chunked\r\n\r\n")
        chunk = b" " * 65536
        while not stop.is_set():
            conn.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))

    yield from _serve(handler)


def _client(url: str) -> GitHubClient:
    return GitHubClient("t", api_url=url, retry=RetryPolicy(retries=0))


def test_a_server_that_drips_is_given_up_at_the_deadline(dripping):
    with pytest.raises(GitHubAPIError, match="did not arrive in time"):
        _client(dripping).request("GET", "/rate_limit", deadline=0.5)


def test_an_endless_answer_is_cut_at_the_cap(huge):
    with pytest.raises(GitHubAPIError, match="larger than 1,048,576 bytes"):
        _client(huge).request("GET", "/rate_limit", max_bytes=1024 * 1024)


def _answers(statuses: list[int]) -> Iterator[tuple[str, list[int]]]:
    """A server answering each connection with the next status (the last one repeats)."""
    served: list[int] = []

    def handler(conn: socket.socket, stop: threading.Event) -> None:
        status = statuses[min(len(served), len(statuses) - 1)]
        served.append(status)
        head = b"HTTP/1.1 %d X\r\nContent-Length: 2\r\nretry-after: 0\r\n" % status
        conn.sendall(head + b"Connection: close\r\n\r\nok")

    for url in _serve(handler):
        yield url, served


_QUICK = RetryPolicy(retries=2, backoff=0.01, max_wait=1.0, jitter=0.0)


def test_send_retries_5xx_and_429_then_returns_the_answer():
    for url, served in _answers([503, 429, 200]):
        logged: list[str] = []
        response, attempts = send("POST", url, data=b"{}", policy=_QUICK, log=logged.append)
        assert (response.status_code, attempts, served) == (200, 3, [503, 429, 200])
        assert response.content == b"ok"
        assert logged[0].startswith("attempt 1 failed (HTTP 503 'ok'); retrying in")


def test_send_returns_other_answers_at_once_and_the_last_5xx_when_retries_run_out():
    for url, served in _answers([404]):
        response, attempts = send("GET", url, policy=_QUICK)
        assert (response.status_code, attempts, served) == (404, 1, [404])
    for url, served in _answers([502]):
        response, attempts = send("GET", url, policy=_QUICK)
        assert (response.status_code, attempts, len(served)) == (502, 3, 3)


def test_send_without_an_answer_names_the_failure_and_the_attempts(huge):
    with pytest.raises(NoAnswer) as caught:
        send("GET", huge, policy=_QUICK, max_bytes=1024)
    assert (caught.value.reason, caught.value.attempts) == ("AnswerError", 3)
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there: connection refused
    with pytest.raises(NoAnswer) as caught:
        send("GET", f"http://127.0.0.1:{port}/", timeout=5)
    assert (caught.value.reason, caught.value.attempts) == ("ConnectionError", 1)
