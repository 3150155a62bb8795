"""Rendering reports: golden files, direction, hostile strings, size limits, HTML."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from mlci.errors import InputError
from mlci.github.comments import MAX_COMMENT_CHARS
from mlci.report.render import Report, load_report, render_html, render_markdown
from mlci.results import Finding, RefusedDocument, make_document, write_results
from tests.report.documents import PROVENANCE, data_document, model_document, write_case

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "report"
HOSTILE = [
    "a|b||c",
    "`code` ```fence",
    "<script>alert(1)</script>",
    "@org/team and @octocat",
    "#1 and GH-2 and octo/repo#3",
    "line\nbreak\r\nand\ttab",
    "\u202egnp.exe",  # right-to-left override
    "zero\u200bwidth\u2066isolate\u2069",
    "[link](https://evil.example) ![img](x) <!-- mlci-report:default -->",
    "*bold* _it_ ~~strike~~ $x^2$ \\ backslash",
    "www.evil.example and https://evil.example",
    "x" * 10_000,
]


def _golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("MLCI_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"missing {path}; run with MLCI_UPDATE_GOLDEN=1 and review the diff"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from the golden file"


@pytest.mark.parametrize("case", ["blessed", "blocked", "data-error"])
def test_golden_markdown_and_html(tmp_path, case):
    report = load_report(write_case(tmp_path, case))
    markdown = render_markdown(report)
    _golden(f"{case}.md", markdown)
    _golden(f"{case}.html", render_html(report, title=f"mlci report: {case}"))


def test_headline_comes_first_with_failing_gates_before_everything_else(tmp_path):
    text = render_markdown(load_report(write_case(tmp_path, "blocked")))
    lines = text.splitlines()
    assert lines[0] == "## ❌ mlci: blocked — the candidate model is not blessed"
    first_table = next(i for i, line in enumerate(lines) if line.startswith("|"))
    failing = [i for i, line in enumerate(lines) if line.startswith("- ❌ **accuracy**")]
    assert len(failing) == 2 and max(failing) < first_table
    assert "Commit `0123456`" in text and "actions/runs/42" in text


def test_blessed_and_data_error_headlines(tmp_path):
    blessed = render_markdown(load_report(write_case(tmp_path / "a", "blessed")))
    assert blessed.startswith("## ✅ mlci: blessed")
    assert "**Failing gates and checks**" not in blessed
    errors = render_markdown(load_report(write_case(tmp_path / "b", "data-error")))
    assert errors.startswith("## ❌ mlci: data errors — 2 data check(s) failed")
    assert errors.index("**out\\_of\\_range** in column **mean radius**") < errors.index("### Data")
    assert "row 17: −3.5" in errors or "row 17: -3.5" in errors


def test_direction_aware_deltas(tmp_path):
    report = load_report(write_case(tmp_path, "regression"))
    text = render_markdown(report)
    rows = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| ")}
    # RMSE went down: better. MAE went up: worse. R2 went up: better.
    assert "🟢 better (lower is better)" in rows["rmse"] and "−2.8" in rows["rmse"]
    assert "🔴 worse (lower is better)" in rows["mae"]
    assert "🟢 better (higher is better)" in rows["r2"]
    assert "≤ 50 ✅" in rows["rmse"]


def test_missing_baseline_and_one_sided_metrics_are_visible(tmp_path):
    doc = model_document(blessed=True)
    doc["baseline_metrics"] = None
    doc["deltas"] = {}
    doc["blessing"]["notes"] = ["no baseline: the first model is blessed"]
    write_results(tmp_path, doc)
    text = render_markdown(load_report(tmp_path))
    assert "_No production model to compare with" in text
    assert "> [!NOTE]\n> no baseline: the first model is blessed" in text
    both = model_document(blessed=True)
    assert "Only production has: brier." in render_markdown(Report.from_json(model=both))
    assert "Only the candidate has: f1\\_macro." in render_markdown(Report.from_json(model=both))


def _table_rows(markdown: str) -> list[list[str]]:
    """Every table row, as cells, the way a GFM renderer splits them."""
    tokens = MarkdownIt("commonmark").enable("table").parse(markdown)
    rows, row = [], None
    for tok in tokens:
        if tok.type == "tr_open":
            row = []
        elif tok.type in {"th_open", "td_open"}:
            row.append("")
        elif tok.type == "inline" and row is not None and row:
            row[-1] = tok.content
        elif tok.type == "tr_close":
            rows.append(row)
            row = None
    return rows


def _hostile_documents() -> tuple[dict, dict]:
    findings = [
        Finding(
            "out_of_range",
            "error",
            f"bad value {h}",
            column=h,
            observed=h,
            samples=[{"row": 1, "value": h}],
            file="data/schema.yaml",
            line=3,
        )
        for h in HOSTILE
    ]
    data = make_document(
        "data",
        passed=False,
        findings=findings,
        payload={
            "rows": 10,
            "columns": len(HOSTILE),
            "counts": {h: {"error": 1, "warning": 0} for h in HOSTILE},
            "drift": {
                "share": 1.0,
                "share_threshold": 0.5,
                "dataset_drift": True,
                "columns": [
                    {
                        "column": h,
                        "method": h,
                        "statistic": 0.5,
                        "p_value": None,
                        "threshold": 0.2,
                        "drifted": True,
                        "severity": "error",
                        "kind": "feature",
                    }
                    for h in HOSTILE
                ],
            },
        },
        provenance=PROVENANCE
        | {
            "run_url": "javascript:alert(1)",
            "data": {h: {"path": h, "fingerprint": h} for h in HOSTILE[:3]},
        },
    )
    model = model_document(blessed=False)
    model["metrics"] |= {h: 0.5 for h in HOSTILE}
    model["baseline_metrics"] |= {h: 0.6 for h in HOSTILE}
    model["gates"] += [
        {
            "metric": h,
            "slice": h,
            "rule": "min",
            "threshold": 0.9,
            "observed": 0.5,
            "baseline": 0.6,
            "passed": False,
            "reason": h,
        }
        for h in HOSTILE
    ]
    model["slices"] = [
        {
            "column": h,
            "value": h,
            "rows": 5,
            "metrics": {"accuracy": 0.1},
            "baseline_metrics": {"accuracy": 0.9},
        }
        for h in HOSTILE
    ]
    # Registry versions are whole numbers now; class labels are the free text of a chart.
    model["per_class"] = [
        {"label": h, "support": 3, "f1": {"candidate": 0.5, "baseline": 0.6, "delta": -0.1}}
        for h in HOSTILE
    ]
    model["blessing"]["reason"] = HOSTILE[3]
    model["blessing"]["notes"] = HOSTILE[:4]
    return data, model


def test_hostile_strings_are_inert(tmp_path):
    data, model = _hostile_documents()
    write_results(tmp_path, data)
    write_results(tmp_path, model)
    text = render_markdown(load_report(tmp_path))
    # Tables keep their shape: every row has as many cells as its header.
    tokens = text.split("\n\n")
    for block in tokens:
        lines = [line for line in block.splitlines() if line.startswith("|")]
        if len(lines) >= 2:
            rows = _table_rows("\n".join(lines))
            assert len({len(r) for r in rows}) == 1, block[:300]
    # No HTML, no mentions, no references, no code spans from data (Mermaid blocks are
    # code, where GitHub links nothing; their charset is checked below).
    full, text = text, re.sub(r"```mermaid\n.*?```", "", text, flags=re.S)
    assert "<script" not in text and "&lt;script&gt;" in text
    assert "@org" not in text and "@octocat" not in text and "@&#8203;org/team" in text
    assert not re.search(r"(?<!&)#\d", text) and "GH-2" not in text
    assert "<!-- mlci-report" not in text
    assert "](https://evil" not in text and "https://evil" not in text and "www.evil" not in text
    assert "javascript:" not in text.replace("javascript:alert(1)", "")  # shown, never linked
    assert "](javascript" not in text
    assert "\u202e" not in full and "\\[U+202E\\]" in text and "\u200b" not in full
    assert "\\`code\\`" in text and "\\|" in text and "\\$x^2\\$" in text
    assert "x" * 401 not in full and "… (+9,800 chars)" in text
    # Everything from data stays out of code: only our own fences exist, all closed.
    assert full.count("```") % 2 == 0 and "```" not in text
    for block in re.findall(r"```mermaid\n(.*?)```", full, flags=re.S):
        assert re.fullmatch(r'[A-Za-z0-9 _.:/+~\-"\[\],>\n]*', block), block
    html = render_html(full)
    assert "<script" not in html and "<img" not in html
    assert 'href="javascript' not in html and 'href="https://evil' not in html
    mentions = re.findall(r"@\w", re.sub(r"<[^>]+>", "", html))
    assert mentions == []


def test_huge_report_fits_a_comment_and_keeps_the_verdict(tmp_path):
    findings = [
        Finding(
            "unexpected_category",
            "error",
            f"category problem {i}",
            column=f"col_{i}",
            samples=[{"row": j, "value": "v" * 150} for j in range(20)],
        )
        for i in range(600)
    ]
    data = make_document(
        "data",
        passed=False,
        findings=findings,
        payload={
            "rows": 10**6,
            "columns": 3000,
            "counts": {"unexpected_category": {"error": 600, "warning": 0}},
            "drift": {
                "share": 0.1,
                "share_threshold": 0.5,
                "dataset_drift": False,
                "columns": [
                    {
                        "column": f"col_{i}",
                        "method": "psi",
                        "statistic": 0.01,
                        "p_value": None,
                        "threshold": 0.2,
                        "drifted": False,
                        "severity": "info",
                        "kind": "feature",
                    }
                    for i in range(3000)
                ],
            },
        },
        provenance=PROVENANCE,
    )
    write_results(tmp_path, data)
    write_results(tmp_path, model_document(blessed=False))
    report = load_report(tmp_path)
    full = render_markdown(report)
    assert len(full) > 3 * MAX_COMMENT_CHARS
    text = render_markdown(report, max_chars=MAX_COMMENT_CHARS - 40)
    assert len(text) <= MAX_COMMENT_CHARS - 40
    assert text.startswith("## ❌ mlci: data errors — 600 data check(s) failed")
    assert "drop ≤ 0.01" in text  # the failing gate is still listed
    assert "| accuracy | 0.944 | 0.902 |" in text  # and the metric table
    assert "full results are in the `mlci-results` artifact of [the workflow run]" in text
    summary = render_markdown(report, max_chars=1024 * 1024, size=lambda t: len(t.encode()))
    assert len(summary.encode()) <= 1024 * 1024


def test_html_is_self_contained(tmp_path):
    markdown = render_markdown(load_report(write_case(tmp_path, "blocked")))
    page = render_html(markdown, title="<mlci>")
    assert page.startswith("<!DOCTYPE html>") and "<title>&lt;mlci&gt;</title>" in page
    assert "<table>" in page and "<details><summary>" in page
    assert "<script" not in page and "src=" not in page and "http-equiv" in page


def test_missing_or_invalid_results(tmp_path):
    with pytest.raises(InputError, match="no data.json or model.json"):
        load_report(tmp_path)
    with pytest.raises(InputError, match="results directory not found"):
        load_report(tmp_path / "nope")
    (tmp_path / "model.json").write_text('{"schema_version": 1, "kind": "model", "passed": NaN}')
    with pytest.raises(InputError, match="model.json: NaN is not valid JSON"):
        load_report(tmp_path)
    write_results(tmp_path / "x", data_document())
    (tmp_path / "x" / "data.json").rename(tmp_path / "x" / "model.json")
    with pytest.raises(InputError, match="holds a 'data' document, expected 'model'"):
        load_report(tmp_path / "x")


def test_garbage_in_a_typed_field_is_refused_naming_each_field():
    doc = model_document()
    doc |= {
        "metrics": ["not", "a", "dict"],
        "gates": "nope",
        "slices": {"a": 1},
        "deltas": 3,
        "higher_is_better": None,
        "blessing": "yes",  # "yes" is not a blessing
    }
    with pytest.raises(RefusedDocument) as refused:
        Report.from_json(model=doc)
    named = {p.split(":", 1)[0] for p in refused.value.problems}
    assert named == {"metrics", "gates", "slices", "deltas", "higher_is_better", "blessing"}
    assert refused.value.path == "model.json"


def test_garbage_in_a_sub_part_is_refused_naming_each_field():
    doc = model_document(blessed=False)
    doc |= {"history": [1, None, "x"], "budgets": [None], "parity": [], "per_class": "x"}
    with pytest.raises(RefusedDocument) as refused:
        Report.from_json(model=doc)
    assert refused.value.problems == [
        "budgets[0]: expected a mapping, got null",
        "parity: expected a mapping, got a list",
        "history[0]: expected a mapping, got 1",
        "history[1]: expected a mapping, got null",
        "history[2]: expected a mapping, got 'x'",
        "per_class: expected a list, got 'x'",
    ]


@pytest.mark.parametrize(
    ("part", "value", "problem"),
    [
        ("slices", [{"column": "site", "rows": "many"}], "slices[0].rows: expected a whole"),
        ("slices", [{"value": "a"}], "slices[0]: missing required key 'column'"),
        ("budgets", [{"name": "size_mb", "observed": "1 MB"}], "budgets[0].observed: expected a"),
        ("parity", {"passed": "yes"}, "parity.passed: expected true or false, got 'yes'"),
        ("features", {"added": "island"}, "features.added: expected a list, got 'island'"),
        (
            "features",
            {"ignored": {"candidate": [["a"]]}},
            "features.ignored.candidate[0]: expected",
        ),
        ("params", {"candidate": []}, "params.candidate: expected a mapping, got a list"),
        (
            "params",
            {"changed": [{"key": "lr", "change": "moved"}]},
            "params.changed[0].change: 'moved' is not allowed",
        ),
        ("experiment", {"packages": "numpy"}, "experiment.packages: expected a list"),
        ("experiments", [{"pr": "1; rm -rf"}], "experiments[0].pr: expected a whole number"),
        ("per_class", [{"f1": {"delta": "-0.1"}}], "per_class[0].f1.delta: expected a number"),
        ("confusion", {"candidate": [[1, "x"]]}, "confusion.candidate[0][1]: expected a whole"),
        ("errors", {"candidate": {"mae": []}}, "errors.candidate.mae: expected a number"),
        ("residuals", {"bins": {}}, "residuals.bins: expected a list, got a mapping"),
        ("history", [{"version": "v1"}], "history[0].version: expected a whole number"),
        ("deltas", {"accuracy": {"better": "yes"}}, "deltas.accuracy.better: expected true or"),
        ("bootstrap", {"resamples": -1}, "bootstrap.resamples: expected a whole number of at"),
        ("retrain_record", {"blessing": []}, "retrain_record.blessing: expected a mapping"),
        ("confusion_matrix", {"matrix": [1]}, "confusion_matrix.matrix[0]: expected a list"),
        (
            "provenance",
            {"model": {"candidate": {"hash": ["a"]}}},
            "provenance.model.candidate.hash: expected a string",
        ),
        ("provenance", {"data": {"eval": "x.csv"}}, "provenance.data.eval: expected a mapping"),
    ],
)
def test_a_tampered_sub_part_is_refused(part, value, problem):
    doc = model_document(blessed=True) | {part: value}
    with pytest.raises(RefusedDocument) as refused:
        Report.from_json(model=doc)
    assert len(refused.value.problems) == 1
    assert refused.value.problems[0].startswith(problem)


def test_features_changed_section(tmp_path):
    doc = model_document()
    doc["features"] = {
        "candidate": ["bill_length_mm", "flipper_length_mm", "island"],
        "baseline": ["bill_length_mm", "bill_depth_mm", "flipper_length_mm"],
        "added": ["island"],
        "removed": ["bill_depth_mm"],
        "reordered": False,
        "changed": True,
        "ignored": {"candidate": ["bill_depth_mm", "year"], "baseline": ["island", "year"]},
    }
    text = render_markdown(Report.from_json(model=doc))
    section = text[text.index("### Features changed") :]
    assert "takes 3 feature(s), production 3" in section
    assert "➕ Added (1): **island**" in section
    assert "➖ Removed (1): **bill\\_depth\\_mm**" in section
    assert "Not features of production (ignored): **island**, **year**" in section
    assert "each model was evaluated with its own features" in section
    # the eval data lacks a feature production takes: production was not evaluated
    doc["features"]["baseline_lacks"] = ["bill_depth_mm"]
    section = render_markdown(Report.from_json(model=doc))
    assert (
        "production could not be evaluated: the eval data lacks **bill\\_depth\\_mm**." in section
    )
    doc["features"] |= {"added": [], "removed": [], "changed": False}
    assert "Features changed" not in render_markdown(Report.from_json(model=doc))


def test_classification_breakdown_worst_class_first(tmp_path):
    text = render_markdown(load_report(write_case(tmp_path, "blocked")))
    section = text[text.index("<summary>Per-class metrics") :]
    section = section[: section.index("</details>")]
    assert "Per-class metrics (2 classes, F1 worse on 1)" in section
    rows = [r for r in _table_rows(section) if r[0] in {"malignant", "benign"}]
    assert [r[0] for r in rows] == ["malignant", "benign"]  # worst change first
    assert rows[0][7] == "🔴 −0.175 [−0.225, −0.125]"  # F1 delta with its interval
    assert rows[1][7] == "+0.013 [−0.037, +0.063]"
    matrix = text[text.index("Confusion matrix (rows: actual") :]
    assert "| actual ╲ predicted | benign | malignant |" in matrix
    assert "| **malignant** | 11 (+7) | **31 (−7)** |" in matrix


def test_regression_errors_and_charts(tmp_path):
    report = load_report(write_case(tmp_path, "regression"))
    text = render_markdown(report)
    section = text[text.index("<summary>Regression errors") :]
    assert "| MAE | 29.5 | 30.1 | +0.6 | 🔴 worse |" in section
    assert "| RMSE | 44 | 41.2 | −2.8 | 🟢 better |" in section
    assert "| bias (predicted − actual) | 4 | −2.5 | −6.5 | 🟢 better |" in section
    # slices by how much their MAE got worse
    assert section.index("season = winter") < section.index("season = summer")
    assert "31 → 35" in section
    assert "residuals _predicted minus actual_ - bars candidate / line production" in text
    page = render_html(report, title="regression")
    assert page.count("<svg") == 2 and "```mermaid" not in page and "xychart" not in page
    assert "<title>predicted versus actual</title>" in page


def test_html_draws_charts_as_svg_and_alerts_as_boxes(tmp_path):
    report = load_report(write_case(tmp_path, "data-error"))
    page = render_html(report, title="t")
    assert "<svg" in page and "mermaid" not in page
    assert "<script" not in page.lower() and "http://" not in page.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )
    doc = model_document()
    doc["blessing"]["notes"] = ["first model: <b>bold</b> [!NOTE] inside"]
    page = render_html(Report.from_json(model=doc))
    assert '<blockquote class="alert alert-note">' in page
    assert (
        '<p><strong class="alert-title">Note</strong><br>first model: &lt;b&gt;bold&lt;/b&gt;'
        in page
    )
    assert "<p>[!NOTE]" not in page and "<b>bold</b>" not in page


def test_svg_labels_are_escaped(tmp_path):
    from mlci.report.charts import bar_chart, to_svg

    chart = bar_chart("drift </svg><script>", ["<img src=x onerror=alert(1)>", "a&b"], [1, 2], "y")
    assert chart is not None
    svg = to_svg(chart)
    assert "<script" not in svg and "<img" not in svg and "&lt;img" in svg and "a&amp;b" in svg
    assert svg.count("</svg>") == 1 and "\n\n" not in svg


def test_many_hostile_classes_fit_a_comment(tmp_path):
    labels = [f"<b>c{i}</b>|@team" for i in range(60)]
    doc = model_document(blessed=False)
    cell = {"candidate": 0.5, "baseline": 0.6, "delta": -0.1, "ci_low": -0.2, "ci_high": -0.05}
    doc["per_class"] = [
        {"label": label, "support": 10, "precision": cell, "recall": cell, "f1": cell}
        for label in labels
    ]
    matrix = [[i * j for j in range(60)] for i in range(60)]
    doc["confusion"] = {
        "labels": labels,
        "candidate": matrix,
        "baseline": matrix,
        "total_labels": 60,
    }
    report = Report.from_json(model=doc)
    full = render_markdown(report)
    assert "<b>" not in full and "@team" not in full and "&lt;b&gt;" in full
    assert "_… and 10 more classes in the full report._" in full  # 50 kept in the artifact
    assert "_… and 45 more classes not shown._" in full  # the matrix stays readable
    text = render_markdown(report, max_chars=20_000)
    assert len(text) <= 20_000 and text.startswith("## ❌ mlci: blocked")
    page = render_html(report)
    assert "<b>c1</b>" not in page
