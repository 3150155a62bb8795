"""The monitor's texts: one issue per problem, the comment that closes it, the job summary.

Every value from a document goes through the one escaper (`mlci.report.escape`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from mlci.github.limits import BODY_LIMIT
from mlci.report.escape import cell, code, md, safe_url

if TYPE_CHECKING:
    from mlci.model.gates import GateResult
    from mlci.results import MonitorResults

__all__ = ["gate_table", "issue_body", "monitor_summary", "resolved_comment"]


def issue_body(
    *,
    marker: str,
    summary: str,
    severity: str,
    details: Sequence[str],
    time: str,
    run_url: str | None,
) -> str:
    """The body of a problem's issue, within GitHub's body limit.

    Args:
        marker: The hidden marker that finds the issue again (kept first, verbatim).
        summary: The problem in one sentence (escaped here).
        severity: ``error`` or ``warning``.
        details: Markdown lines already rendered here (`gate_table`, `drift_table`).
        time: When the problem was last seen.
        run_url: The run that saw it (left out unless a plain http(s) URL).
    """
    url = safe_url(run_url)
    lines = [
        marker,
        f"**{md(summary, 2000)}**",
        "",
        f"Severity: {severity}. Last seen: {md(time)}"
        + (f" in [this run]({url})" if url else "")
        + ".",
        "",
        *details,
        "",
        "This issue is managed by `mlci monitor`: it is updated while the problem persists"
        " and closed when the data is healthy again.",
    ]
    body = "\n".join(lines) + "\n"
    return body if len(body) <= BODY_LIMIT else body[: BODY_LIMIT - 40] + "\n\n*(truncated)*\n"


def resolved_comment(problem_key: str, *, time: str, run_url: str | None) -> str:
    """The comment that closes a problem's issue once a run no longer sees it."""
    url = safe_url(run_url)
    run = f" ([run]({url}))" if url else ""
    return (
        f"`mlci monitor` sees no {code(problem_key)} problem any more as of {md(time)}{run};"
        " closing."
    )


def gate_table(failed: Sequence[GateResult]) -> list[str]:
    """The failed gates of one live metric (`mlci.model.gates.GateResult`) as table lines."""
    lines = [
        "| rule | threshold | live | at blessing | reason |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| {code(r.rule)} | {cell(r.threshold)} | {cell(r.observed)} | {cell(r.baseline)}"
        f" | {md(r.reason, 1000)} |"
        for r in failed
    ]
    return lines


def monitor_summary(doc: MonitorResults) -> str:
    """The monitor report (job summary) from the typed ``monitor.json``."""
    problems = doc.problems
    head = "healthy" if not problems else f"{len(problems)} problem(s)"
    lines = [f"## mlci monitor: {head}", "", f"Rows checked: {doc.rows}"]
    prod = doc.production
    lines.append(f"Production: version {prod.version}" if prod else "Production: none registered")
    if doc.reference is not None and doc.reference.source:
        lines.append(f"Drift reference: {md(doc.reference.source, 200)}")
    columns = doc.drift.columns if doc.drift is not None else []
    drifted = [c.column for c in columns if c.drifted]
    if drifted:
        lines.append(
            f"Drifted columns ({len(drifted)}; not every one raises an alarm): "
            + ", ".join(cell(c) for c in drifted[:30])
            + (" …" if len(drifted) > 30 else "")
        )
    for p in problems:
        mark = "❌" if p.severity == "error" else "⚠️"
        lines.append(f"- {mark} {code(p.key)}: {md(p.summary, 2000)}")
    live = doc.live_metrics
    if live:
        lines += ["", "| metric | live | at blessing |", "| --- | --- | --- |"]
        base = doc.baseline_metrics or {}
        lines += [f"| {cell(k)} | {cell(v)} | {cell(base.get(k))} |" for k, v in live.items()]
    for issue in doc.issues:
        lines.append(f"- issue #{issue.number} {md(issue.action, 20)} ({md(issue.problem, 200)})")
    if doc.retrain_dispatch is not None:
        lines.append(f"- dispatched {md(doc.retrain_dispatch.workflow, 200)}")
    if doc.rollback is not None:
        lines.append(f"- rollback: {md(doc.rollback.message or '—', 1000)}")
    for note in doc.notes:
        lines.append(f"- note: {md(note, 1000)}")
    return "\n".join(lines) + "\n"
