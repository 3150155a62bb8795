"""One escaper for every text mlci sends to GitHub: hostile values stay inert everywhere."""

from __future__ import annotations

import pytest

from mlci.pipelines import monitor as monitor_pipeline
from mlci.pipelines import report as report_pipeline
from mlci.pipelines import retrain as retrain_pipeline
from mlci.pipelines import validate_data as data_pipeline
from mlci.pipelines import validate_model as model_pipeline
from mlci.pipelines.deploy import outcome as deploy_pipeline
from mlci.pipelines.monitor import issues as monitor_issues
from mlci.pipelines.monitor import pipeline as monitor_steps
from mlci.pipelines.retrain import propose as retrain_propose
from mlci.report.escape import cell, code, md
from mlci.report.monitor import issue_body, monitor_summary, resolved_comment
from mlci.report.render import Report, render_markdown
from mlci.report.retrain import pull_request_body, retrain_report
from mlci.report.summaries import data_summary, deploy_summary, model_summary
from mlci.report.tables import drift_table
from mlci.results import (
    DataResults,
    Finding,
    ModelResults,
    MonitorResults,
    RetrainResults,
    as_typed,
    make_document,
)
from tests.report.documents import data_document

LINK = "[x](https://evil.example)"
HOSTILE = f"{LINK} #1 @org/team $math$ \u202egnp <script>|\nnext"


def _assert_inert(text: str) -> None:
    assert "](https://evil.example)" not in text  # no live link
    assert "https://evil" not in text  # no autolink either
    assert "#1" not in text  # no cross-reference
    assert "@org/team" not in text  # no team mention
    assert "$math$" not in text  # no math
    assert "\u202e" not in text  # no right-to-left override
    assert "<script" not in text  # no HTML
    assert "|\nnext" not in text and "| \nnext" not in text  # no table break


def test_md_cell_and_code_make_a_hostile_value_inert():
    _assert_inert(md(HOSTILE))
    _assert_inert(cell(HOSTILE))
    _assert_inert(code(HOSTILE))
    assert code("missing_column") == "`missing_column`"
    assert cell(None) == "—" and cell(0.123456) == "0.1235" and cell(-2) == "\u22122"


def test_pull_request_comment():
    doc = data_document(errors=True, column=HOSTILE, value=HOSTILE)
    _assert_inert(render_markdown(Report.from_json(data=doc)))


def _drift(column: str) -> dict:
    return {
        "share": 1.0,
        "share_threshold": 0.5,
        "dataset_drift": True,
        "columns": [
            {
                "column": column,
                "kind": "feature",
                "method": "psi",
                "statistic": 0.9,
                "p_value": None,
                "threshold": 0.2,
                "drifted": True,
                "tested": True,
            }
        ],
    }


def test_retrain_pull_request_body():
    built = make_document(
        "retrain",
        passed=False,
        findings=[Finding(HOSTILE, "error", HOSTILE)],
        payload={
            "outcome": "proposed",
            "decision": {"retrain": True, "reason": f"policy on-drift: {HOSTILE} drifted"},
            "data": {"source": f"retrain.data {HOSTILE!r}", "rows": 10},
            "champion": {"version": 1, "created": HOSTILE},
            "blessing": {"blessed": True, "reason": HOSTILE},
            "drift": _drift(HOSTILE),
            "pull_request": {"number": 7, "action": "opened", "url": "javascript:alert(1)"},
        },
        provenance={"run_url": f"https://github.com/o/r/actions/runs/1 {LINK}"},
    )
    doc = as_typed(RetrainResults, built, what="retrain.json")
    text = retrain_report(doc)
    _assert_inert(text)
    assert "javascript:" not in text
    marker = "<!-- mlci-retrain:default -->"
    body = pull_request_body(doc, None, marker=marker)
    assert body.startswith(marker + "\n")
    _assert_inert(body.removeprefix(marker))


