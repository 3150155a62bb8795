"""Real webhook payloads, adapted to the fake repository.

The payloads are those of ``@octokit/webhooks-examples`` vendored in
``tests/support/github-api/webhooks-examples.json``. The package has no fork pull request
and no pull-request-triggered ``workflow_run``; those are derived from the
same-repository example as GitHub sends them: ``event: pull_request``,
``head_repository`` pointing at the fork and ``pull_requests`` empty
(actions/runner#3444).
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

EXAMPLES = Path(__file__).resolve().parents[1] / "github-api" / "webhooks-examples.json"


@cache
def _example(event: str, action: str, conclusion: str | None = None) -> dict[str, Any]:
    every = json.loads(EXAMPLES.read_text(encoding="utf-8"))
    for entry in every:
        if entry.get("name") != event:
            continue
        for example in entry["examples"]:
            run = example.get(event) or {}
            if example.get("action") == action and (
                conclusion is None or run.get("conclusion") == conclusion
            ):
                return dict(example)
    raise LookupError(f"no {event}.{action} example in {EXAMPLES}")


def _repository(full_name: str, api: str, server: str, *, fork: bool = False) -> dict[str, Any]:
    owner, name = full_name.split("/", 1)
    return {
        "full_name": full_name,
        "name": name,
        "owner": {"login": owner, "type": "User", "html_url": f"{server}/{owner}"},
        "url": f"{api}/repos/{full_name}",
        "html_url": f"{server}/{full_name}",
        "fork": fork,
        "private": False,
    }


def workflow_run_completed(
    fake: Any,
    *,
    run_id: int,
    head_sha: str,
    head_branch: str = "feature",
    head_repo: str | None = None,
    pull_numbers: list[int] | None = None,
    conclusion: str = "success",
) -> dict[str, Any]:
    """The ``workflow_run`` event of the "mlci PR" run, as GitHub sends it.

    Args:
        fake: The fake GitHub (its URLs and repository).
        run_id: The PR run's id.
        head_sha: The pull request's head commit.
        head_branch: Its branch.
        head_repo: ``owner/name`` of a fork; then ``pull_requests`` is empty, as on
            GitHub (actions/runner#3444).
        pull_numbers: The pull requests GitHub lists for a same-repository run.
        conclusion: The run's conclusion.
    """
    event = copy.deepcopy(_example("workflow_run", "completed", "success"))
    base = _repository(fake.repo, fake.url, fake.server_url)
    head = _repository(head_repo or fake.repo, fake.url, fake.server_url, fork=bool(head_repo))
    run = event["workflow_run"]
    run.update(
        {
            "id": run_id,
            "name": "mlci PR",
            "event": "pull_request",
            "conclusion": conclusion,
            "head_sha": head_sha,
            "head_branch": head_branch,
            "html_url": f"{fake.server_url}/{fake.repo}/actions/runs/{run_id}",
            "repository": run["repository"] | base,
            "head_repository": run["head_repository"] | head,
            "pull_requests": []
            if head_repo
            else [
                {
                    "number": n,
                    "head": {"ref": head_branch, "sha": head_sha},
                    "base": {"ref": "main", "sha": "a" * 40},
                }
                for n in pull_numbers or []
            ],
        }
    )
    event["repository"] = event["repository"] | base
    return event
