"""Workflows: start one on the default branch (``workflow_dispatch``).

The workflow must declare ``on: workflow_dispatch`` and the token needs ``actions:
write`` (docs: "Create a workflow dispatch event").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlci.github.api import GitHubClient

__all__ = ["dispatch_workflow"]


def dispatch_workflow(client: GitHubClient, repo: str, workflow: str) -> str:
    """Dispatch ``workflow`` (its file name) on the repository's default branch.

    Returns:
        The branch it was dispatched on.
    """
    info = client.get(f"/repos/{repo}")
    ref = str((info.get("default_branch") if isinstance(info, dict) else None) or "main")
    client.post(f"/repos/{repo}/actions/workflows/{workflow}/dispatches", json={"ref": ref})
    return ref
