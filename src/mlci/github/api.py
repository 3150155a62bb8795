"""A small GitHub REST client over requests: timeouts, retries, rate limits, pagination.

Every call goes through `GitHubClient._request`, which sets the headers, applies the
timeout, retries 5xx answers and connection errors with exponential backoff and
jitter, waits out primary and secondary rate limits (``retry-after``,
``x-ratelimit-remaining``/``x-ratelimit-reset``) within a cap on the total time spent
waiting, and turns every failure into a `mlci.errors.GitHubAPIError` that names the
method, URL, status and a hint. The token is sent only to the API's own origin and
never appears in messages.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from mlci import __version__
from mlci.errors import GitHubAPIError, InputError
from mlci.github.runtime import Runtime
from mlci.http import (
    DEFAULT_DEADLINE,
    DEFAULT_MAX_BYTES,
    DEFAULT_RETRY_AFTER,
    DEFAULT_TIMEOUT,
    AnswerError,
    RetryPolicy,
    backoff,
    http_url,
    read_bounded,
    retry_after,
)

__all__ = [
    "API_VERSION",
    "DEFAULT_API_URL",
    "DEFAULT_TIMEOUT",
    "GitHubClient",
    "RetryPolicy",
]

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"})
_RETRY_STATUSES = frozenset({500, 502, 503, 504})
_MAX_PAGES = 1000
# Workflow syntax names of the fine-grained permissions GitHub reports.
_PERMISSION_NAMES = {
    "pull_requests": "pull-requests",
    "checks": "checks",
    "issues": "issues",
    "contents": "contents",
    "actions": "actions",
    "statuses": "statuses",
}


@dataclass
class _Tries:
    """One request's retries so far: calls after the first, and seconds waited."""

    attempt: int = 0
    waited: float = 0.0


def _redact(text: str, secret: str | None) -> str:
    if secret and len(secret) >= 4:
        text = text.replace(secret, "***")
    return re.sub(r"(gh[pousr]_|github_pat_)[A-Za-z0-9_]{10,}", r"\1***", text)


