"""The report: results documents to Markdown (comment, summary) and self-contained HTML.

`load_report` reads ``data.json`` and ``model.json`` (validated, untrusted);
`build_context` turns them into a view in which every string is already escaped;
`render_markdown` fills ``templates/report/report.md.j2`` and, given a size limit,
drops details level by level (samples, long tables, charts) until the text fits,
never the verdict; `render_html` turns the Markdown into a page with markdown-it-py.
Nothing here imports pandas, numpy or scikit-learn.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from mlci.errors import InputError
from mlci.metrics import BUILTIN_METRICS
from mlci.report.charts import Chart, Series, bar_chart, line_chart, to_mermaid, to_svg
from mlci.report.escape import fmt_number, md, safe_url
from mlci.results import (
    ClassMetricDoc,
    DataProvenance,
    DataResults,
    DeltaDoc,
    DriftColumnDoc,
    DriftDoc,
    ErrorSummaryDoc,
    FindingDoc,
    GateDoc,
    ModelProvenance,
    ModelResults,
    PerClassDoc,
    ProjectTestsResults,
    Provenance,
    ResidualCountsDoc,
    read_document,
    validate_document,
)
from mlci.templating import render

__all__ = [
    "DETAIL_LEVELS",
    "Detail",
    "Report",
    "State",
    "build_context",
    "load_report",
    "render_html",
    "render_markdown",
]

State = Literal["blessed", "blocked", "data_errors", "tests_failed", "passed"]
Flavor = Literal["github", "html"]
_SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}
_MARK = {"error": "❌", "warning": "⚠️", "info": "ℹ️"}  # noqa: RUF001


@dataclass(frozen=True)
class Detail:
    """How much detail a rendering keeps (level 0 keeps everything)."""

    samples: int
    findings: int
    drift_rows: int
    slices: int
    metrics: int
    failures: int
    charts: bool
    value_chars: int
    classes: int = 20


# Level 0 is the full report (the artifact): beyond 200 findings and 10 samples each a
# reader turns to the results JSON, which holds everything.
DETAIL_LEVELS: tuple[Detail, ...] = (
    Detail(10, 200, 300, 100, 200, 50, True, 200, 50),
    Detail(5, 50, 50, 20, 100, 30, True, 120, 20),
    Detail(0, 20, 20, 10, 50, 20, False, 80, 10),
    Detail(0, 0, 10, 5, 30, 15, False, 60, 5),
    Detail(0, 0, 0, 0, 20, 10, False, 40, 0),
)


@dataclass(frozen=True)
class Report:
    """The typed results documents a report is rendered from (either may be absent).

    Build one from JSON data with `Report.from_json` (which validates each document, its
    sub-parts included) or from files with `load_report`; the renderer reads the typed
    fields only.
    """

    data: DataResults | None
    model: ModelResults | None
    #: ``tests.json`` of the project's own tests (``ci.test_command``), when they ran.
    tests: ProjectTestsResults | None = None
    # Rendered text per (detail level, note): the comment, the summary and the check run
    # all start from the same levels, and a large report is worth rendering once.
    _rendered: dict[tuple[int, str, str], str] = field(
        default_factory=dict, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        for doc in (self.data, self.model, self.tests):
            if isinstance(doc, Mapping):
                raise TypeError("Report takes typed documents; build one from JSON with from_json")

    @classmethod
    def from_json(
        cls,
        data: Mapping[str, Any] | None = None,
        model: Mapping[str, Any] | None = None,
        tests: Mapping[str, Any] | None = None,
    ) -> Report:
        """The report of results documents given as JSON data, each validated first.

        Raises:
            RefusedDocument: a document does not fit its kind's structure (exit 2,
                naming each field).
        """

        def typed(doc: Mapping[str, Any] | None, kind: str, of: type[Any]) -> Any:
            if doc is None:
                return None
            checked = validate_document(dict(doc), source=f"{kind}.json", kind=kind)
            assert isinstance(checked, of)
            return checked

        return cls(
            typed(data, "data", DataResults),
            typed(model, "model", ModelResults),
            typed(tests, "tests", ProjectTestsResults),
        )

    def markdown(self, level: int, note: str = "", flavor: Flavor = "github") -> str:
        """The Markdown at detail ``level`` (see `DETAIL_LEVELS`), rendered once.

        ``flavor`` ``html`` draws the charts as inline SVG (for `render_html`)
        instead of Mermaid blocks (for GitHub).
        """
        key = (level, note, flavor)
        if key not in self._rendered:
            context = build_context(self, DETAIL_LEVELS[level], truncated=note, flavor=flavor)
            self._rendered[key] = render("report/report.md.j2", context)
        return self._rendered[key]

    @property
    def state(self) -> State:
        """The headline verdict: failed tests first, then data errors, then the model."""
        if self.tests is not None and not self.tests.passed:
            return "tests_failed"
        if self.data is not None and (
            not self.data.passed or any(f.severity == "error" for f in self.data.findings)
        ):
            return "data_errors"
        if self.model is not None:
            # Fail closed: only an explicit blessing of a passing step is a blessing.
            blessing = self.model.blessing
            blessed = blessing is not None and blessing.blessed
            return "blessed" if blessed and self.model.passed else "blocked"
        return "passed"

    @property
    def passed(self) -> bool:
        """Whether the report shows a pass (blessed, or data checks passed)."""
        return self.state in {"blessed", "passed"}


def load_report(results_dir: Path) -> Report:
    """Read ``data.json`` and ``model.json`` from ``results_dir`` (at least one must exist).

    Raises:
        InputError: when neither exists, or a file is not a valid results document.
    """
    if not results_dir.is_dir():
        raise InputError(
            f"{results_dir}: results directory not found; run `mlci validate-data` /"
            " `mlci validate-model` first or pass --results DIR"
        )
    docs: dict[str, Any] = {}
    for kind in ("data", "model", "tests"):
        path = results_dir / f"{kind}.json"
        if path.exists():
            doc = read_document(path)
            if doc.kind != kind:
                raise InputError(
                    f"{path}: holds a {doc.kind!r} document, expected {kind!r};"
                    " do not rename results files"
                )
            docs[kind] = doc
    if not docs:
        raise InputError(
            f"{results_dir}: no data.json or model.json; run `mlci validate-data` or"
            " `mlci validate-model` first, or pass the directory they wrote with --results"
        )
    return Report(docs.get("data"), docs.get("model"), docs.get("tests"))


# -- accessors ----------------------------------------------------------------------------


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _higher_is_better(model: ModelResults, name: str) -> bool | None:
    given = model.higher_is_better.get(name)
    if isinstance(given, bool):
        return given
    info = BUILTIN_METRICS.get(name)
    return info.higher_is_better if info else None


def _first(rows: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """The first ``limit`` table rows by their ``_order`` (stable), without that key."""
    rows.sort(key=lambda r: r["_order"])
    shown = rows[:limit]
    for r in shown:
        del r["_order"]
    return shown


def _short_sha(value: Any) -> str | None:
    return value[:7] if isinstance(value, str) and re.fullmatch(r"[0-9a-f]{7,64}", value) else None


# -- building the view ------------------------------------------------------------------


def _rule_text(rule: Any, threshold: Any) -> str:
    thr = fmt_number(threshold)
    return {
        "min": f"≥ {thr}",
        "max": f"≤ {thr}",
        "max_drop": f"drop ≤ {thr}",
        "min_gain": f"gain ≥ {thr}",
        "significant": "significant gain",
    }.get(str(rule), f"{md(rule, 40)} {thr}".strip())


def _is_overall(slice_: Any) -> bool:
    return slice_ in (None, "", "all", "overall")


def _gate_failure_line(gate: GateDoc, chars: int) -> str:
    where = "" if _is_overall(gate.slice) else f" (slice {md(gate.slice, chars)})"
    line = (
        f"❌ **{md(gate.metric, chars)}**{where}:"
        f" {_rule_text(gate.rule, gate.threshold)}"
        f" — observed {fmt_number(gate.observed)}"
    )
    if _num(gate.baseline) is not None:
        line += f", production {fmt_number(gate.baseline)}"
    if gate.reason:
        line += f". {md(gate.reason, chars * 2)}"
    return line


def _finding_line(f: FindingDoc, chars: int) -> str:
    where = f" in column **{md(f.column, chars)}**" if f.column is not None else ""
    if f.metric is not None:
        where += f" for metric **{md(f.metric, chars)}**"
    return f"{_MARK.get(f.severity, '❌')} **{md(f.check, 60)}**{where}: {md(f.message, chars * 2)}"


def _failures(report: Report, detail: Detail) -> tuple[list[str], int]:
    chars = detail.value_chars
    failing: list[FindingDoc | GateDoc] = []
    if report.tests is not None:
        failing += [f for f in report.tests.findings if f.severity == "error"]
    if report.model is not None:
        failing += [g for g in report.model.gates if not g.passed]
    for doc in (report.data, report.model):
        if doc is not None:
            failing += [
                f for f in doc.findings if f.severity == "error" and f.check != "gate_failed"
            ]
    # Format only what is shown: a report can carry thousands of findings.
    shown = [
        _gate_failure_line(item, chars) if isinstance(item, GateDoc) else _finding_line(item, chars)
        for item in failing[: detail.failures]
    ]
    return shown, len(failing) - len(shown)


def _metric_rows(model: ModelResults, detail: Detail) -> dict[str, Any]:
    """The metrics table: one row per metric of either side, failed gates first."""
    chars = detail.value_chars
    metrics = model.metrics
    baseline = model.baseline_metrics or {}
    names = list(metrics) + [n for n in baseline if n not in metrics]
    rows = [_metric_row(model, name, chars) for name in names]
    shown = _first(rows, detail.metrics)
    return {
        "rows": shown,
        "more": len(rows) - len(shown),
        "baseline": model.baseline_metrics is not None,
        "one_sided": _one_sided(model, chars),
    }


def _metric_row(model: ModelResults, name: str, chars: int) -> dict[str, Any]:
    """One metric: production, candidate, change (with its CI), its gates and a mark."""
    metrics = model.metrics
    baseline_raw = model.baseline_metrics
    cand = _num(metrics.get(name))
    prod = _num((baseline_raw or {}).get(name))
    info = model.deltas.get(name) or DeltaDoc()
    delta = _num(info.delta)
    if delta is None and cand is not None and prod is not None:
        delta = cand - prod
    relative = _num(info.relative)
    if relative is None and delta is not None and prod is not None and prod != 0.0:
        relative = delta / abs(prod)
    lo, hi = _num(info.ci_low), _num(info.ci_high)
    ci = (
        f"[{fmt_number(lo, signed=True)}, {fmt_number(hi, signed=True)}]"
        if lo is not None and hi is not None
        else "—"
    )
    mine = [g for g in model.gates if g.metric == name and _is_overall(g.slice)]
    gate_text = (
        "<br>".join(f"{_rule_text(g.rule, g.threshold)} {'✅' if g.passed else '❌'}" for g in mine)
        or "—"
    )
    failed = any(not g.passed for g in mine)
    return {
        "name": md(name, chars),
        "production": fmt_number(prod) if baseline_raw is not None else "—",
        "candidate": "missing" if cand is None and name in metrics else fmt_number(cand),
        "delta": fmt_number(delta, signed=True),
        "relative": fmt_number(relative, signed=True, percent=True)
        if relative is not None
        else ("n/a (baseline 0)" if prod == 0.0 and delta is not None else "—"),
        "ci": ci,
        "change": _change(model, name, info, delta),
        "gate": gate_text,
        "mark": "❌" if failed else ("✅" if mine else "—"),
        "_order": (0 if failed else 1 if mine else 2),
    }


def _change(model: ModelResults, name: str, info: DeltaDoc, delta: float | None) -> str:
    """Better, worse or the same, and which way is better."""
    hib = _higher_is_better(model, name)
    better = info.better
    if better is None:
        better = None if delta is None or hib is None or delta == 0 else (delta > 0) == hib
    if delta is not None and delta == 0:
        change = "⚪ same"
    elif better is None:
        change = ""
    else:
        change = "🟢 better" if better else "🔴 worse"
    if hib is not None and delta is not None:
        change += " (higher is better)" if hib else " (lower is better)"
    return change


def _one_sided(model: ModelResults, chars: int) -> list[str]:
    """Metrics present on one side only, and metrics that could not be computed."""
    metrics = model.metrics
    baseline = model.baseline_metrics
    lines = []
    if baseline is not None:
        only_cand = [n for n in metrics if n not in baseline]
        only_prod = [n for n in baseline if n not in metrics]
        if only_cand:
            lines.append(
                "Only the candidate has: " + ", ".join(md(n, chars) for n in only_cand[:20]) + "."
            )
        if only_prod:
            lines.append(
                "Only production has: " + ", ".join(md(n, chars) for n in only_prod[:20]) + "."
            )
    for err_name, err in list(model.metric_errors.items())[:10]:
        lines.append(f"Could not compute **{md(err_name, chars)}**: {md(err, chars)}.")
    return lines


def _budgets(model: ModelResults, chars: int) -> list[dict[str, str]]:
    out = []
    for b in model.budgets:
        unit = f" {md(b.unit, 20)}" if b.unit else ""
        limit = _num(b.limit)
        out.append(
            {
                "name": md(b.name, chars),
                "observed": fmt_number(b.observed) + unit,
                "limit": fmt_number(limit) + unit if limit is not None else "none (measured)",
                "mark": ("✅" if b.passed else "❌")
                if limit is not None
                else ("—" if b.passed else "❌"),
            }
        )
    return out


def _parity(model: ModelResults) -> str:
    p = model.parity
    if p is None:
        return ""
    mark = "✅" if p.passed else "❌"
    return (
        f"{mark} Export parity on {fmt_number(p.rows)} rows: max |Δ| "
        f"{fmt_number(p.max_abs_diff)},"
        f" label mismatches {fmt_number(p.label_mismatch)}."
    )


def _slices(model: ModelResults, detail: Detail) -> dict[str, Any] | None:
    chars = detail.value_chars
    rows: list[dict[str, Any]] = []
    for s in model.slices:
        base = s.baseline_metrics or {}
        for name, value in s.metrics.items():
            c, b = _num(value), _num(base.get(name))
            hib = _higher_is_better(model, name)
            if c is None or b is None or hib is None or c == b or (c > b) == hib:
                continue
            rows.append(
                {
                    "slice": f"{md(s.column, chars)} = {md(s.value, chars)}",
                    "rows": fmt_number(s.rows),
                    "metric": md(name, chars),
                    "production": fmt_number(b),
                    "candidate": fmt_number(c),
                    "delta": fmt_number(c - b, signed=True),
                    "_order": -abs(c - b),
                }
            )
    if not rows:
        return None
    shown = _first(rows, detail.slices)
    return {"count": len(rows), "rows": shown, "more": len(rows) - len(shown)}


def _param_value(value: Any, chars: int) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, int | float):
        return md(repr(value), chars)
    return md(_compact(value), chars)


def _params(model: ModelResults, detail: Detail) -> dict[str, Any] | None:
    """The "parameters changed" table: changed keys only, long values cut."""
    info = model.params
    if info is None:
        return None
    cand = info.candidate
    chars = min(detail.value_chars, 60)
    if info.baseline is None:
        return {
            "line": f"{fmt_number(len(cand))} parameter(s) recorded; production recorded none"
            " to compare with.",
            "rows": [],
            "more": 0,
        }
    changed = info.changed
    rows = [
        {
            "key": md(c.key, chars),
            "production": _param_value(c.production, chars)
            if c.change != "added"
            else "_(absent)_",
            "candidate": _param_value(c.candidate, chars)
            if c.change != "removed"
            else "_(absent)_",
        }
        for c in changed[: detail.metrics]
    ]
    unchanged = len(cand) - sum(1 for c in changed if c.change != "removed")
    return {
        "line": (
            f"{len(changed)} parameter(s) changed, {max(unchanged, 0)} unchanged (hidden)."
            if changed
            else f"Parameters unchanged ({fmt_number(len(cand))} keys)."
        ),
        "rows": rows,
        "more": len(changed) - len(rows),
    }


def _experiments(model: ModelResults, detail: Detail) -> list[dict[str, str]]:
    """The last candidates validated before this one (the experiment history), newest first."""
    rows = []
    for e in model.experiments[: min(detail.slices, 10)]:
        where = f"PR {fmt_number(e.pr)}" if e.pr is not None else md(e.branch or "—", 40)
        sha = _short_sha(e.git_sha)
        rows.append(
            {
                "id": f"`{md(e.id, 12)}`",
                "created": md(e.created or "—", 30),
                "where": where + (f" · `{sha}`" if sha else ""),
                "verdict": "✅ blessed" if e.verdict == "blessed" else "❌ blocked",
                "metric": f"{md(e.metric, 40)} {fmt_number(e.value)}" if e.metric else "—",
            }
        )
    return rows


def _names_list(values: list[Any], chars: int, limit: int = 30) -> str:
    shown = ", ".join(f"**{md(v, chars)}**" for v in values[:limit])
    return shown + (f" and {len(values) - limit} more" if len(values) > limit else "")


def _features(model: ModelResults, detail: Detail) -> dict[str, Any] | None:
    """The "features changed" section: what the candidate takes that production did not."""
    info = model.features
    if info is None or not (info.added or info.removed):
        return None
    chars = detail.value_chars
    lines = []
    if info.added:
        lines.append(f"➕ Added ({len(info.added)}): {_names_list(info.added, chars)}")
    if info.removed:
        lines.append(f"➖ Removed ({len(info.removed)}): {_names_list(info.removed, chars)}")
    lacking = info.baseline_lacks
    how = (
        f"production could not be evaluated: the eval data lacks {_names_list(lacking, chars)}"
        if lacking
        else "each model was evaluated with its own features on the same eval rows"
    )
    return {
        "line": (
            f"The candidate takes {fmt_number(len(info.candidate))} feature(s), production"
            f" {fmt_number(len(info.baseline or []))}; {how}."
        ),
        "changes": lines,
        "ignored": [
            f"Not features of {'production' if role == 'baseline' else md(role, 20)}"
            f" (ignored): {_names_list(cols, chars, 20)}"
            for role, cols in info.ignored.items()
            if cols
        ],
    }


def _delta_ci(cell: ClassMetricDoc) -> str:
    delta = _num(cell.delta)
    if delta is None:
        return "—"
    text = fmt_number(delta, signed=True)
    lo, hi = _num(cell.ci_low), _num(cell.ci_high)
    if lo is not None and hi is not None:
        text += f" [{fmt_number(lo, signed=True)}, {fmt_number(hi, signed=True)}]"
        if hi < 0:
            text = "🔴 " + text
        elif lo > 0:
            text = "🟢 " + text
    return text


_NO_CELL = ClassMetricDoc()


def _class_cells(entry: PerClassDoc) -> dict[str, ClassMetricDoc]:
    """Precision, recall and F1 of one class (an absent one as an empty cell)."""
    return {
        "precision": entry.precision or _NO_CELL,
        "recall": entry.recall or _NO_CELL,
        "f1": entry.f1 or _NO_CELL,
    }


def _per_class(model: ModelResults, detail: Detail) -> dict[str, Any] | None:
    """Per-class precision, recall and F1 with deltas, worst change first (as stored)."""
    entries = model.per_class
    if not entries or detail.classes == 0:
        return None
    rows = []
    for e in entries[: detail.classes]:
        row: dict[str, str] = {
            "label": md(e.label, detail.value_chars),
            "support": fmt_number(e.support),
        }
        for name, cell in _class_cells(e).items():
            row[name] = fmt_number(cell.candidate)
            row[f"{name}_delta"] = _delta_ci(cell)
        rows.append(row)
    f1s = [e.f1 or _NO_CELL for e in entries]
    worse = sum(1 for f1 in f1s if (_num(f1.delta) or 0.0) < 0)
    has_base = any(_num(f1.baseline) is not None for f1 in f1s)
    return {
        "rows": rows,
        "more": len(entries) - len(rows),
        "baseline": has_base,
        "title": (
            f"Per-class metrics ({len(entries)} classes, F1 worse on {worse})"
            if has_base
            else f"Per-class metrics ({len(entries)} classes)"
        ),
    }


def _confusion(model: ModelResults, detail: Detail) -> dict[str, Any] | None:
    """Both confusion matrices as one table: counts, with the change per cell."""
    info = model.confusion
    if info is None:
        return None
    labels, cand = info.labels, info.candidate
    if not labels or len(cand) != len(labels) or detail.classes == 0:
        return None
    base = info.baseline
    base_rows = base if base is not None and len(base) == len(labels) else None
    keep = min(len(labels), detail.classes, 15)
    rows = []
    for i in range(keep):
        cells = []
        for j in range(keep):
            c = cand[i][j] if j < len(cand[i]) else None
            text = fmt_number(c) if c is not None else "—"
            if base_rows is not None and c is not None:
                b = base_rows[i][j] if j < len(base_rows[i]) else None
                if b is not None and b != c:
                    text += f" ({fmt_number(c - b, signed=True)})"
            cells.append(f"**{text}**" if i == j else text)
        rows.append({"label": md(labels[i], 40), "cells": cells})
    more = max(info.total_labels or len(labels), len(labels)) - keep
    return {
        "header": [md(label, 40) for label in labels[:keep]],
        "rows": rows,
        "more": more,
        "baseline": base_rows is not None,
    }


_NO_ERRORS = ErrorSummaryDoc()
_ERROR_NAMES = (("mae", "MAE"), ("rmse", "RMSE"), ("bias", "bias (predicted − actual)"))


def _errors(model: ModelResults, detail: Detail) -> dict[str, Any] | None:
    """MAE, RMSE and bias of both models, overall and per slice (regression)."""
    info = model.errors
    if info is None or info.candidate is None:
        return None
    cand, base = info.candidate, info.baseline or _NO_ERRORS
    overall = []
    for name, label in _ERROR_NAMES:
        c, b = _num(getattr(cand, name)), _num(getattr(base, name))
        if name == "bias":
            worse = None if c is None or b is None or abs(c) == abs(b) else abs(c) > abs(b)
        else:
            worse = None if c is None or b is None or c == b else c > b
        overall.append(
            {
                "name": label,
                "production": fmt_number(b) if info.baseline is not None else "—",
                "candidate": fmt_number(c),
                "delta": fmt_number(c - b, signed=True) if c is not None and b is not None else "—",
                "change": "" if worse is None else ("🔴 worse" if worse else "🟢 better"),
            }
        )
    slices: list[dict[str, Any]] = []
    for s_ in info.slices:
        sc, sb = s_.candidate or _NO_ERRORS, s_.baseline or _NO_ERRORS
        mae_c, mae_b = _num(sc.mae), _num(sb.mae)
        change = mae_c - mae_b if mae_c is not None and mae_b is not None else None
        slices.append(
            {
                "slice": f"{md(s_.column, detail.value_chars)} ="
                f" {md(s_.value, detail.value_chars)}",
                "rows": fmt_number(s_.rows),
                "mae": f"{fmt_number(mae_b)} → {fmt_number(mae_c)}"
                if mae_b is not None
                else fmt_number(mae_c),
                "rmse": fmt_number(sc.rmse),
                "bias": fmt_number(sc.bias, signed=True),
                "_order": -change if change is not None else math.inf,
            }
        )
    shown = _first(slices, detail.slices)
    return {
        "overall": overall,
        "slices": shown,
        "slices_more": len(slices) - len(shown),
        "baseline": info.baseline is not None,
    }


def _samples(f: FindingDoc, detail: Detail) -> str:
    parts = []
    for s in f.samples[: detail.samples]:
        row = f"row {fmt_number(s.row)}: " if s.row is not None else ""
        parts.append(f"{row}{md(_compact(s.value), min(detail.value_chars, 60))}")
    return " · ".join(parts)


def _data(data: DataResults, detail: Detail) -> dict[str, Any]:
    counts = []
    for code, per in data.counts.items():
        counts.append((md(code, 60), per.get("error", 0), per.get("warning", 0)))
    counts.sort(key=lambda c: (-c[1], -c[2], c[0]))
    findings = [f for f in data.findings if f.check != "drift"]
    findings.sort(key=lambda f: _SEVERITY_RANK.get(f.severity, 9))
    items = [_finding_item(f, detail) for f in findings[: detail.findings]]
    errors = sum(c[1] for c in counts)
    warnings = sum(c[2] for c in counts)
    mark = "❌" if errors or not data.passed else ("⚠️" if warnings else "✅")
    line = (
        f"{mark} {fmt_number(data.rows)} rows × {fmt_number(data.columns)} columns checked:"
        f" {fmt_number(int(errors))} error(s), {fmt_number(int(warnings))} warning(s)."
    )
    return {
        "line": line,
        "counts": [
            {"check": c[0], "errors": fmt_number(int(c[1])), "warnings": fmt_number(int(c[2]))}
            for c in counts
        ],
        "findings": items,
        "findings_total": len(findings),
        "findings_more": len(findings) - len(items),
    }


def _finding_item(f: FindingDoc, detail: Detail) -> dict[str, Any]:
    """One data finding for the table: where, what, how many, and samples."""
    chars = detail.value_chars
    extra = []
    if f.count is not None:
        frac = _num(f.fraction)
        extra.append(
            f"{fmt_number(f.count)} rows"
            + (f" ({fmt_number(frac, percent=True)})" if frac is not None else "")
        )
    if f.expected is not None:
        extra.append(f"expected {md(_compact(f.expected), chars)}")
    if f.observed is not None:
        extra.append(f"observed {md(_compact(f.observed), chars)}")
    where = f" in **{md(f.column, chars)}**" if f.column is not None else ""
    if f.file:
        line = f":{fmt_number(f.line)}" if f.line else ""
        where += f" ({md(f.file, chars)}{line})"
    return {
        "mark": _MARK.get(f.severity, "❌"),
        "check": md(f.check, 60),
        "where": where,
        "message": md(f.message, chars * 2),
        "extra": (" — " + "; ".join(extra)) if extra else "",
        "samples": _samples(f, detail),
    }


def _compact(value: Any) -> str:
    if value is None:
        return "null"
    if value == "":
        return '""'
    if isinstance(value, list):
        text = ", ".join(_compact(v) for v in value[:10])
        return f"[{text}{', …' if len(value) > 10 else ''}]"
    if isinstance(value, float | int) and not isinstance(value, bool):
        return fmt_number(value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_compact(v)}" for k, v in list(value.items())[:10])
    return str(value)


def _drift_rows(drift: DriftDoc) -> list[DriftColumnDoc]:
    return sorted(
        drift.columns,
        key=lambda c: (
            _SEVERITY_RANK.get(str(c.severity), 3) if c.drifted else 4,
            not c.drifted,
            -(_num(c.statistic) or 0.0),
        ),
    )


def _drift(data: DataResults, detail: Detail) -> dict[str, Any] | None:
    drift = data.drift
    if drift is None:
        return None
    chars = detail.value_chars
    cols = _drift_rows(drift)
    drifted = sum(1 for c in cols if c.drifted)
    rows = []
    for c in cols[: detail.drift_rows]:
        if c.drifted:
            sev = c.severity or "warning"
            verdict = f"{_MARK.get(sev, '⚠️')} drift ({md(sev, 10)})"
        else:
            verdict = "✅ no drift"
        rows.append(
            {
                "column": md(c.column, chars),
                "kind": md(c.kind or "feature", 20),
                "method": md(c.method, 30),
                "statistic": fmt_number(c.statistic),
                "p_value": fmt_number(c.p_value),
                "threshold": fmt_number(c.threshold),
                "verdict": verdict,
            }
        )
    # Counted as the CLI and the dataset-drift finding count: tested feature columns.
    tested = [c for c in cols if (c.kind or "feature") == "feature" and c.method != "none"]
    drifted_features = sum(1 for c in tested if c.drifted)
    line = (
        f"{'❌' if drift.dataset_drift else ('⚠️' if drifted else '✅')}"
        f" {drifted_features} of {len(tested)} feature columns drifted"
        f" ({fmt_number(_num(drift.share), percent=True)}; dataset drift above"
        f" {fmt_number(_num(drift.share_threshold), percent=True)}):"
        f" **{'dataset drift' if drift.dataset_drift else 'no dataset drift'}**."
    )
    return {
        "line": line,
        "rows": rows,
        "more": len(cols) - len(rows),
        "total": len(cols),
        "drifted": drifted,
        "collapsed": len(rows) > 10,
    }


def _charts(report: Report) -> list[Chart]:
    charts: list[Chart] = []
    model = report.model
    if model is not None:
        history = model.history or []
        metrics = model.metrics
        gated = [str(g.metric) for g in model.gates if g.metric in metrics]
        names = list(dict.fromkeys(gated + list(metrics)))[:3]
        if history:
            for name in names:
                labels = [f"v{h.version}" for h in history] + ["candidate"]
                values = [_num((h.metrics or {}).get(name)) for h in history]
                values.append(_num(metrics.get(name)))
                chart = line_chart(f"{name} across registry versions", labels, values, name)
                if chart:
                    charts.append(chart)
        charts += _class_charts(model) + _regression_charts(model)
    if report.data is not None and report.data.drift is not None:
        by_method: dict[str, list[DriftColumnDoc]] = {}
        for c in report.data.drift.columns:
            by_method.setdefault(str(c.method), []).append(c)
        for method, group in list(by_method.items())[:2]:
            group = sorted(group, key=lambda c: -(_num(c.statistic) or 0.0))[:20]
            thresholds = {_num(c.threshold) for c in group} - {None}
            if any(_num(c.p_value) is not None for c in group):
                thresholds = set()  # the threshold is on the p-value, not this statistic
            bars = bar_chart(
                f"drift {method} by column",
                [str(c.column) for c in group],
                [_num(c.statistic) for c in group],
                method,
                threshold=thresholds.pop() if len(thresholds) == 1 else None,
            )
            if bars:
                charts.append(bars)
    return charts


def _class_charts(model: ModelResults) -> list[Chart]:
    rows = model.per_class[:20]
    if not rows:
        return []
    labels = [str(r.label) for r in rows]
    f1s = [r.f1 or _NO_CELL for r in rows]
    series = [Series("candidate", tuple(_num(f1.candidate) for f1 in f1s))]
    if any(_num(f1.baseline) is not None for f1 in f1s):
        series.append(Series("production", tuple(_num(f1.baseline) for f1 in f1s)))
    chart = bar_chart("F1 per class - worst change first", labels, series, "F1")
    return [chart] if chart else []


def _regression_charts(model: ModelResults) -> list[Chart]:
    res = model.residuals
    if res is None:
        return []
    out: list[Chart] = []
    actual = [_num(v) for v in res.actual]
    xs = tuple(v if v is not None else math.nan for v in actual)
    series = [Series("candidate", tuple(_num(v) for v in res.candidate), xs)]
    if res.baseline is not None:
        series.append(Series("production", tuple(_num(v) for v in res.baseline), xs))
    if actual:
        out.append(
            Chart(
                "scatter",
                "predicted versus actual",
                series=tuple(series),
                x_label="actual",
                y_label="predicted",
                diagonal=True,
            )
        )
    edges = [e for v in res.bins if (e := _num(v)) is not None]
    counts = res.counts or ResidualCountsDoc()
    if len(edges) >= 2 and len(edges) == len(res.bins):
        mids = [f"{(a + b) / 2:.4g}" for a, b in zip(edges[:-1], edges[1:], strict=False)]
        bars = [Series("candidate", tuple(_num(v) for v in counts.candidate))]
        if counts.baseline is not None:
            bars.append(Series("production", tuple(_num(v) for v in counts.baseline)))
        hist = bar_chart("residuals (predicted minus actual)", mids, bars, "rows")
        if hist:
            out.append(hist)
    return out


def _provenance(report: Report, chars: int) -> list[tuple[str, str]]:
    common: dict[str, dict[str, str]] = {}
    rows: list[tuple[str, str]] = []
    docs: list[tuple[str, DataResults | ModelResults]] = []
    if report.data is not None:
        docs.append(("data", report.data))
    if report.model is not None:
        docs.append(("model", report.model))
    for kind, doc in docs:
        prov = doc.provenance
        sha = _short_sha(prov.git_sha)
        url = safe_url(prov.run_url)
        common.setdefault("commit", {})[kind] = f"`{sha}`" if sha else md(prov.git_sha or "—", 60)
        common.setdefault("run", {})[kind] = f"[workflow run]({url})" if url else "—"
        common.setdefault("mlci version", {})[kind] = md(prov.mlci_version or "—", 40)
        common.setdefault("created", {})[kind] = md(prov.created or "—", 40)
    for label, per_kind in common.items():
        if len(set(per_kind.values())) == 1:
            rows.append((label, next(iter(per_kind.values()))))
        else:
            rows.extend((f"{label} ({kind})", value) for kind, value in per_kind.items())
    for _kind, doc in docs:
        rows += _provenance_files(doc.provenance, chars)
    return rows


def _provenance_files(prov: Provenance, chars: int) -> list[tuple[str, str]]:
    """The data files and models a document names, with fingerprints and hashes."""
    rows: list[tuple[str, str]] = []
    if isinstance(prov, DataProvenance):
        for role, file in (prov.data or {}).items():
            shown = (
                f"{md(file.path or '—', chars)} · {md(file.fingerprint or '—', 80)}"
                if file is not None
                else "none"
            )
            rows.append((f"data: {md(role, 20)}", shown))
    if isinstance(prov, ModelProvenance) and prov.model is not None:
        for role, model in (("candidate", prov.model.candidate), ("baseline", prov.model.baseline)):
            shown = (
                f"{md(model.path or '—', chars)} · {md(model.format or '—', 20)}"
                f" · {md(model.hash or '—', 80)}"
                if model is not None
                else "none"
            )
            rows.append((f"model: {role}", shown))
    return rows


def _headline(report: Report) -> tuple[str, str, list[str]]:
    state = report.state
    notes: list[str] = []
    reason = ""
    blessing = report.model.blessing if report.model is not None else None
    if blessing is not None:
        reason = md(blessing.reason or "", 500)
        notes = [md(n, 300) for n in blessing.notes[:10]]
    if state == "tests_failed":
        counts = report.tests.counts if report.tests is not None else None
        what = (
            f"{counts.failures + counts.errors} of {counts.tests} test(s) failed"
            if counts is not None and counts.failures + counts.errors
            else "the test command failed"
        )
        return f"❌ mlci: tests failed — {what}", reason, notes
    if state == "data_errors":
        findings = report.data.findings if report.data is not None else []
        errors = sum(1 for f in findings if f.severity == "error")
        return f"❌ mlci: data errors — {errors} data check(s) failed", reason, notes
    if state == "blocked":
        return "❌ mlci: blocked — the candidate model is not blessed", reason, notes
    if state == "blessed":
        return "✅ mlci: blessed — the candidate model may replace production", reason, notes
    return "✅ mlci: data checks passed", reason, notes


def _tests_line(tests: ProjectTestsResults | None) -> str:
    """The project's tests in one line: counts, or the exit code when no JUnit XML."""
    if tests is None:
        return ""
    counts = tests.counts
    verdict = "passed" if tests.passed else "failed"
    if counts is not None:
        parts = [
            f"{counts.tests} run",
            f"{counts.failures} failed",
            f"{counts.errors} errors",
            f"{counts.skipped} skipped",
        ]
        more = tests.failing_more
        extra = f" ({more} more failing test(s) not listed)" if more else ""
        return f"Project tests {verdict}: {', '.join(parts)}{extra}."
    code = tests.exit_code
    shown = f"exit code {code}" if code is not None else "stopped (timeout)"
    return f"Project tests {verdict} ({shown}; no JUnit XML for counts)."


