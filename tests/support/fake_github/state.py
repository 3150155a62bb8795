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
    # The object database: every ref points at a commit with a tree and parents, so
    # "commits ahead of base" can be computed as GitHub does.
    commits: dict[str, dict[str, Any]] = field(default_factory=dict)  # sha -> commit
    trees: dict[str, dict[str, str]] = field(default_factory=dict)  # sha -> {path: blob sha}
    objects: dict[str, bytes] = field(default_factory=dict)  # blob sha -> bytes
    private: bool = False
    # "Allow GitHub Actions to create and approve pull requests" is off by default in
    # new repositories (docs: "Managing GitHub Actions settings for a repository").
    actions_can_create_pulls: bool = False
    # Immutable releases (docs: "Immutable releases"): assets only while a draft, and
    # the tag of a published release is never reusable.
    immutable_releases: bool = False
    burned_tags: set[str] = field(default_factory=set)
    # Events that would start a workflow run; those caused by GITHUB_TOKEN are not here
    # (docs: "Triggering a workflow", the GITHUB_TOKEN section).
    events: list[dict[str, Any]] = field(default_factory=list)
    fork_of: str | None = None
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
