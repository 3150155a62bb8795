"""`mlci monitor` end to end: production batches with a covariate shift, fake GitHub, local registry."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mlci.cli import main
from mlci.config import load_config
from mlci.errors import EXIT_FAILED, EXIT_OK
from mlci.pipelines.monitor import ISSUE_LABEL, ISSUE_MARKER
from mlci.registry import make_event, open_registry
from mlci.report.escape import md
from tests.pipelines import ct_project
from tests.pipelines.ct_project import (
    github,
    results,
    write_config,
)

MONITOR = {"monitor": {"current": "data/production.csv", "labels": "data/labels.csv"}}

ct_template = ct_project.ct_template  # the fixtures of the shared project
project = ct_project.project


def _serve(root: Path, batch: str, *, flip_labels: bool = False) -> None:
    """Production logs a batch (features only); its labels arrive separately, by id."""
    frame = pd.read_csv(root / "data" / f"{batch}.csv")
    frame.drop(columns=["target"]).to_csv(root / "data" / "production.csv", index=False)
    labels = frame[["id", "target"]].copy()
    if flip_labels:  # the world changed: what was benign is now malignant (concept drift)
        labels["target"] = 1 - labels["target"]
    labels.to_csv(root / "data" / "labels.csv", index=False)


def _monitor(root: Path, *extra: str) -> int:
    return main(
        ["monitor", "--config", str(root / "mlci.yaml"), "--results", "mlci-results", *extra]
    )


def _ours(fake) -> list[dict]:
    return [i for i in fake.issues() if ISSUE_LABEL in {lb["name"] for lb in i["labels"]}]


def test_drift_issue_is_opened_updated_and_closed(
    project: Path, fake_github, monkeypatch: pytest.MonkeyPatch
) -> None:
    github(monkeypatch, fake_github)
    write_config(project, MONITOR)
    fake_github.add_issue(title="unrelated", body="a human's issue", labels=[ISSUE_LABEL])

    # Day 1: a new scanner -> texture and area shift, and the model suffers from it.
    _serve(project, "batch2")
    assert _monitor(project) == EXIT_FAILED  # a live metric fails its gate: an error

    doc = results(project, "monitor")
    assert doc["kind"] == "monitor" and doc["passed"] is False
    drifted = {c["column"] for c in doc["drift"]["columns"] if c["drifted"]}
    assert {"mean_texture", "worst_area"} <= drifted
    assert "target" not in {c["column"] for c in doc["drift"]["columns"]}
    assert doc["production"]["version"] == 1
    assert doc["prediction_drift"]["drifted"] is True
    assert doc["labels"] == "data/labels.csv joined on id"
    assert doc["live_metrics"]["accuracy"] < doc["baseline_metrics"]["accuracy"] - 0.05
    problems = {p["key"]: p["severity"] for p in doc["problems"]}
    assert problems == {
        "data-drift": "warning",
        "prediction-drift": "warning",
        "metric-accuracy": "error",
    }
    issues = {}
    for key in problems:
        marker = ISSUE_MARKER.format(key="default", problem=key)
        (issues[key],) = [i for i in _ours(fake_github) if marker in (i["body"] or "")]
    assert all(i["state"] == "open" for i in issues.values())
    body = issues["data-drift"]["body"]
    assert md("mean_texture") in body and md("worst_area") in body
    assert "max_drop" in issues["metric-accuracy"]["body"]
    assert sorted((a["problem"], a["number"], a["action"]) for a in doc["issues"]) == sorted(
        (k, i["number"], "opened") for k, i in issues.items()
    )

    # Day 2: still shifted -> the same issues are updated, no new ones.
    assert _monitor(project) == EXIT_FAILED
    assert {a["action"] for a in results(project, "monitor")["issues"]} == {"updated"}
    assert len(_ours(fake_github)) == 4  # three problems and the human's issue
    number = issues["data-drift"]["number"]
    assert fake_github.requests_to("PATCH", rf"/issues/{number}$")

    # Day 3: the scanner is recalibrated -> healthy again: each closed with a comment.
    _serve(project, "batch1")
    assert _monitor(project) == EXIT_OK

    doc = results(project, "monitor")
    assert doc["problems"] == []
    assert sorted((a["problem"], a["action"]) for a in doc["issues"]) == sorted(
        (k, "closed") for k in problems
    )
    for key, issue in issues.items():
        closed = next(i for i in fake_github.issues() if i["number"] == issue["number"])
        assert closed["state"] == "closed"
        (comment,) = fake_github.comments(issue["number"])
        assert f"no `{key}` problem any more" in comment["body"]
    # The human's issue with the same label was never touched.
    unrelated = next(i for i in fake_github.issues() if i["title"] == "unrelated")
    assert unrelated["state"] == "open" and unrelated["body"] == "a human's issue"


def test_drift_dispatches_the_retrain_workflow_once(
    project: Path, fake_github, monkeypatch: pytest.MonkeyPatch
) -> None:
    github(monkeypatch, fake_github)
    # No labels yet: drift alone, which is a warning (exit 0), still asks for a retrain.
    write_config(project, {"monitor": {"current": "data/production.csv", "trigger_retrain": True}})
    _serve(project, "batch2")

    assert _monitor(project) == EXIT_OK
    assert fake_github.dispatches() == [
        {"workflow_id": "mlci-retrain.yml", "ref": "main", "inputs": {}}
    ]
    assert results(project, "monitor")["retrain_dispatch"] == {
        "workflow": "mlci-retrain.yml",
        "ref": "main",
        "problems": ["data-drift", "prediction-drift"],
    }

    assert _monitor(project) == EXIT_OK  # the problem persists: no second retrain
    assert len(fake_github.dispatches()) == 1
    assert "retrain not dispatched again" in " ".join(results(project, "monitor")["notes"])


def test_decay_rolls_production_back(
    project: Path, fake_github, monkeypatch: pytest.MonkeyPatch
) -> None:
    github(monkeypatch, fake_github)
    write_config(project, {**MONITOR, "monitor": {**MONITOR["monitor"], "rollback": True}})
    registry = open_registry(load_config(project / "mlci.yaml"))
    v1 = registry.get(1)
    # Version 2 (the same model, blessed) went to production after v1.
    v2 = registry.register(
        {v1.model_file: Path(v1.location) / v1.model_file},
        {k: v for k, v in v1.metadata.items() if k != "version"},
    )
    registry.record(make_event("promote", v2.version, previous=1))
    _serve(project, "batch1", flip_labels=True)

    assert _monitor(project) == EXIT_FAILED

    doc = results(project, "monitor")
    assert doc["passed"] is False
    assert doc["live_metrics"]["accuracy"] < 0.2
    keys = {p["key"]: p["severity"] for p in doc["problems"]}
    assert keys["metric-accuracy"] == "error"
    gate = next(g for g in doc["gates"] if g["rule"] == "min")
    assert gate["passed"] is False and gate["threshold"] == 0.85
    assert doc["rollback"]["status"] == "rolled_back"
    assert (doc["rollback"]["previous"], doc["rollback"]["version"]) == (2, 1)
    assert registry.state().production == 1
    issue = next(
        i
        for i in _ours(fake_github)
        if ISSUE_MARKER.format(key="default", problem="metric-accuracy") in i["body"]
    )
    assert f"{ISSUE_LABEL}:error" in {lb["name"] for lb in issue["labels"]}

    # Still bad tomorrow (the labels are the world's, not the model's): no second rollback.
    assert _monitor(project) == EXIT_FAILED
    again = results(project, "monitor")
    assert again["rollback"]["status"] == "skipped"
    assert registry.state().production == 1


def test_off_github_the_report_is_printed(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_REPOSITORY", raising=False)
    write_config(project, {"monitor": {"current": "data/batch1.csv"}})
    _serve(project, "batch2")
    (project / "data" / "labels.csv").unlink()

    assert _monitor(project, "--current", "data/production.csv") == EXIT_OK  # flag wins

    out = capsys.readouterr().out
    assert "## mlci monitor: 2 problem(s)" in out
    assert md("not on GitHub (no GITHUB_REPOSITORY): no issues were opened", 1000) in out
    doc = results(project, "monitor")
    assert doc["live_metrics"] is None and doc["labels"].startswith("no labels")


def test_logged_predictions_and_partial_labels_without_a_registry(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    monkeypatch.delenv("GITHUB_REPOSITORY", raising=False)
    shutil.rmtree(project / ".mlci" / "registry")  # nothing deployed yet
    write_config(project, {"monitor": {**MONITOR["monitor"], "predictions": "prediction"}})
    frame = pd.read_csv(project / "data" / "batch1.csv")
    logged = frame["target"].copy()
    logged.iloc[:5] = 1 - logged.iloc[:5]  # production got 5 rows wrong
    frame.drop(columns=["target"]).assign(prediction=logged).to_csv(
        project / "data" / "production.csv", index=False
    )
    frame[["id", "target"]].iloc[:60].to_csv(project / "data" / "labels.csv", index=False)

    assert _monitor(project) == EXIT_OK

    doc = results(project, "monitor")
    assert doc["production"] is None
    assert "prediction" not in {c["column"] for c in doc["drift"]["columns"]}
    assert doc["prediction_drift"] is None  # no model to run on the reference
    notes = " ".join(doc["notes"])
    assert "no model in production" in notes
    assert "data.reference has no prediction column" in notes
    # 60 of 95 rows have their labels so far: metrics on those, from the logged answers.
    assert doc["live_metrics"]["accuracy"] == pytest.approx(55 / 60)
    assert doc["live_metrics"]["roc_auc"] is None and doc["metric_errors"]["roc_auc"]
    assert doc["baseline_metrics"] is None
    assert [g["rule"] for g in doc["gates"]] == ["min"]  # no baseline: no change gate


def test_production_is_judged_against_the_data_it_was_trained_for(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A version registered with its reference profile is judged against it, not data.reference."""
    from mlci.data.profile import profile_path, write_profile
    from mlci.registry.reference import REFERENCE_FILE

    monkeypatch.delenv("GITHUB_REPOSITORY", raising=False)
    write_config(project, MONITOR)
    _serve(project, "batch2")  # the new scanner
    assert _monitor(project) == EXIT_FAILED
    doc = results(project, "monitor")
    assert doc["reference"] == {"source": "data.reference", "version": None, "rows": 260}
    assert "data-drift" in {p["key"] for p in doc["problems"]}

    # v2: the same model, registered as a retrain on the new scanner's data registers it.
    registry = open_registry(load_config(project / "mlci.yaml"), backend="local")
    v1 = registry.get(1)
    folder = registry.download(1, project / "v1")
    profile = write_profile(profile_path(project / "data" / "batch2.csv"), project / "p.json")
    meta = {k: v for k, v in v1.metadata.items() if k not in ("version", "hashes")}
    meta["data"] = {**meta["data"], "reference": {"file": REFERENCE_FILE}}
    files = {v1.model_file: folder / v1.model_file, REFERENCE_FILE: profile}
    registry.register(files, meta)
    registry.record(make_event("promote", 2))
    capsys.readouterr()

    _monitor(project)  # its live accuracy may still fail: the drift is what is checked here
    doc = results(project, "monitor")
    assert doc["reference"] == {"source": "training data of v2", "version": 2, "rows": 94}
    assert "data-drift" not in {p["key"] for p in doc["problems"]}
    assert not [c for c in doc["drift"]["columns"] if c["drifted"]]
    assert "Drift reference: training data of v2" in capsys.readouterr().out