def _context_line(report: Report) -> str:
    doc = report.model or report.data or report.tests
    prov = doc.provenance if doc is not None else Provenance()
    parts = []
    sha = _short_sha(prov.git_sha)
    parts.append(f"Commit `{sha}`" if sha else "Commit unknown")
    url = safe_url(prov.run_url)
    if url:
        parts.append(f"[workflow run]({url})")
    parts.append(f"mlci {md(prov.mlci_version or '?', 40)}")
    return " · ".join(parts)


def build_context(
    report: Report, detail: Detail, *, truncated: str = "", flavor: Flavor = "github"
) -> dict[str, Any]:
    """The template's view of ``report``: every string escaped, tables cut to ``detail``.

    ``flavor`` ``github`` draws charts as Mermaid blocks, ``html`` as inline SVG.
    """
    headline, reason, notes = _headline(report)
    failures, failures_more = _failures(report, detail)
    model = report.model
    return {
        "headline": headline,
        "reason": reason,
        "notes": notes,
        "failures_title": (
            "Failing tests, gates and checks"
            if failures and report.state == "tests_failed"
            else "Failing gates and checks"
            if failures
            else ""
        ),
        "failures": failures,
        "failures_more": failures_more,
        "context_line": _context_line(report),
        "tests_line": _tests_line(report.tests),
        "params": _params(model, detail) if model is not None else None,
        "metrics": _metric_rows(model, detail) if model is not None else None,
        "budgets": _budgets(model, detail.value_chars) if model is not None else [],
        "parity": _parity(model) if model is not None else "",
        "slices": _slices(model, detail) if model is not None else None,
        "features": _features(model, detail) if model is not None else None,
        "experiments": _experiments(model, detail) if model is not None else [],
        "data": _data(report.data, detail) if report.data is not None else None,
        "drift": _drift(report.data, detail) if report.data is not None else None,
        "per_class": _per_class(model, detail) if model is not None else None,
        "confusion": _confusion(model, detail) if model is not None else None,
        "errors": _errors(model, detail) if model is not None else None,
        "charts": _drawn(_charts(report), flavor) if detail.charts else [],
        "provenance": _provenance(report, detail.value_chars),
        "truncated": truncated,
    }


