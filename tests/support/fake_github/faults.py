"""Fault injection: failures, rate limits, hangs and races."""

from __future__ import annotations

import threading
import time

from tests.support.fake_github.state import (
    Fault,
)


class FaultsMixin:
    """Fault injection: failures, rate limits, hangs and races."""

    # -- faults -------------------------------------------------------------------------

    def _add_fault(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    def fail(
        self,
        status: int,
        *,
        times: int = 1,
        method: str | None = None,
        path: str | None = None,
        message: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Fault:
        """Answer the next ``times`` matching requests with ``status``."""
        default = {
            500: "Server Error",
            502: "Server Error",
            503: "Service Unavailable",
            504: "Gateway Timeout",
        }.get(status, "Error")
        return self._add_fault(
            Fault("status", times, method, path, status, dict(headers or {}), message or default)
        )

    # docs: "Rate limits for the REST API", secondary rate limits: 403 or 429, with retry-after.
    def secondary_rate_limit(
        self,
        *,
        retry_after: int = 1,
        times: int = 1,
        method: str | None = None,
        path: str | None = None,
    ) -> Fault:
        """403 with ``retry-after``: GitHub's secondary (abuse) rate limit."""
        return self._add_fault(
            Fault(
                "status",
                times,
                method,
                path,
                403,
                {"retry-after": str(retry_after)},
                "You have exceeded a secondary rate limit. Please wait a few minutes before"
                " you try again. If you reach out to GitHub Support for help, please include"
                " the request ID",
            )
        )

    # docs: "Rate limits for the REST API": 429 with retry-after.
    def too_many_requests(
        self,
        *,
        retry_after: int = 1,
        times: int = 1,
        method: str | None = None,
        path: str | None = None,
    ) -> Fault:
        """429 with ``retry-after``."""
        return self._add_fault(
            Fault(
                "status",
                times,
                method,
                path,
                429,
                {"retry-after": str(retry_after)},
                "API rate limit exceeded",
            )
        )

    # docs: "Rate limits for the REST API": 403 or 429, x-ratelimit-remaining 0 and x-ratelimit-reset.
    def primary_rate_limit(
        self,
        *,
        reset_in: int = 1,
        times: int = 1,
        status: int = 403,
        method: str | None = None,
        path: str | None = None,
    ) -> Fault:
        """403 (or 429) with ``x-ratelimit-remaining: 0`` and a reset ``reset_in`` s away."""
        return self._add_fault(
            Fault(
                "primary",
                times,
                method,
                path,
                status,
                {"x-ratelimit-reset-in": str(reset_in)},
                "API rate limit exceeded for installation ID 1.",
            )
        )

    def hang(
        self,
        *,
        seconds: float = 30.0,
        times: int = 1,
        method: str | None = None,
        path: str | None = None,
    ) -> Fault:
        """Do not answer the next matching requests for ``seconds`` (or until the test ends)."""
        return self._add_fault(Fault("hang", times, method, path, 504, seconds=seconds))

    def barrier(
        self, *, parties: int = 2, method: str | None = None, path: str | None = None
    ) -> Fault:
        """Hold matching requests until ``parties`` of them arrived, then answer all.

        Forces a race: e.g. two jobs that both found no comment and now both create one.
        """
        fault = Fault("barrier", parties, method, path)
        fault.gate = threading.Barrier(parties, timeout=10)
        return self._add_fault(fault)

    def set_rate_limit(self, *, remaining: int, limit: int = 5000, reset_in: int = 3600) -> None:
        """Set the primary rate-limit budget shared by every token."""
        self.rate_limit, self.rate_remaining = limit, remaining
        self.rate_reset = int(time.time()) + reset_in
