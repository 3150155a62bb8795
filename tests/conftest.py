"""Fixtures shared by every test module."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

pytest_plugins = ["tests.support.fake_github.plugin"]


@dataclass
class GitHubEnv:
    """Files the Actions runtime writes to, and the environment pointing at them."""

    output: Path
    summary: Path
    workspace: Path

    def outputs(self) -> str:
        return self.output.read_text(encoding="utf-8") if self.output.exists() else ""

    def summary_text(self) -> str:
        return self.summary.read_text(encoding="utf-8") if self.summary.exists() else ""


@pytest.fixture
def gh_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GitHubEnv:
    """Pretend to be a GitHub Actions step: GITHUB_ACTIONS=true, output and summary files."""
    env = GitHubEnv(
        output=tmp_path / "gh" / "output",
        summary=tmp_path / "gh" / "summary.md",
        workspace=tmp_path / "workspace",
    )
    env.output.parent.mkdir()
    env.workspace.mkdir()
    for key, value in {
        "GITHUB_ACTIONS": "true",
        "GITHUB_OUTPUT": str(env.output),
        "GITHUB_STEP_SUMMARY": str(env.summary),
        "GITHUB_WORKSPACE": str(env.workspace),
        "GITHUB_REPOSITORY": "octo/ml-project",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_RUN_ID": "42",
        "GITHUB_SHA": "0123456789abcdef0123456789abcdef01234567",
    }.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture(autouse=True)
def _no_actions_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests start outside Actions even when the suite itself runs on a runner."""
    for key in ("GITHUB_ACTIONS", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_TOKEN"):
        monkeypatch.delenv(key, raising=False)


@pytest.fixture(scope="session")
def mlci_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """mlci built as a wheel from this checkout, once per test run."""
    import subprocess
    import sys

    dist = tmp_path_factory.mktemp("dist")
    root = Path(__file__).resolve().parents[1]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(dist),
            str(root),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = dist.glob("mlci-*.whl")
    return wheel


@pytest.fixture(scope="session")
def wheelhouse(mlci_wheel: Path) -> Path:
    """mlci's wheel and every wheel it and its build need, in one folder, once per run.

    The act runs and the newcomer test install from here with ``--no-index``, so they
    need no network and share one download; nothing is taken from the test environment.
    """
    import subprocess
    import sys

    house = mlci_wheel.parent.parent / "wheelhouse"
    house.mkdir(exist_ok=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--disable-pip-version-check",
            "--dest",
            str(house),
            str(mlci_wheel),
            "hatchling>=1.21",  # the build backend, for installs from a source tree
        ],
        check=True,
        capture_output=True,
    )
    return house