def test_a_data_file_is_read_in_chunks_and_only_in_the_columns_the_checks_use(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow.parquet as pq

    monkeypatch.delenv("GITHUB_REPOSITORY", raising=False)
    _serve(project, "batch2")
    frame = pd.read_csv(project / "data" / "production.csv")
    big = pd.concat([frame] * 20, ignore_index=True)  # 1,900 rows: two chunks of 1,000
    big["blob"] = ["x" * 1000 + str(i) for i in range(len(big))]  # no check uses it
    big.to_parquet(project / "data" / "production.parquet")
    read: list[tuple[str, list[str] | None]] = []
    real = pq.ParquetFile.iter_batches

    def spy(self: pq.ParquetFile, *args: object, **kwargs: object) -> object:
        read.append((str(self.metadata.num_rows), kwargs.get("columns")))  # type: ignore[arg-type]
        return real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pq.ParquetFile, "iter_batches", spy)
    docs = []
    for chunk_rows in (250_000, 1000):
        monitor = {**MONITOR["monitor"], "current": "data/production.parquet"}
        write_config(project, {"monitor": monitor, "data": {"chunk_rows": chunk_rows}})
        assert _monitor(project) == EXIT_FAILED
        docs.append(results(project, "monitor"))

    production = [columns for rows, columns in read if rows == str(len(big))]
    assert len(production) == 2
    for columns in production:
        assert columns is not None and "blob" not in columns
        assert {"id", "mean_texture", "worst_area"} <= set(columns)
    one, chunked = docs
    assert one["rows"] == chunked["rows"] == len(big)
    for key in ("drift", "prediction_drift", "label_drift", "live_metrics", "labels", "problems"):
        assert one[key] == chunked[key]
    assert one["labels"] == "data/labels.csv joined on id"
    assert one["live_metrics"]["accuracy"] < one["baseline_metrics"]["accuracy"] - 0.05


def test_prediction_drift_on_a_data_file_follows_production(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Against data.reference the shifted batch's predictions drift (the first test);
    against the predictions production recorded on that batch, they do not."""
    monkeypatch.delenv("GITHUB_REPOSITORY", raising=False)
    write_config(project, {"monitor": {**MONITOR["monitor"], "open_issues": False}})
    _serve(project, "batch2")
    from mlci.model.baseline import load_baseline

    config = load_config(project / "mlci.yaml")
    model = load_baseline(project / "model.skops", config)
    features = pd.read_csv(project / "data" / "production.csv")
    predicted = model.predict(features.drop(columns=["id"]))
    data = project / "data" / "production.csv"
    assert ct_project.promote_with_reference(project, data, predicted) == 2

    _monitor(project)
    doc = results(project, "monitor")
    assert doc["reference"]["source"] == "training data of v2"
    assert doc["prediction_drift"]["drifted"] is False
    assert doc["prediction_drift"]["statistic"] == pytest.approx(0.0)
    assert "prediction-drift" not in {p["key"] for p in doc["problems"]}
