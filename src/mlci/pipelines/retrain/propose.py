"""``retrain.json`` and the pull request that proposes the challenger (text: `mlci.report`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlci.config import Config
from mlci.errors import InputError
from mlci.github.runtime import Runtime
from mlci.model.committed import RECORD_PATH as RECORD_PATH  # re-exported: the record's one path
from mlci.model.committed import REFERENCE_PATH as REFERENCE_PATH  # the reference beside it
from mlci.provenance import repo_toplevel
from mlci.report.retrain import retrain_report
from mlci.results import (
    Finding,
    make_document,
    write_results,
)

if TYPE_CHECKING:
    from mlci.github.api import GitHubClient


#: Hidden marker that identifies mlci's retrain pull request (with the report key).
PR_MARKER = "<!-- mlci-retrain:{key} -->"


# -- GitHub: the pull request (mlci.github.pulls) ------------------------------------------


def _repo_path(path: Path, config: Config, runtime: Runtime) -> str:
    """``path`` relative to the repository root (the workspace on a runner)."""
    resolved = path.resolve()
    roots = [runtime.workspace, _git_toplevel(config.root)]
    for root in roots:
        if root and resolved.is_relative_to(Path(root).resolve()):
            return resolved.relative_to(Path(root).resolve()).as_posix()
    return resolved.relative_to(config.root.resolve()).as_posix()


def _git_toplevel(cwd: Path) -> str | None:
    return repo_toplevel(cwd)


# -- the command ------------------------------------------------------------------------------


@dataclass
class _State:
    findings: list[Finding] = field(default_factory=list)
    payload: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)


def _finish(
    state: _State,
    results_dir: Path,
    runtime: Runtime,
    *,
    passed: bool,
    outcome: str,
    model_doc: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    state.payload["outcome"] = outcome
    doc = make_document(
        "retrain",
        passed=passed,
        findings=state.findings,
        payload=state.payload,
        provenance=state.provenance,
    )
    path = write_results(results_dir, doc)
    text = retrain_report(doc, model_doc)
    runtime.summary(text)
    runtime.set_output("outcome", outcome)
    if not runtime.on_actions:
        runtime.info(text.rstrip())
    runtime.info(f"wrote {path}")
    return doc


def _context(runtime: Runtime, client: GitHubClient | None) -> tuple[GitHubClient, str]:
    repo = str(runtime.repository)
    if client is None:
        from mlci.github.api import GitHubClient

        client = GitHubClient.from_runtime(runtime, log=runtime.info)
    if not client.has_token:
        raise InputError(
            "retrain.mode pull-request: no token; pass the workflow token as the action's"
            " github-token input or set GITHUB_TOKEN (permissions: contents: write,"
            " pull-requests: write)"
        )
    return client, repo