class GitHubClient:
    """A GitHub REST API client.

    Args:
        token: The token to authenticate with (``GITHUB_TOKEN``, a PAT or an app
            token), or None for anonymous reads.
        api_url: The API base, ``GITHUB_API_URL`` on a runner (GitHub Enterprise and
            the tests' fake server use other bases).
        session: The requests session to use (injected in tests); the client never
            stores the token on it.
        timeout: ``(connect, read)`` seconds for each request.
        retry: The retry policy.
        sleep: The sleep function (tests pass a recorder).
        log: Receives one line per retry or wait (e.g. ``Runtime.info``).
    """

    def __init__(
        self,
        token: str | None,
        *,
        api_url: str = DEFAULT_API_URL,
        session: requests.Session | None = None,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        log: Callable[[str], None] | None = None,
    ):
        self._token = token or None
        self.api_url = http_url(api_url, "GITHUB_API_URL").rstrip("/")
        self._origin = _origin(self.api_url)
        self._own_session = session is None
        self.session = session if session is not None else requests.Session()
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._log = log
        self.waited = 0.0  # seconds slept on retries and rate limits, for benchmarks
        self.requests_made = 0

    @classmethod
    def from_runtime(
        cls, runtime: Runtime, *, token: str | None = None, **kwargs: Any
    ) -> GitHubClient:
        """A client configured like an Actions step: ``GITHUB_API_URL`` and ``GITHUB_TOKEN``.

        Args:
            runtime: Where to read the environment and inputs.
            token: A token given explicitly (``--token``); else the ``github-token``
                input, else ``GITHUB_TOKEN``.
            **kwargs: Passed on to `GitHubClient`.
        """
        # Tokens from secrets and GITHUB_TOKEN are masked by the runner already.
        tok = token or runtime.input("github-token") or runtime.token
        api_url = runtime.api_url or DEFAULT_API_URL
        return cls(tok, api_url=api_url, **kwargs)

    @classmethod
    def with_token(
        cls,
        runtime: Runtime,
        client: GitHubClient | None,
        *,
        missing: str,
        token: str | None = None,
    ) -> GitHubClient:
        """``client`` (or one `from_runtime`), which must authenticate: a step that writes.

        Every step that writes to GitHub refuses to start without a token the same
        way: an `InputError` (exit 2, before any request), since the fix is in the
        workflow (a token or a permission to give), not in GitHub's answer.

        Args:
            runtime: Where to read the API URL, the ``github-token`` input and
                ``GITHUB_TOKEN``.
            client: A ready client (tests), used as given.
            missing: The message when there is no token: what needs it and how to give it.
            token: A token given explicitly (``--token``), before the input and
                ``GITHUB_TOKEN``.

        Raises:
            InputError: ``missing`` when there is no token (a client built here is
                closed first).
        """
        built = client is None
        if client is None:
            client = cls.from_runtime(runtime, token=token, log=runtime.info)
        if not client.has_token:
            if built:
                client.close()
            raise InputError(missing)
        return client

    @property
    def has_token(self) -> bool:
        """Whether the client authenticates."""
        return self._token is not None

    # -- lifecycle ------------------------------------------------------------------------

    def close(self) -> None:
        """Close the session if the client created it."""
        if self._own_session:
            self.session.close()

    def __enter__(self) -> GitHubClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- calls ---------------------------------------------------------------------------

    def get(
        self, path: str, *, params: Mapping[str, Any] | None = None, missing_ok: bool = False
    ) -> Any:
        """GET ``path`` and return the decoded JSON; with ``missing_ok`` a 404 gives None."""
        response = self._request(
            "GET", path, params=params, ok_statuses=(404,) if missing_ok else ()
        )
        return None if response.status_code == 404 else _json(response)

    def post(self, path: str, *, json: Any = None, params: Mapping[str, Any] | None = None) -> Any:
        """POST JSON to ``path`` and return the decoded JSON."""
        return _json(self._request("POST", path, json=json, params=params))

    def patch(self, path: str, *, json: Any = None) -> Any:
        """PATCH JSON to ``path`` and return the decoded JSON."""
        return _json(self._request("PATCH", path, json=json))

    def put(self, path: str, *, json: Any = None) -> Any:
        """PUT JSON to ``path`` and return the decoded JSON."""
        return _json(self._request("PUT", path, json=json))

    def delete(self, path: str, *, missing_ok: bool = False) -> None:
        """DELETE ``path``; with ``missing_ok`` a 404 counts as done."""
        self._request("DELETE", path, ok_statuses=(404,) if missing_ok else ())

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
        deadline: float = DEFAULT_DEADLINE,
    ) -> requests.Response:
        """Any call (e.g. an upload with ``data`` to an absolute ``upload_url``).

        ``max_bytes`` and ``deadline`` (seconds) bound the answer; downloads raise them.
        """
        return self._request(
            method,
            path,
            params=params,
            json=json,
            data=data,
            headers=headers,
            max_bytes=max_bytes,
            deadline=deadline,
        )

    def paginate(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        per_page: int = 100,
        key: str | None = None,
    ) -> Iterator[Any]:
        """Yield every item of a list endpoint, following ``Link: rel="next"`` pages.

        Args:
            path: The list endpoint.
            params: Query parameters (``per_page`` is added).
            per_page: Items per page (GitHub allows at most 100).
            key: For endpoints that wrap the list in an object (``artifacts``).
        """
        query: dict[str, Any] | None = {**(params or {}), "per_page": min(per_page, 100)}
        url: str | None = path
        for _ in range(_MAX_PAGES):
            if url is None:
                return
            response = self._request("GET", url, params=query)
            body = _json(response)
            items = body.get(key, []) if key and isinstance(body, dict) else body
            if not isinstance(items, list):
                raise GitHubAPIError(
                    f"GET {self._display(response.url)}: expected a list, got"
                    f" {type(items).__name__}; this endpoint does not paginate",
                    status=response.status_code,
                    method="GET",
                    url=self._display(response.url),
                )
            yield from items
            url = response.links.get("next", {}).get("url")
            query = None  # the next link carries the query
        raise GitHubAPIError(
            f"GET {self._display(path)}: more than {_MAX_PAGES} pages; narrow the query",
            method="GET",
            url=self._display(path),
        )

    # -- the one request path -----------------------------------------------------------

    def _url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return urljoin(self.api_url + "/", path.lstrip("/"))

    def _display(self, url: str) -> str:
        return _redact(url, self._token)

    def _headers(self, url: str, extra: Mapping[str, str] | None) -> dict[str, str]:
        headers = {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": f"mlci/{__version__}",
        }
        # The token goes to the API's own origin (and its uploads host) only, never to
        # a host named in a Link header or a redirect.
        if self._token and self._trusted(url):
            headers["Authorization"] = f"Bearer {self._token}"
        headers.update(extra or {})
        return headers

    def _trusted(self, url: str) -> bool:
        origin = _origin(url)
        if origin == self._origin:
            return True
        api = urlsplit(self.api_url)
        host = urlsplit(url).hostname or ""
        return api.hostname == "api.github.com" and host == "uploads.github.com"

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        ok_statuses: tuple[int, ...] = (),
        max_bytes: int = DEFAULT_MAX_BYTES,
        deadline: float = DEFAULT_DEADLINE,
    ) -> requests.Response:
        method = method.upper()
        url = self._url(path)
        shown = self._display(url.split("?")[0])
        tries = _Tries()
        while True:
            try:
                response = self._send(
                    method,
                    url,
                    shown,
                    deadline=deadline,
                    max_bytes=max_bytes,
                    params=params,
                    json=json,
                    data=data,
                    headers=self._headers(url, headers),
                )
            except requests.Timeout as exc:
                # A POST that timed out may have been applied; do not repeat it blindly.
                retryable = method in _IDEMPOTENT or isinstance(exc, requests.ConnectTimeout)
                if retryable and self._backoff_again(tries, f"{method} {shown}: no answer in time"):
                    continue
                raise GitHubAPIError(
                    f"{method} {shown}: GitHub did not answer within {_timeout_text(self.timeout)}"
                    f" (after {tries.attempt + 1} attempt(s)); GitHub may be degraded"
                    " (https://www.githubstatus.com), re-run the job later",
                    method=method,
                    url=shown,
                ) from None
            except requests.ConnectionError as exc:
                if self._backoff_again(tries, f"{method} {shown}: connection failed"):
                    continue
                reason = _redact(type(exc).__name__, self._token)
                raise GitHubAPIError(
                    f"{method} {shown}: cannot connect to the GitHub API ({reason}) after"
                    f" {tries.attempt + 1} attempt(s); check GITHUB_API_URL ({self.api_url}) and"
                    " the runner's network",
                    method=method,
                    url=shown,
                ) from None
            if response.status_code < 400 or response.status_code in ok_statuses:
                return response
            self._wait_out(method, shown, response, tries)

    def _send(
        self, method: str, url: str, shown: str, *, deadline: float, max_bytes: int, **kwargs: Any
    ) -> requests.Response:
        """One call, its answer read within ``deadline`` seconds and ``max_bytes``."""
        self.requests_made += 1
        until = time.monotonic() + deadline
        try:
            response = self.session.request(
                method, url, timeout=self.timeout, stream=True, **kwargs
            )
            read_bounded(response, deadline=until, max_bytes=max_bytes)
        except AnswerError as exc:
            raise GitHubAPIError(
                f"{method} {shown}: {exc} ({deadline:g}s and {max_bytes:,} bytes allowed);"
                f" check GITHUB_API_URL ({self.api_url}) points at the GitHub API and re-run",
                method=method,
                url=shown,
            ) from None
        return response

    def _backoff_again(self, tries: _Tries, what: str) -> bool:
        """After a failed call: wait the backoff and say so, or False when retries are spent."""
        if tries.attempt >= self.retry.retries:
            return False
        delay = self._backoff(tries.attempt)
        if tries.waited + delay > self.retry.max_wait:
            return False
        self._pause(tries, what, delay)
        return True

    def _wait_out(
        self, method: str, shown: str, response: requests.Response, tries: _Tries
    ) -> None:
        """Wait before retrying an error answer (5xx, rate limit), or raise its error."""
        pause = self._retry_delay(response, tries.attempt)
        if pause is None or tries.attempt >= self.retry.retries:
            raise self._error(method, shown, response)
        if tries.waited + pause > self.retry.max_wait:
            raise self._error(
                method,
                shown,
                response,
                extra=f"waiting {pause:.0f}s more would exceed the {self.retry.max_wait:.0f}s"
                " cap on waiting; re-run the job after the limit resets",
            )
        self._pause(tries, f"{method} {shown}: {response.status_code}", pause)

    def _pause(self, tries: _Tries, what: str, seconds: float) -> None:
        self._note(f"{what}; retrying in {seconds:.1f}s")
        tries.waited += self._wait(seconds)
        tries.attempt += 1

    def _wait(self, seconds: float) -> float:
        self._sleep(seconds)
        self.waited += seconds
        return seconds

    def _note(self, message: str) -> None:
        if self._log is not None:
            self._log(message)

    def _backoff(self, attempt: int) -> float:
        return backoff(self.retry, attempt)

    def _retry_delay(self, response: requests.Response, attempt: int) -> float | None:
        """Seconds to wait before retrying ``response``, or None if it must not be retried."""
        status = response.status_code
        if status in (403, 429):
            # retry-after, else x-ratelimit-remaining 0 and the reset (bounded; an
            # unreadable header gives DEFAULT_RETRY_AFTER).
            wait = retry_after(response.headers)
            if wait is not None:
                return wait
            if status == 429 or "secondary rate limit" in _message(response).lower():
                # GitHub: wait at least a minute when no retry-after is given.
                return max(DEFAULT_RETRY_AFTER, self._backoff(attempt))
            return None
        if status in _RETRY_STATUSES:
            return self._backoff(attempt)
        return None

    def _error(
        self, method: str, url: str, response: requests.Response, *, extra: str | None = None
    ) -> GitHubAPIError:
        status = response.status_code
        message = _message(response)
        docs = _docs_url(response)
        hint = extra or _hint(
            status,
            message,
            response.headers,
            _body(response).get("errors"),
            has_token=self.has_token,
        )
        text = f"{method} {url}: {status} {response.reason or ''}".rstrip()
        if message:
            text += f": {message}"
        if docs:
            text += f" ({docs})"
        text += f"; {hint}"
        return GitHubAPIError(_redact(text, self._token), status=status, method=method, url=url)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _timeout_text(timeout: float | tuple[float, float]) -> str:
    if isinstance(timeout, tuple):
        return f"{timeout[1]:g}s"
    return f"{timeout:g}s"


