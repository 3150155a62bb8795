"""The one HTTP policy: retries with backoff, bounded waits, bounded answers, http(s) only.

Used by the GitHub client (`mlci.github.api`), the deploy webhook and the deploy smoke
test (`send`). Only this module and `mlci.github.api` import ``requests``. It is our own
small loop over ``requests`` rather than ``urllib3.Retry`` because the waits depend on
GitHub's answers (``retry-after``, ``x-ratelimit-remaining``/``x-ratelimit-reset``,
"secondary rate limit" messages), every retry is logged to the job, and the total
sleep of one call is capped; ``urllib3.Retry`` honours ``Retry-After`` but knows
nothing of the rate-limit headers or of a cap on the total wait.

Every request also has:

- a connect and a read timeout (``requests``' ``timeout=(connect, read)``);
- a deadline for the whole answer: the body is read in pieces and given up when the
  deadline passes, so a server that drips one byte every few seconds cannot hold a
  job (the read timeout alone restarts with every byte);
- a cap on the size of the answer read (decoded), so a huge or endless answer is
  refused instead of filling the memory.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from mlci.errors import InputError

if TYPE_CHECKING:
    import requests

__all__ = [
    "DEFAULT_DEADLINE",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_RETRY_AFTER",
    "DEFAULT_TIMEOUT",
    "AnswerError",
    "NoAnswer",
    "RetryPolicy",
    "backoff",
    "http_url",
    "read_bounded",
    "retry_after",
    "send",
]

# (connect, read) seconds: a runner reaches GitHub in well under a second; a read that
# takes half a minute is a hung connection, not a slow answer.
DEFAULT_TIMEOUT: tuple[float, float] = (10.0, 30.0)
#: Seconds for one whole answer (headers and body).
DEFAULT_DEADLINE = 120.0
#: The largest answer read from an API (JSON); downloads pass their own cap.
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
#: The wait used when a ``retry-after`` or rate-limit reset header cannot be read
#: (GitHub: "wait at least one minute" when no usable header is given).
DEFAULT_RETRY_AFTER = 60.0
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long a call is retried.

    Attributes:
        retries: Retries after the first attempt (5xx, connection errors, rate limits).
        backoff: The first backoff in seconds; it doubles on every retry.
        max_backoff: The longest single backoff.
        max_wait: The cap on the total time spent sleeping across one call's retries;
            a wait that would pass it fails at once with a clear message.
        jitter: The share of each backoff drawn at random (0 none, 1 full jitter).
    """

    retries: int = 4
    backoff: float = 1.0
    max_backoff: float = 30.0
    max_wait: float = 120.0
    jitter: float = 0.5


class AnswerError(Exception):
    """An answer that was too large or did not arrive before the deadline."""