def _drawn(charts: list[Chart], flavor: Flavor) -> list[str]:
    if flavor == "html":
        return [f'<figure class="chart">\n{svg}\n</figure>' for c in charts if (svg := to_svg(c))]
    return [text for c in charts if (text := to_mermaid(c))]


def _artifact_note(run_url: str | None, limit: int) -> str:
    where = (
        f"in the `mlci-results` artifact of [the workflow run]({run_url})"
        " (`mlci report --results DIR` renders it whole)"
        if run_url
        else "in the `mlci-results` artifact (`mlci report --results DIR` renders it whole)"
    )
    return (
        f"Some details were left out to stay under GitHub's {limit:,}-character limit;"
        f" the full results are {where}."
    )


def render_markdown(
    report: Report, *, max_chars: int | None = None, size: Callable[[str], int] = len
) -> str:
    """The report as GitHub Markdown.

    Args:
        report: The loaded documents.
        max_chars: A size limit (a PR comment takes 65,536 characters). Details are
            dropped level by level until the text fits; the headline, the failing
            gates and the metric table stay.
        size: How to measure the text against ``max_chars`` (``len``; a UTF-8 byte
            count for the job summary's 1 MiB).

    Returns:
        The Markdown; if even the leanest level is too long, its end is cut.
    """
    text = report.markdown(0)
    if max_chars is None or size(text) <= max_chars:
        return text
    doc = report.model or report.data
    note = _artifact_note(safe_url(doc.provenance.run_url if doc else None), max_chars)
    for level in range(1, len(DETAIL_LEVELS)):
        text = report.markdown(level, note)
        if size(text) <= max_chars:
            return text
    tail = f"\n\n> [!NOTE]\n> {note}\n"
    room = max_chars - size(tail)
    while size(text) > room:  # at most a few rounds: cut by the overshoot each time
        text = text[: len(text) - max(size(text) - room, 1)]
    return text + tail


