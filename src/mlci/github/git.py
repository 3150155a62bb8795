"""Commits through GitHub's Git Data API: blobs, one tree, one commit, one ref update.

A branch written this way moves once, from its old tip straight to a commit on top of
the base branch's tip. It never passes through "no commits ahead of the base", which
would make GitHub close the pull request open on it (wei/pull#365, isaacs/github#361).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from mlci.errors import DeployError, GitHubAPIError

if TYPE_CHECKING:
    from mlci.github.api import GitHubClient
    from mlci.github.runtime import Runtime

__all__ = ["MAX_BLOB_BYTES", "commit_on_base", "compare_status", "is_ancestor", "ref_sha"]

#: GitHub blocks files over 100 MiB ("About large files on GitHub"), and a blob travels
#: base64-encoded inside a JSON body; mlci commits files up to 50 MB.
MAX_BLOB_BYTES = 50 * 1024 * 1024


def _field(answer: Any, *keys: str, endpoint: str) -> str:
    """``answer[keys[0]][keys[1]]...`` as a string, or exit 2 naming the endpoint."""
    value = answer
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    if not isinstance(value, str) or not value:
        raise GitHubAPIError(
            f"{endpoint}: the answer has no {'.'.join(keys)}; check GITHUB_API_URL points at"
            " the GitHub API"
        )
    return value


def ref_sha(client: GitHubClient, repo: str, branch: str) -> str | None:
    """The commit ``heads/<branch>`` points at, or None when the branch does not exist."""
    endpoint = f"/repos/{repo}/git/ref/heads/{quote(branch)}"
    answer = client.get(endpoint, missing_ok=True)
    if answer is None:
        return None
    return _field(answer, "object", "sha", endpoint=f"GET {endpoint}")


def commit_on_base(
    client: GitHubClient,
    repo: str,
    *,
    base: str,
    branch: str,
    files: Mapping[str, bytes],
    message: str,
) -> str:
    """Commit ``files`` on top of ``base``'s tip and point ``branch`` at that commit.

    Args:
        client: An authenticated client (``contents: write``).
        repo: ``owner/name``.
        base: The branch the commit goes on top of (the default branch).
        branch: The branch to point at the new commit (created when missing, else moved
            once with ``force``, since its old commits are replaced).
        files: Repository path to content.
        message: The commit message.

    Returns:
        The new commit's SHA.

    Raises:
        DeployError: a file is over `MAX_BLOB_BYTES` (nothing was sent).
        GitHubAPIError: GitHub refused a call.
    """
    for path, content in files.items():
        if len(content) > MAX_BLOB_BYTES:
            raise DeployError(
                f"{path}: the file is {len(content) / 1e6:.0f} MB, over the"
                f" {MAX_BLOB_BYTES // 10**6} MB mlci commits through the GitHub API (GitHub"
                " blocks files over 100 MiB); set retrain.mode: deploy so the model goes to"
                " the registry instead of a pull request"
            )
    base_sha = ref_sha(client, repo, base)
    if base_sha is None:
        raise GitHubAPIError(
            f"GET /repos/{repo}/git/ref/heads/{base}: the base branch {base!r} does not exist;"
            " check the repository's default branch"
        )
    endpoint = f"/repos/{repo}/git/commits/{base_sha}"
    base_tree = _field(client.get(endpoint), "tree", "sha", endpoint=f"GET {endpoint}")
    entries = []
    for path, content in files.items():
        blob = client.post(
            f"/repos/{repo}/git/blobs",
            json={"content": base64.b64encode(content).decode("ascii"), "encoding": "base64"},
        )
        sha = _field(blob, "sha", endpoint=f"POST /repos/{repo}/git/blobs")
        entries.append({"path": path, "mode": "100644", "type": "blob", "sha": sha})
    tree = client.post(f"/repos/{repo}/git/trees", json={"base_tree": base_tree, "tree": entries})
    tree_sha = _field(tree, "sha", endpoint=f"POST /repos/{repo}/git/trees")
    commit = client.post(
        f"/repos/{repo}/git/commits",
        json={"message": message, "tree": tree_sha, "parents": [base_sha]},
    )
    commit_sha = _field(commit, "sha", endpoint=f"POST /repos/{repo}/git/commits")
    if ref_sha(client, repo, branch) is None:
        client.post(
            f"/repos/{repo}/git/refs", json={"ref": f"refs/heads/{branch}", "sha": commit_sha}
        )
    else:
        client.patch(
            f"/repos/{repo}/git/refs/heads/{quote(branch)}",
            json={"sha": commit_sha, "force": True},
        )
    return commit_sha


def compare_status(client: GitHubClient, repo: str, base: str, head: str) -> str | None:
    """GitHub's comparison of ``base...head``: ``ahead``, ``behind``, ``identical``, ``diverged``.

    None when GitHub does not know one of the commits (404).
    """
    endpoint = f"/repos/{repo}/compare/{quote(base)}...{quote(head)}"
    answer = client.get(endpoint, missing_ok=True)
    if answer is None:
        return None
    status = _field(answer, "status", endpoint=f"GET {endpoint}")
    if status not in {"ahead", "behind", "identical", "diverged"}:
        raise GitHubAPIError(f"GET {endpoint}: unexpected comparison status {status[:40]!r}")
    return status


def is_ancestor(
    older: str, newer: str, *, cwd: Path, runtime: Runtime | None = None
) -> bool | None:
    """Whether commit ``older`` is an ancestor of (or equal to) commit ``newer``.

    Asks the local clone first (``git merge-base``), then, on Actions, where the
    checkout is shallow, GitHub's compare API with the job token. None when neither
    can tell.
    """
    from mlci.proc import git

    base = git("merge-base", older, newer, cwd=cwd)
    if base is not None:
        return base == git("rev-parse", older, cwd=cwd)
    if runtime is None or not runtime.repository:
        return None
    from mlci.github.api import GitHubClient

    with GitHubClient.from_runtime(runtime, log=runtime.info) as client:
        if not client.has_token:
            return None
        status = compare_status(client, str(runtime.repository), newer, older)
    # compare newer...older: "behind" means older is contained in newer.
    return None if status is None else status in {"behind", "identical"}
