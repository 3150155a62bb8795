"""The retrain report: the job summary of ``mlci retrain`` and the body of its pull request.

Every value from a document goes through the one escaper (`mlci.report.escape`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlci.github.limits import BODY_LIMIT
from mlci.report.escape import cell, code, md, safe_url
from mlci.report.tables import drift_table

__all__ = ["pull_request_body", "retrain_report"]


def retrain_report(
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
        reference = doc.get("reference")
        if isinstance(reference, Mapping) and reference.get("source"):
            lines += ["", f"Compared with: {md(str(reference['source']), 200)}"]
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
        text += "\n" + render_report(Report.from_json(model=model_doc), max_chars=room)
    return text


def pull_request_body(
    doc: Mapping[str, Any], model_doc: Mapping[str, Any] | None, *, marker: str
) -> str:
    """The body of the retrain pull request: its hidden marker, then the report.

    The whole stays within GitHub's body limit (the comparison drops details to fit).
    """
    body = retrain_report(doc, model_doc, max_chars=BODY_LIMIT - len(marker) - 200)
    return f"{marker}\n{body}"
