"""The retrain report: the job summary of ``mlci retrain`` and the body of its pull request.

Both render from the typed documents (`RetrainResults`, and `ModelResults` of the
comparison). Every value from a document goes through the one escaper
(`mlci.report.escape`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlci.github.limits import BODY_LIMIT
from mlci.report.escape import cell, code, md, safe_url
from mlci.report.tables import drift_table

if TYPE_CHECKING:
    from mlci.results import ModelResults, RetrainResults

__all__ = ["pull_request_body", "retrain_report"]


def retrain_report(
    doc: RetrainResults,
    model: ModelResults | None = None,
    *,
    max_chars: int | None = None,
) -> str:
    """The retrain report (job summary and pull request body) from the results documents.

    Args:
        doc: The ``retrain.json`` document.
        model: ``model.json`` of the comparison, rendered by `mlci.report` below.
        max_chars: A size limit for the whole text (the comparison drops details to fit).
    """
    lines = [f"## mlci retrain: {cell(doc.outcome)}", ""]
    reason = doc.decision.reason if doc.decision is not None else None
    lines.append(f"**Decision:** {md(reason or '—', 1000)}")
    data = doc.data
    if data is not None:
        lines.append(f"**Fresh data:** {cell(data.source)}, {data.rows or 0} rows")
    prod = doc.champion
    if prod is not None:
        lines.append(
            f"**Champion:** registry version {prod.version} (created {cell(prod.created)})"
        )
    elif not (doc.outcome or "").startswith("stopped"):
        lines.append("**Champion:** none in production (first model)")
    blessing = doc.blessing
    if blessing is not None:
        verdict = "blessed" if blessing.blessed else "not blessed"
        lines.append(f"**Challenger:** {verdict}: {md(blessing.reason or '—', 1000)}")
    errors = [f for f in doc.findings if f.severity == "error"]
    if errors:
        lines += ["", "### Problems", ""]
        lines += [f"- {code(f.check)}: {md(f.message, 1000)}" for f in errors[:50]]
    lines += _drift_lines(doc)
    pr = doc.pull_request
    if pr is not None:
        url = safe_url(pr.url) or ""
        lines += ["", f"Pull request #{pr.number} {md(pr.action or '')}: {url}".rstrip()]
    run_url = safe_url(doc.provenance.run_url)
    if run_url:
        lines += ["", f"Run: {run_url}"]
    text = "\n".join(lines) + "\n"
    if model is not None:
        from mlci.report.render import Report
        from mlci.report.render import render_markdown as render_report

        room = None if max_chars is None else max(max_chars - len(text) - 2, 2000)
        text += "\n" + render_report(Report(None, model), max_chars=room)
    return text


def _drift_lines(doc: RetrainResults) -> list[str]:
    """The drift of the fresh data: counts, the reference, the drifted columns."""
    drift = doc.drift
    if drift is None or not drift.columns:
        return []
    drifted = [c for c in drift.columns if c.drifted]
    lines = [
        "",
        f"### Drift: {len(drifted)} of {len(drift.columns)} columns"
        f" (share {drift.share or 0:.0%},"
        f" threshold {drift.share_threshold or 0:.0%})",
    ]
    if doc.reference is not None and doc.reference.source:
        lines += ["", f"Compared with: {md(doc.reference.source, 200)}"]
    if drifted:
        lines += ["", *drift_table(drifted)]
    return lines


def pull_request_body(doc: RetrainResults, model: ModelResults | None, *, marker: str) -> str:
    """The body of the retrain pull request: its hidden marker, then the report.

    The whole stays within GitHub's body limit (the comparison drops details to fit).
    """
    body = retrain_report(doc, model, max_chars=BODY_LIMIT - len(marker) - 200)
    return f"{marker}\n{body}"
