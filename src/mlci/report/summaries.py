"""The job summaries of validate-data, validate-model, deploy and rollback.

Every value from a document goes through the one escaper (`mlci.report.escape`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from mlci.report.escape import code, md
from mlci.report.tables import drift_table
from mlci.results import BlessingDoc, DataResults, DeltaDoc, ModelResults

__all__ = ["data_summary", "deploy_summary", "model_summary"]


def data_summary(doc: DataResults, verdict: str) -> str:
    """The job summary of ``mlci validate-data``: the findings and the drift table."""
    lines = [f"## mlci data validation: {verdict}", ""]
    sharded = f", checked by {doc.shards} shards" if doc.shards else ""
    lines.append(f"{doc.rows} rows, {doc.columns} columns{sharded}.")
    lines.append("")
    findings = doc.findings
    if findings:
        lines += [
            "| severity | check | column | message | count |",
            "| --- | --- | --- | --- | --- |",
        ]
        for f in findings[:200]:
            count = f.count if f.count is not None else ""
            lines.append(
                f"| {f.severity} | {code(f.check)} | {md(f.column or '')}"
                f" | {md(f.message, 1000)} | {count} |"
            )
        if len(findings) > 200:
            lines.append(f"\n{len(findings) - 200} more finding(s) in data.json.")
    drift = doc.drift
    if drift is not None:
        lines += [
            "",
            f"### Drift: share {drift.share or 0:.0%} (threshold {drift.share_threshold or 0:.0%})",
            "",
            *drift_table(drift.columns, limit=500),
        ]
    return "\n".join(lines) + "\n"


def model_summary(doc: ModelResults, title: str) -> str:
    """The job summary of ``mlci validate-model``: the blessing, metrics with deltas, gates."""
    blessing = doc.blessing or BlessingDoc()
    icon = "✅" if blessing.blessed else "❌"
    lines = [f"## {title}: model validation", "", f"{icon} **{md(blessing.reason, 1000)}**", ""]
    lines += [f"> {md(n, 1000)}" for n in blessing.notes]
    if blessing.notes:
        lines.append("")
    base = doc.baseline_metrics or {}
    lines += [
        "| metric | candidate | baseline | delta (95% CI) | |",
        "| --- | ---: | ---: | --- | --- |",
    ]
    for name, value in doc.metrics.items():
        delta = _delta(doc.deltas.get(name))
        lines.append(f"| {md(name)} | {_num(value)} | {_num(base.get(name))} | {delta}")
    if doc.gates:
        lines += [
            "",
            "| gate | rule | threshold | observed | baseline | result |",
            "| --- | --- | ---: | ---: | ---: | --- |",
        ]
        for g in doc.gates:
            where = md(g.metric) + (f" [{md(g.slice)}]" if g.slice else "")
            lines.append(
                f"| {where} | {g.rule} | {_num(g.threshold)} | {_num(g.observed)}"
                f" | {_num(g.baseline)} | {'pass' if g.passed else 'FAIL'} |"
            )
    return "\n".join(lines) + "\n"


def _delta(d: DeltaDoc | None) -> str:
    """The delta, its interval and whether it is significant: the last cells of a metric row."""
    if d is None:
        return " |  |"
    ci = ""
    if d.ci_low is not None and d.ci_high is not None:
        ci = f" [{d.ci_low:+.4f}, {d.ci_high:+.4f}]"
    delta = f"{d.delta:+.4f}{ci}" if d.delta is not None else ""
    sig = {True: "significant", False: "within noise", None: ""}[d.significant]
    if d.significant is None and d.ci_low is not None:
        sig = "cannot tell: " + md(str(d.reason), 1000)
    return f"{delta} | {sig} |"


def _num(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def deploy_summary(
    doc: Mapping[str, Any],
    *,
    status: str,
    version: int | None,
    previous: int | None,
    message: str,
) -> str:
    """The job summary of ``mlci deploy`` / ``mlci rollback`` (``deploy.json`` in ``doc``)."""
    title = {
        "deployed": f"model v{version} is in production",
        "rolled_back": f"production rolled back to v{version}",
        "unchanged": f"nothing to do: production stays at v{version}",
        "refused": "deploy refused; production is unchanged",
        "failed": "deploy failed; production is unchanged",
    }[status]
    action = md(doc.get("action", "deploy"))
    lines = [f"## mlci {action}: {md(title)}", "", md(message, 2000), ""]
    rows = [
        ("version", f"v{version}" if version else "n/a"),
        ("previous production", f"v{previous}" if previous else "none"),
        ("commit", (doc.get("provenance") or {}).get("git_sha") or "n/a"),
        (
            "registry",
            f"{doc.get('registry', {}).get('backend')} {doc.get('registry', {}).get('location')}",
        ),
    ]
    smoke = doc.get("smoke_test")
    if isinstance(smoke, Mapping):
        verdict = "passed" if smoke.get("passed") else "FAILED"
        rows.append(
            ("smoke test", f"{verdict}: {smoke.get('rows')} rows via {smoke.get('format')}")
        )
    onnx = doc.get("onnx")
    if isinstance(onnx, Mapping):
        rows.append(
            ("ONNX", "exported" if onnx.get("exported") else f"not exported: {onnx.get('reason')}")
        )
    lines += ["| | |", "| --- | --- |", *(f"| {k} | {md(v)} |" for k, v in rows), ""]
    changes = doc.get("changes") or {}
    if changes:
        lines += [
            f"### Metrics: v{previous or '-'} → v{version}",
            "",
            "| metric | previous | new | change |",
            "| --- | ---: | ---: | ---: |",
        ]
        for name, c in changes.items():
            delta = c.get("delta")
            sign = "" if delta is None else ("+" if delta >= 0 else "")
            lines.append(
                f"| {md(name)} | {_fmt(c.get('before'))} | {_fmt(c.get('after'))} |"
                f" {sign}{_fmt(delta)} |"
            )
        lines.append("")
    for finding in doc.get("findings", []):
        lines.append(
            f"- **{md(finding['severity'])}** {code(finding['check'])}:"
            f" {md(finding['message'], 1000)}"
        )
    return "\n".join(lines).rstrip() + "\n"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else "n/a"
    return "n/a" if value is None else str(value)
