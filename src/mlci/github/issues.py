"""Issues: list mlci's open ones by label, open, update, and close one with a comment.

The monitor keeps one issue per problem (`mlci.pipelines.monitor.issues`); this module
holds the REST calls. ``GET /repos/{owner}/{repo}/issues`` also lists pull requests
(docs: "List repository issues": "GitHub's REST API considers every pull request an
issue"), so those are left out here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlci.errors import GitHubAPIError

if TYPE_CHECKING:
    from mlci.github.api import GitHubClient

__all__ = ["IssueRef", "close_issue", "create_issue", "open_issues", "update_issue"]


@dataclass(frozen=True)
class IssueRef:
    """An issue GitHub answered with: its number and page."""

    number: int
    url: str | None


def _ref(answer: Any, endpoint: str) -> IssueRef:
    number = answer.get("number") if isinstance(answer, dict) else None
    if not isinstance(number, int) or isinstance(number, bool):
        raise GitHubAPIError(f"{endpoint}: GitHub answered without an issue number")
    url = answer.get("html_url")
    return IssueRef(number, url if isinstance(url, str) else None)


def open_issues(client: GitHubClient, repo: str, *, label: str) -> Iterator[dict[str, Any]]:
    """The open issues with ``label`` (every page), pull requests left out."""
    for issue in client.paginate(
        f"/repos/{repo}/issues", params={"state": "open", "labels": label}
    ):
        if isinstance(issue, dict) and not issue.get("pull_request"):
            yield issue


def create_issue(
    client: GitHubClient, repo: str, *, title: str, body: str, labels: Sequence[str]
) -> IssueRef:
    """Open an issue."""
    endpoint = f"/repos/{repo}/issues"
    created = client.post(endpoint, json={"title": title, "body": body, "labels": list(labels)})
    return _ref(created, f"POST {endpoint}")


def update_issue(client: GitHubClient, repo: str, number: int, *, title: str, body: str) -> None:
    """Replace an issue's title and body."""
    client.patch(f"/repos/{repo}/issues/{number}", json={"title": title, "body": body})


def close_issue(client: GitHubClient, repo: str, number: int, *, comment: str) -> None:
    """Say why in a comment, then close the issue as completed."""
    client.post(f"/repos/{repo}/issues/{number}/comments", json={"body": comment})
    client.patch(
        f"/repos/{repo}/issues/{number}", json={"state": "closed", "state_reason": "completed"}
    )
