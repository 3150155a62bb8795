"""Check runs: a conclusion, a summary and annotations, batched 50 per request."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from mlci.github.limits import CHECK_TEXT_LIMIT

if TYPE_CHECKING:
    from mlci.github.api import GitHubClient


__all__ = [
    "ANNOTATIONS_PER_REQUEST",
    "MAX_CHECK_TEXT",
    "CheckAnnotation",
    "Conclusion",
    "create_check_run",
]

ANNOTATIONS_PER_REQUEST = 50
MAX_CHECK_TEXT = CHECK_TEXT_LIMIT
_CUT = "\n\n_Cut at GitHub's 65,535-character limit; the full report is in the run's artifact._\n"

Conclusion = Literal["success", "failure", "neutral", "cancelled", "skipped", "action_required"]


@dataclass(frozen=True)
class CheckAnnotation:
    """One annotation: a file and line of the repository behind a failure."""

    path: str
    message: str
    level: Literal["notice", "warning", "failure"] = "failure"
    start_line: int = 1
    end_line: int | None = None
    title: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The annotation as GitHub's API expects it."""
        out: dict[str, Any] = {
            "path": self.path,
            "start_line": max(self.start_line, 1),
            "end_line": max(self.end_line or self.start_line, self.start_line, 1),
            "annotation_level": self.level,
            "message": self.message[:MAX_CHECK_TEXT],
        }
        if self.title:
            out["title"] = self.title[:255]
        return out


def _fit(text: str, limit: int = MAX_CHECK_TEXT) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - len(_CUT)] + _CUT


def create_check_run(
    client: GitHubClient,
    repo: str,
    *,
    name: str,
    head_sha: str,
    conclusion: Conclusion,
    title: str,
    summary: str,
    text: str | None = None,
    annotations: Sequence[CheckAnnotation] = (),
    details_url: str | None = None,
) -> dict[str, Any]:
    """Create a completed check run; annotations beyond 50 follow in PATCH batches of 50.

    Args:
        client: The API client (needs ``checks: write``).
        repo: ``owner/name``.
        name: The check's name as shown on the PR.
        head_sha: The commit the check belongs to.
        conclusion: ``success``, ``failure``, ``neutral`` ...
        title: One line.
        summary: Markdown, cut to GitHub's 65,535-character limit.
        text: More Markdown (details), cut the same way.
        annotations: Files and lines behind failures.
        details_url: Where "Details" links to (the workflow run).

    Returns:
        The check run as GitHub returned it after the last request.
    """
    batches = [
        [a.to_json() for a in annotations[i : i + ANNOTATIONS_PER_REQUEST]]
        for i in range(0, len(annotations), ANNOTATIONS_PER_REQUEST)
    ] or [[]]
    output: dict[str, Any] = {"title": title[:255], "summary": _fit(summary)}
    if text:
        output["text"] = _fit(text)
    body: dict[str, Any] = {
        "name": name,
        "head_sha": head_sha,
        "status": "completed",
        "conclusion": conclusion,
        "output": output | ({"annotations": batches[0]} if batches[0] else {}),
    }
    if details_url:
        body["details_url"] = details_url
    run: dict[str, Any] = client.post(f"/repos/{repo}/check-runs", json=body)
    for batch in batches[1:]:
        run = client.patch(
            f"/repos/{repo}/check-runs/{run['id']}",
            json={
                "output": {
                    "title": output["title"],
                    "summary": output["summary"],
                    "annotations": batch,
                }
            },
        )
    return run
