"""Workflow runs, artifacts and workflow dispatch."""

from __future__ import annotations

import hashlib
import io
import zipfile
from typing import Any

from tests.support.fake_github.contract import (
    _EMPTY_SHA,
    _now,
)
from tests.support.fake_github.state import (
    ApiError,
    Identity,
    Repo,
)


class ActionsMixin:
    """Workflow runs, artifacts and workflow dispatch."""

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
        head_branch: str = "feature",
        head_repo: str | None = None,
    ) -> dict[str, Any]:
        """Seed a workflow run and its artifacts ``{artifact: {file: bytes}}`` (zipped).

        With ``head_repo`` naming a fork, ``pull_requests`` stays empty whatever
        ``pull_numbers`` says, as on GitHub.
        """
        r = self._repo(repo)
        head_full = head_repo or r.full_name
        if head_full not in self.repos:
            self.add_repo(head_full, fork_of=r.full_name)
        if head_full != r.full_name:
            # For a pull request from a fork, workflow_run.pull_requests is empty
            # (actions/runner#3444, github/docs#22501, microsoft/playwright#23456).
            pull_numbers = []
        rid = run_id or self._next_id()
        api = f"{self.url}/repos/{r.full_name}/actions/runs/{rid}"
        run = {
            "id": rid,
            "name": name,
            "node_id": f"WFR_{rid}",
            "head_sha": head_sha,
            "head_branch": head_branch,
            "head_repository": self._repo_obj(self.repos[head_full]),
            "repository": self._repo_obj(r),
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
                        "ref": head_branch,
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
                    "head_branch": head_branch,
                    "repository_id": r.id,
                    "head_repository_id": r.id,
                },
                "_run": rid,
                "_blob": key,
            }
        return run

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
