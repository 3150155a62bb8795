"""scripts/install-mlci.sh on a Python that pip may not install into (PEP 668).

A self-hosted runner often has only the system Python, marked EXTERNALLY-MANAGED: pip
refuses to install into it. The action's install script must then make a virtual
environment that sees the system's packages (``--system-site-packages``), install mlci
there, put it first on ``PATH`` for the later steps (the train command included), name it
in the step output ``python``, and leave the system Python untouched. The act runs cover
the other path (a Python set up by the workflow); this test runs the script itself on the
host's system Python, the way the action's first step runs it.

pip installs mlci without its dependencies here (``PIP_NO_DEPS``, with the build backend
given on ``PYTHONPATH`` since that setting also reaches pip's isolated build environment):
what is checked is where the script installs and what it hands to the later steps;
installing the dependencies is the same ``pip install`` command the act runs exercise in
full.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.act.harness import mlci_tree

REPO_ROOT = Path(__file__).resolve().parents[1]
SCRIPT = REPO_ROOT / "scripts" / "install-mlci.sh"

_PROBE = (
    "import os, sys, sysconfig;"
    " managed = os.path.isfile(os.path.join(sysconfig.get_paths()['stdlib'], 'EXTERNALLY-MANAGED'));"
    " print(managed and sys.prefix == sys.base_prefix)"
)


def _managed_python() -> str | None:
    """A system Python on this host that is marked EXTERNALLY-MANAGED, if there is one."""
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3", "/bin/python3"):
        if not Path(candidate).is_file():
            continue
        probe = subprocess.run(
            [candidate, "-c", _PROBE], capture_output=True, text=True, check=False
        )
        if probe.returncode == 0 and probe.stdout.strip() == "True":
            has_venv = subprocess.run(
                [candidate, "-c", "import ensurepip, venv"], capture_output=True, check=False
            )
            if has_venv.returncode == 0:
                return candidate
    return None


MANAGED = _managed_python()


def _build_backend(dest: Path, wheelhouse: Path) -> Path:
    """hatchling and what it needs, in a folder for ``PYTHONPATH`` (from the wheelhouse)."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-index",
            "--find-links",
            str(wheelhouse),
            "--target",
            str(dest),
            "hatchling",
        ],
        check=True,
        capture_output=True,
    )
    return dest


def _run(
    tmp_path: Path, python: str, wheelhouse: Path, src: Path, backend: Path
) -> tuple[str, dict[str, str]]:
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir(exist_ok=True)
    output = tmp_path / "output"
    path_file = tmp_path / "path"
    output.write_text("", encoding="utf-8")
    path_file.write_text("", encoding="utf-8")
    bin_dir = Path(sys.executable).parent
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("VIRTUAL_ENV", "PYTHONPATH") and not k.startswith(("GITHUB_", "PIP_"))
    }
    env.update(
        PATH=os.pathsep.join(
            d for d in env.get("PATH", "").split(os.pathsep) if d and Path(d) != bin_dir
        ),
        MLCI_PYTHON=python,
        RUNNER_TEMP=str(runner_temp),
        GITHUB_OUTPUT=str(output),
        GITHUB_PATH=str(path_file),
        PIP_NO_INDEX="1",
        PIP_FIND_LINKS=str(wheelhouse),
        PIP_NO_DEPS="1",
        PIP_NO_BUILD_ISOLATION="0",  # pip's inverted spelling: no isolated build environment
        PYTHONPATH=str(backend),
        PIP_NO_COMPILE="1",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    done = subprocess.run(
        ["bash", str(SCRIPT), str(src)], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    outputs = dict(
        line.split("=", 1)
        for line in output.read_text(encoding="utf-8").splitlines()
        if "=" in line
    )
    return done.stdout + path_file.read_text(encoding="utf-8"), outputs


@pytest.mark.slow
@pytest.mark.skipif(MANAGED is None, reason="this host has no EXTERNALLY-MANAGED system Python")
def test_a_system_python_gets_a_venv_that_sees_its_packages(
    tmp_path: Path, wheelhouse: Path
) -> None:
    assert MANAGED is not None
    src = mlci_tree(tmp_path / "action")
    backend = _build_backend(tmp_path / "backend", wheelhouse)
    before = subprocess.run(
        [MANAGED, "-c", "import mlci"], capture_output=True, check=False
    ).returncode

    log, outputs = _run(tmp_path, MANAGED, wheelhouse, src, backend)
    venv = tmp_path / "runner-temp" / "mlci-venv"
    assert outputs == {"python": str(venv / "bin" / "python")}
    assert f"{venv / 'bin'}\n" in log  # GITHUB_PATH: later steps run this Python
    assert "is managed by the system; installing into" in log
    cfg = (venv / "pyvenv.cfg").read_text(encoding="utf-8")
    assert "include-system-site-packages = true" in cfg
    version = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "mlci", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert version.stdout.startswith("mlci ")
    # The venv sees what the system Python has (here: its standard site folder).
    paths = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import sys; print('\\n'.join(sys.path))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    system_site = subprocess.run(
        [MANAGED, "-c", "import site; print('\\n'.join(site.getsitepackages()))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert any(p in paths for p in system_site), (paths, system_site)
    # The system Python is left as it was.
    after = subprocess.run([MANAGED, "-c", "import mlci"], capture_output=True, check=False)
    assert after.returncode == before

    # A later run (the next job on a self-hosted runner) finds mlci there and reuses it.
    log, again = _run(tmp_path, MANAGED, wheelhouse, src, backend)
    assert again == outputs
    assert "Installing mlci" not in log and "is managed by the system" not in log
