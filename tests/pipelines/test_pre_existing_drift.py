"""A pull request that changes no data file is not blocked by drift already on the base branch."""

from __future__ import annotations

import csv
import io
import subprocess
from pathlib import Path

import pytest

from mlci.cli import main
from tests.scaffold_helpers import make_project


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def drifted(text: str) -> str:
    rows = list(csv.reader(io.StringIO(text)))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(rows[0])
    for row in rows[1:]:
        writer.writerow([str(float(v) * 3) if i < 25 else v for i, v in enumerate(row)])
    return out.getvalue()


def pull_request(tmp_path: Path, change: dict[str, str]) -> Path:
    """A repository whose HEAD is GitHub's merge commit of a branch that makes ``change``."""
    root = make_project(tmp_path / "p")
    assert main(["init", "--yes", "-C", str(root), "--registry", "local"]) == 0
    cfg = root / "mlci.yaml"
    cfg.write_text(
        cfg.read_text().replace("dataset_severity: warning", "dataset_severity: error"),
        encoding="utf-8",
    )
    current = root / "data" / "current.csv"
    current.write_text(drifted(current.read_text()), encoding="utf-8")  # drift on main
    git(root, "add", "-A")
    git(root, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "main")
    git(root, "checkout", "-qb", "feature")
    for rel, text in change.items():
        (root / rel).write_text(text, encoding="utf-8")
    git(root, "add", "-A")
    git(root, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "change")
    git(root, "checkout", "-q", "main")
    git(root, "checkout", "-q", "--detach")
    git(root, "-c", "user.name=t", "-c", "user.email=t@e", "merge", "-q", "--no-ff", "feature")
    return root


def validate(root: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setenv("GITHUB_EVENT_NAME", "pull_request")
    monkeypatch.chdir(root)
    return main(["validate-data", "--results", str(root / "out")])


def test_drift_already_on_main_does_not_block_a_code_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = pull_request(tmp_path, {"train.py": "print('better training')\n"})
    assert validate(root, monkeypatch) == 0
    out = capsys.readouterr().out
    assert "this pull request changes no data file, so the drift was already on the base" in out


def test_drift_blocks_a_pull_request_that_changes_the_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_project(tmp_path / "x")
    new_current = drifted(drifted((root / "data" / "current.csv").read_text()))
    root = pull_request(tmp_path, {"data/current.csv": new_current})
    assert validate(root, monkeypatch) == 1
    assert "changes no data file" not in capsys.readouterr().out
