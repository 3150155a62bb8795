"""Markdown tables shared by job summaries, the retrain pull request and monitor issues."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mlci.report.escape import cell, code

__all__ = ["drift_table"]


def drift_table(columns: Sequence[Mapping[str, Any]], *, limit: int = 100) -> list[str]:
    """The drift of each column (``columns`` of a drift payload) as Markdown table lines.

    Args:
        columns: ``ColumnDrift.to_dict()`` entries (from ``data.json``, ``retrain.json``,
            ``monitor.json``); every value is escaped.
        limit: Rows shown; a last row says how many were left out.
    """
    lines = [
        "| column | kind | method | statistic | p-value | threshold | drifted |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for c in columns[:limit]:
        method = c.get("method")
        mark = "**yes**" if c.get("drifted") else ("skipped" if method == "none" else "no")
        lines.append(
            f"| {cell(c.get('column'))} | {cell(c.get('kind') or 'feature')}"
            f" | {code(method or '—')} | {cell(c.get('statistic'))} | {cell(c.get('p_value'))}"
            f" | {cell(c.get('threshold'))} | {mark} |"
        )
    if len(columns) > limit:
        lines.append(f"| … {len(columns) - limit} more | | | | | | |")
    return lines
