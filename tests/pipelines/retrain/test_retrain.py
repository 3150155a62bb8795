"""`mlci retrain` end to end: real data with a covariate shift, the local registry, fake GitHub."""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path

import pytest

from mlci.cli import main
from mlci.config import load_config
from mlci.data.drift import ColumnDrift, DriftReport
from mlci.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from mlci.pipelines.retrain import PR_MARKER, decide
from mlci.registry import ModelVersion, open_registry
from tests.pipelines import ct_project
from tests.pipelines.ct_project import (
    github,
    results,
    set_params,
    write_config,
)

ct_template = ct_project.ct_template  # the fixtures of the shared project
project = ct_project.project


def _fresh(root: Path, batch: str) -> None:
    """Put one batch where retrain.data (data/fresh/*.csv) finds it."""
    fresh = root / "data" / "fresh"
    fresh.mkdir(exist_ok=True)
    (fresh / f"{batch}.csv").write_bytes((root / "data" / f"{batch}.csv").read_bytes())


def _retrain(root: Path, *extra: str) -> int:
    return main(
        ["retrain", "--config", str(root / "mlci.yaml"), "--results", "mlci-results", *extra]
    )


def _production(root: Path) -> int | None:
    return open_registry(load_config(root / "mlci.yaml")).state().production


@pytest.mark.slow
def test_blessed_retrain_opens_a_pull_request_then_updates_it(
    project: Path, fake_github, monkeypatch: pytest.MonkeyPatch
) -> None:
    github(monkeypatch, fake_github)
    fake_github.settings(actions_can_create_pulls=True)
    write_config(project, {"retrain": {"data": "data/fresh/*.csv"}})
    _fresh(project, "batch2")
    champion = (project / "model.skops").read_bytes()

    assert _retrain(project) == EXIT_OK

    doc = results(project, "retrain")
    assert doc["passed"] is True
    assert doc["decision"]["retrain"] is True
    assert "mean_texture" in doc["decision"]["reason"]
    assert doc["blessing"]["blessed"] is True
    assert doc["champion"]["version"] == 1
    drifted = {c["column"] for c in doc["drift"]["columns"] if c["drifted"]}
    assert {"mean_texture", "worst_area"} <= drifted
    pulls = fake_github.pulls()
    assert len(pulls) == 1
    pr = pulls[0]
    assert pr["head"]["ref"] == "mlci/retrain" and pr["base"]["ref"] == "main"
    assert PR_MARKER.format(key="default") in pr["body"]
    assert "policy on-drift" in pr["body"] and "accuracy" in pr["body"]
    files = fake_github.files(branch="mlci/retrain")
    challenger = (project / "model.skops").read_bytes()
    assert challenger != champion  # trained on the fresh batch too
    assert files["model.skops"] == challenger
    record = json.loads(files[".mlci/retrain.json"])
    assert record["blessing"]["blessed"] is True and record["champion"]["version"] == 1
    assert doc["pull_request"] == {
        "number": pr["number"],
        "url": pr["html_url"],
        "action": "opened",
        "branch": "mlci/retrain",
        "files": [".mlci/retrain-reference.json", ".mlci/retrain.json", "model.skops"],
    }
    assert _production(project) == 1  # a pull request changes nothing in production

    # One commit on top of main, made with GITHUB_TOKEN: it starts no workflow run.
    first = fake_github.refs()["heads/mlci/retrain"]
    assert fake_github.ahead_by(fake_github.refs()["heads/main"], first) == 1
    assert fake_github.events() == []

    # A week later main has moved on and another batch came: the same pull request is
    # updated (still open: its head never fell back onto main), not duplicated.
    main = fake_github.add_commit({"README.md": b"a human's change\n"})
    _fresh(project, "batch1")
    assert _retrain(project) == EXIT_OK

    (still,) = fake_github.pulls()
    assert still["state"] == "open"
    again = results(project, "retrain")
    assert again["pull_request"]["action"] == "updated"
    assert again["pull_request"]["number"] == pr["number"]
    assert again["data"]["files"] == ["data/fresh/batch1.csv", "data/fresh/batch2.csv"]
    assert fake_github.requests_to("PATCH", rf"/pulls/{pr['number']}$")
    # The branch moved once, straight to one new commit on top of the new main.
    head = fake_github.refs()["heads/mlci/retrain"]
    moves = fake_github.requests_to("PATCH", r"/git/refs/heads/mlci/retrain$")
    assert [r.json for r in moves] == [{"sha": head, "force": True}]
    assert fake_github.ahead_by(main, head) == 1
    files = fake_github.files(branch="mlci/retrain")
    assert files["model.skops"] == (project / "model.skops").read_bytes()
    assert files["README.md"] == b"a human's change\n"  # built on current code
    assert not fake_github.requests_to("PUT", r"/contents/")