_ALERTS = {
    "NOTE": "Note",
    "TIP": "Tip",
    "IMPORTANT": "Important",
    "WARNING": "Warning",
    "CAUTION": "Caution",
}
_ALERT = re.compile(r"\[!(NOTE|TIP|IMPORTANT|WARNING|CAUTION)\]\s*$")


def _alerts(tokens: list[Any]) -> None:
    """Turn GitHub alerts (``> [!NOTE]`` quotes) into styled boxes, in place.

    A quote whose first line is exactly ``[!KIND]`` gets the class ``alert
    alert-kind`` and a title in place of the marker, as GitHub renders it.
    """
    for i, tok in enumerate(tokens[:-2]):
        if tok.type != "blockquote_open" or tokens[i + 1].type != "paragraph_open":
            continue
        inline = tokens[i + 2]
        children = inline.children or []
        if not children or children[0].type != "text":
            continue
        match = _ALERT.match(children[0].content)
        if match is None or (len(children) > 1 and children[1].type != "softbreak"):
            continue
        kind = match.group(1)
        tok.attrSet("class", f"alert alert-{kind.lower()}")
        title = children[0]
        title.type = "html_inline"
        title.content = f'<strong class="alert-title">{_ALERTS[kind]}</strong><br>'
        if len(children) > 1:
            del children[1]


