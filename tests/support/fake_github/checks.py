"""Check runs."""

from __future__ import annotations

import copy
from typing import Any

from tests.support.fake_github.contract import (
    CHECK_OUTPUT_LIMIT,
    _now,
)
from tests.support.fake_github.state import (
    ApiError,
    Identity,
    Repo,
)


class ChecksMixin:
    """Check runs."""

    # check runs

    def _check_output(self, run: dict[str, Any], output: dict[str, Any] | None) -> None:
        if not output:
            return
        for key in ("summary", "text"):
            self._too_long(output.get(key), CHECK_OUTPUT_LIMIT, "CheckRun", f"output.{key}")
        # At most 50 annotations per request (docs: REST "Update a check run").
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
