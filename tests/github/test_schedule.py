"""Scheduled runs warn before GitHub's 60-day rule disables them."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from mlci.github.runtime import Runtime
from mlci.github.schedule import inactivity_warning

COMMIT_TIME = 1_700_000_000
DAY = 86400


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    env = {
        **os.environ,
        "GIT_AUTHOR_DATE": f"@{COMMIT_TIME} +0000",
        "GIT_COMMITTER_DATE": f"@{COMMIT_TIME} +0000",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
    }
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "README.md").write_text("hi\n")
    subprocess.run(["git", "-C", str(tmp_path), "add", "."], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "commit", "-qm", "x"], check=True, env=env)
    return tmp_path


def test_a_scheduled_run_warns_after_45_days_without_a_commit(repo, monkeypatch):
    monkeypatch.setenv("GITHUB_EVENT_NAME", "schedule")
    monkeypatch.setenv("GITHUB_WORKFLOW", "mlci retrain")
    message = inactivity_warning(repo, Runtime(), now=COMMIT_TIME + 50 * DAY)
    assert message is not None
    assert "no commit on the default branch for 50 days" in message
    assert "after 60 days" in message and "mlci retrain stops" in message
    assert inactivity_warning(repo, Runtime(), now=COMMIT_TIME + 10 * DAY) is None


def test_only_scheduled_runs_warn(repo, monkeypatch):
    monkeypatch.setenv("GITHUB_EVENT_NAME", "workflow_dispatch")
    assert inactivity_warning(repo, Runtime(), now=COMMIT_TIME + 90 * DAY) is None
