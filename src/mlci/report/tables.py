"""Markdown tables shared by job summaries, the retrain pull request and monitor issues."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mlci.report.escape import cell, code
from mlci.results import DriftColumnDoc, as_typed

__all__ = ["drift_table"]


def drift_table(
    columns: Sequence[DriftColumnDoc | Mapping[str, Any]], *, limit: int = 100
) -> list[str]:
    """The drift of each column (``columns`` of a drift payload) as Markdown table lines.

    Args:
        columns: The typed ``columns`` of a results document, or ``ColumnDrift.to_dict()``
            entries of a check in progress (typed here first); every value is escaped.
        limit: Rows shown; a last row says how many were left out.
    """
    lines = [
        "| column | kind | method | statistic | p-value | threshold | drifted |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for entry in columns[:limit]:
        c = (
            entry
            if isinstance(entry, DriftColumnDoc)
            else as_typed(DriftColumnDoc, entry, what="drift column")
        )
        mark = "**yes**" if c.drifted else ("skipped" if c.method == "none" else "no")
        lines.append(
            f"| {cell(c.column)} | {cell(c.kind or 'feature')}"
            f" | {code(c.method or '—')} | {cell(c.statistic)} | {cell(c.p_value)}"
            f" | {cell(c.threshold)} | {mark} |"
        )
    if len(columns) > limit:
        lines.append(f"| … {len(columns) - limit} more | | | | | | |")
    return lines
