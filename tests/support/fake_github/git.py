"""Git refs, contents and the Git Data API, over a small object database.

Every ref points at a commit that has a tree and parents (as in git), so the fake can
tell how many commits a branch is ahead of another: that is what makes GitHub close a
pull request whose head falls back onto its base, and refuse to open one with nothing
to merge.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from tests.support.fake_github.contract import _now
from tests.support.fake_github.state import ApiError, Identity, Repo, _sha

#: The root commit every fake repository starts from (``heads/main``).
ROOT_SHA = "a" * 40
#: The login of ``GITHUB_TOKEN``.
ACTIONS_BOT = "github-actions[bot]"
#: GitHub blocks files larger than 100 MiB (docs: "About large files on GitHub").
MAX_BLOB_BYTES = 100 * 1024 * 1024


def _hash(kind: str, payload: Any) -> str:
    text = json.dumps(payload, sort_keys=True).encode()
    return hashlib.sha1(kind.encode() + b"\0" + text).hexdigest()  # noqa: S324 - an id


class GitMixin:
    """Git refs, contents and the Git Data API."""

    max_blob_bytes = MAX_BLOB_BYTES

    # -- the object database ------------------------------------------------------------

    def _store_blob(self, repo: Repo, data: bytes) -> str:
        sha = _sha(data)
        repo.objects[sha] = data
        return sha

    def _store_tree(self, repo: Repo, entries: dict[str, str]) -> str:
        sha = _hash("tree", entries)
        repo.trees[sha] = dict(entries)
        return sha

    def _store_commit(
        self,
        repo: Repo,
        *,
        tree: str,
        parents: list[str],
        message: str,
        login: str = ACTIONS_BOT,
        sha: str | None = None,
    ) -> str:
        sha = sha or _hash("commit", [tree, parents, message, _now(), self._next_id()])
        repo.commits[sha] = {
            "sha": sha,
            "tree": tree,
            "parents": list(parents),
            "message": message,
            "author": {"name": login, "email": "noreply@example.invalid", "date": _now()},
        }
        return sha

    def _ensure_commit(self, repo: Repo, sha: str, parent: str | None = None) -> None:
        """Make ``sha`` a commit (seeding): on top of ``parent``, with its tree."""
        if sha in repo.commits:
            return
        if parent is not None and parent in repo.commits and parent != sha:
            tree = repo.commits[parent]["tree"]
            parents = [parent]
        else:
            tree, parents = self._store_tree(repo, {}), []
        self._store_commit(repo, tree=tree, parents=parents, message="seeded", sha=sha)

    def _ancestors(self, repo: Repo, sha: str) -> set[str]:
        seen: set[str] = set()
        todo = [sha]
        while todo:
            current = todo.pop()
            if current in seen or current not in repo.commits:
                continue
            seen.add(current)
            todo.extend(repo.commits[current]["parents"])
        return seen

    def ahead_by(self, base: str, head: str, *, repo: str | None = None) -> int:
        """How many commits ``head`` (a sha) has that ``base`` (a sha) does not."""
        r = self._repo(repo)
        return len(self._ancestors(r, head) - self._ancestors(r, base))

    def _tree_at(self, repo: Repo, branch: str) -> dict[str, str] | None:
        tip = repo.refs.get(f"heads/{branch}")
        if tip is None:
            return None
        commit = repo.commits.get(tip)
        return dict(repo.trees[commit["tree"]]) if commit else {}

    def _move_ref(self, repo: Repo, ref: str, sha: str, ident: Identity | None) -> None:
        """Point ``ref`` at ``sha`` and let GitHub's consequences follow."""
        repo.refs[ref] = sha
        if not ref.startswith("heads/"):
            return
        branch = ref.removeprefix("heads/")
        if ident is not None and ident.login != ACTIONS_BOT:
            # A push with GITHUB_TOKEN starts no workflow run (docs: "Triggering a
            # workflow", GITHUB_TOKEN section); any other token's push does.
            repo.events.append({"event": "push", "ref": f"refs/{ref}", "sha": sha})
        for pull in repo.pulls.values():
            if pull["state"] != "open" or pull.get("_head_repo", repo.full_name) != repo.full_name:
                continue
            if pull["head"]["ref"] != branch:
                continue
            pull["head"]["sha"] = sha
            base_tip = repo.refs.get(f"heads/{pull['base']['ref']}", ROOT_SHA)
            if self.ahead_by(base_tip, sha, repo=repo.full_name) == 0:
                # An open PR whose head has no commits ahead of its base is closed by
                # GitHub, and may not be reopenable after a force push (wei/pull#365,
                # genuinetools/binctr#2, gfx-rs/metal-rs#323, isaacs/github#361).
                pull["state"] = "closed"
                pull["closed_at"] = _now()
                repo.issues[pull["number"]]["state"] = "closed"

    # -- seeding -----------------------------------------------------------------------

    def add_ref(self, ref: str, sha: str, *, repo: str | None = None) -> None:
        """Seed a git ref such as ``heads/main`` or ``tags/v1``.

        An unknown ``sha`` becomes a commit on top of ``heads/main`` (same tree).
        """
        r = self._repo(repo)
        self._ensure_commit(r, sha, parent=r.refs.get("heads/main"))
        self._move_ref(r, ref.removeprefix("refs/"), sha, None)

    def add_file(
        self, path: str, content: bytes, *, branch: str = "main", repo: str | None = None
    ) -> str:
        """Seed a file on a branch (a new commit on its tip); returns its blob sha."""
        r = self._repo(repo)
        tip = r.refs.get(f"heads/{branch}") or r.refs["heads/main"]
        tree = dict(r.trees[r.commits[tip]["tree"]])
        tree[path] = self._store_blob(r, content)
        commit = self._store_commit(
            r, tree=self._store_tree(r, tree), parents=[tip], message=f"add {path}"
        )
        self._move_ref(r, f"heads/{branch}", commit, None)
        return tree[path]

    def add_commit(
        self, files: dict[str, bytes], *, branch: str = "main", repo: str | None = None
    ) -> str:
        """Seed a commit that writes ``files`` on ``branch`` (e.g. main moving on)."""
        r = self._repo(repo)
        tip = r.refs[f"heads/{branch}"]
        tree = dict(r.trees[r.commits[tip]["tree"]])
        tree.update({p: self._store_blob(r, d) for p, d in files.items()})
        commit = self._store_commit(
            r, tree=self._store_tree(r, tree), parents=[tip], message="a human's commit"
        )
        self._move_ref(r, f"heads/{branch}", commit, None)
        return commit

    # -- refs ---------------------------------------------------------------------------

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
        self, *, repo: Repo, body: Any, ident: Identity, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        full = body["ref"]
        if not full.startswith("refs/") or full.count("/") < 2:
            raise ApiError(
                422, "Reference name must start with 'refs/' and have at least two slashes."
            )
        ref = full.removeprefix("refs/")
        if ref in repo.refs:
            raise ApiError(422, "Reference already exists")
        if body["sha"] not in repo.commits:
            # docs: "Create a reference" (REST): the SHA must name an existing object.
            raise ApiError(422, "Object does not exist")
        self._move_ref(repo, ref, body["sha"], ident)
        obj = self._ref_obj(repo, ref)
        return 201, obj, {"Location": obj["url"]}

    def _op_git_update_ref(
        self, *, repo: Repo, params: dict[str, str], body: Any, ident: Identity, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        ref = params["ref"]
        if ref not in repo.refs:
            raise ApiError(422, "Reference does not exist")
        sha = body["sha"]
        if sha not in repo.commits:
            raise ApiError(422, "Object does not exist")
        if not body.get("force") and repo.refs[ref] not in self._ancestors(repo, sha):
            # docs: "Update a reference" (REST): without force only a fast-forward.
            raise ApiError(422, "Update is not a fast forward")
        self._move_ref(repo, ref, sha, ident)
        return 200, self._ref_obj(repo, ref), {}

    def _op_git_delete_ref(
        self, *, repo: Repo, params: dict[str, str], **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        if params["ref"] not in repo.refs:
            raise ApiError(422, "Reference does not exist")
        del repo.refs[params["ref"]]
        return 204, None, {}

    # -- Git Data: blobs, trees, commits -------------------------------------------------

    def _op_git_create_blob(
        self, *, repo: Repo, body: Any, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        if body.get("encoding", "utf-8") == "base64":
            try:
                data = base64.b64decode(body["content"], validate=True)
            except ValueError:
                raise ApiError(422, "content is not valid Base64") from None
        else:
            data = str(body["content"]).encode()
        if len(data) > self.max_blob_bytes:
            # GitHub blocks files over 100 MiB (docs: "About large files on GitHub").
            raise ApiError(
                422,
                f"File is {len(data)} bytes; this exceeds GitHub's file size limit of"
                f" {self.max_blob_bytes} bytes",
            )
        sha = self._store_blob(repo, data)
        url = f"{self.url}/repos/{repo.full_name}/git/blobs/{sha}"
        return 201, {"sha": sha, "url": url}, {"Location": url}

    def _op_git_get_blob(
        self, *, repo: Repo, params: dict[str, str], **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        sha = params["file_sha"]
        if sha not in repo.objects:
            raise ApiError(404, "Not Found")
        data = repo.objects[sha]
        return (
            200,
            {
                "sha": sha,
                "node_id": f"B_{sha[:8]}",
                "size": len(data),
                "url": f"{self.url}/repos/{repo.full_name}/git/blobs/{sha}",
                "content": base64.b64encode(data).decode(),
                "encoding": "base64",
            },
            {},
        )

    def _tree_obj(self, repo: Repo, sha: str) -> dict[str, Any]:
        return {
            "sha": sha,
            "url": f"{self.url}/repos/{repo.full_name}/git/trees/{sha}",
            "truncated": False,
            "tree": [
                {
                    "path": path,
                    "mode": "100644",
                    "type": "blob",
                    "sha": blob,
                    "size": len(repo.objects.get(blob, b"")),
                    "url": f"{self.url}/repos/{repo.full_name}/git/blobs/{blob}",
                }
                for path, blob in sorted(repo.trees[sha].items())
            ],
        }

    def _op_git_create_tree(
        self, *, repo: Repo, body: Any, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        base = body.get("base_tree")
        if base is not None and base not in repo.trees:
            # docs: "Create a tree" (REST): base_tree must be an existing tree.
            raise ApiError(422, "Invalid tree info")
        entries = dict(repo.trees[base]) if base else {}
        for item in body["tree"]:
            path = item["path"]
            if item.get("type", "blob") != "blob":
                raise ApiError(422, "the fake models blob entries only")
            if "content" in item:
                entries[path] = self._store_blob(repo, str(item["content"]).encode())
            elif item.get("sha") is None:
                entries.pop(path, None)  # a null sha deletes the path
            elif item["sha"] in repo.objects:
                entries[path] = item["sha"]
            else:
                raise ApiError(422, "Invalid tree info")
        sha = self._store_tree(repo, entries)
        obj = self._tree_obj(repo, sha)
        return 201, obj, {"Location": obj["url"]}

    def _op_git_get_tree(
        self, *, repo: Repo, params: dict[str, str], **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        sha = params["tree_sha"]
        if sha not in repo.trees:
            raise ApiError(404, "Not Found")
        return 200, self._tree_obj(repo, sha), {}

    def _commit_obj(self, repo: Repo, sha: str) -> dict[str, Any]:
        c = repo.commits[sha]
        api = f"{self.url}/repos/{repo.full_name}/git/commits"
        return {
            "sha": sha,
            "node_id": f"C_{sha[:8]}",
            "url": f"{api}/{sha}",
            "html_url": f"{self.server_url}/{repo.full_name}/commit/{sha}",
            "author": c["author"],
            "committer": c["author"],
            "message": c["message"],
            "tree": {"sha": c["tree"], "url": f"{self.url}/repos/{repo.full_name}/git/trees/"},
            "parents": [
                {
                    "sha": p,
                    "url": f"{api}/{p}",
                    "html_url": f"{self.server_url}/{repo.full_name}/commit/{p}",
                }
                for p in c["parents"]
            ],
            "verification": {
                "verified": False,
                "reason": "unsigned",
                "signature": None,
                "payload": None,
                "verified_at": None,
            },
        }

    def _op_git_create_commit(
        self, *, repo: Repo, body: Any, ident: Identity, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        if body["tree"] not in repo.trees:
            raise ApiError(422, "Tree SHA does not exist")
        for parent in body.get("parents", []):
            if parent not in repo.commits:
                raise ApiError(422, "Parent SHA does not exist or is not a commit object")
        sha = self._store_commit(
            repo,
            tree=body["tree"],
            parents=list(body.get("parents", [])),
            message=body["message"],
            login=ident.login,
        )
        obj = self._commit_obj(repo, sha)
        return 201, obj, {"Location": obj["url"]}

    def _op_git_get_commit(
        self, *, repo: Repo, params: dict[str, str], **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        sha = params["commit_sha"]
        if sha not in repo.commits:
            raise ApiError(404, "Not Found")
        return 200, self._commit_obj(repo, sha), {}

    def _resolve(self, repo: Repo, name: str) -> str:
        for ref in (f"heads/{name}", f"tags/{name}"):
            if ref in repo.refs:
                return repo.refs[ref]
        if name in repo.commits:
            return name
        raise ApiError(404, "Not Found")

    def _op_repos_compare_commits(
        self, *, repo: Repo, params: dict[str, str], **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        # The path template is compare/{basehead}, "BASE...HEAD".
        basehead = params.get("basehead") or f"{params['base']}...{params['head']}"
        base_name, sep, head_name = basehead.partition("...")
        if not sep:
            raise ApiError(404, "Not Found")
        base, head = self._resolve(repo, base_name), self._resolve(repo, head_name)
        ahead = self._ancestors(repo, head) - self._ancestors(repo, base)
        behind = self._ancestors(repo, base) - self._ancestors(repo, head)
        status = (
            "identical"
            if not ahead and not behind
            else "ahead"
            if not behind
            else "behind"
            if not ahead
            else "diverged"
        )
        api = f"{self.url}/repos/{repo.full_name}"
        return (
            200,
            {
                "url": f"{api}/compare/{basehead}",
                "html_url": f"{self.server_url}/{repo.full_name}/compare/{basehead}",
                "permalink_url": f"{self.server_url}/{repo.full_name}/compare/{basehead}",
                "diff_url": f"{self.server_url}/{repo.full_name}/compare/{basehead}.diff",
                "patch_url": f"{self.server_url}/{repo.full_name}/compare/{basehead}.patch",
                "status": status,
                "ahead_by": len(ahead),
                "behind_by": len(behind),
                "total_commits": len(ahead),
                "commits": [],
                "files": [],
            },
            {},
        )

    # -- contents -----------------------------------------------------------------------

    def _content_obj(self, repo: Repo, branch: str, path: str) -> dict[str, Any]:
        tree = self._tree_at(repo, branch) or {}
        data = repo.objects[tree[path]]
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
        tree = self._tree_at(repo, branch) or {}
        if path not in tree:
            raise ApiError(404, "Not Found")
        if "raw" in request.headers.get("Accept", ""):
            return 200, repo.objects[tree[path]], {"Content-Type": "application/octet-stream"}
        return 200, self._content_obj(repo, branch, path), {}

    def _op_repos_create_or_update_file_contents(
        self, *, repo: Repo, params: dict[str, str], body: Any, ident: Identity, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        branch = body.get("branch", "main")
        path = params["path"]
        tree = self._tree_at(repo, branch)
        if tree is None:
            raise ApiError(404, f"Branch {branch} not found")
        try:
            data = base64.b64decode(body["content"], validate=True)
        except ValueError:
            raise ApiError(422, "content is not valid Base64") from None
        existing = tree.get(path)
        if existing is not None and body.get("sha") is None:
            raise ApiError(422, 'Invalid request.\n\n"sha" wasn\'t supplied.')
        if existing is not None and body["sha"] != existing:
            raise ApiError(409, f"{path} does not match {body['sha']}")
        # Each contents write is one commit on top of the branch tip
        # (docs: "Create or update file contents" (REST)).
        tree[path] = self._store_blob(repo, data)
        tip = repo.refs[f"heads/{branch}"]
        commit_sha = self._store_commit(
            repo,
            tree=self._store_tree(repo, tree),
            parents=[tip],
            message=body["message"],
            login=ident.login,
        )
        self._move_ref(repo, f"heads/{branch}", commit_sha, ident)
        out = {
            "content": self._content_obj(repo, branch, path),
            "commit": {
                "sha": commit_sha,
                "message": body["message"],
                "author": {"name": ident.login, "email": "noreply@example.invalid", "date": _now()},
            },
        }
        return (201 if existing is None else 200), out, {}
