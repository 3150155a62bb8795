"""The fake's state: identities, recorded requests, faults, repositories, errors."""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass, field
from typing import Any

from tests.support.fake_github.contract import _WRITE_ALL, DOCS

# -- state ---------------------------------------------------------------------------------


@dataclass
class Identity:
    """Who a token belongs to and what it may do."""

    login: str
    id: int
    type: str = "Bot"
    permissions: dict[str, str] = field(default_factory=lambda: dict(_WRITE_ALL))


@dataclass
class Recorded:
    """One request the fake received (the token is never kept, only who it belongs to)."""

    method: str
    path: str
    query: dict[str, str]
    login: str | None
    json: Any
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Fault:
    """An injected failure for the next ``times`` matching requests."""

    kind: str
    times: int
    method: str | None = None
    path: str | None = None
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    message: str = "Server Error"
    seconds: float = 30.0
    gate: threading.Barrier | None = None

    def matches(self, method: str, path: str) -> bool:
        if self.times <= 0:
            return False
        if self.method and self.method.upper() != method:
            return False
        return not (self.path and not re.search(self.path, path))


@dataclass
class Repo:
    """One repository's state."""

    owner: str
    name: str
    id: int
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)  # issues and PRs
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    comments: dict[int, dict[str, Any]] = field(default_factory=dict)
    check_runs: dict[int, dict[str, Any]] = field(default_factory=dict)
    releases: dict[int, dict[str, Any]] = field(default_factory=dict)
    assets: dict[int, dict[str, Any]] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)  # "heads/main" -> sha
    files: dict[tuple[str, str], bytes] = field(default_factory=dict)  # (branch, path)
    runs: dict[int, dict[str, Any]] = field(default_factory=dict)
    artifacts: dict[int, dict[str, Any]] = field(default_factory=dict)
    dispatches: list[dict[str, Any]] = field(default_factory=list)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


class ApiError(Exception):
    """Raised by a handler to answer with GitHub's error shape."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        docs: str = DOCS,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors
        self.headers = headers or {}
        self.docs = docs


def _sha(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()  # noqa: S324 - git's id
