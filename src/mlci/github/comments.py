"""The sticky pull-request comment: one per PR and report key, found by a hidden marker.

Only comments authored by the posting identity count as ours: anyone can paste the
marker into a comment of their own, and such a comment is never edited. Two jobs
posting at once can each create a comment; the one that notices keeps the oldest of
ours and deletes the others, so every race ends with one comment.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from mlci.errors import GitHubAPIError
from mlci.github.limits import BODY_LIMIT

if TYPE_CHECKING:
    from mlci.github.api import GitHubClient


__all__ = [
    "DEFAULT_AUTHOR",
    "MAX_COMMENT_CHARS",
    "StickyResult",
    "find_sticky_comments",
    "marker",
    "post_sticky_comment",
]

MAX_COMMENT_CHARS = BODY_LIMIT
# Who GITHUB_TOKEN posts as; a PAT or app token posts as its own user (``--comment-author``).
DEFAULT_AUTHOR = "github-actions[bot]"
_TRUNCATED = (
    "\n\n> [!WARNING]\n> This comment was cut at GitHub's 65,536-character limit;"
    " the full results are in the run's `mlci-results` artifact.\n"
)


def marker(key: str = "default") -> str:
    """The hidden marker that identifies mlci's comment for ``key`` (e.g. a model name).

    The key keeps only ``[A-Za-z0-9._/-]`` so it cannot close the HTML comment.
    """
    clean = re.sub(r"[^A-Za-z0-9._/-]", "-", key)[:100] or "default"
    return f"<!-- mlci-report:{clean} -->"


@dataclass(frozen=True)
class StickyResult:
    """What `post_sticky_comment` did."""

    action: Literal["created", "updated", "unchanged"]
    comment_id: int
    html_url: str
    author: str
    removed_duplicates: int = 0


def _comment(answer: Any, endpoint: str) -> dict[str, Any]:
    """``answer`` if it is a comment (an object with an integer id), else exit 2."""
    if (
        not isinstance(answer, dict)
        or not isinstance(answer.get("id"), int)
        or isinstance(answer.get("id"), bool)
    ):
        raise GitHubAPIError(
            f"{endpoint}: expected a comment (an object with an id), got"
            f" {type(answer).__name__}; check GITHUB_API_URL points at the GitHub API"
        )
    return answer


def _ours(comment: Any, mark: str, author: str) -> bool:
    if not isinstance(comment, dict):
        return False
    user = comment.get("user")
    body = comment.get("body")
    return (
        isinstance(user, dict)
        and user.get("login") == author
        and isinstance(body, str)
        and body.startswith(mark)
        and isinstance(comment.get("id"), int)
    )


def find_sticky_comments(
    client: GitHubClient,
    repo: str,
    number: int,
    *,
    key: str = "default",
    author: str = DEFAULT_AUTHOR,
    since: str | None = None,
) -> list[dict[str, Any]]:
    """Our comments on PR ``number`` for ``key``, oldest first (every page is read)."""
    mark = marker(key)
    params = {"since": since} if since else None
    comments = client.paginate(f"/repos/{repo}/issues/{number}/comments", params=params)
    return sorted((c for c in comments if _ours(c, mark, author)), key=lambda c: c["id"])


def fit_body(body: str, limit: int = MAX_COMMENT_CHARS) -> str:
    """Hard-cut ``body`` to ``limit`` characters with a pointer to the artifact.

    The report renderer already drops details to fit; this is the last guard, and it
    keeps the beginning (the marker and the verdict).
    """
    if len(body) <= limit:
        return body
    cut = body[: limit - len(_TRUNCATED) - 4]
    # Do not leave half an HTML entity or an open code fence behind.
    amp = cut.rfind("&")
    if amp > len(cut) - 10 and ";" not in cut[amp:]:
        cut = cut[:amp]
    if cut.count("```") % 2:
        cut += "\n```"
    return cut + _TRUNCATED


def post_sticky_comment(
    client: GitHubClient,
    repo: str,
    number: int,
    body: str,
    *,
    key: str = "default",
    author: str = DEFAULT_AUTHOR,
) -> StickyResult:
    """Create or update mlci's one comment on PR ``number``.

    Args:
        client: The API client (its token decides who posts).
        repo: ``owner/name``.
        number: The pull request (or issue) number.
        body: The comment Markdown; the marker is put in front, and the whole is cut
            to GitHub's limit if needed.
        key: Which report this is (one comment per key: matrix jobs, several models).
        author: The login the token posts as; only its comments are ours.

    Returns:
        What was done, and the comment's id and URL.

    Raises:
        GitHubAPIError: when GitHub refuses (the message says which permission is missing).
    """
    mark = marker(key)
    full = fit_body(f"{mark}\n{body}")
    ours = find_sticky_comments(client, repo, number, key=key, author=author)
    if ours:
        keep, extra = ours[0], ours[1:]
        removed = _remove(client, repo, extra)
        if keep.get("body") == full:
            return StickyResult("unchanged", keep["id"], keep.get("html_url", ""), author, removed)
        endpoint = f"/repos/{repo}/issues/comments/{keep['id']}"
        updated = _comment(client.patch(endpoint, json={"body": full}), f"PATCH {endpoint}")
        return StickyResult("updated", updated["id"], updated.get("html_url", ""), author, removed)
    endpoint = f"/repos/{repo}/issues/{number}/comments"
    created = _comment(client.post(endpoint, json={"body": full}), f"POST {endpoint}")
    user = created.get("user")
    login = user.get("login") if isinstance(user, dict) else None
    actual = login if isinstance(login, str) and login else author
    # Another job may have created one at the same time: keep the oldest of ours.
    since = _minutes_before(created.get("created_at"), 10)
    ours = find_sticky_comments(client, repo, number, key=key, author=actual, since=since)
    # Either several of ours exist now, or the other job already removed the one we
    # created in favour of its own older one: in both cases the oldest one is kept.
    if len(ours) > 1 or (ours and ours[0]["id"] != created["id"]):
        keep = ours[0]
        removed = _remove(client, repo, ours[1:])
        if keep["id"] != created["id"]:
            endpoint = f"/repos/{repo}/issues/comments/{keep['id']}"
            updated = _comment(client.patch(endpoint, json={"body": full}), f"PATCH {endpoint}")
            return StickyResult(
                "updated", updated["id"], updated.get("html_url", ""), actual, removed
            )
        return StickyResult("created", created["id"], created.get("html_url", ""), actual, removed)
    return StickyResult("created", created["id"], created.get("html_url", ""), actual)


def _remove(client: GitHubClient, repo: str, comments: list[dict[str, Any]]) -> int:
    for c in comments:
        client.delete(f"/repos/{repo}/issues/comments/{c['id']}", missing_ok=True)
    return len(comments)


def _minutes_before(timestamp: Any, minutes: int) -> str | None:
    if not isinstance(timestamp, str):
        return None
    try:
        when = _dt.datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (when - _dt.timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")
