"""The fuzz harness: run one hostile input through one command and judge the outcome.

A *surface* is a command that reads a file (config, schema, results, profile,
registry metadata, event payload ...). It knows how to lay out a small project
around the hostile file and which ``mlci`` argv reads it. `run_surface` runs the
command in-process (``mlci.cli.main``) and asserts the promises of issue "bad
input never crashes, hangs or misleads":

- no exit 3 (a bug) and no traceback in the output;
- no hang: the case runs under a time limit (``MLCI_FUZZ_CASE_SECONDS``, default 20);
- memory: the process's peak resident memory grows by less than
  ``MLCI_FUZZ_CASE_MB`` (default 512) while the case runs.

To add a surface, write a function ``setup(root, hostile) -> argv`` and list it in
`SURFACES`; its corpus lives in ``tests/fuzz/corpus/<surface>/``. Special files
(a FIFO, a directory, a link to ``/dev/zero``) are made by `place_special`, since
git cannot hold them.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import resource
import signal
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

CORPUS = Path(__file__).parent / "corpus"
SPECIALS = ("fifo", "directory", "dev-zero-link", "missing")

CASE_SECONDS = float(os.environ.get("MLCI_FUZZ_CASE_SECONDS", "20"))
CASE_MB = int(os.environ.get("MLCI_FUZZ_CASE_MB", "512"))

MINIMAL_CONFIG = (
    "version: 1\ntask: classification\n"
    "data:\n  current: current.csv\n  target: target\n  schema: schema.yaml\n"
    "registry:\n  backend: local\n  path: registry\n"
)
CURRENT_CSV = "a,b,target\n1,x,0\n2,y,1\n3,x,0\n4,y,1\n"
SCHEMA = (
    "version: 1\ncolumns:\n"
    "  a: {type: int}\n  b: {type: category, domain: [x, y]}\n  target: {type: int}\n"
)
GOOD_ENVELOPE = {"schema_version": 1, "passed": True, "findings": [], "provenance": {}}


class Hang(Exception):
    """The case ran past its time limit."""


@dataclass
class Outcome:
    """What one case did."""

    code: int | None
    out: str
    err: str
    seconds_limit_hit: bool = False
    grew_mb: float = 0.0

    def problems(self) -> list[str]:
        """Every broken promise, as text (empty: the case held)."""
        found = []
        if self.seconds_limit_hit:
            found.append(f"hang: still running after {CASE_SECONDS:g} s")
        if self.code == 3:
            found.append("exit 3 (internal error)")
        if self.code not in (0, 1, 2, 3, None):
            found.append(f"unexpected exit code {self.code}")
        if "Traceback" in self.err or "Traceback" in self.out:
            found.append("a traceback was printed")
        if self.grew_mb > CASE_MB:
            found.append(f"peak memory grew by {self.grew_mb:.0f} MB (limit {CASE_MB})")
        return found


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    def on_alarm(_signum: int, _frame: object) -> None:
        raise Hang

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _peak_mb() -> float:
    # ru_maxrss is in KiB on Linux (bytes on macOS, where this only over-reports).
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_main(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> Outcome:
    """Run ``mlci ARGV`` in-process in ``cwd``, under the time limit, capturing the output."""
    from mlci.cli import main

    out, err = io.StringIO(), io.StringIO()
    old_cwd = Path.cwd()
    saved = {k: os.environ.get(k) for k in (env or {})}
    os.environ.update(env or {})
    before = _peak_mb()
    code: int | None = None
    hung = False
    try:
        os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            with _time_limit(CASE_SECONDS):
                try:
                    code = main(argv)
                except SystemExit as exc:  # argparse usage errors
                    code = exc.code if isinstance(exc.code, int) else 2
    except Hang:
        hung = True
    finally:
        os.chdir(old_cwd)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return Outcome(code, out.getvalue(), err.getvalue(), hung, _peak_mb() - before)


def place_special(path: Path, kind: str) -> None:
    """Make ``path`` a FIFO, a directory, a link to /dev/zero, or leave it missing."""
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    elif kind == "dev-zero-link":
        path.symlink_to("/dev/zero")
    elif kind != "missing":
        raise ValueError(kind)


Hostile = bytes | str  # bytes: the file's content; str: one of SPECIALS


def _write(path: Path, hostile: Hostile) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(hostile, bytes):
        path.write_bytes(hostile)
    else:
        place_special(path, hostile)


def _project(root: Path) -> None:
    (root / "mlci.yaml").write_text(MINIMAL_CONFIG)
    (root / "current.csv").write_text(CURRENT_CSV)
    (root / "schema.yaml").write_text(SCHEMA)


# -- surfaces: how each command meets its hostile file -----------------------------------------


def _config(root: Path, hostile: Hostile) -> list[str]:
    _write(root / "mlci.yaml", hostile)
    return ["config", "check", "mlci.yaml"]


def _schema(root: Path, hostile: Hostile) -> list[str]:
    _project(root)
    (root / "schema.yaml").unlink()
    _write(root / "schema.yaml", hostile)
    return ["validate-data", "--no-drift", "--results", "out"]


def _results(root: Path, hostile: Hostile) -> list[str]:
    _write(root / "results" / "data.json", hostile)
    return ["report", "--results", "results", "-q"]


def _model_results(root: Path, hostile: Hostile) -> list[str]:
    _write(root / "results" / "model.json", hostile)
    return ["report", "--results", "results", "-q"]


def _jsonl_data(root: Path, hostile: Hostile) -> list[str]:
    _project(root)
    (root / "mlci.yaml").write_text(MINIMAL_CONFIG.replace("current.csv", "current.jsonl"))
    _write(root / "current.jsonl", hostile)
    return ["validate-data", "--no-drift", "--results", "out"]


def _profile(root: Path, hostile: Hostile) -> list[str]:
    _project(root)
    _write(root / "reference.json", hostile)
    return ["validate-data", "--reference-profile", "reference.json", "--results", "out"]


def _registry_metadata(root: Path, hostile: Hostile) -> list[str]:
    _project(root)
    version = root / "registry" / "versions" / "v1"
    version.mkdir(parents=True)
    (version / "model.skops").write_bytes(b"not a model")
    _write(version / "metadata.json", hostile)
    (root / "registry" / "state.json").write_text(
        json.dumps({"schema_version": 1, "aliases": {"production": 1}, "history": []})
    )
    return ["registry", "pull", "production", "-o", "pulled"]


def _registry_state(root: Path, hostile: Hostile) -> list[str]:
    _project(root)
    (root / "registry").mkdir()
    _write(root / "registry" / "state.json", hostile)
    return ["rollback"]


def _event_payload(root: Path, hostile: Hostile) -> list[str]:
    _write(root / "results" / "data.json", json.dumps({**GOOD_ENVELOPE, "kind": "data"}).encode())
    _write(root / "event.json", hostile)
    # The check run's commit comes from the event; with none found the command stops
    # (exit 2) before any request. The API URL is a closed port all the same.
    return ["report", "--results", "results", "-q", "--check-run", "--repo", "octo/repo"]


@dataclass(frozen=True)
class Surface:
    """A command reading one kind of file."""

    setup: Callable[[Path, Hostile], list[str]]
    env: Callable[[Path], dict[str, str]] | None = None


SURFACES: dict[str, Surface] = {
    "config": Surface(_config),
    "schema": Surface(_schema),
    "results": Surface(_results),
    "model-results": Surface(_model_results),
    "jsonl-data": Surface(_jsonl_data),
    "profile": Surface(_profile),
    "registry-metadata": Surface(_registry_metadata),
    "registry-state": Surface(_registry_state),
    "event": Surface(
        _event_payload,
        env=lambda root: {
            "GITHUB_EVENT_PATH": str(root / "event.json"),
            "GITHUB_TOKEN": "fuzz-token",
            "GITHUB_API_URL": "http://127.0.0.1:9",
            "GITHUB_SHA": "",
        },
    ),
}

# Which corpus folder feeds which surfaces (a folder may feed several).
CORPUS_FEEDS: dict[str, tuple[str, ...]] = {
    "yaml": ("config", "schema"),
    "json": (
        "results",
        "model-results",
        "profile",
        "registry-metadata",
        "registry-state",
        "event",
        "jsonl-data",
    ),
    "jsonl": ("jsonl-data",),
    "config": ("config",),
    "schema": ("schema",),
    "results": ("results", "model-results"),
    "profile": ("profile",),
    "registry": ("registry-metadata",),
    "event": ("event",),
}


def corpus_cases() -> list[tuple[str, str, Path]]:
    """(surface, case id, file) for every corpus file and every surface it feeds."""
    cases = []
    for folder, surfaces in sorted(CORPUS_FEEDS.items()):
        for path in sorted((CORPUS / folder).glob("*")):
            if path.name.startswith(".") or path.name == "README.md":
                continue
            for surface in surfaces:
                cases.append((surface, f"{surface}:{folder}/{path.name}", path))
    return cases


def run_surface(surface: str, hostile: Hostile, root: Path) -> Outcome:
    """Lay out the project for ``surface`` with ``hostile`` in ``root`` and run the command."""
    root.mkdir(parents=True, exist_ok=True)
    spec = SURFACES[surface]
    argv = spec.setup(root, hostile)
    env = {"GITHUB_ACTIONS": "", **(spec.env(root) if spec.env else {})}
    return run_main(argv, root, env)


def python_exe() -> str:
    """The interpreter running the tests (for subprocess cases)."""
    return sys.executable