@pytest.mark.slow
def test_actions_may_not_create_pull_requests_is_exit_2_naming_the_setting(
    project: Path, fake_github, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    github(monkeypatch, fake_github)  # the repository keeps GitHub's default: off
    write_config(project, {"retrain": {"data": "data/fresh/*.csv"}})
    _fresh(project, "batch2")

    assert _retrain(project) == EXIT_USAGE

    err = capsys.readouterr().err
    assert "Settings → Actions → General" in err
    assert "Allow GitHub Actions to create and approve pull requests" in err
    assert "GitHub App token" in err and "github-token" in err
    assert "Traceback" not in err
    assert fake_github.pulls() == []


@pytest.mark.slow
def test_a_model_over_the_git_data_limit_is_exit_2_hinting_deploy_mode(
    project: Path, fake_github, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import mlci.github.git
    import mlci.pipelines.retrain.propose

    github(monkeypatch, fake_github)
    fake_github.settings(actions_can_create_pulls=True)
    monkeypatch.setattr(mlci.github.git, "MAX_BLOB_BYTES", 100)
    monkeypatch.setattr(mlci.pipelines.retrain.propose, "MAX_BLOB_BYTES", 100)
    write_config(project, {"retrain": {"data": "data/fresh/*.csv"}})
    _fresh(project, "batch2")

    assert _retrain(project) == EXIT_USAGE

    assert "retrain.mode: deploy" in capsys.readouterr().err
    assert [r for r in fake_github.requests if r.method != "GET"] == []


@pytest.mark.slow
def test_unblessed_challenger_changes_nothing(
    project: Path, fake_github, monkeypatch: pytest.MonkeyPatch
) -> None:
    github(monkeypatch, fake_github)
    write_config(project, {"retrain": {"policy": "always", "data": "data/batch2.csv"}})
    set_params(project, c=1e-6)  # so regularized that it always answers the majority class

    assert _retrain(project) == EXIT_FAILED

    doc = results(project, "retrain")
    assert doc["passed"] is False
    assert doc["outcome"] == "not blessed"
    assert doc["blessing"]["blessed"] is False
    assert "accuracy" in doc["blessing"]["reason"]
    assert doc["findings"][0]["check"] == "not_blessed"
    assert doc["pull_request"] is None
    assert fake_github.pulls() == []
    assert fake_github.refs() == {"heads/main": "a" * 40}
    assert [r for r in fake_github.requests if r.method != "GET"] == []
    assert _production(project) == 1


def test_no_drift_means_no_retrain(
    project: Path, fake_github, monkeypatch: pytest.MonkeyPatch
) -> None:
    github(monkeypatch, fake_github)
    write_config(project, {"retrain": {"data": "data/batch1.csv"}})
    before = (project / "model.skops").stat().st_mtime_ns

    assert _retrain(project) == EXIT_OK

    doc = results(project, "retrain")
    assert doc["outcome"] == "skipped"
    assert doc["decision"]["retrain"] is False
    assert doc["decision"]["reason"].startswith("policy on-drift: no drift")
    assert "mean_texture are stable" in doc["decision"]["reason"]
    assert (project / "model.skops").stat().st_mtime_ns == before  # nothing trained
    assert fake_github.requests == []


def test_schema_errors_stop_before_training(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import pandas as pd

    broken = pd.read_csv(project / "data" / "batch2.csv").drop(columns=["worst_area"])
    broken["mean_radius"] = "broken"
    broken.to_csv(project / "data" / "broken.csv", index=False)
    write_config(project, {"retrain": {"policy": "always", "data": "data/broken.csv"}})
    before = (project / "model.skops").stat().st_mtime_ns

    assert _retrain(project) == EXIT_FAILED

    doc = results(project, "retrain")
    assert doc["outcome"] == "stopped: schema errors"
    errors = {(f["check"], f["column"]) for f in doc["findings"] if f["severity"] == "error"}
    assert errors == {("missing_column", "worst_area"), ("dtype_mismatch", "mean_radius")}
    # Values outside the reference's ranges are value drift: recorded, not fatal.
    warnings = {(f["check"], f["column"]) for f in doc["findings"] if f["severity"] == "warning"}
    assert ("out_of_range", "mean_texture") in warnings
    assert (project / "model.skops").stat().st_mtime_ns == before
    assert "schema error(s); nothing was trained" in capsys.readouterr().out


def test_data_command_writes_the_fresh_data(project: Path) -> None:
    import sys

    script = project / "fetch.py"
    script.write_text(
        "import os, shutil\n"
        "shutil.copy('data/batch1.csv', os.path.join(os.environ['MLCI_RETRAIN_DATA_DIR'], 'b.csv'))\n",
        encoding="utf-8",
    )
    write_config(project, {"retrain": {"data_command": f"{sys.executable} fetch.py"}})

    assert _retrain(project) == EXIT_OK

    doc = results(project, "retrain")
    assert doc["data"] == {
        "source": "retrain.data_command (1 file(s))",
        "files": ["mlci-results/retrain-data/b.csv"],
        "rows": 95,
        "columns": 32,
    }
    assert doc["outcome"] == "skipped"  # a healthy batch: no drift, no retrain


def test_a_failing_data_command_stops(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_config(project, {"retrain": {"data_command": "exit 3"}})
    assert _retrain(project) == EXIT_USAGE
    assert "retrain.data_command 'exit 3' exited with 3" in capsys.readouterr().err


@pytest.mark.slow
def test_dry_run_proposes_nothing(
    project: Path, fake_github, monkeypatch: pytest.MonkeyPatch
) -> None:
    github(monkeypatch, fake_github)
    write_config(project, {"retrain": {"data": "data/batch2.csv"}})

    assert _retrain(project, "--dry-run") == EXIT_OK

    doc = results(project, "retrain")
    assert doc["outcome"] == "blessed (dry run)" and doc["dry_run"] is True
    assert fake_github.requests == []


def test_missing_fresh_data_is_a_usage_error(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_config(project, {"retrain": {"data": "data/none/*.csv"}})
    assert _retrain(project) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "retrain.data: no file matches 'data/none/*.csv'" in err
    assert "mlci.yaml:" in err


def test_pull_request_mode_without_a_token_stops_before_training(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_REPOSITORY", "octo/ml-project")
    write_config(project, {"retrain": {"policy": "always", "data": "data/batch2.csv"}})
    before = (project / "model.skops").stat().st_mtime_ns
    assert _retrain(project) == EXIT_USAGE
    assert "retrain.mode pull-request: no token" in capsys.readouterr().err
    assert (project / "model.skops").stat().st_mtime_ns == before


@pytest.mark.slow
def test_off_github_a_retrain_runs_as_a_dry_run(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_REPOSITORY", raising=False)
    write_config(project, {"retrain": {"policy": "always", "data": "data/batch2.csv"}})
    assert _retrain(project) == EXIT_OK
    doc = results(project, "retrain")
    assert doc["outcome"] == "blessed (dry run)" and doc["dry_run"] is True
    assert any(f["check"] == "not_on_github" for f in doc["findings"])
    out = capsys.readouterr().out
    assert "## mlci retrain: blessed (dry run)" in out and "accuracy" in out


@pytest.mark.slow
def test_deploy_mode_promotes_the_challenger(project: Path) -> None:
    write_config(
        project, {"retrain": {"policy": "always", "mode": "deploy", "data": "data/batch2.csv"}}
    )

    assert _retrain(project) == EXIT_OK

    doc = results(project, "retrain")
    assert doc["outcome"] == "deployed"
    assert doc["deploy"]["status"] == "deployed" and doc["deploy"]["version"] == 2
    assert _production(project) == 2
    # v2 is registered with the profile of the data it was trained on, its drift reference:
    # the next on-drift retrain on the same data finds no drift (the loop settles).
    registry = open_registry(load_config(project / "mlci.yaml"), backend="local")
    assert registry.get(2).metadata["data"]["reference"]["file"] == "reference-profile.json"
    assert "reference-profile.json" in registry.get(2).metadata["hashes"]
    # ... with the challenger's predictions on that data: production's prediction-drift
    # reference (`mlci.registry.reference`).
    from mlci.registry.reference import read_reference

    fresh, predictions = read_reference(Path(registry.get(2).location) / "reference-profile.json")
    assert predictions is not None and predictions.rows == fresh.rows > 0
    write_config(
        project, {"retrain": {"policy": "on-drift", "mode": "deploy", "data": "data/batch2.csv"}}
    )
    assert _retrain(project) == EXIT_OK
    again = results(project, "retrain")
    assert again["reference"]["source"] == "training data of v2"
    assert again["decision"]["retrain"] is False and again["outcome"] == "skipped"
    assert _production(project) == 2


def test_a_foreign_pull_request_on_the_branch_is_not_taken_over(
    project: Path, fake_github, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    github(monkeypatch, fake_github)
    fake_github.add_ref("heads/mlci/retrain", "d" * 40)
    fake_github.add_pull(head_ref="mlci/retrain", body="my own work", login="octocat")
    write_config(project, {"retrain": {"policy": "always", "data": "data/batch2.csv"}})

    assert _retrain(project) == EXIT_USAGE

    assert "was not opened by mlci" in capsys.readouterr().err
    assert fake_github.refs()["heads/mlci/retrain"] == "d" * 40


# -- the decision alone ----------------------------------------------------------------------


def _version(days_old: float | None) -> ModelVersion:
    created = (
        (_dt.datetime.now(_dt.UTC) - _dt.timedelta(days=days_old)).isoformat()
        if days_old is not None
        else "not a time"
    )
    return ModelVersion(3, {"created": created})


def _config(tmp_path: Path, **retrain: object):
    from tests.pipelines.ct_project import BASE_CONFIG, merge

    write_config(tmp_path, merge({"retrain": {"drift_columns": []}}, {"retrain": retrain}))
    assert BASE_CONFIG["retrain"]["policy"] == "on-drift"
    return load_config(tmp_path / "mlci.yaml")


def test_max_age_policy(tmp_path: Path) -> None:
    cfg = _config(tmp_path, policy="max-age", max_age_days=30)
    old = decide(cfg, None, _version(40))
    assert old.retrain and old.reason.startswith(
        "policy max-age: production version 3 is 40.0 days"
    )
    young = decide(cfg, None, _version(2))
    assert not young.retrain and "under the 30-day limit" in young.reason
    assert decide(cfg, None, None).reason == "policy max-age: no model in production yet"
    assert decide(cfg, None, _version(None)).retrain


def test_on_drift_policy_share_label_and_named_columns(tmp_path: Path) -> None:
    def col(name: str, drifted: bool, kind: str = "feature") -> ColumnDrift:
        return ColumnDrift(name, "ks", 0.5, 0.01, 0.05, drifted, kind)  # type: ignore[arg-type]

    cfg = _config(tmp_path)
    calm = DriftReport([col("a", False), col("b", True)], share=0.5, share_threshold=0.6)
    assert not decide(cfg, calm, None).retrain
    dataset = DriftReport([col("a", True), col("b", True)], share=1.0, dataset_drift=True)
    assert decide(cfg, dataset, None).reason == (
        "policy on-drift: 100% of the columns drifted (threshold 50%)"
    )
    label = DriftReport([col("a", False), col("target", True, "label")], share=0.0)
    assert decide(cfg, label, None).reason == "policy on-drift: the label 'target' drifted"
    named = _config(tmp_path, drift_columns=["b"])
    assert decide(named, calm, None).reason == "policy on-drift: named column(s) b drifted"
    always = _config(tmp_path, policy="always")
    assert decide(always, None, None).retrain


def test_a_failing_train_command_stops_with_its_exit_code(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_config(
        project,
        {
            "model": {"train_command": "exit 4"},
            "retrain": {"policy": "always", "data": "data/batch2.csv"},
        },
    )
    assert _retrain(project, "--dry-run") == EXIT_FAILED
    doc = results(project, "retrain")
    assert doc["outcome"] == "failed: train command"
    assert (
        doc["findings"][0]["message"] == "model.train_command exited with 4; see its output above"
    )
    assert doc["blessing"] is None
    assert "## mlci retrain: failed: train command" in capsys.readouterr().out
