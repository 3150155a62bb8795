"""Fixtures shared by every test module."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
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


def _shared_dir(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """A folder every xdist worker of this run sees (the run's base temp), made once.

    Session fixtures run once per worker; what is expensive and identical for all of them
    (the wheel, the wheelhouse) is made by the first worker under a file lock, and the
    others reuse it. Without xdist this is simply the session's temp folder.
    """
    import os

    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # the run's root, shared by gw0, gw1, ...
    return base / name


@contextmanager
def _once(folder: Path) -> Iterator[bool]:
    """Hold a lock beside ``folder``; yield True when ``folder`` still has to be made.

    The maker renames its finished work into ``folder``, so a folder that exists is complete.
    """
    import fcntl

    folder.parent.mkdir(parents=True, exist_ok=True)
    with folder.with_name(folder.name + ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield not folder.exists()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def mlci_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """mlci built as a wheel from this checkout, once per test run (shared by all workers)."""
    import subprocess
    import sys

    dist = _shared_dir(tmp_path_factory, "dist")
    with _once(dist) as missing:
        if missing:
            partial = dist.with_name("dist.partial")
            root = Path(__file__).resolve().parents[1]
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "build",
                    "--wheel",
                    "--no-isolation",
                    "--outdir",
                    str(partial),
                    str(root),
                ],
                check=True,
                capture_output=True,
            )
            partial.rename(dist)
    (wheel,) = dist.glob("mlci-*.whl")
    return wheel


@pytest.fixture(scope="session")
def wheelhouse(mlci_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """mlci's wheel and every wheel it and its build need, in one folder, once per run.

    The act runs and the newcomer test install from here with ``--no-index``, so they
    need no network and share one download; nothing is taken from the test environment.
    """
    import subprocess
    import sys

    house = _shared_dir(tmp_path_factory, "wheelhouse")
    with _once(house) as missing:
        if missing:
            partial = house.with_name("wheelhouse.partial")
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "download",
                    "--quiet",
                    "--disable-pip-version-check",
                    "--dest",
                    str(partial),
                    str(mlci_wheel),
                    "hatchling>=1.21",  # the build backend, for installs from a source tree
                ],
                check=True,
                capture_output=True,
            )
            partial.rename(house)
    return house