def test_monitor_issue_body_and_summary():
    problem = monitor_pipeline.Problem(
        "data-drift",
        "warning",
        "mlci monitor: feature drift",
        f"feature drift: 1 column(s) drifted: {HOSTILE}",
        drift_table(_drift(HOSTILE)["columns"]),
    )
    body = issue_body(
        marker="<!-- mlci-monitor:default:data-drift -->",
        summary=problem.summary,
        severity=problem.severity,
        details=problem.details,
        time=HOSTILE,
        run_url=LINK,
    )
    _assert_inert(body.replace("<!-- mlci-monitor:default:data-drift -->", ""))
    _assert_inert(resolved_comment(HOSTILE, time=HOSTILE, run_url=LINK))
    assert "(https://github.com/o/r/actions/runs/1)" in resolved_comment(
        "data-drift", time="t", run_url="https://github.com/o/r/actions/runs/1"
    )
    built = make_document(
        "monitor",
        passed=False,
        payload={
            "rows": 3,
            "production": {"version": 1},
            "drift": _drift(HOSTILE),
            "problems": [{"key": HOSTILE, "severity": "error", "summary": HOSTILE}],
            "live_metrics": {HOSTILE: 0.5},
            "baseline_metrics": {HOSTILE: 0.6},
            "issues": [{"problem": HOSTILE, "number": 3, "action": HOSTILE}],
            "retrain_dispatch": {"workflow": HOSTILE},
            "rollback": {"message": HOSTILE},
            "notes": [HOSTILE],
        },
    )
    summary = monitor_summary(as_typed(MonitorResults, built, what="monitor.json"))
    _assert_inert(summary)


def test_job_summaries():
    finding = {"check": "drift", "severity": "warning", "message": HOSTILE, "column": HOSTILE}
    data_doc = make_document(
        "data",
        passed=True,
        findings=[Finding("drift", "warning", HOSTILE, column=HOSTILE)],
        payload={"rows": 1, "columns": 1, "drift": _drift(HOSTILE)},
    )
    _assert_inert(data_summary(as_typed(DataResults, data_doc, what="data.json"), "passed"))
    model_doc = make_document(
        "model",
        passed=False,
        payload={
            "blessing": {"blessed": False, "reason": HOSTILE, "notes": [HOSTILE]},
            "metrics": {HOSTILE: 0.5},
            "baseline_metrics": {HOSTILE: 0.4},
            "deltas": {HOSTILE: {"delta": 0.1, "ci_low": 0.0, "ci_high": 0.2, "reason": HOSTILE}},
            "gates": [
                {
                    "metric": HOSTILE,
                    "slice": HOSTILE,
                    "rule": "min",
                    "threshold": 0.9,
                    "observed": 0.5,
                    "baseline": None,
                    "passed": False,
                }
            ],
        },
    )
    _assert_inert(model_summary(as_typed(ModelResults, model_doc, what="model.json"), "mlci"))
    deploy_doc = {
        "action": "deploy",
        "registry": {"backend": "local", "location": HOSTILE},
        "changes": {HOSTILE: {"before": 0.1, "after": 0.2, "delta": 0.1}},
        "findings": [finding],
    }
    summary = deploy_summary(
        deploy_doc, status="refused", version=None, previous=2, message=HOSTILE
    )
    _assert_inert(summary)


@pytest.mark.parametrize(
    "module", [data_pipeline, model_pipeline, deploy_pipeline, retrain_pipeline, monitor_pipeline]
)
def test_no_pipeline_keeps_an_escaper_of_its_own(module):
    for name in ("escape_md", "_md", "_cell"):
        assert not hasattr(module, name), f"{module.__name__}.{name}: use mlci.report.escape"


@pytest.mark.parametrize(
    "module",
    [
        data_pipeline,
        model_pipeline,
        deploy_pipeline,
        retrain_pipeline,
        retrain_propose,
        monitor_pipeline,
        monitor_issues,
        monitor_steps,
        report_pipeline,
    ],
)
def test_job_summaries_are_rendered_in_report(module):
    # Every Markdown text lives in mlci.report; a pipeline only hands over its document.
    for name in ("_summary", "render_markdown", "_issue_body", "_no_results_comment"):
        defined_here = getattr(getattr(module, name, None), "__module__", None) == module.__name__
        assert not defined_here, f"{module.__name__}.{name}: render in mlci.report"


def test_stand_in_comments():
    from mlci.report.incomplete import no_results_comment, refused_comment

    text = no_results_comment(f"https://github.com/o/r/actions/runs/1 {LINK}", "a" * 40)
    _assert_inert(text)
    text = refused_comment(f"results/{HOSTILE}", [HOSTILE] * 3, "javascript:alert(1)", None)
    _assert_inert(text)
    assert "javascript:" not in text
