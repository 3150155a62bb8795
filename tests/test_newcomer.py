"""A newcomer's path, from the built wheel: `mlci demo` in an empty folder, then
`mlci init --yes` in a fresh repository with the example's data, and the generated
workflows pass the linters."""

from __future__ import annotations

import os
import subprocess
import sysconfig
import venv
from pathlib import Path

import pytest

from tests.act.harness import git_repo
from tests.helpers import find_tool


@pytest.fixture(scope="module")
def wheel_env(tmp_path_factory: pytest.TempPathFactory, mlci_wheel: Path) -> Path:
    """A fresh virtual environment with mlci installed from its wheel.

    The heavy dependencies (pandas, scikit-learn, onnxruntime ...) are taken from the
    test environment through a path entry instead of being downloaded again; mlci
    itself comes only from the wheel (the environment's own site-packages come first).
    """
    base = tmp_path_factory.mktemp("newcomer")
    wheel = mlci_wheel
    env_dir = base / "venv"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    site = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(site, "test-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [str(py), "-m", "pip", "install", "-q", "--no-deps", str(wheel)],
        check=True,
        capture_output=True,
    )
    return env_dir


def _run(env_dir: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{env_dir / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(
        [str(env_dir / "bin" / "mlci"), *args],
        cwd=cwd,
        env=env,
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

    empty = tmp_path / "empty"
    empty.mkdir()
    demo = _run(wheel_env, "demo", cwd=empty)
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    assert "pull request #1" in demo.stdout and ": blessed\n" in demo.stdout
    assert (empty / "mlci-demo" / "mlci-results-pr2" / "report.html").is_file()

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
