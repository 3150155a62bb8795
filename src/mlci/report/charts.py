"""Charts: one description, drawn as Mermaid for GitHub and as inline SVG for the HTML report.

A `Chart` holds the data (labels and series, or scatter points); `to_mermaid`
writes a Mermaid ``xychart-beta`` block that GitHub renders without image hosting,
and `to_svg` draws the same chart as a self-contained SVG element (no script, no
external reference) for the HTML report, whose content security policy forbids
both. Labels come from data: Mermaid labels go through `mermaid_label`, SVG text
through `xml_text`; neither can end its element.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeGuard

from mlci.report.escape import mermaid_label, xml_text

__all__ = ["Chart", "Series", "bar_chart", "line_chart", "to_mermaid", "to_svg"]

ChartKind = Literal["line", "bar", "scatter"]

# Colours of the series (candidate first), readable on white and for common colour
# vision deficiencies (Okabe-Ito blue, orange, bluish green).
_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7")
_W, _H = 640, 300
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 16, 36, 64


@dataclass(frozen=True)
class Series:
    """One named series: values per label (line, bar) or y per x (scatter)."""

    name: str
    values: tuple[float | None, ...]
    xs: tuple[float, ...] = ()


@dataclass(frozen=True)
class Chart:
    """A chart described by its data.

    Attributes:
        kind: ``line``, ``bar`` or ``scatter``.
        title: The heading.
        labels: Category labels of the x axis (line, bar).
        series: The series; bars of several series are drawn side by side.
        x_label: Name of the x axis (scatter).
        y_label: Name of the y axis.
        threshold: A horizontal reference line (e.g. a drift threshold).
        diagonal: Draw y = x (predicted versus actual).
    """

    kind: ChartKind
    title: str
    labels: tuple[str, ...] = ()
    series: tuple[Series, ...] = field(default_factory=tuple)
    x_label: str = ""
    y_label: str = ""
    threshold: float | None = None
    diagonal: bool = False


def _ok(v: object) -> TypeGuard[float]:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _num(value: float) -> str:
    return f"{value:.6g}"


def _axis(values: list[float], *, from_zero: bool = False) -> tuple[float, float]:
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.1 or abs(hi) * 0.05 or 1.0
    low = 0.0 if from_zero and lo >= 0 else lo - pad
    return low, hi + pad


def _points(chart: Chart) -> list[tuple[str, list[float | None]]]:
    """Labels with at least one finite value, and each series' value (or None) there."""
    out = []
    for i, label in enumerate(chart.labels):
        row = [
            s.values[i] if i < len(s.values) and _ok(s.values[i]) else None for s in chart.series
        ]
        if any(v is not None for v in row):
            out.append((label, row))
    return out


def line_chart(
    title: str, labels: Sequence[str], values: Sequence[float | None], y_label: str
) -> Chart | None:
    """A line chart (e.g. a metric across registry versions, the candidate last).

    Returns None when fewer than two finite points remain: one point says nothing.
    """
    chart = Chart("line", title, tuple(labels), (Series(y_label, tuple(values)),), y_label=y_label)
    return chart if len(_points(chart)) >= 2 else None


def bar_chart(
    title: str,
    labels: Sequence[str],
    values: Sequence[float | None] | Sequence[Series],
    y_label: str,
    *,
    threshold: float | None = None,
) -> Chart | None:
    """A bar chart (one series of values, or several `Series` side by side)."""
    series = (
        tuple(values)
        if values and all(isinstance(v, Series) for v in values)
        else (Series(y_label, tuple(values)),)  # type: ignore[arg-type]
    )
    chart = Chart(
        "bar",
        title,
        tuple(labels),
        series,  # type: ignore[arg-type]
        y_label=y_label,
        threshold=threshold if threshold is not None and math.isfinite(threshold) else None,
    )
    return chart if _points(chart) else None


# -- Mermaid ----------------------------------------------------------------------------


