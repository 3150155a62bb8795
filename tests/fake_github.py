"""A stateful fake of GitHub's REST API on loopback, held to GitHub's own OpenAPI description.

Use it through the ``fake_github`` fixture (function scope; registered for the whole suite
by ``pytest_plugins = ["tests.fake_github"]`` in ``tests/conftest.py``). It needs
``../shared/github-api/rest-subset.json`` beside the checkout (``SHARED_GITHUB_API``);
tests that use it are skipped with a clear reason when that folder is absent.

Quick start::

    def test_posts(fake_github, monkeypatch):
        # GITHUB_API_URL already points at the fake (set by the fixture).
        monkeypatch.setenv("GITHUB_TOKEN", fake_github.token)      # the bot, write access
        pr = fake_github.add_pull(head_sha="abc123")               # -> {"number": 1, ...}
        fake_github.add_comment(pr["number"], "hi", login="octocat")
        ...  # run mlci
        assert [c["body"] for c in fake_github.comments(pr["number"])] == [...]

What it serves (every operation of ``rest-subset.json``; see ``operations()``): the
repository, issue and PR comments (list with ``Link`` pagination, create, get, update,
delete), check runs (create, get, update; annotations accumulate across updates as on
GitHub), pulls (list/create/get/update, pulls of a commit), releases and release assets
(list, create, latest, by tag, get, update, delete; uploads on the uploads server, see
below; downloads with ``Accept: application/octet-stream`` redirect to a blob),
git refs, contents (get and put with ``sha`` checks), workflow dispatch (recorded),
workflow runs and their artifacts (download redirects to a zip blob), issues, and
``/rate_limit``.

URLs:
    ``fake.url``            the API base (``GITHUB_API_URL``), e.g. ``http://127.0.0.1:PORT``.
    ``fake.uploads_url``    the uploads base (``{url}/uploads``); a release's
                            ``upload_url`` points there, as ``uploads.github.com`` does.
    ``fake.server_url``     what ``GITHUB_SERVER_URL`` would be (``html_url``s use it).
    Blobs (asset and artifact downloads) are served under ``{url}/_blobs/...``.

Contract (what makes it GitHub-like):
    - Unknown paths or methods answer 404 ``{"message": "Not Found", ...}`` like GitHub.
    - Every JSON request body is validated with jsonschema against the operation's
      ``requestBody`` schema (OpenAPI 3.0 ``nullable`` translated); a violation answers
      422 and is recorded in ``fake.violations``; the fixture fails the test at teardown
      if any violation happened, unless the test set ``fake.allow_violations = True``.
    - Every response body is built to conform to the operation's response schema
      (missing required fields are synthesised from the schema) and is checked against
      it; a non-conforming response is a bug in the fake and fails the test at teardown.
    - GitHub's limits: comment, issue and PR bodies over 65,536 characters, a check-run
      summary or text over 65,535, more than 50 annotations per request, a release body
      over 125,000 -> 422 ``Validation Failed`` with GitHub's ``errors`` entries.
    - Lists paginate with ``per_page`` (default 30, at most 100) and ``page``, and set
      ``Link`` with ``next``/``last``/``first``/``prev`` like GitHub.
    - Headers: ``x-ratelimit-limit/remaining/used/reset/resource``,
      ``x-github-request-id``, ``x-github-api-version-selected``, ``Location`` on 201.

Identities (one per token; ``Authorization: Bearer <token>`` or ``token <token>``):
    ``fake.token``            ``github-actions[bot]`` with write access everywhere.
    ``fake.read_only_token``  ``github-actions[bot]`` as on a pull request from a fork:
                              reads work, writes answer 403 "Resource not accessible by
                              integration" with ``x-accepted-github-permissions``.
    ``fake.other_token``      ``octocat``, a human user with write access.
    ``fake.add_token(token, login=..., type="User"|"Bot", permissions={...} | "read")``.
    No token: reads work (a public repository), writes answer 401 "Requires
    authentication". An unknown token answers 401 "Bad credentials".

Seeding state (each returns the stored GitHub-shaped dict):
    ``add_repo("owner/name")`` (``fake.repo`` = ``octo/ml-project`` exists already),
    ``add_pull(number=None, head_sha=..., head_ref=..., base_ref="main", title=...,
    body=..., state="open", login=..., repo=...)``, ``add_issue(title=..., body=...,
    labels=[...], login=...)``, ``add_comment(issue_number, body, login="octocat")``,
    ``add_comments(issue_number, n, body=..., login=...)``, ``add_release(tag, name=...,
    body=..., draft=False, prerelease=False, assets={"name": b"bytes"})``,
    ``add_ref("heads/main", sha)``, ``add_file(path, b"content", branch="main")``,
    ``add_workflow_run(run_id=None, head_sha=..., event=..., conclusion=...,
    artifacts={"name": {"file.json": b"..."}})``. Pass ``repo="owner/name"`` for another
    repository.

Contract helpers for tests: ``operations()`` (every operation of the description, with
its compiled path), ``response_schema(operation_id, status)`` (a response's JSON Schema,
e.g. to validate what a test received), ``to_json_schema`` (OpenAPI 3.0 -> JSON Schema).
``GET .../issues/{n}/comments`` honours ``since`` (by ``updated_at``), ``pulls``
``state``/``head``/``base``, ``issues`` ``state``/``labels``/``creator``, artifacts ``name``.

Reading what mlci did:
    ``comments(issue_number)``, ``check_runs()``, ``pulls()``, ``issues()``,
    ``releases()``, ``assets(release_id)``, ``refs()``, ``files(branch=None)``,
    ``dispatches()`` (each list of dicts); ``requests`` (every request as
    ``Recorded(method, path, query, login, json, status, headers)``, the token itself is
    never recorded); ``requests_to(method, path_regex)``.

Fault injection (each consumes itself after ``times`` matching requests; ``method`` and
``path`` -- a regex searched in the path -- narrow which requests it hits):
    ``fail(status, times=1, message=..., headers=...)``           any status, e.g. 502;
    ``secondary_rate_limit(retry_after=1, times=1)``               403 + ``retry-after``;
    ``primary_rate_limit(reset_in=1, times=1, status=403)``        remaining 0 + reset;
    ``too_many_requests(retry_after=1, times=1)``                  429 + ``retry-after``;
    ``hang(seconds=30, times=1)``                                  never answers in time
    (the handler waits until the test ends, so a client timeout fires);
    ``barrier(parties=2, method="POST", path="comments")``        holds requests until
    ``parties`` arrived (forces races between concurrent jobs);
    ``set_rate_limit(remaining=..., limit=5000)``                  the primary budget,
    decremented per authenticated request; at 0 the API answers 403 as GitHub does.
"""

from __future__ import annotations

import base64
import copy
import datetime as _dt
import hashlib
import io
import json
import re
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

SHARED_GITHUB_API = Path(__file__).resolve().parents[2] / "shared" / "github-api"
SPEC_PATH = SHARED_GITHUB_API / "rest-subset.json"

DOCS = "https://docs.github.com/rest"
COMMENT_BODY_LIMIT = 65536
CHECK_OUTPUT_LIMIT = 65535
RELEASE_BODY_LIMIT = 125000
MAX_PER_PAGE = 100
_EMPTY_SHA = "0" * 40

# Which fine-grained permission an operation needs to write (first path segment after
# the repository decides). Reads only need "read", which every known token has.
_PERMISSION_BY_SEGMENT = {
    "issues": "issues",
    "pulls": "pull_requests",
    "check-runs": "checks",
    "releases": "contents",
    "git": "contents",
    "contents": "contents",
    "actions": "actions",
}
_WRITE_ALL = {
    "issues": "write",
    "pull_requests": "write",
    "checks": "write",
    "contents": "write",
    "actions": "write",
    "metadata": "read",
}


# -- the OpenAPI description -------------------------------------------------------------


@cache
def load_spec() -> dict[str, Any]:
    """GitHub's OpenAPI description of the operations mlci calls (parsed once)."""
    return json.loads(SPEC_PATH.read_text(encoding="utf-8"))


