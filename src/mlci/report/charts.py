"""Charts as Mermaid ``xychart-beta`` blocks, which GitHub renders without image hosting."""

from __future__ import annotations

import math
from collections.abc import Sequence

from mlci.report.escape import mermaid_label

__all__ = ["bar_chart", "line_chart"]


def _finite(values: Sequence[float | None]) -> list[float]:
    return [v for v in values if isinstance(v, int | float) and math.isfinite(v)]


def _num(value: float) -> str:
    return f"{value:.6g}"


def _axis(values: list[float], *, from_zero: bool = False) -> str:
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.1 or abs(hi) * 0.05 or 1.0
    low = 0.0 if from_zero and lo >= 0 else lo - pad
    return f"{_num(low)} --> {_num(hi + pad)}"


def line_chart(
    title: str, labels: Sequence[str], values: Sequence[float | None], y_label: str
) -> str:
    """A line chart (e.g. a metric across registry versions, the candidate last).

    Points without a finite value are left out. Returns "" when fewer than two
    points remain: a chart of one point says nothing.
    """
    points = [
        (mermaid_label(label, 16), float(v))
        for label, v in zip(labels, values, strict=True)
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
    ]
    if len(points) < 2:
        return ""
    xs = ", ".join(f'"{label}"' for label, _ in points)
    ys = ", ".join(_num(v) for _, v in points)
    return (
        "```mermaid\nxychart-beta\n"
        f'    title "{mermaid_label(title, 60)}"\n'
        f"    x-axis [{xs}]\n"
        f'    y-axis "{mermaid_label(y_label, 30)}" {_axis([v for _, v in points])}\n'
        f"    line [{ys}]\n```"
    )


def bar_chart(
    title: str,
    labels: Sequence[str],
    values: Sequence[float | None],
    y_label: str,
    *,
    threshold: float | None = None,
) -> str:
    """A bar chart (e.g. drift statistic per column), with an optional threshold line."""
    points = [
        (mermaid_label(label, 16), float(v))
        for label, v in zip(labels, values, strict=True)
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
    ]
    if not points:
        return ""
    xs = ", ".join(f'"{label}"' for label, _ in points)
    ys = ", ".join(_num(v) for _, v in points)
    scale = [v for _, v in points] + ([threshold] if threshold is not None else [])
    lines = [
        "```mermaid",
        "xychart-beta",
        f'    title "{mermaid_label(title, 60)}"',
        f"    x-axis [{xs}]",
        f'    y-axis "{mermaid_label(y_label, 30)}" {_axis(_finite(scale), from_zero=True)}',
        f"    bar [{ys}]",
    ]
    if threshold is not None and math.isfinite(threshold):
        lines.append(f"    line [{', '.join(_num(threshold) for _ in points)}]")
    lines.append("```")
    return "\n".join(lines)