def render_html(source: Report | str, *, title: str = "mlci report") -> str:
    """A self-contained HTML page (no scripts, inline CSS, charts as inline SVG).

    Args:
        source: The report (charts drawn as SVG), or Markdown already rendered.
        title: The page title.
    """
    from markdown_it import MarkdownIt

    markdown = source.markdown(0, flavor="html") if isinstance(source, Report) else source
    parser = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    tokens = parser.parse(markdown)
    _alerts(tokens)
    body = parser.renderer.render(tokens, parser.options, {})
    return render("report/report.html.j2", {"title": html.escape(title), "body": body})


def summary_title(report: Report) -> str:
    """A one-line title (for a check run or the HTML page)."""
    return {
        "blessed": "Blessed: the candidate model may replace production",
        "blocked": "Blocked: the candidate model is not blessed",
        "data_errors": "Data errors: data checks failed",
        "tests_failed": "Tests failed: the project's own tests did not pass",
        "passed": "Data checks passed",
    }[report.state]


def failing_findings(report: Report) -> Sequence[FindingDoc]:
    """Every error or warning finding of the report, most severe first (for annotations)."""
    out: list[FindingDoc] = []
    for doc in (report.tests, report.data, report.model):
        if doc is not None:
            out.extend(f for f in doc.findings if f.severity in {"error", "warning"})
    return sorted(out, key=lambda f: _SEVERITY_RANK.get(f.severity, 9))
