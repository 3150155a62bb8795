"""One GitHub issue per monitor problem: opened, updated while it persists, closed when gone."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mlci.github.issues import close_issue, create_issue, open_issues, update_issue
from mlci.github.runtime import Runtime
from mlci.pipelines.monitor.detect import Problem
from mlci.report.monitor import issue_body, resolved_comment

if TYPE_CHECKING:
    from mlci.github.api import GitHubClient

__all__ = ["ISSUE_LABEL", "ISSUE_MARKER", "github_repository", "sync_issues"]

ISSUE_LABEL = "mlci-monitor"
#: Hidden marker identifying the issue of one problem (report key, problem key).
ISSUE_MARKER = "<!-- mlci-monitor:{key}:{problem} -->"


def github_repository(
    runtime: Runtime, client: GitHubClient | None
) -> tuple[GitHubClient, str] | None:
    """A client with a token and the repository, or None when not on GitHub."""
    repo = runtime.repository
    if not repo:
        return None
    from mlci.github.api import GitHubClient

    missing = (
        "mlci monitor: GITHUB_REPOSITORY is set but there is no token to open issues or"
        " dispatch the retrain workflow; pass the workflow token as the action's"
        " github-token input or set GITHUB_TOKEN (permissions: issues: write, actions:"
        " write), or set monitor.open_issues: false"
    )
    return GitHubClient.with_token(runtime, client, missing=missing), repo


def sync_issues(
    client: GitHubClient,
    repo: str,
    *,
    problems: Sequence[Problem],
    evaluated: Sequence[str],
    key: str,
    context: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """Open, update and close one issue per problem (deduplicated by a hidden marker).

    Args:
        client: An authenticated client (``issues: write``).
        repo: ``owner/name``.
        problems: The problems found now.
        evaluated: Problem keys (or key prefixes ending in ``-``) whose checks ran, so
            their issues may be closed when the problem is gone.
        key: The report key (``report.key``), part of the marker.
        context: ``time`` and ``run_url`` for the bodies.

    Returns:
        One ``{"problem", "number", "url", "action"}`` per issue touched.
    """
    open_issues = _open_issues(client, repo, key)
    actions = [
        _open_or_update(client, repo, problem, open_issues.pop(problem.key, None), key, context)
        for problem in problems
    ]
    for problem_key, issue in sorted(open_issues.items()):
        if _checked(problem_key, evaluated):
            actions.append(_close(client, repo, problem_key, issue, context))
    return actions


def _open_issues(client: GitHubClient, repo: str, key: str) -> dict[str, dict[str, Any]]:
    """Mlci's open monitor issues of this report key, by problem key (from the marker)."""
    prefix = ISSUE_MARKER.format(key=key, problem="\0").split("\0")[0]
    found: dict[str, dict[str, Any]] = {}
    for issue in open_issues(client, repo, label=ISSUE_LABEL):
        body = issue.get("body") or ""
        start = body.find(prefix)
        if start < 0:
            continue
        end = body.find(" -->", start)
        found.setdefault(body[start + len(prefix) : end], issue)
    return found


def _open_or_update(
    client: GitHubClient,
    repo: str,
    problem: Problem,
    existing: dict[str, Any] | None,
    key: str,
    context: Mapping[str, Any],
) -> dict[str, Any]:
    """Update the problem's open issue, or open one."""
    body = issue_body(
        marker=ISSUE_MARKER.format(key=key, problem=problem.key),
        summary=problem.summary,
        severity=problem.severity,
        details=problem.details,
        time=str(context["time"]),
        run_url=context.get("run_url"),
    )
    if existing is not None:
        number = int(existing["number"])
        update_issue(client, repo, number, title=problem.title, body=body)
        return {
            "problem": problem.key,
            "number": number,
            "url": existing.get("html_url"),
            "action": "updated",
        }
    created = create_issue(
        client,
        repo,
        title=problem.title,
        body=body,
        labels=[ISSUE_LABEL, f"{ISSUE_LABEL}:{problem.severity}"],
    )
    return {
        "problem": problem.key,
        "number": created.number,
        "url": created.url,
        "action": "opened",
    }


def _checked(problem_key: str, evaluated: Sequence[str]) -> bool:
    """Whether the check of ``problem_key`` ran (only then may its issue close)."""
    return any(
        problem_key == e or (e.endswith("-") and problem_key.startswith(e)) for e in evaluated
    )


def _close(
    client: GitHubClient,
    repo: str,
    problem_key: str,
    issue: Mapping[str, Any],
    context: Mapping[str, Any],
) -> dict[str, Any]:
    """Say the problem is gone, and close its issue as completed."""
    number = int(issue["number"])
    comment = resolved_comment(
        problem_key, time=str(context["time"]), run_url=context.get("run_url")
    )
    close_issue(client, repo, number, comment=comment)
    return {
        "problem": problem_key,
        "number": number,
        "url": issue.get("html_url"),
        "action": "closed",
    }
