"""The fake's core: identities, seeding repositories, reading state, the HTTP side."""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from tests.support.fake_github.contract import (
    _PERMISSION_BY_SEGMENT,
    _WRITE_ALL,
    MAX_PER_PAGE,
    Operation,
    _request_validator,
    _response_validator,
    conform,
    operations,
)
from tests.support.fake_github.state import (
    ApiError,
    Fault,
    Identity,
    Recorded,
    Repo,
)


class FakeGitHubCore:
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

    def add_repo(
        self,
        full_name: str,
        *,
        private: bool = False,
        fork_of: str | None = None,
        actions_can_create_pulls: bool = False,
        immutable_releases: bool = False,
    ) -> Repo:
        """Create a repository: ``main`` at a root commit (``"a" * 40``, empty tree).

        Args:
            full_name: ``owner/name``.
            private: Anonymous requests see nothing (404).
            fork_of: The repository this one is a fork of (shares its commits).
            actions_can_create_pulls: The "Allow GitHub Actions to create and approve
                pull requests" setting (off by default, as in new repositories).
            immutable_releases: The "Immutable releases" setting.
        """
        owner, name = full_name.split("/", 1)
        repo = Repo(owner, name, self._next_id())
        repo.private = private
        repo.fork_of = fork_of
        repo.actions_can_create_pulls = actions_can_create_pulls
        repo.immutable_releases = immutable_releases
        if fork_of is not None:
            parent = self.repos[fork_of]
            repo.commits, repo.trees, repo.objects = parent.commits, parent.trees, parent.objects
            repo.refs["heads/main"] = parent.refs["heads/main"]
        else:
            root = self._store_tree(repo, {})
            self._store_commit(repo, tree=root, parents=[], message="initial", sha="a" * 40)
            repo.refs["heads/main"] = "a" * 40
        self.repos[full_name] = repo
        return repo

    def settings(
        self,
        *,
        repo: str | None = None,
        actions_can_create_pulls: bool | None = None,
        immutable_releases: bool | None = None,
        private: bool | None = None,
    ) -> Repo:
        """Change a repository's settings (what a maintainer does in Settings)."""
        r = self._repo(repo)
        if actions_can_create_pulls is not None:
            r.actions_can_create_pulls = actions_can_create_pulls
        if immutable_releases is not None:
            r.immutable_releases = immutable_releases
        if private is not None:
            r.private = private
        return r

    def _repo(self, repo: str | None) -> Repo:
        return self.repos[repo or self.repo]

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
        return [self._public(p) for p in self._repo(repo).pulls.values()]

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
        """Files at a branch's tip (default: every branch, keyed ``branch:path``)."""
        r = self._repo(repo)
        branches = (
            [branch]
            if branch is not None
            else [ref.removeprefix("heads/") for ref in r.refs if ref.startswith("heads/")]
        )
        out: dict[str, bytes] = {}
        for b in branches:
            for path, blob in (self._tree_at(r, b) or {}).items():
                out[path if branch is not None else f"{b}:{path}"] = r.objects[blob]
        return out

    def events(self, *, repo: str | None = None) -> list[dict[str, Any]]:
        """Events that would start workflow runs (none for GITHUB_TOKEN's own pushes/PRs)."""
        return list(self._repo(repo).events)

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
            if repo.private and ident is None:
                # Anonymous requests see public data only; a private repository is
                # "Not Found" (docs: "Rate limits for the REST API", "Troubleshooting
                # the REST API"; argotorg/solc-bin#188).
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
            "private": r.private,
            "html_url": f"{self.server_url}/{r.full_name}",
            "url": api,
            "default_branch": "main",
            "fork": r.fork_of is not None,
            "visibility": "private" if r.private else "public",
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

    def _op_rate_limit_get(self, **_: Any) -> tuple[int, Any, dict[str, str]]:
        core = {
            "limit": self.rate_limit,
            "remaining": max(self.rate_remaining, 0),
            "reset": self.rate_reset,
            "used": self.rate_limit - max(self.rate_remaining, 0),
        }
        return 200, {"resources": {"core": core}, "rate": core}, {}