def to_mermaid(chart: Chart) -> str:
    """The chart as a Mermaid ``xychart-beta`` block ("" for scatter: Mermaid has none)."""
    if chart.kind == "scatter":
        return ""
    points = _points(chart)
    if not points:
        return ""
    xs = ", ".join(f'"{mermaid_label(label, 16)}"' for label, _ in points)
    finite = [v for _, row in points for v in row if v is not None]
    if chart.threshold is not None:
        finite.append(chart.threshold)
    lo, hi = _axis(finite, from_zero=chart.kind == "bar")
    title = mermaid_label(chart.title, 60)
    if len(chart.series) > 1:  # Mermaid draws no legend: name the series in the title
        marks = [
            f"{'bars' if chart.kind == 'bar' and j == 0 else 'line'} {mermaid_label(s.name, 20)}"
            for j, s in enumerate(chart.series)
        ]
        title += " - " + " / ".join(marks)
    lines = [
        "```mermaid",
        "xychart-beta",
        f'    title "{title}"',
        f"    x-axis [{xs}]",
        f'    y-axis "{mermaid_label(chart.y_label, 30)}" {_num(lo)} --> {_num(hi)}',
    ]
    for j, _series in enumerate(chart.series):
        # Mermaid needs a value per label: a missing one is drawn at the axis floor.
        ys = ", ".join(_num(v if (v := row[j]) is not None else lo) for _, row in points)
        lines.append(f"    {'bar' if chart.kind == 'bar' and j == 0 else 'line'} [{ys}]")
    if chart.threshold is not None:
        lines.append(f"    line [{', '.join(_num(chart.threshold) for _ in points)}]")
    lines.append("```")
    return "\n".join(lines)


# -- SVG ----------------------------------------------------------------------------------


def _ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    step = (hi - lo) / count
    if step <= 0:
        return [lo]
    magnitude = 10 ** math.floor(math.log10(step))
    step = min((m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= step), default=step)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step) + 1)]


def _frame(chart: Chart, lo: float, hi: float, x_ticks: list[tuple[float, str]]) -> list[str]:
    """Title, axes, grid lines and tick labels."""
    plot_h = _H - _TOP - _BOTTOM
    out = [
        f'<text x="{_W / 2:.0f}" y="20" text-anchor="middle" font-size="14"'
        f' font-weight="600">{xml_text(chart.title, 80)}</text>'
    ]
    for t in _ticks(lo, hi):
        y = _TOP + plot_h * (1 - (t - lo) / (hi - lo))
        out.append(
            f'<line x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d0d7de"'
            ' stroke-width="1"/>'
        )
        out.append(
            f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">'
            f"{xml_text(f'{t:.4g}', 12)}</text>"
        )
    for x, label in x_ticks:
        out.append(
            f'<text x="{x:.1f}" y="{_H - _BOTTOM + 16}" text-anchor="end" font-size="11"'
            f' transform="rotate(-30 {x:.1f} {_H - _BOTTOM + 16})">{label}</text>'
        )
    out.append(
        f'<line x1="{_LEFT}" x2="{_LEFT}" y1="{_TOP}" y2="{_H - _BOTTOM}" stroke="#57606a"/>'
    )
    out.append(
        f'<line x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{_H - _BOTTOM}" y2="{_H - _BOTTOM}"'
        ' stroke="#57606a"/>'
    )
    out.append(
        f'<text x="14" y="{_TOP + plot_h / 2:.0f}" font-size="11" text-anchor="middle"'
        f' transform="rotate(-90 14 {_TOP + plot_h / 2:.0f})">{xml_text(chart.y_label, 40)}</text>'
    )
    if chart.x_label:
        out.append(
            f'<text x="{_LEFT + (_W - _LEFT - _RIGHT) / 2:.0f}" y="{_H - 6}" font-size="11"'
            f' text-anchor="middle">{xml_text(chart.x_label, 40)}</text>'
        )
    return out


def _legend(chart: Chart) -> list[str]:
    if len(chart.series) < 2:
        return []
    out = []
    x = _LEFT + 8
    for j, s in enumerate(chart.series):
        colour = _COLOURS[j % len(_COLOURS)]
        out.append(f'<rect x="{x}" y="{_TOP - 12}" width="10" height="10" fill="{colour}"/>')
        out.append(
            f'<text x="{x + 14}" y="{_TOP - 3}" font-size="11">{xml_text(s.name, 30)}</text>'
        )
        x += 24 + 7 * min(len(s.name), 30)
    return out


def to_svg(chart: Chart) -> str:
    """The chart as one inline ``<svg>`` element ("" when there is nothing to draw).

    The element has no blank line, so Markdown keeps it as one HTML block.
    """
    body = _scatter_svg(chart) if chart.kind == "scatter" else _series_svg(chart)
    if body is None:
        return ""
    body += _legend(chart)
    return "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W} {_H}" width="{_W}"'
            f' height="{_H}" role="img" font-family="sans-serif">',
            f"<title>{xml_text(chart.title, 80)}</title>",
            *body,
            "</svg>",
        ]
    )


