"""A newcomer's path, from the built wheel installed with its dependencies into a virtual
environment that sees nothing else: `mlci demo` in an empty folder (its deploys serve the
model for the smoke test), then `mlci init --yes` in a fresh repository with the
example's data, and the generated workflows pass the linters. The environment is the
``wheel_env`` fixture (tests/conftest.py): the wheel and its dependencies installed with
pip into a virtual environment that sees nothing else."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.act.harness import git_repo
from tests.helpers import find_tool


def _env(env_dir: Path) -> dict[str, str]:
    """The host environment without the test virtualenv, with ``env_dir`` first on PATH."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PIP_USER")
    }
    test_bin = Path(sys.executable).parent
    path = [d for d in env.get("PATH", "").split(os.pathsep) if d and Path(d) != test_bin]
    env["PATH"] = os.pathsep.join([str(env_dir / "bin"), *path])
    return env


def _run(env_dir: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(env_dir / "bin" / "mlci"), *args],
        cwd=cwd,
        env=_env(env_dir),
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.slow
def test_demo_then_init_from_the_wheel(wheel_env: Path, tmp_path: Path) -> None:
    where = _run(wheel_env, "--version", cwd=tmp_path)
    assert where.returncode == 0 and where.stdout.startswith("mlci ")
    # mlci is the wheel's copy, not the checkout's.
    origin = subprocess.run(
        [str(wheel_env / "bin" / "python"), "-c", "import mlci; print(mlci.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert str(wheel_env) in origin
    # ... and so is everything it imports: the environment sees nothing else.
    isolated = subprocess.run(
        [
            str(wheel_env / "bin" / "python"),
            "-c",
            "import sys, pandas, sklearn, starlette, uvicorn;"
            " print([p for p in sys.path if 'site-packages' in p])",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        env=_env(wheel_env),
    ).stdout
    assert isolated.strip() == repr([str(next((wheel_env / "lib").glob("python3*/site-packages")))])

    empty = tmp_path / "empty"
    empty.mkdir()
    demo = _run(wheel_env, "demo", cwd=empty)
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    assert "pull request #1" in demo.stdout and ": blessed\n" in demo.stdout
    assert "mlci deploy: v1 is now production" in demo.stdout  # smoke test passed
    assert_demo_story(demo.stdout, (empty / "mlci-demo").resolve())

    # A fresh repository holding the example's data, adopted with `mlci init --yes`.
    demo_dir = empty / "mlci-demo"
    repo = git_repo(
        tmp_path / "repo",
        {
            "data/reference.csv": (demo_dir / "data" / "reference.csv").read_text(),
            "data/eval.csv": (demo_dir / "data" / "eval.csv").read_text(),
            "train.py": (demo_dir / "train.py").read_text(),
            "params.json": (demo_dir / "params.json").read_text(),
        },
    )
    init = _run(wheel_env, "init", "--yes", "--target", "target", cwd=repo)
    assert init.returncode == 0, init.stdout + init.stderr
    workflows = sorted((repo / ".github" / "workflows").glob("mlci-*.yml"))
    assert [w.name for w in workflows] == [
        "mlci-comment.yml",
        "mlci-deploy.yml",
        "mlci-pr.yml",
        "mlci-retrain.yml",
    ]
    check = _run(wheel_env, "config", "check", cwd=repo)
    assert check.returncode == 0, check.stderr
    zizmor = subprocess.run(
        [find_tool("zizmor"), "--offline", "--no-progress", *map(str, workflows)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert zizmor.returncode == 0, zizmor.stdout + zizmor.stderr
    schema = subprocess.run(
        [
            find_tool("check-jsonschema"),
            "--builtin-schema",
            "vendor.github-workflows",
            *map(str, workflows),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert schema.returncode == 0, schema.stdout + schema.stderr
    again = _run(wheel_env, "init", "--check", cwd=repo)
    assert again.returncode == 0, again.stdout + again.stderr


def assert_demo_story(out: str, directory: Path) -> None:
    """What `mlci demo` printed and left behind tell the whole story."""
    assert "mlci deploy: v1 is now production" in out
    summary = out[out.rindex("summary\n") :]
    assert "pull request #1: weaker regularization (C 0.002 -> 1.0): blessed\n" in summary
    assert (
        "pull request #2: a new data source and an over-regularized model (C 0.0003): blocked\n"
        in summary
    )
    assert "unexpected" not in summary
    assert "mlci deploy: v2 is now production" in out
    # Each pull request step shows its progress and duration.
    assert re.search(r"\[2/5\] validate data: ok in \d+\.\d s", out)
    assert re.search(r"\[4/5\] validate model: failed a gate in \d+\.\d s", out)
    for number, verdict in ((1, True), (2, False)):
        results = directory / f"mlci-results-pr{number}"
        model = json.loads((results / "model.json").read_text())
        assert model["blessing"]["blessed"] is verdict
        data = json.loads((results / "data.json").read_text())
        assert data["passed"] is verdict
        assert (results / "report.md").read_text().startswith("## ")
        html = (results / "report.html").read_text()
        assert html.lstrip().lower().startswith("<!doctype html>")
        assert f"full report: {results / 'report.html'}" in out
    data2 = json.loads((directory / "mlci-results-pr2" / "data.json").read_text())
    codes = {(f["check"], f.get("column")) for f in data2["findings"]}
    assert ("null_fraction", "mean_smoothness") in codes
    assert ("drift", "mean_texture") in codes