def _json(response: requests.Response) -> Any:
    """The answer's JSON, read strictly by `mlci.jsonio` (bounded nesting and numbers)."""
    from mlci import jsonio

    if response.status_code == 204 or not response.content:
        return None
    endpoint = f"{response.request.method} {response.url.split('?')[0]}"
    try:
        return jsonio.loads(
            response.content,
            source=f"{endpoint} (status {response.status_code})",
            fix="check GITHUB_API_URL points at the GitHub API",
        )
    except InputError as exc:
        raise GitHubAPIError(
            str(exc), status=response.status_code, method=response.request.method
        ) from None


def _body(response: requests.Response) -> dict[str, Any]:
    """The JSON object of an error answer, or {} when it is none."""
    from mlci import jsonio

    try:
        body = jsonio.loads(response.content) if response.content else None
    except InputError:
        return {}
    return body if isinstance(body, dict) else {}


def _message(response: requests.Response) -> str:
    message = _body(response).get("message")
    return " ".join(str(message).split())[:500] if message else ""


def _docs_url(response: requests.Response) -> str:
    docs = _body(response).get("documentation_url")
    return str(docs) if isinstance(docs, str) and docs.startswith("https://") else ""


def _validation_details(errors: Any) -> str:
    if not isinstance(errors, list):
        return ""
    parts = []
    for err in errors[:5]:
        if isinstance(err, dict):
            parts.append(str(err.get("message") or f"{err.get('field')}: {err.get('code')}"))
        else:
            parts.append(str(err))
    return "; ".join(parts)