class NoAnswer(Exception):
    """`send` got no answer: every attempt failed to connect, timed out or was cut off.

    Attributes:
        reason: What the last attempt ran into (an exception name, never a URL).
        attempts: How many attempts were made.
    """

    def __init__(self, reason: str, attempts: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.attempts = attempts


def backoff(policy: RetryPolicy, attempt: int) -> float:
    """Seconds to wait before retry number ``attempt + 1`` (exponential, with jitter)."""
    base = min(policy.max_backoff, policy.backoff * (2.0 ** min(attempt, 30)))
    return base * (1 - policy.jitter) + random.uniform(0, base * policy.jitter)  # noqa: S311


def _seconds(text: str, now: float) -> float | None:
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        return when.timestamp() - now
    return value if value == value and abs(value) != float("inf") else None


def retry_after(
    headers: Mapping[str, str],
    *,
    now: float | None = None,
    default: float = DEFAULT_RETRY_AFTER,
    cap: float = 3600.0,
) -> float | None:
    """The wait a 403/429 answer asks for, bounded; None when it names no wait.

    ``retry-after`` (seconds or an HTTP date) wins; else, with
    ``x-ratelimit-remaining: 0``, the time until ``x-ratelimit-reset`` (epoch seconds)
    plus one second. A header that is present but unreadable (not a number, NaN, a
    broken date) gives ``default``; every wait is clamped to ``[0, cap]``.
    """
    moment = time.time() if now is None else now
    raw = headers.get("retry-after")
    if raw is not None:
        seconds = _seconds(raw, moment)
        return min(max(default if seconds is None else seconds, 0.0), cap)
    if headers.get("x-ratelimit-remaining") == "0":
        reset = _seconds(headers.get("x-ratelimit-reset", ""), moment)
        if reset is None:
            return min(default, cap)
        return min(max(reset - moment, 0.0) + 1.0, cap)
    return None


def http_url(url: str, where: str) -> str:
    """``url`` if it is an absolute http(s) URL with a host; else exit 2 naming ``where``."""
    parts = urlsplit(url.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        shown = url if len(url) <= 100 else url[:100] + "..."
        raise InputError(
            f"{where}: {shown!r} is not an http(s) URL; give an absolute URL such as"
            " https://api.github.com"
        )
    return url.strip()


def read_bounded(response: requests.Response, *, deadline: float, max_bytes: int) -> bytes:
    """Read a streamed ``response``'s body before ``deadline`` (``time.monotonic()``) and a cap.

    Pieces are read as they arrive (``read1``), so the deadline is checked between them
    even when a server sends one byte at a time. The body becomes ``response.content``
    as if it had been read eagerly.

    Raises:
        AnswerError: the body is larger than ``max_bytes`` or the deadline passed (the
            connection is closed).
    """
    raw = response.raw
    # urllib3 2 returns what has arrived; urllib3 1.26 has no read1 and waits for a chunk.
    read = getattr(raw, "read1", None) or raw.read
    parts: list[bytes] = []
    size = 0
    try:
        while True:
            if time.monotonic() > deadline:
                raise AnswerError("the answer did not arrive in time (deadline passed)")
            chunk = read(_CHUNK, decode_content=True)
            if not chunk:
                break
            size += len(chunk)
            if size > max_bytes:
                raise AnswerError(f"the answer is larger than {max_bytes:,} bytes")
            parts.append(chunk)
    except AnswerError:
        response.close()
        raise
    data = b"".join(parts)
    response._content = data  # what requests sets after an eager read
    response._content_consumed = True  # type: ignore[attr-defined]
    return data


def _retryable(status: int) -> bool:
    return status == 429 or status >= 500


def send(
    method: str,
    url: str,
    *,
    timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
    policy: RetryPolicy | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    log: Callable[[str], None] | None = None,
    **kwargs: Any,
) -> tuple[requests.Response, int]:
    """One HTTP call under the one policy: bounded answer, retries with backoff.

    Connection errors, timeouts, cut-off answers, 429 and 5xx are retried (``retry-after``
    honoured, bounded) up to ``policy.retries`` times, the total sleep capped by
    ``policy.max_wait``; any other answer is returned at once. Every attempt sends the
    same request (``kwargs`` go to ``requests.request``: ``data``, ``json``, ``headers``).

    Args:
        method: The HTTP method.
        url: The absolute URL.
        timeout: ``requests``' timeout; a single number is also the deadline of the answer.
        policy: The retries (default: no retry).
        max_bytes: The largest answer read.
        log: Called with ``attempt N failed (why); retrying in S s`` before each retry.
        **kwargs: Passed to ``requests.request``.

    Returns:
        The last answer (a 429 or 5xx when the retries ran out) and the attempts made.

    Raises:
        NoAnswer: when the last attempt got no (whole) answer.
    """
    import requests

    rules = policy or RetryPolicy(retries=0)
    limit = timeout if isinstance(timeout, int | float) else sum(timeout)
    waited = 0.0
    attempt = 0
    while True:
        attempt += 1
        wait: float | None = None
        response: requests.Response | None = None
        try:
            response = requests.request(method, url, timeout=timeout, stream=True, **kwargs)
            read_bounded(response, deadline=time.monotonic() + limit, max_bytes=max_bytes)
        except (requests.ConnectionError, requests.Timeout, AnswerError) as exc:
            last = type(exc).__name__
            response = None
        else:
            if not _retryable(response.status_code):
                return response, attempt
            last = f"HTTP {response.status_code} {response.text[:200]!r}"
            # A malformed retry-after gives a bounded default.
            wait = retry_after(response.headers, cap=rules.max_wait)
        delay = wait if wait is not None else backoff(rules, attempt - 1)
        delay = min(delay, rules.max_wait - waited)
        if attempt > rules.retries or delay < 0:
            if response is not None:
                return response, attempt
            raise NoAnswer(last, attempt)
        if log is not None:
            log(f"attempt {attempt} failed ({last}); retrying in {delay:.1f} s")
        time.sleep(delay)
        waited += delay
