"""The retrain report, ``retrain.json`` and the pull request that proposes the challenger."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlci.config import Config
from mlci.errors import InputError
from mlci.github.runtime import Runtime
from mlci.model.committed import RECORD_PATH as RECORD_PATH  # re-exported: the record's one path
from mlci.provenance import repo_toplevel
from mlci.report.escape import cell, code, md, safe_url
from mlci.report.tables import drift_table
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


# -- rendering --------------------------------------------------------------------------------


def render_markdown(
    doc: Mapping[str, Any],
    model_doc: Mapping[str, Any] | None = None,
    *,
    max_chars: int | None = None,
) -> str:
    """The retrain report (job summary and pull request body) from the results documents.

    Args:
        doc: The ``retrain.json`` document.
        model_doc: ``model.json`` of the comparison, rendered by `mlci.report` below.
        max_chars: A size limit for the whole text (the comparison drops details to fit).
    """
    decision = doc.get("decision") or {}
    lines = [f"## mlci retrain: {cell(doc.get('outcome'))}", ""]
    lines.append(f"**Decision:** {md(decision.get('reason') or '—', 1000)}")
    data = doc.get("data") or {}
    if data:
        lines.append(f"**Fresh data:** {cell(data.get('source'))}, {data.get('rows', 0)} rows")
    prod = doc.get("champion")
    if prod:
        lines.append(
            f"**Champion:** registry version {prod.get('version')} (created"
            f" {cell(prod.get('created'))})"
        )
    elif not str(doc.get("outcome", "")).startswith("stopped"):
        lines.append("**Champion:** none in production (first model)")
    blessing = doc.get("blessing")
    if blessing:
        verdict = "blessed" if blessing.get("blessed") else "not blessed"
        lines.append(f"**Challenger:** {verdict}: {md(blessing.get('reason') or '—', 1000)}")
    errors = [f for f in doc.get("findings", []) if f.get("severity") == "error"]
    if errors:
        lines += ["", "### Problems", ""]
        lines += [f"- {code(f['check'])}: {md(f['message'], 1000)}" for f in errors[:50]]
    drift = doc.get("drift")
    if drift and drift.get("columns"):
        drifted = [c for c in drift["columns"] if c.get("drifted")]
        lines += [
            "",
            f"### Drift: {len(drifted)} of {len(drift['columns'])} columns"
            f" (share {drift.get('share', 0):.0%},"
            f" threshold {drift.get('share_threshold', 0):.0%})",
        ]
        if drifted:
            lines += ["", *drift_table(drifted)]
    pr = doc.get("pull_request")
    if pr:
        url = safe_url(pr.get("url")) or ""
        lines += ["", f"Pull request #{int(pr['number'])} {md(pr['action'])}: {url}".rstrip()]
    prov = doc.get("provenance") or {}
    run_url = safe_url(prov.get("run_url"))
    if run_url:
        lines += ["", f"Run: {run_url}"]
    text = "\n".join(lines) + "\n"
    if model_doc:
        from mlci.report.render import Report
        from mlci.report.render import render_markdown as render_report

        room = None if max_chars is None else max(max_chars - len(text) - 2, 2000)
        text += "\n" + render_report(Report(None, model_doc), max_chars=room)
    return text


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
    text = render_markdown(doc, model_doc)
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
