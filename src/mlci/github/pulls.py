"""Pull requests: find the one a workflow run belongs to; open or update mlci's own.

Finding the pull request of a ``workflow_run``: for a pull request from a fork,
``workflow_run.pull_requests`` is empty (actions/runner#3444) and
``GET /commits/{sha}/pulls`` answers ``[]`` (the head commit exists only in the fork,
quarkusio/pt.quarkus.io#389). What works for both: list the base repository's open
pull requests with ``head=OWNER:BRANCH`` and keep the one whose head is the run's commit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlci.errors import DeployError, GitHubAPIError
from mlci.github.git import commit_on_base
from mlci.github.limits import BODY_LIMIT

if TYPE_CHECKING:
    from mlci.github.api import GitHubClient

__all__ = [
    "ACTIONS_MAY_NOT_CREATE_PULLS",
    "PullRequestResult",
    "find_own_pull",
    "find_run_pull",
    "open_or_update_pull_request",
    "open_pull_of_commit",
]

#: What GitHub answers (403) when "Allow GitHub Actions to create and approve pull
#: requests" is off (docs: "Managing GitHub Actions settings for a repository").
ACTIONS_MAY_NOT_CREATE_PULLS = "not permitted to create or approve pull requests"


@dataclass(frozen=True)
class PullRequestResult:
    """What happened on GitHub."""

    number: int
    url: str
    action: str  # "opened" or "updated"
    branch: str
    commits: int
    sha: str = ""


def _number(pull: Any) -> int | None:
    number = pull.get("number") if isinstance(pull, dict) else None
    return number if isinstance(number, int) and not isinstance(number, bool) else None


def _head_sha(pull: Any) -> Any:
    head = pull.get("head") if isinstance(pull, dict) else None
    return head.get("sha") if isinstance(head, dict) else None


def find_run_pull(client: GitHubClient, repo: str, run: Mapping[str, Any]) -> int | None:
    """The open pull request a ``workflow_run`` event ran for, or None.

    ``pull_requests[0]`` counts only when its head is the run's commit; otherwise one
    request lists the open pull requests of ``head_repository.owner.login`` and
    ``head_branch`` (forks included) and keeps the one whose head is ``head_sha``.

    Args:
        client: The API client (``pull-requests: read``).
        repo: The base repository, ``owner/name``.
        run: The event's ``workflow_run`` object (from the runner, not the artifact).
    """
    head_sha = run.get("head_sha")
    if not isinstance(head_sha, str) or not head_sha:
        return None
    listed = run.get("pull_requests")
    for pull in listed if isinstance(listed, list) else []:
        if _head_sha(pull) == head_sha and _number(pull) is not None:
            return _number(pull)
    head_repo = run.get("head_repository")
    owner = head_repo.get("owner") if isinstance(head_repo, dict) else None
    login = owner.get("login") if isinstance(owner, dict) else None
    branch = run.get("head_branch")
    if not isinstance(login, str) or not isinstance(branch, str) or not login or not branch:
        return None
    endpoint = f"/repos/{repo}/pulls"
    answer = client.get(
        endpoint, params={"state": "open", "head": f"{login}:{branch}", "per_page": 100}
    )
    if not isinstance(answer, list):
        raise GitHubAPIError(
            f"GET {endpoint}: expected a list of pull requests, got {type(answer).__name__};"
            " check GITHUB_API_URL points at the GitHub API"
        )
    for pull in answer:
        if _head_sha(pull) == head_sha and _number(pull) is not None:
            return _number(pull)
    return None


def open_pull_of_commit(client: GitHubClient, repo: str, sha: str) -> int | None:
    """The first open pull request whose head is commit ``sha`` in ``repo``, or None.

    A fork's head commit is not found this way (see the module docstring).
    """
    pulls = client.get(f"/repos/{repo}/commits/{sha}/pulls")
    for pull in pulls if isinstance(pulls, list) else []:
        if isinstance(pull, dict) and pull.get("state") == "open":
            number = _number(pull)
            if number is not None:
                return number
    return None


def find_own_pull(
    client: GitHubClient, repo: str, branch: str, marker: str
) -> dict[str, Any] | None:
    """Mlci's open pull request on ``branch`` (found by ``marker``), or None.

    Raises:
        DeployError: a pull request mlci did not open holds the branch.
    """
    owner = repo.split("/", 1)[0]
    for pull in client.paginate(
        f"/repos/{repo}/pulls", params={"state": "open", "head": f"{owner}:{branch}"}
    ):
        if not isinstance(pull, dict) or (pull.get("head") or {}).get("ref") != branch:
            continue
        if marker in (pull.get("body") or ""):
            return dict(pull)
        raise DeployError(
            f"retrain.branch {branch!r}: pull request #{pull.get('number')} on that branch was"
            " not opened by mlci (no mlci marker); set retrain.branch to a branch of its own"
        )
    return None


def _not_permitted(exc: GitHubAPIError) -> DeployError:
    return DeployError(
        "POST /pulls: GitHub Actions is not permitted to create pull requests in this"
        " repository (403); a maintainer can allow it in Settings → Actions → General →"
        ' Workflow permissions → "Allow GitHub Actions to create and approve pull requests"'
        " (an organization setting may override it), or pass a GitHub App token as the"
        " github-token input. The branch holds the commit; a pull request can also be opened"
        f" by hand. GitHub said: {exc}"
    )


def open_or_update_pull_request(
    client: GitHubClient,
    repo: str,
    *,
    branch: str,
    files: Mapping[str, bytes],
    title: str,
    body: str,
    marker: str,
    message: str,
) -> PullRequestResult:
    """Commit ``files`` as one commit on the default branch's tip; open or update the PR.

    The commit is built with the Git Data API on top of the current tip of the default
    branch and ``branch`` moves to it once (`mlci.github.git.commit_on_base`), so an open
    pull request always shows one fresh retrain on current code and is never closed by
    GitHub for having no commits.

    Args:
        client: An authenticated client (``contents: write``, ``pull-requests: write``).
        repo: ``owner/name``.
        branch: The retrain branch.
        files: Repository path to new content.
        title: The pull request title.
        body: The pull request body (the marker is added when missing).
        marker: The hidden marker that identifies mlci's pull request.
        message: The commit message.

    Raises:
        GitHubAPIError: when GitHub refuses a call (the message names the permission).
        DeployError: a pull request mlci did not open holds the branch; Actions may not
            create pull requests here; a file is too large to commit.
    """
    if marker not in body:
        body = f"{marker}\n{body}"
    if len(body) > BODY_LIMIT:
        note = "\n\n*(truncated: the full report is in the run's results artifact)*\n"
        body = body[: BODY_LIMIT - len(note)] + note
    info = client.get(f"/repos/{repo}")
    base = str((info if isinstance(info, dict) else {}).get("default_branch") or "main")
    existing = find_own_pull(client, repo, branch, marker)
    sha = commit_on_base(client, repo, base=base, branch=branch, files=files, message=message)
    if existing is not None:
        known = int(existing["number"])
        pull = client.patch(f"/repos/{repo}/pulls/{known}", json={"title": title, "body": body})
        url = str(pull.get("html_url", "")) if isinstance(pull, dict) else ""
        return PullRequestResult(known, url, "updated", branch, 1, sha)
    try:
        pull = client.post(
            f"/repos/{repo}/pulls",
            json={
                "title": title,
                "head": branch,
                "base": base,
                "body": body,
                "maintainer_can_modify": True,
            },
        )
    except GitHubAPIError as exc:
        if exc.status == 403 and ACTIONS_MAY_NOT_CREATE_PULLS in str(exc):
            raise _not_permitted(exc) from None
        raise
    number = _number(pull)
    if number is None:
        raise GitHubAPIError(f"POST /repos/{repo}/pulls: the answer has no pull request number")
    return PullRequestResult(number, str(pull.get("html_url", "")), "opened", branch, 1, sha)