_PLOT_W, _PLOT_H = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM


def _y_scale(lo: float, hi: float) -> Callable[[float], float]:
    """Value to SVG y (``lo`` at the bottom of the plot, ``hi`` at the top)."""
    return lambda v: _TOP + _PLOT_H * (1 - (v - lo) / (hi - lo))


def _scatter_svg(chart: Chart) -> list[str] | None:
    """The frame, the diagonal (y = x) and one dot per point; None with nothing to draw."""
    pts = [
        (x, y, j)
        for j, s in enumerate(chart.series)
        for x, y in zip(s.xs, s.values, strict=False)
        if _ok(x) and _ok(y)
    ]
    if not pts:
        return None
    xs = [p[0] for p in pts]
    ys = [p[1] for p in pts]
    lo, hi = _axis(xs + ys) if chart.diagonal else _axis(ys)
    xlo, xhi = (lo, hi) if chart.diagonal else _axis(xs)

    def px(v: float) -> float:
        return _LEFT + _PLOT_W * (v - xlo) / (xhi - xlo)

    py = _y_scale(lo, hi)
    ticks = [(px(t), xml_text(f"{t:.4g}", 12)) for t in _ticks(xlo, xhi)]
    body = list(_frame(chart, lo, hi, ticks))
    if chart.diagonal:
        body.append(
            f'<line x1="{px(xlo):.1f}" y1="{py(xlo):.1f}" x2="{px(xhi):.1f}" y2="{py(xhi):.1f}"'
            ' stroke="#57606a" stroke-dasharray="4 3"/>'
        )
    for x, y, j in pts:
        body.append(
            f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="2.5"'
            f' fill="{_COLOURS[j % len(_COLOURS)]}" fill-opacity="0.6"/>'
        )
    return body


def _series_svg(chart: Chart) -> list[str] | None:
    """The frame, bars or lines per series, and the threshold; None with nothing to draw."""
    points = _points(chart)
    if not points:
        return None
    finite = [v for _, row in points for v in row if v is not None]
    if chart.threshold is not None:
        finite.append(chart.threshold)
    lo, hi = _axis(finite, from_zero=chart.kind == "bar")
    step = _PLOT_W / len(points)
    py = _y_scale(lo, hi)
    ticks = [(_LEFT + step * (i + 0.5), xml_text(label, 16)) for i, (label, _) in enumerate(points)]
    body = list(_frame(chart, lo, hi, ticks))
    for j in range(len(chart.series)):
        colour = _COLOURS[j % len(_COLOURS)]
        if chart.kind == "bar":
            body += _bars(chart, points, j, colour, step, py, 0.0 if lo <= 0.0 <= hi else lo)
        else:
            body += _line(points, j, colour, step, py)
    if chart.threshold is not None:
        y = py(chart.threshold)
        body.append(
            f'<line x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#cf222e"'
            ' stroke-dasharray="6 4"/>'
        )
    return body


def _bars(
    chart: Chart,
    points: list[tuple[str, list[float | None]]],
    j: int,
    colour: str,
    step: float,
    py: Callable[[float], float],
    base_value: float,
) -> list[str]:
    """Series ``j`` as one bar per point (grouped beside the other series' bars)."""
    width = step * 0.8 / len(chart.series)
    out = []
    for i, (label, row) in enumerate(points):
        v = row[j]
        if v is None:
            continue
        x = _LEFT + step * i + step * 0.1 + width * j
        top, base = py(v), py(base_value)
        out.append(
            f'<rect x="{x:.1f}" y="{min(top, base):.1f}" width="{width:.1f}"'
            f' height="{abs(base - top):.1f}" fill="{colour}">'
            f"<title>{xml_text(label, 40)}: {xml_text(f'{v:.4g}', 12)}</title></rect>"
        )
    return out


def _line(
    points: list[tuple[str, list[float | None]]],
    j: int,
    colour: str,
    step: float,
    py: Callable[[float], float],
) -> list[str]:
    """Series ``j`` as a line through its points, with a dot on each."""
    coords = [
        (_LEFT + step * (i + 0.5), py(v))
        for i, (_, row) in enumerate(points)
        if (v := row[j]) is not None
    ]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    return [
        f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>',
        *(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>' for x, y in coords),
    ]