def _hint(
    status: int, message: str, headers: Mapping[str, str], errors: Any, *, has_token: bool
) -> str:
    if status == 401:
        if not has_token:
            return (
                "no token was given; set GITHUB_TOKEN (in a workflow: `env: GITHUB_TOKEN:"
                " ${{ github.token }}`) or pass the github-token input"
            )
        return (
            "the token was rejected (expired, revoked or mistyped); use the workflow's"
            " GITHUB_TOKEN or a valid personal access token"
        )
    if status == 403 and "not permitted to create or approve pull requests" in message:
        return (
            'allow it in Settings → Actions → General → Workflow permissions → "Allow GitHub'
            ' Actions to create and approve pull requests" (an organization setting may'
            " override it), or pass a GitHub App token as the github-token input;"
            " `permissions:` cannot grant this"
        )
    if status == 403:
        accepted = headers.get("x-accepted-github-permissions", "")
        needed = [
            f"{_PERMISSION_NAMES.get(k.strip(), k.strip())}: {v.strip()}"
            for k, _, v in (p.partition("=") for p in accepted.replace(",", ";").split(";"))
            if k.strip()
        ]
        if "not accessible" in message.lower() or needed:
            perms = ", ".join(needed) or "the write permission for this endpoint"
            return (
                f"the token lacks {perms}; add `permissions: {{{perms}}}` to the job."
                " On a pull request from a fork GITHUB_TOKEN is read-only whatever the"
                " workflow asks for: post from the `workflow_run`-triggered mlci-comment"
                " workflow, which runs in the base repository"
            )
        if headers.get("x-ratelimit-remaining") == "0" or "rate limit" in message.lower():
            return "the API rate limit is exhausted; re-run the job after it resets"
        return "the token is not allowed to do this; check its scopes or the job's `permissions:`"
    if status == 404:
        return (
            "not found: check the repository (GITHUB_REPOSITORY), the pull request or"
            " issue number, and that the token can see the repository"
            " (private repositories need `contents: read`)"
        )
    if status == 410:
        return "the resource is gone (deleted, or issues/artifacts are disabled)"
    if status == 422:
        return "GitHub rejected the request: " + (
            _validation_details(errors) or "see the message above"
        )
    if status == 429:
        return "too many requests; re-run the job later"
    if status >= 500:
        return "GitHub failed to answer after retries; see https://www.githubstatus.com and re-run"
    return "see the message above"