def to_json_schema(schema: Any) -> Any:
    """Translate an OpenAPI 3.0 schema to JSON Schema (``nullable`` -> ``null`` allowed)."""
    if isinstance(schema, list):
        return [to_json_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {
        k: to_json_schema(v)
        for k, v in schema.items()
        if k not in {"nullable", "example", "examples", "deprecated", "x-github"}
        and not k.startswith("x-")
    }
    if "properties" in schema:
        out["properties"] = {k: to_json_schema(v) for k, v in schema["properties"].items()}
    if schema.get("nullable"):
        return {"anyOf": [out, {"type": "null"}]}
    return out


@dataclass(frozen=True)
class Operation:
    """One operation of the description, with its path template compiled."""

    method: str
    template: str
    operation_id: str
    spec: dict[str, Any]
    regex: re.Pattern[str]
    params: tuple[str, ...]
    uploads: bool

    def request_schema(self) -> dict[str, Any] | None:
        body = self.spec.get("requestBody")
        if not body:
            return None
        content = body.get("content", {})
        media = content.get("application/json")
        return to_json_schema(media["schema"]) if media else None

    def response_schema(self, status: int) -> dict[str, Any] | None:
        response = self.spec.get("responses", {}).get(str(status))
        if not response or not response.get("content"):
            return None
        content = response["content"]
        media = content.get("application/json") or next(iter(content.values()))
        return media.get("schema")


@cache
def operations() -> tuple[Operation, ...]:
    """Every operation of the description (literal paths before templated ones)."""
    ops: list[Operation] = []
    for template, item in load_spec()["paths"].items():
        for method, spec in item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            names: list[str] = []

            def _param(m: re.Match[str], names: list[str] = names) -> str:
                names.append(m.group(1))
                # {path} of contents and {ref} of git refs may contain slashes.
                return "(.+)" if m.group(1) in {"path", "ref"} else "([^/]+)"

            pattern = re.sub(r"\\\{(\w+)\\\}", _param, re.escape(template))
            uploads = any("uploads" in s.get("url", "") for s in spec.get("servers", []))
            prefix = "/uploads" if uploads else ""
            ops.append(
                Operation(
                    method.upper(),
                    template,
                    spec["operationId"],
                    spec,
                    re.compile(f"^{re.escape(prefix)}{pattern}$"),
                    tuple(names),
                    uploads,
                )
            )
    ops.sort(key=lambda o: (len(o.params), -len(o.template)))
    return tuple(ops)


def _validator(schema: dict[str, Any]) -> Any:
    import jsonschema

    return jsonschema.Draft7Validator(schema)


@cache
def _request_validator(operation_id: str) -> Any:
    op = next(o for o in operations() if o.operation_id == operation_id)
    schema = op.request_schema()
    return _validator(schema) if schema else None


@cache
def _response_validator(operation_id: str, status: int) -> Any:
    op = next(o for o in operations() if o.operation_id == operation_id)
    schema = op.response_schema(status)
    return _validator(to_json_schema(schema)) if schema else None


def response_schema(operation_id: str, status: int) -> dict[str, Any] | None:
    """The JSON Schema of an operation's response body (for tests of the fake itself)."""
    op = next(o for o in operations() if o.operation_id == operation_id)
    schema = op.response_schema(status)
    return to_json_schema(schema) if schema else None


# -- conforming responses ----------------------------------------------------------------


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def conform(schema: Any, value: Any, base: str, key: str = "value") -> Any:
    """Return ``value`` with every field the OpenAPI ``schema`` requires filled in.

    Fields the fake keeps in its state are used as they are; required fields it does
    not track are synthesised from their schema (``null`` when nullable, the first enum
    value, a URL below the fake, a timestamp, 0, false, an empty list ...).
    """
    if not isinstance(schema, dict):
        return value
    for combo in ("oneOf", "anyOf"):
        if combo in schema:
            alternatives = schema[combo]
            if value is None and schema.get("nullable"):
                return None
            if isinstance(value, dict):
                for alt in alternatives:
                    if alt.get("type", "object") == "object":
                        return conform(alt, value, base, key)
            return conform(alternatives[0], value, base, key)
    if "allOf" in schema:
        for part in schema["allOf"]:
            value = conform(part, value, base, key)
        return value
    if value is None:
        return None if schema.get("nullable") else _synth(schema, base, key)
    kind = schema.get("type")
    if kind == "object" and isinstance(value, dict):
        props = schema.get("properties", {})
        out = dict(value)
        for name in schema.get("required", []):
            if name not in out:
                out[name] = _synth(props.get(name, {}), base, name)
        for name, sub in props.items():
            if name in out:
                out[name] = conform(sub, out[name], base, name)
        return out
    if kind == "array" and isinstance(value, list):
        return [conform(schema.get("items", {}), v, base, key) for v in value]
    return value


def _synth(schema: dict[str, Any], base: str, key: str) -> Any:
    if schema.get("nullable"):
        return None
    for combo in ("oneOf", "anyOf", "allOf"):
        if combo in schema:
            return _synth(schema[combo][0], base, key)
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    kind = schema.get("type")
    fmt = schema.get("format")
    if kind == "string":
        if fmt == "date-time":
            return _now()
        if fmt == "uri" or key.endswith("url"):
            return f"{base}/_synth/{key}"
        if fmt == "email":
            return "noreply@example.invalid"
        return ""
    if kind in {"integer", "number"}:
        return schema.get("minimum", 0)
    if kind == "boolean":
        return False
    if kind == "array":
        return []
    if kind == "object" or "properties" in schema:
        return conform(schema, {}, base, key)
    return None


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


class FakeGitHub:
    """The fake's state and request handling (see the module docstring for the API)."""

    def __init__(self, url: str):
        self.url = url.rstrip("/")
        self.uploads_url = f"{self.url}/uploads"
        self.server_url = f"{self.url}/_web"
        self._lock = threading.RLock()
        self._ids = 1000
        self.token = "ghs_fakeBotToken0000000000000000000000"
        self.read_only_token = "ghs_fakeForkToken000000000000000000000"
        self.other_token = "ghp_fakeOctocatToken00000000000000000000"
        self.tokens: dict[str, Identity] = {}
        self.add_token(self.token, login="github-actions[bot]", type="Bot")
        self.add_token(self.read_only_token, login="github-actions[bot]", permissions="read")
        self.add_token(self.other_token, login="octocat", type="User")
        self.repos: dict[str, Repo] = {}
        self.repo = "octo/ml-project"
        self.add_repo(self.repo)
        self.requests: list[Recorded] = []
        self.faults: list[Fault] = []
        self.violations: list[str] = []
        self.response_violations: list[str] = []
        self.allow_violations = False
        self.rate_limit = 5000
        self.rate_remaining = 5000
        self.rate_reset = int(time.time()) + 3600
        self.blobs: dict[str, tuple[bytes, str]] = {}
        self.released = threading.Event()

    # -- ids and identities -------------------------------------------------------------

    def _next_id(self) -> int:
        with self._lock:
            self._ids += 1
            return self._ids

    def add_token(
        self,
        token: str,
        *,
        login: str,
        type: str = "User",  # noqa: A002 - GitHub's field name
        permissions: dict[str, str] | str = "write",
    ) -> Identity:
        """Register ``token`` as ``login``; ``permissions`` "write", "read" or a mapping."""
        if permissions == "write":
            perms = dict(_WRITE_ALL)
        elif permissions == "read":
            perms = {k: "read" for k in _WRITE_ALL}
        else:
            assert isinstance(permissions, dict)
            perms = {k: "read" for k in _WRITE_ALL} | permissions
        same = next((i for i in self.tokens.values() if i.login == login), None)
        ident = Identity(login, same.id if same else self._next_id(), type, perms)
        self.tokens[token] = ident
        return ident

    def user(self, login: str, type: str = "User") -> dict[str, Any]:  # noqa: A002
        """A GitHub "simple user" object for ``login``."""
        ident = next((i for i in self.tokens.values() if i.login == login), None)
        uid = ident.id if ident else int(hashlib.md5(login.encode()).hexdigest()[:6], 16)  # noqa: S324
        kind = ident.type if ident else type
        api = f"{self.url}/users/{login}"
        return {
            "login": login,
            "id": uid,
            "node_id": f"U_{uid}",
            "avatar_url": f"{self.url}/_avatars/{uid}",
            "gravatar_id": "",
            "url": api,
            "html_url": f"{self.server_url}/{login}",
            "followers_url": f"{api}/followers",
            "following_url": f"{api}/following{{/other_user}}",
            "gists_url": f"{api}/gists{{/gist_id}}",
            "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{api}/subscriptions",
            "organizations_url": f"{api}/orgs",
            "repos_url": f"{api}/repos",
            "events_url": f"{api}/events{{/privacy}}",
            "received_events_url": f"{api}/received_events",
            "type": kind,
            "site_admin": False,
            "user_view_type": "public",
        }

    # -- seeding ------------------------------------------------------------------------

    def add_repo(self, full_name: str) -> Repo:
        """Create a repository (a ``main`` branch at a fixed commit)."""
        owner, name = full_name.split("/", 1)
        repo = Repo(owner, name, self._next_id())
        repo.refs["heads/main"] = "a" * 40
        self.repos[full_name] = repo
        return repo

    def _repo(self, repo: str | None) -> Repo:
        return self.repos[repo or self.repo]

    def _issue_obj(
        self,
        repo: Repo,
        number: int,
        *,
        title: str,
        body: str | None,
        login: str,
        state: str,
        labels: list[str],
        is_pull: bool,
    ) -> dict[str, Any]:
        api = f"{self.url}/repos/{repo.full_name}/issues/{number}"
        obj: dict[str, Any] = {
            "id": self._next_id(),
            "node_id": f"I_{number}",
            "number": number,
            "title": title,
            "body": body,
            "state": state,
            "user": self.user(login),
            "labels": [
                {
                    "id": self._next_id(),
                    "name": n,
                    "color": "ededed",
                    "default": False,
                    "node_id": f"L_{n}",
                    "url": f"{api}/labels/{n}",
                    "description": None,
                }
                for n in labels
            ],
            "url": api,
            "repository_url": f"{self.url}/repos/{repo.full_name}",
            "labels_url": f"{api}/labels{{/name}}",
            "comments_url": f"{api}/comments",
            "events_url": f"{api}/events",
            "html_url": f"{self.server_url}/{repo.full_name}/"
            f"{'pull' if is_pull else 'issues'}/{number}",
            "comments": 0,
            "created_at": _now(),
            "updated_at": _now(),
            "closed_at": None,
            "author_association": "CONTRIBUTOR",
            "assignee": None,
            "assignees": [],
            "milestone": None,
            "locked": False,
        }
        if is_pull:
            obj["pull_request"] = {
                "url": f"{self.url}/repos/{repo.full_name}/pulls/{number}",
                "html_url": obj["html_url"],
                "diff_url": obj["html_url"] + ".diff",
                "patch_url": obj["html_url"] + ".patch",
            }
        return obj

    def _next_number(self, repo: Repo) -> int:
        return max(repo.issues, default=0) + 1

    def add_issue(
        self,
        *,
        title: str = "An issue",
        body: str | None = None,
        labels: list[str] | None = None,
        login: str = "octocat",
        state: str = "open",
        repo: str | None = None,
    ) -> dict[str, Any]:
        """Seed an issue; returns it (``number`` is assigned)."""
        r = self._repo(repo)
        with self._lock:
            number = self._next_number(r)
            obj = self._issue_obj(
                r,
                number,
                title=title,
                body=body,
                login=login,
                state=state,
                labels=labels or [],
                is_pull=False,
            )
            r.issues[number] = obj
        return obj

    def add_pull(
        self,
        *,
        number: int | None = None,
        head_sha: str = "b" * 40,
        head_ref: str = "feature",
        base_ref: str = "main",
        title: str = "A change",
        body: str | None = None,
        state: str = "open",
        login: str = "octocat",
        draft: bool = False,
        repo: str | None = None,
    ) -> dict[str, Any]:
        """Seed a pull request; returns it (the pull object, with ``number``)."""
        r = self._repo(repo)
        with self._lock:
            number = number or self._next_number(r)
            issue = self._issue_obj(
                r, number, title=title, body=body, login=login, state=state, labels=[], is_pull=True
            )
            r.issues[number] = issue
            api = f"{self.url}/repos/{r.full_name}/pulls/{number}"
            repo_obj = self._repo_obj(r)
            pull = {
                "id": self._next_id(),
                "node_id": f"PR_{number}",
                "number": number,
                "state": state,
                "title": title,
                "body": body,
                "draft": draft,
                "user": self.user(login),
                "url": api,
                "html_url": issue["html_url"],
                "diff_url": issue["html_url"] + ".diff",
                "patch_url": issue["html_url"] + ".patch",
                "issue_url": issue["url"],
                "commits_url": f"{api}/commits",
                "review_comments_url": f"{api}/comments",
                "review_comment_url": f"{self.url}/repos/{r.full_name}/pulls/comments{{/number}}",
                "comments_url": issue["comments_url"],
                "statuses_url": f"{self.url}/repos/{r.full_name}/statuses/{head_sha}",
                "head": {
                    "label": f"{r.owner}:{head_ref}",
                    "ref": head_ref,
                    "sha": head_sha,
                    "user": self.user(r.owner),
                    "repo": repo_obj,
                },
                "base": {
                    "label": f"{r.owner}:{base_ref}",
                    "ref": base_ref,
                    "sha": r.refs.get(f"heads/{base_ref}", _EMPTY_SHA),
                    "user": self.user(r.owner),
                    "repo": repo_obj,
                },
                "created_at": issue["created_at"],
                "updated_at": issue["updated_at"],
                "closed_at": None,
                "merged_at": None,
                "merge_commit_sha": None,
                "author_association": "CONTRIBUTOR",
                "labels": [],
                "locked": False,
                "merged": False,
            }
            r.pulls[number] = pull
        return pull

    def add_comment(
        self, issue_number: int, body: str, *, login: str = "octocat", repo: str | None = None
    ) -> dict[str, Any]:
        """Seed a comment on an issue or PR (which must exist); returns it."""
        r = self._repo(repo)
        if issue_number not in r.issues:
            raise KeyError(f"no issue or pull #{issue_number} in {r.full_name}; add_pull first")
        return self._new_comment(r, issue_number, body, self.user(login))

    def add_comments(
        self,
        issue_number: int,
        n: int,
        *,
        body: str = "a comment",
        login: str = "octocat",
        repo: str | None = None,
    ) -> list[dict[str, Any]]:
        """Seed ``n`` comments (``body`` gets ``#i`` appended); returns them."""
        return [
            self.add_comment(issue_number, f"{body} #{i}", login=login, repo=repo) for i in range(n)
        ]

    def _new_comment(self, r: Repo, number: int, body: str, user: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            cid = self._next_id()
            issue_url = f"{self.url}/repos/{r.full_name}/issues/{number}"
            comment = {
                "id": cid,
                "node_id": f"IC_{cid}",
                "url": f"{self.url}/repos/{r.full_name}/issues/comments/{cid}",
                "html_url": f"{r.issues[number]['html_url']}#issuecomment-{cid}",
                "issue_url": issue_url,
                "body": body,
                "user": user,
                "created_at": _now(),
                "updated_at": _now(),
                "author_association": "NONE" if user["type"] == "Bot" else "CONTRIBUTOR",
                "_issue": number,
            }
            r.comments[cid] = comment
            r.issues[number]["comments"] += 1
        return comment

    def add_release(
        self,
        tag: str,
        *,
        name: str | None = None,
        body: str | None = None,
        draft: bool = False,
        prerelease: bool = False,
        assets: dict[str, bytes] | None = None,
        repo: str | None = None,
    ) -> dict[str, Any]:
        """Seed a release with optional assets ``{name: bytes}``; returns it."""
        r = self._repo(repo)
        rel = self._new_release(
            r,
            {"tag_name": tag, "name": name, "body": body, "draft": draft, "prerelease": prerelease},
            self.user("github-actions[bot]"),
        )
        for asset_name, data in (assets or {}).items():
            self._new_asset(
                r,
                rel,
                asset_name,
                data,
                "application/octet-stream",
                None,
                self.user("github-actions[bot]"),
            )
        return self._release_view(r, rel)

    def add_ref(self, ref: str, sha: str, *, repo: str | None = None) -> None:
        """Seed a git ref such as ``heads/main`` or ``tags/v1``."""
        self._repo(repo).refs[ref.removeprefix("refs/")] = sha

    def add_file(
        self, path: str, content: bytes, *, branch: str = "main", repo: str | None = None
    ) -> str:
        """Seed a file on a branch; returns its blob sha."""
        self._repo(repo).files[(branch, path)] = content
        return _sha(content)

    def add_workflow_run(
        self,
        *,
        run_id: int | None = None,
        head_sha: str = "b" * 40,
        event: str = "pull_request",
        status: str = "completed",
        conclusion: str | None = "success",
        name: str = "mlci-pr",
        pull_numbers: list[int] | None = None,
        artifacts: dict[str, dict[str, bytes]] | None = None,
        repo: str | None = None,
    ) -> dict[str, Any]:
        """Seed a workflow run and its artifacts ``{artifact: {file: bytes}}`` (zipped)."""
        r = self._repo(repo)
        rid = run_id or self._next_id()
        api = f"{self.url}/repos/{r.full_name}/actions/runs/{rid}"
        run = {
            "id": rid,
            "name": name,
            "node_id": f"WFR_{rid}",
            "head_sha": head_sha,
            "head_branch": "feature",
            "event": event,
            "status": status,
            "conclusion": conclusion,
            "run_number": rid % 1000,
            "run_attempt": 1,
            "url": api,
            "html_url": f"{self.server_url}/{r.full_name}/actions/runs/{rid}",
            "artifacts_url": f"{api}/artifacts",
            "pull_requests": [
                {
                    "number": n,
                    "id": n,
                    "url": f"{self.url}/repos/{r.full_name}/pulls/{n}",
                    "head": {
                        "ref": "feature",
                        "sha": head_sha,
                        "repo": {
                            "id": r.id,
                            "url": f"{self.url}/repos/{r.full_name}",
                            "name": r.name,
                        },
                    },
                    "base": {
                        "ref": "main",
                        "sha": _EMPTY_SHA,
                        "repo": {
                            "id": r.id,
                            "url": f"{self.url}/repos/{r.full_name}",
                            "name": r.name,
                        },
                    },
                }
                for n in pull_numbers or []
            ],
            "created_at": _now(),
            "updated_at": _now(),
            "path": f".github/workflows/{name}.yml",
            "workflow_id": 1,
        }
        r.runs[rid] = run
        for art_name, files in (artifacts or {}).items():
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w") as zf:
                for fname, data in files.items():
                    zf.writestr(fname, data)
            aid = self._next_id()
            key = f"artifacts/{aid}.zip"
            self.blobs[key] = (buf.getvalue(), "application/zip")
            r.artifacts[aid] = {
                "id": aid,
                "node_id": f"A_{aid}",
                "name": art_name,
                "size_in_bytes": len(buf.getvalue()),
                "url": f"{self.url}/repos/{r.full_name}/actions/artifacts/{aid}",
                "archive_download_url": f"{self.url}/repos/{r.full_name}/actions/artifacts/{aid}/zip",
                "expired": False,
                "created_at": _now(),
                "expires_at": _now(),
                "updated_at": _now(),
                "digest": "sha256:" + hashlib.sha256(buf.getvalue()).hexdigest(),
                "workflow_run": {
                    "id": rid,
                    "head_sha": head_sha,
                    "head_branch": "feature",
                    "repository_id": r.id,
                    "head_repository_id": r.id,
                },
                "_run": rid,
                "_blob": key,
            }
        return run

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

    # -- reading state ------------------------------------------------------------------

    @staticmethod
    def _public(obj: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in obj.items() if not k.startswith("_")}

    def comments(self, issue_number: int, *, repo: str | None = None) -> list[dict[str, Any]]:
        """The comments of an issue or PR, oldest first."""
        r = self._repo(repo)
        return [
            self._public(c)
            for c in sorted(r.comments.values(), key=lambda c: c["id"])
            if c["_issue"] == issue_number
        ]

    def check_runs(self, *, repo: str | None = None) -> list[dict[str, Any]]:
        """Every check run, with ``output.annotations`` holding all annotations received."""
        return [self._public(c) for c in self._repo(repo).check_runs.values()]

    def pulls(self, *, repo: str | None = None) -> list[dict[str, Any]]:
        """Every pull request."""
        return list(self._repo(repo).pulls.values())

    def issues(self, *, repo: str | None = None) -> list[dict[str, Any]]:
        """Every issue that is not a pull request."""
        return [i for i in self._repo(repo).issues.values() if "pull_request" not in i]

    def releases(self, *, repo: str | None = None) -> list[dict[str, Any]]:
        """Every release (with its assets)."""
        r = self._repo(repo)
        return [self._release_view(r, rel) for rel in r.releases.values()]

    def assets(self, release_id: int, *, repo: str | None = None) -> list[dict[str, Any]]:
        """The assets of a release, each with ``data`` (the bytes uploaded)."""
        r = self._repo(repo)
        return [
            self._public(a) | {"data": self.blobs[a["_blob"]][0]}
            for a in r.assets.values()
            if a["_release"] == release_id
        ]

    def refs(self, *, repo: str | None = None) -> dict[str, str]:
        """Git refs as ``{"heads/main": sha}``."""
        return dict(self._repo(repo).refs)

    def files(self, *, branch: str | None = None, repo: str | None = None) -> dict[str, bytes]:
        """Files of a branch (default: all, keyed ``branch:path``)."""
        items = self._repo(repo).files.items()
        if branch is None:
            return {f"{b}:{p}": d for (b, p), d in items}
        return {p: d for (b, p), d in items if b == branch}

    def dispatches(self, *, repo: str | None = None) -> list[dict[str, Any]]:
        """Workflow dispatches received: ``{"workflow_id", "ref", "inputs"}``."""
        return list(self._repo(repo).dispatches)

    def requests_to(self, method: str, path_regex: str) -> list[Recorded]:
        """Recorded requests with ``method`` whose path matches ``path_regex``."""
        return [
            r for r in self.requests if r.method == method.upper() and re.search(path_regex, r.path)
        ]

    def env(self, token: str | None = None) -> dict[str, str]:
        """Environment variables that point mlci (or ``act``) at the fake."""
        out = {
            "GITHUB_API_URL": self.url,
            "GITHUB_SERVER_URL": self.server_url,
            "GITHUB_REPOSITORY": self.repo,
        }
        if token:
            out["GITHUB_TOKEN"] = token
        return out

    # -- the HTTP side ------------------------------------------------------------------

    def handle(self, request: Any) -> Any:
        """Answer one werkzeug request (called by pytest-httpserver on its thread)."""
        from werkzeug import Response

        path = request.path
        method = request.method.upper()
        record = Recorded(method, path, dict(request.args), None, None)
        with self._lock:
            self.requests.append(record)
        try:
            if path.startswith("/_blobs/"):
                data, ctype = self.blobs.get(path.removeprefix("/_blobs/"), (None, ""))
                if data is None:
                    raise ApiError(404, "Not Found")
                record.status = 200
                return Response(data, 200, content_type=ctype)
            status, body, headers, _op = self._handle_api(request, method, path, record)
        except ApiError as exc:
            status = exc.status
            body = {
                "message": exc.message,
                "documentation_url": exc.docs,
                "status": str(exc.status),
            }
            if exc.errors is not None:
                body["errors"] = exc.errors
            headers = dict(exc.headers)
        headers = {
            **self._rate_headers(),
            "x-github-request-id": uuid.uuid4().hex[:20].upper(),
            "x-github-api-version-selected": "2022-11-28",
            "x-github-media-type": "github.v3; format=json",
            **headers,
        }
        headers.pop("x-ratelimit-reset-in", None)
        record.status = status
        record.headers = headers
        if body is None:
            return Response(b"", status, headers=headers)
        if isinstance(body, bytes):
            return Response(body, status, headers=headers)
        text = json.dumps(body)
        return Response(
            text, status, headers=headers, content_type="application/json; charset=utf-8"
        )

    def _rate_headers(self) -> dict[str, str]:
        return {
            "x-ratelimit-limit": str(self.rate_limit),
            "x-ratelimit-remaining": str(max(self.rate_remaining, 0)),
            "x-ratelimit-used": str(self.rate_limit - max(self.rate_remaining, 0)),
            "x-ratelimit-reset": str(self.rate_reset),
            "x-ratelimit-resource": "core",
        }

    def _match(self, method: str, path: str) -> tuple[Operation, dict[str, str]]:
        allowed = False
        for op in operations():
            m = op.regex.match(path)
            if not m:
                continue
            params = dict(zip(op.params, m.groups(), strict=True))
            schema_types = {
                p["name"]: p.get("schema", {}).get("type")
                for p in op.spec.get("parameters", [])
                if p.get("in") == "path"
            }
            if any(schema_types.get(k) == "integer" and not v.isdigit() for k, v in params.items()):
                continue
            allowed = True
            if op.method == method:
                return op, params
        raise ApiError(404, "Not Found") if not allowed else ApiError(404, "Not Found")

    def _identity(self, request: Any) -> Identity | None:
        auth = request.headers.get("Authorization", "")
        if not auth:
            return None
        scheme, _, token = auth.partition(" ")
        if scheme.lower() not in {"bearer", "token"} or token not in self.tokens:
            raise ApiError(401, "Bad credentials")
        return self.tokens[token]

    def _inject(self, method: str, path: str) -> None:
        with self._lock:
            fault = next((f for f in self.faults if f.matches(method, path)), None)
            if fault is None:
                return
            fault.times -= 1
        if fault.kind == "barrier":
            assert fault.gate is not None
            fault.gate.wait()
            return
        if fault.kind == "hang":
            self.released.wait(fault.seconds)
            raise ApiError(504, "We couldn't respond to your request in time.")
        if fault.kind == "primary":
            reset = int(time.time()) + int(fault.headers["x-ratelimit-reset-in"])
            raise ApiError(
                fault.status,
                fault.message,
                headers={
                    "x-ratelimit-remaining": "0",
                    "x-ratelimit-reset": str(reset),
                    "x-ratelimit-used": str(self.rate_limit),
                },
                docs="https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api",
            )
        raise ApiError(fault.status, fault.message, headers=dict(fault.headers))

    def _handle_api(
        self, request: Any, method: str, path: str, record: Recorded
    ) -> tuple[int, Any, dict[str, str], str]:
        op, params = self._match(method, path)
        ident = self._identity(request)
        record.login = ident.login if ident else None
        self._inject(method, path)
        if ident is not None:
            with self._lock:
                if self.rate_remaining <= 0:
                    raise ApiError(
                        403,
                        "API rate limit exceeded for installation ID 1.",
                        docs="https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api",
                    )
                self.rate_remaining -= 1
        # Query parameters the operation requires.
        for p in op.spec.get("parameters", []):
            if p.get("in") == "query" and p.get("required") and p["name"] not in request.args:
                raise ApiError(
                    422,
                    "Validation Failed",
                    errors=[{"resource": "Request", "field": p["name"], "code": "missing_field"}],
                )
        payload: Any = None
        raw = request.get_data()
        is_json = op.request_schema() is not None
        if is_json and raw:
            try:
                payload = json.loads(raw)
            except ValueError:
                raise ApiError(400, "Problems parsing JSON") from None
        record.json = payload
        if is_json and method != "GET":
            self._validate_request(op, payload if raw else None)
        repo = None
        if "owner" in params:
            repo = self.repos.get(f"{params['owner']}/{params['repo']}")
            if repo is None:
                raise ApiError(404, "Not Found")
        if method != "GET":
            self._authorize_write(ident, path)
        handler: Callable[..., tuple[int, Any, dict[str, str]]] = getattr(
            self, "_op_" + re.sub(r"\W", "_", op.operation_id)
        )
        with self._lock:
            status, body, headers = handler(
                repo=repo, params=params, body=payload, request=request, ident=ident, raw=raw
            )
        body = self._conform_response(op, status, body)
        return status, body, headers, op.operation_id

    def _validate_request(self, op: Operation, payload: Any) -> None:
        validator = _request_validator(op.operation_id)
        if validator is None:
            return
        if payload is None:
            if op.spec.get("requestBody", {}).get("required"):
                self.violations.append(f"{op.method} {op.template}: missing request body")
                raise ApiError(400, "Problems parsing JSON")
            return
        errors = sorted(validator.iter_errors(payload), key=lambda e: list(e.path))
        if errors:
            text = "; ".join(
                f"{'/'.join(map(str, e.path)) or '(body)'}: {e.message[:200]}" for e in errors[:5]
            )
            self.violations.append(f"{op.method} {op.template}: {text}")
            raise ApiError(
                422,
                f"Invalid request.\n\n{text}",
                errors=[
                    {
                        "resource": op.operation_id.split("/")[0],
                        "code": "invalid",
                        "field": "/".join(map(str, e.path)) or "body",
                        "message": e.message[:200],
                    }
                    for e in errors[:5]
                ],
            )

    def _authorize_write(self, ident: Identity | None, path: str) -> None:
        if ident is None:
            raise ApiError(401, "Requires authentication")
        parts = path.removeprefix("/uploads").split("/")
        segment = parts[4] if len(parts) > 4 else ""
        permission = _PERMISSION_BY_SEGMENT.get(segment, "contents")
        accepted = f"{permission}=write"
        if permission == "issues" and len(parts) > 5 and "comments" in parts[5:]:
            # Comments on a pull request are allowed with pull_requests: write as well.
            accepted = "issues=write; pull_requests=write"
            if ident.permissions.get("pull_requests") == "write":
                return
        if ident.permissions.get(permission) != "write":
            raise ApiError(
                403,
                "Resource not accessible by integration",
                headers={"x-accepted-github-permissions": accepted},
            )

    def _conform_response(self, op: Operation, status: int, body: Any) -> Any:
        if body is None or isinstance(body, bytes):
            return body
        schema = op.response_schema(status)
        if schema is None:
            return body
        body = conform(schema, body, self.url)
        validator = _response_validator(op.operation_id, status)
        if validator is not None:
            for err in list(validator.iter_errors(body))[:3]:
                self.response_violations.append(
                    f"{op.method} {op.template} -> {status}: "
                    f"{'/'.join(map(str, err.path))}: {err.message[:200]}"
                )
        return body

    # -- pagination ---------------------------------------------------------------------

    def _page(self, request: Any, items: list[Any]) -> tuple[list[Any], dict[str, str]]:
        try:
            per_page = min(int(request.args.get("per_page", 30)), MAX_PER_PAGE)
            page = max(int(request.args.get("page", 1)), 1)
        except ValueError:
            raise ApiError(
                422,
                "Validation Failed",
                errors=[{"resource": "Request", "field": "page", "code": "invalid"}],
            ) from None
        per_page = max(per_page, 1)
        last = max((len(items) + per_page - 1) // per_page, 1)
        chunk = items[(page - 1) * per_page : page * per_page]
        args = {k: v for k, v in request.args.items() if k != "page"}
        base = f"{self.url}{request.path}"

        def link(n: int, rel: str) -> str:
            return f'<{base}?{urlencode({**args, "page": n})}>; rel="{rel}"'

        links = []
        if page < last:
            links += [link(page + 1, "next"), link(last, "last")]
        if page > 1:
            links = [link(page - 1, "prev"), link(1, "first")] + links
        return chunk, ({"Link": ", ".join(links)} if links else {})

    # -- operations ---------------------------------------------------------------------

    def _repo_obj(self, r: Repo) -> dict[str, Any]:
        api = f"{self.url}/repos/{r.full_name}"
        return {
            "id": r.id,
            "node_id": f"R_{r.id}",
            "name": r.name,
            "full_name": r.full_name,
            "owner": self.user(r.owner),
            "private": False,
            "html_url": f"{self.server_url}/{r.full_name}",
            "url": api,
            "default_branch": "main",
            "fork": False,
            "visibility": "public",
            "permissions": {
                "admin": False,
                "maintain": False,
                "push": True,
                "triage": True,
                "pull": True,
            },
        }

    def _op_repos_get(self, *, repo: Repo, **_: Any) -> tuple[int, Any, dict[str, str]]:
        return 200, self._repo_obj(repo), {}

    def _issue_of(
        self, repo: Repo, params: dict[str, str], key: str = "issue_number"
    ) -> dict[str, Any]:
        issue = repo.issues.get(int(params[key]))
        if issue is None:
            raise ApiError(404, "Not Found")
        return issue

    def _op_issues_list_comments(
        self, *, repo: Repo, params: dict[str, str], request: Any, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        issue = self._issue_of(repo, params)
        since = request.args.get("since", "")
        items = [
            self._public(c)
            for c in sorted(repo.comments.values(), key=lambda c: c["id"])
            if c["_issue"] == issue["number"] and c["updated_at"] >= since
        ]
        chunk, headers = self._page(request, items)
        return 200, chunk, headers

    @staticmethod
    def _too_long(value: Any, limit: int, resource: str, name: str) -> None:
        if isinstance(value, str) and len(value) > limit:
            raise ApiError(
                422,
                "Validation Failed",
                errors=[
                    {
                        "resource": resource,
                        "code": "custom",
                        "field": name,
                        "message": f"{name} is too long (maximum is {limit} characters)",
                    }
                ],
                docs="https://docs.github.com/rest",
            )

    def _op_issues_create_comment(
        self, *, repo: Repo, params: dict[str, str], body: Any, ident: Identity, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        issue = self._issue_of(repo, params)
        self._too_long(body["body"], COMMENT_BODY_LIMIT, "IssueComment", "body")
        if issue.get("locked"):
            raise ApiError(403, "Unable to create comment because issue is locked.")
        c = self._new_comment(repo, issue["number"], body["body"], self.user(ident.login))
        return 201, self._public(c), {"Location": c["url"]}

    def _comment_of(self, repo: Repo, params: dict[str, str]) -> dict[str, Any]:
        c = repo.comments.get(int(params["comment_id"]))
        if c is None:
            raise ApiError(404, "Not Found")
        return c

    def _op_issues_get_comment(
        self, *, repo: Repo, params: dict[str, str], **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        return 200, self._public(self._comment_of(repo, params)), {}

    def _op_issues_update_comment(
        self, *, repo: Repo, params: dict[str, str], body: Any, ident: Identity, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        c = self._comment_of(repo, params)
        self._too_long(body["body"], COMMENT_BODY_LIMIT, "IssueComment", "body")
        if c["user"]["login"] != ident.login:
            # Only the author (or a maintainer, which the fake's tokens are not) may edit.
            raise ApiError(
                403,
                "Resource not accessible by integration"
                if ident.type == "Bot"
                else "Must have admin rights to Repository.",
            )
        c["body"] = body["body"]
        c["updated_at"] = _now()
        return 200, self._public(c), {}

    def _op_issues_delete_comment(
        self, *, repo: Repo, params: dict[str, str], ident: Identity, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        c = self._comment_of(repo, params)
        if c["user"]["login"] != ident.login:
            raise ApiError(403, "Resource not accessible by integration")
        del repo.comments[c["id"]]
        repo.issues[c["_issue"]]["comments"] -= 1
        return 204, None, {}

    # check runs

    def _check_output(self, run: dict[str, Any], output: dict[str, Any] | None) -> None:
        if not output:
            return
        for key in ("summary", "text"):
            self._too_long(output.get(key), CHECK_OUTPUT_LIMIT, "CheckRun", f"output.{key}")
        if len(output.get("annotations", [])) > 50:
            raise ApiError(
                422,
                "Validation Failed",
                errors=[
                    {
                        "resource": "CheckRun",
                        "code": "custom",
                        "field": "output.annotations",
                        "message": "only 50 annotations are allowed per request",
                    }
                ],
            )
        current = run.setdefault(
            "output",
            {
                "title": None,
                "summary": None,
                "text": None,
                "annotations_count": 0,
                "annotations_url": "",
                "annotations": [],
            },
        )
        for key in ("title", "summary", "text"):
            if key in output:
                current[key] = output[key]
        current["annotations"] = current.get("annotations", []) + list(
            output.get("annotations", [])
        )
        current["annotations_count"] = len(current["annotations"])

    def _view_check(self, run: dict[str, Any]) -> dict[str, Any]:
        view = copy.deepcopy(self._public(run))
        view["output"] = {k: v for k, v in view["output"].items() if k != "annotations"}
        return view

    def _op_checks_create(
        self, *, repo: Repo, body: Any, ident: Identity, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        if body.get("status") == "completed" and "conclusion" not in body:
            raise ApiError(
                422,
                "Validation Failed",
                errors=[{"resource": "CheckRun", "code": "missing_field", "field": "conclusion"}],
            )
        rid = self._next_id()
        api = f"{self.url}/repos/{repo.full_name}/check-runs/{rid}"
        conclusion = body.get("conclusion")
        run: dict[str, Any] = {
            "id": rid,
            "node_id": f"CR_{rid}",
            "head_sha": body["head_sha"],
            "name": body["name"],
            "status": "completed" if conclusion else body.get("status", "queued"),
            "conclusion": conclusion,
            "details_url": body.get("details_url"),
            "external_id": body.get("external_id"),
            "url": api,
            "html_url": f"{self.server_url}/{repo.full_name}/runs/{rid}",
            "started_at": body.get("started_at", _now()),
            "completed_at": body.get("completed_at", _now() if conclusion else None),
            "check_suite": {"id": 1},
            "app": None,
            "pull_requests": [],
            "_by": ident.login,
        }
        run["output"] = {
            "title": None,
            "summary": None,
            "text": None,
            "annotations_count": 0,
            "annotations_url": f"{api}/annotations",
            "annotations": [],
        }
        self._check_output(run, body.get("output"))
        repo.check_runs[rid] = run
        return 201, self._view_check(run), {"Location": api}

    def _op_checks_get(
        self, *, repo: Repo, params: dict[str, str], **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        run = repo.check_runs.get(int(params["check_run_id"]))
        if run is None:
            raise ApiError(404, "Not Found")
        return 200, self._view_check(run), {}

    def _op_checks_update(
        self, *, repo: Repo, params: dict[str, str], body: Any, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        run = repo.check_runs.get(int(params["check_run_id"]))
        if run is None:
            raise ApiError(404, "Not Found")
        self._check_output(run, body.get("output"))
        for key in (
            "name",
            "details_url",
            "external_id",
            "started_at",
            "status",
            "conclusion",
            "completed_at",
        ):
            if key in body:
                run[key] = body[key]
        if body.get("conclusion"):
            run["status"] = "completed"
            run["completed_at"] = run.get("completed_at") or _now()
        return 200, self._view_check(run), {}

    # pulls

    def _op_repos_list_pull_requests_associated_with_commit(
        self, *, repo: Repo, params: dict[str, str], request: Any, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        items = [p for p in repo.pulls.values() if p["head"]["sha"] == params["commit_sha"]]
        chunk, headers = self._page(request, items)
        return 200, chunk, headers

    def _op_pulls_list(
        self, *, repo: Repo, request: Any, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        state = request.args.get("state", "open")
        head = request.args.get("head")
        base = request.args.get("base")
        items = [
            p
            for p in repo.pulls.values()
            if (state == "all" or p["state"] == state)
            and (head is None or p["head"]["label"] == head or p["head"]["ref"] == head)
            and (base is None or p["base"]["ref"] == base)
        ]
        chunk, headers = self._page(request, items)
        return 200, chunk, headers

    def _op_pulls_create(
        self, *, repo: Repo, body: Any, ident: Identity, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        self._too_long(body.get("body"), COMMENT_BODY_LIMIT, "PullRequest", "body")
        head = body["head"].split(":")[-1]
        if f"heads/{head}" not in repo.refs:
            raise ApiError(
                422,
                "Validation Failed",
                errors=[{"resource": "PullRequest", "field": "head", "code": "invalid"}],
            )
        if any(
            p["head"]["ref"] == head and p["base"]["ref"] == body["base"] and p["state"] == "open"
            for p in repo.pulls.values()
        ):
            raise ApiError(
                422,
                "Validation Failed",
                errors=[
                    {
                        "resource": "PullRequest",
                        "code": "custom",
                        "message": f"A pull request already exists for {repo.owner}:{head}.",
                    }
                ],
            )
        pull = self.add_pull(
            head_sha=repo.refs[f"heads/{head}"],
            head_ref=head,
            base_ref=body["base"],
            title=body.get("title", head),
            body=body.get("body"),
            login=ident.login,
            draft=body.get("draft", False),
            repo=repo.full_name,
        )
        return 201, pull, {"Location": pull["url"]}

    def _pull_of(self, repo: Repo, params: dict[str, str]) -> dict[str, Any]:
        pull = repo.pulls.get(int(params["pull_number"]))
        if pull is None:
            raise ApiError(404, "Not Found")
        return pull

    def _op_pulls_get(
        self, *, repo: Repo, params: dict[str, str], **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        return 200, self._pull_of(repo, params), {}

    def _op_pulls_update(
        self, *, repo: Repo, params: dict[str, str], body: Any, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        pull = self._pull_of(repo, params)
        self._too_long(body.get("body"), COMMENT_BODY_LIMIT, "PullRequest", "body")
        for key in ("title", "body", "state"):
            if key in body:
                pull[key] = body[key]
                repo.issues[pull["number"]][key] = body[key]
        if "base" in body:
            pull["base"]["ref"] = body["base"]
        pull["updated_at"] = _now()
        return 200, pull, {}

    # releases and assets

    def _new_release(self, r: Repo, body: dict[str, Any], author: dict[str, Any]) -> dict[str, Any]:
        rid = self._next_id()
        api = f"{self.url}/repos/{r.full_name}/releases/{rid}"
        tag = body["tag_name"]
        rel = {
            "id": rid,
            "node_id": f"RE_{rid}",
            "tag_name": tag,
            "target_commitish": body.get("target_commitish") or "main",
            "name": body.get("name"),
            "body": body.get("body"),
            "draft": bool(body.get("draft")),
            "prerelease": bool(body.get("prerelease")),
            "author": author,
            "url": api,
            "html_url": f"{self.server_url}/{r.full_name}/releases/tag/{tag}",
            "assets_url": f"{api}/assets",
            "upload_url": f"{self.uploads_url}/repos/{r.full_name}/releases/{rid}/assets{{?name,label}}",
            "tarball_url": f"{self.url}/repos/{r.full_name}/tarball/{tag}",
            "zipball_url": f"{self.url}/repos/{r.full_name}/zipball/{tag}",
            "created_at": _now(),
            "published_at": None if body.get("draft") else _now(),
        }
        r.releases[rid] = rel
        if not rel["draft"]:
            r.refs.setdefault(f"tags/{tag}", r.refs.get("heads/main", _EMPTY_SHA))
        return rel

    def _release_view(self, r: Repo, rel: dict[str, Any]) -> dict[str, Any]:
        return dict(rel) | {
            "assets": [self._public(a) for a in r.assets.values() if a["_release"] == rel["id"]]
        }

    def _op_repos_list_releases(
        self, *, repo: Repo, request: Any, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        items = [
            self._release_view(repo, r)
            for r in sorted(repo.releases.values(), key=lambda r: -r["id"])
        ]
        chunk, headers = self._page(request, items)
        return 200, chunk, headers

    def _op_repos_create_release(
        self, *, repo: Repo, body: Any, ident: Identity, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        self._too_long(body.get("body"), RELEASE_BODY_LIMIT, "Release", "body")
        if any(r["tag_name"] == body["tag_name"] for r in repo.releases.values()):
            raise ApiError(
                422,
                "Validation Failed",
                errors=[{"resource": "Release", "code": "already_exists", "field": "tag_name"}],
            )
        rel = self._new_release(repo, body, self.user(ident.login))
        return 201, self._release_view(repo, rel), {"Location": rel["url"]}

    def _op_repos_get_latest_release(
        self, *, repo: Repo, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        published = [r for r in repo.releases.values() if not r["draft"] and not r["prerelease"]]
        if not published:
            raise ApiError(404, "Not Found")
        return 200, self._release_view(repo, max(published, key=lambda r: r["id"])), {}

    def _op_repos_get_release_by_tag(
        self, *, repo: Repo, params: dict[str, str], **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        rel = next((r for r in repo.releases.values() if r["tag_name"] == params["tag"]), None)
        if rel is None:
            raise ApiError(404, "Not Found")
        return 200, self._release_view(repo, rel), {}

    def _release_of(self, repo: Repo, params: dict[str, str]) -> dict[str, Any]:
        rel = repo.releases.get(int(params["release_id"]))
        if rel is None:
            raise ApiError(404, "Not Found")
        return rel

    def _op_repos_get_release(
        self, *, repo: Repo, params: dict[str, str], **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        return 200, self._release_view(repo, self._release_of(repo, params)), {}

    def _op_repos_update_release(
        self, *, repo: Repo, params: dict[str, str], body: Any, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        rel = self._release_of(repo, params)
        self._too_long(body.get("body"), RELEASE_BODY_LIMIT, "Release", "body")
        for key in ("tag_name", "target_commitish", "name", "body", "draft", "prerelease"):
            if key in body:
                rel[key] = body[key]
        if not rel["draft"] and rel["published_at"] is None:
            rel["published_at"] = _now()
        return 200, self._release_view(repo, rel), {}

    def _op_repos_delete_release(
        self, *, repo: Repo, params: dict[str, str], **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        rel = self._release_of(repo, params)
        del repo.releases[rel["id"]]
        for aid in [a["id"] for a in repo.assets.values() if a["_release"] == rel["id"]]:
            del repo.assets[aid]
        return 204, None, {}

    def _op_repos_list_release_assets(
        self, *, repo: Repo, params: dict[str, str], request: Any, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        rel = self._release_of(repo, params)
        items = [self._public(a) for a in repo.assets.values() if a["_release"] == rel["id"]]
        chunk, headers = self._page(request, items)
        return 200, chunk, headers

    def _new_asset(
        self,
        r: Repo,
        rel: dict[str, Any],
        name: str,
        data: bytes,
        ctype: str,
        label: str | None,
        uploader: dict[str, Any],
    ) -> dict[str, Any]:
        aid = self._next_id()
        key = f"{r.full_name}/releases/download/{rel['tag_name']}/{name}"
        self.blobs[key] = (data, ctype)
        asset = {
            "id": aid,
            "node_id": f"RA_{aid}",
            "name": name,
            "label": label,
            "content_type": ctype,
            "state": "uploaded",
            "size": len(data),
            "download_count": 0,
            "uploader": uploader,
            "url": f"{self.url}/repos/{r.full_name}/releases/assets/{aid}",
            "browser_download_url": f"{self.url}/_blobs/{key}",
            "created_at": _now(),
            "updated_at": _now(),
            "digest": "sha256:" + hashlib.sha256(data).hexdigest(),
            "_release": rel["id"],
            "_blob": key,
        }
        r.assets[aid] = asset
        return asset

    def _op_repos_upload_release_asset(
        self,
        *,
        repo: Repo,
        params: dict[str, str],
        request: Any,
        raw: bytes,
        ident: Identity,
        **_: Any,
    ) -> tuple[int, Any, dict[str, str]]:
        rel = self._release_of(repo, params)
        name = request.args["name"]
        if any(a["name"] == name and a["_release"] == rel["id"] for a in repo.assets.values()):
            raise ApiError(
                422,
                "Validation Failed",
                errors=[{"resource": "ReleaseAsset", "code": "already_exists", "field": "name"}],
            )
        ctype = request.headers.get("Content-Type", "application/octet-stream")
        asset = self._new_asset(
            repo, rel, name, raw, ctype, request.args.get("label"), self.user(ident.login)
        )
        return 201, self._public(asset), {"Location": asset["url"]}

    def _asset_of(self, repo: Repo, params: dict[str, str]) -> dict[str, Any]:
        asset = repo.assets.get(int(params["asset_id"]))
        if asset is None:
            raise ApiError(404, "Not Found")
        return asset

    def _op_repos_get_release_asset(
        self, *, repo: Repo, params: dict[str, str], request: Any, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        asset = self._asset_of(repo, params)
        if "application/octet-stream" in request.headers.get("Accept", ""):
            asset["download_count"] += 1
            return 302, None, {"Location": asset["browser_download_url"]}
        return 200, self._public(asset), {}

    def _op_repos_update_release_asset(
        self, *, repo: Repo, params: dict[str, str], body: Any, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        asset = self._asset_of(repo, params)
        for key in ("name", "label", "state"):
            if key in body:
                asset[key] = body[key]
        return 200, self._public(asset), {}

    def _op_repos_delete_release_asset(
        self, *, repo: Repo, params: dict[str, str], **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        asset = self._asset_of(repo, params)
        del repo.assets[asset["id"]]
        return 204, None, {}

    # git refs and contents

    def _ref_obj(self, repo: Repo, ref: str) -> dict[str, Any]:
        return {
            "ref": f"refs/{ref}",
            "node_id": f"REF_{ref}",
            "url": f"{self.url}/repos/{repo.full_name}/git/refs/{ref}",
            "object": {
                "type": "commit",
                "sha": repo.refs[ref],
                "url": f"{self.url}/repos/{repo.full_name}/git/commits/{repo.refs[ref]}",
            },
        }

    def _op_git_get_ref(
        self, *, repo: Repo, params: dict[str, str], **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        ref = params["ref"]
        if ref not in repo.refs:
            raise ApiError(404, "Not Found")
        return 200, self._ref_obj(repo, ref), {}

    def _op_git_create_ref(
        self, *, repo: Repo, body: Any, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        full = body["ref"]
        if not full.startswith("refs/") or full.count("/") < 2:
            raise ApiError(
                422, "Reference name must start with 'refs/' and have at least two slashes."
            )
        ref = full.removeprefix("refs/")
        if ref in repo.refs:
            raise ApiError(422, "Reference already exists")
        repo.refs[ref] = body["sha"]
        obj = self._ref_obj(repo, ref)
        return 201, obj, {"Location": obj["url"]}

    def _op_git_update_ref(
        self, *, repo: Repo, params: dict[str, str], body: Any, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        ref = params["ref"]
        if ref not in repo.refs:
            raise ApiError(422, "Reference does not exist")
        repo.refs[ref] = body["sha"]
        return 200, self._ref_obj(repo, ref), {}

    def _op_git_delete_ref(
        self, *, repo: Repo, params: dict[str, str], **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        if params["ref"] not in repo.refs:
            raise ApiError(422, "Reference does not exist")
        del repo.refs[params["ref"]]
        return 204, None, {}

    def _content_obj(self, repo: Repo, branch: str, path: str) -> dict[str, Any]:
        data = repo.files[(branch, path)]
        api = f"{self.url}/repos/{repo.full_name}/contents/{path}"
        return {
            "type": "file",
            "encoding": "base64",
            "size": len(data),
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "sha": _sha(data),
            "content": base64.b64encode(data).decode(),
            "url": f"{api}?ref={branch}",
            "git_url": f"{self.url}/repos/{repo.full_name}/git/blobs/{_sha(data)}",
            "html_url": f"{self.server_url}/{repo.full_name}/blob/{branch}/{path}",
            "download_url": f"{self.url}/_blobs/raw/{repo.full_name}/{branch}/{path}",
            "_links": {"self": api, "git": None, "html": None},
            "entries": [],
        }

    def _op_repos_get_content(
        self, *, repo: Repo, params: dict[str, str], request: Any, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        branch = request.args.get("ref", "main").removeprefix("refs/heads/")
        path = params["path"]
        if (branch, path) not in repo.files:
            raise ApiError(404, "Not Found")
        if "raw" in request.headers.get("Accept", ""):
            return 200, repo.files[(branch, path)], {"Content-Type": "application/octet-stream"}
        return 200, self._content_obj(repo, branch, path), {}

    def _op_repos_create_or_update_file_contents(
        self, *, repo: Repo, params: dict[str, str], body: Any, ident: Identity, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        branch = body.get("branch", "main")
        path = params["path"]
        if f"heads/{branch}" not in repo.refs:
            raise ApiError(404, f"Branch {branch} not found")
        try:
            data = base64.b64decode(body["content"], validate=True)
        except ValueError:
            raise ApiError(422, "content is not valid Base64") from None
        existing = repo.files.get((branch, path))
        if existing is not None and body.get("sha") is None:
            raise ApiError(422, 'Invalid request.\n\n"sha" wasn\'t supplied.')
        if existing is not None and body["sha"] != _sha(existing):
            raise ApiError(409, f"{path} does not match {body['sha']}")
        repo.files[(branch, path)] = data
        commit_sha = hashlib.sha1(f"{branch}{path}{time.time()}".encode()).hexdigest()  # noqa: S324
        repo.refs[f"heads/{branch}"] = commit_sha
        out = {
            "content": self._content_obj(repo, branch, path),
            "commit": {
                "sha": commit_sha,
                "message": body["message"],
                "author": {"name": ident.login, "email": "noreply@example.invalid", "date": _now()},
            },
        }
        return (201 if existing is None else 200), out, {}

    # actions

    def _op_actions_create_workflow_dispatch(
        self, *, repo: Repo, params: dict[str, str], body: Any, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        ref = body["ref"].removeprefix("refs/heads/")
        if f"heads/{ref}" not in repo.refs and f"tags/{ref}" not in repo.refs:
            raise ApiError(422, f"No ref found for: {body['ref']}")
        repo.dispatches.append(
            {
                "workflow_id": params["workflow_id"],
                "ref": body["ref"],
                "inputs": body.get("inputs", {}),
            }
        )
        if body.get("return_run_details"):
            run = self.add_workflow_run(
                event="workflow_dispatch", status="queued", conclusion=None, repo=repo.full_name
            )
            return (
                200,
                {"workflow_run_id": run["id"], "run_url": run["url"], "html_url": run["html_url"]},
                {},
            )
        return 204, None, {}

    def _op_actions_get_workflow_run(
        self, *, repo: Repo, params: dict[str, str], **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        run = repo.runs.get(int(params["run_id"]))
        if run is None:
            raise ApiError(404, "Not Found")
        return 200, run, {}

    def _op_actions_list_workflow_run_artifacts(
        self, *, repo: Repo, params: dict[str, str], request: Any, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        rid = int(params["run_id"])
        if rid not in repo.runs:
            raise ApiError(404, "Not Found")
        name = request.args.get("name")
        items = [
            self._public(a)
            for a in repo.artifacts.values()
            if a["_run"] == rid and (name is None or a["name"] == name)
        ]
        chunk, headers = self._page(request, items)
        return 200, {"total_count": len(items), "artifacts": chunk}, headers

    def _op_actions_download_artifact(
        self, *, repo: Repo, params: dict[str, str], ident: Identity | None, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        if ident is None:
            raise ApiError(401, "Requires authentication")
        art = repo.artifacts.get(int(params["artifact_id"]))
        if art is None or params["archive_format"] != "zip":
            raise ApiError(404, "Not Found")
        if art["expired"]:
            raise ApiError(410, "Artifact has expired")
        return 302, None, {"Location": f"{self.url}/_blobs/{art['_blob']}"}

    # issues

    def _op_issues_list_for_repo(
        self, *, repo: Repo, request: Any, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        state = request.args.get("state", "open")
        labels = [x for x in request.args.get("labels", "").split(",") if x]
        creator = request.args.get("creator")
        items = [
            i
            for i in sorted(repo.issues.values(), key=lambda i: -i["number"])
            if (state == "all" or i["state"] == state)
            and all(lb in {x["name"] for x in i["labels"]} for lb in labels)
            and (creator is None or i["user"]["login"] == creator)
        ]
        chunk, headers = self._page(request, items)
        return 200, chunk, headers

    def _op_issues_create(
        self, *, repo: Repo, body: Any, ident: Identity, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        self._too_long(body.get("body"), COMMENT_BODY_LIMIT, "Issue", "body")
        labels = [
            lb if isinstance(lb, str) else lb.get("name", "") for lb in body.get("labels", [])
        ]
        issue = self.add_issue(
            title=str(body["title"]),
            body=body.get("body"),
            labels=labels,
            login=ident.login,
            repo=repo.full_name,
        )
        return 201, issue, {"Location": issue["url"]}

    def _op_issues_get(
        self, *, repo: Repo, params: dict[str, str], **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        return 200, self._issue_of(repo, params), {}

    def _op_issues_update(
        self, *, repo: Repo, params: dict[str, str], body: Any, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        issue = self._issue_of(repo, params)
        self._too_long(body.get("body"), COMMENT_BODY_LIMIT, "Issue", "body")
        for key in ("title", "body", "state"):
            if key in body:
                issue[key] = body[key]
        if "labels" in body:
            issue["labels"] = [
                {
                    "id": self._next_id(),
                    "name": lb if isinstance(lb, str) else lb["name"],
                    "color": "ededed",
                    "default": False,
                    "node_id": "L",
                    "url": "",
                    "description": None,
                }
                for lb in body["labels"]
            ]
        issue["closed_at"] = _now() if issue["state"] == "closed" else None
        issue["updated_at"] = _now()
        return 200, issue, {}

    def _op_rate_limit_get(self, **_: Any) -> tuple[int, Any, dict[str, str]]:
        core = {
            "limit": self.rate_limit,
            "remaining": max(self.rate_remaining, 0),
            "reset": self.rate_reset,
            "used": self.rate_limit - max(self.rate_remaining, 0),
        }
        return 200, {"resources": {"core": core}, "rate": core}, {}


# -- fixtures ------------------------------------------------------------------------------


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
    if not SPEC_PATH.is_file():
        pytest.skip(
            f"GitHub's API description is missing ({SPEC_PATH}); put the shared"
            " github-api folder beside the checkout to run the fake-GitHub tests"
        )
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
