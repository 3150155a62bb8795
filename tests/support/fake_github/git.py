"""Git refs, contents and the Git Data API."""

from __future__ import annotations

import base64
import hashlib
import time
from typing import Any

from tests.support.fake_github.contract import (
    _now,
)
from tests.support.fake_github.state import (
    ApiError,
    Identity,
    Repo,
    _sha,
)


class GitMixin:
    """Git refs, contents and the Git Data API."""

    def add_ref(self, ref: str, sha: str, *, repo: str | None = None) -> None:
        """Seed a git ref such as ``heads/main`` or ``tags/v1``."""
        self._repo(repo).refs[ref.removeprefix("refs/")] = sha

    def add_file(
        self, path: str, content: bytes, *, branch: str = "main", repo: str | None = None
    ) -> str:
        """Seed a file on a branch; returns its blob sha."""
        self._repo(repo).files[(branch, path)] = content
        return _sha(content)

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
