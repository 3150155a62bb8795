"""Fixtures shared by every test module."""

from __future__ import annotations

import shutil
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

    A marker beside ``folder``, written when the maker's block ends without an error,
    says it is complete: a worker that failed half way leaves no marker, and the next
    one makes ``folder`` again (the makers clear what they find).
    """
    import fcntl

    folder.parent.mkdir(parents=True, exist_ok=True)
    done = folder.with_name(folder.name + ".done")
    with folder.with_name(folder.name + ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            missing = not done.exists()
            yield missing
            if missing:
                done.touch()
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
            shutil.rmtree(partial, ignore_errors=True)
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
            shutil.rmtree(partial, ignore_errors=True)
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


@pytest.fixture(scope="session")
def bare_python_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One bare virtual environment (pip and nothing else) per run, shared by all workers.

    `tests.act.harness.bare_python` copies it for every runner or fresh environment a
    test needs, instead of running ``venv`` and ``ensurepip`` again each time.
    """
    from tests.act.harness import bare_python

    template = _shared_dir(tmp_path_factory, "bare-python")
    with _once(template) as missing:
        if missing:
            bare_python(template)
    return template


@pytest.fixture(scope="session")
def wheel_env(
    tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path, bare_python_template: Path
) -> Path:
    """A fresh virtual environment with mlci installed from its wheel, dependencies included.

    It sees nothing else: no system site packages, no path entry into the test
    environment; pip installs the wheel and what it needs from the run's wheelhouse
    (no index), as `pip install mlci` would from PyPI. Made once per run; the tests
    that use it (the newcomer's path, the templates of an installed copy) only read it.
    """
    import subprocess

    from tests.act.harness import bare_python, clean_env

    env_dir = _shared_dir(tmp_path_factory, "wheel-env")
    with _once(env_dir) as missing:
        if missing:
            bare_python(env_dir, template=bare_python_template)
            (wheel,) = wheelhouse.glob("mlci-*.whl")
            subprocess.run(
                [
                    str(env_dir / "bin" / "python"),
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "--no-index",
                    "--no-compile",
                    "--find-links",
                    str(wheelhouse),
                    str(wheel),
                ],
                check=True,
                capture_output=True,
                env=clean_env(),
            )
    return env_dir
