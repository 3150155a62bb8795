"""Every subprocess mlci starts: the user's commands, Python scripts, mlci itself, and git.

One policy, decided here:

- A user's command (``model.train_command``, ``retrain.data_command``,
  ``deploy.command``) runs in a shell in the project directory, as a workflow's
  ``run:`` step would, with the interpreter mlci runs on first on ``PATH`` (so
  ``python`` means that interpreter, as after ``actions/setup-python``). Its output
  goes straight to the terminal. A timeout applies when the caller gives one
  (``deploy.command``: one hour); training and data commands are bounded by the
  job's ``timeout-minutes`` instead, since hours of training are normal.
- git runs with a 10-second timeout; any failure (git missing, not a repository)
  reads as "unknown" (None), never as an error.
- A worker of mlci's own (the prediction log's writer) is this interpreter running
  mlci code, in a session of its own (a ^C at the terminal reaches only the service,
  which then stops its workers in order), its output to nowhere and its errors to the
  service's; stopping it waits for it and kills it only when it does not end.

Callers turn ``OSError`` (the command could not start) and `CommandTimeout` into a
message that names their config key.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "GIT_TIMEOUT_S",
    "CommandTimeout",
    "Captured",
    "Worker",
    "git",
    "run_captured",
    "run_streaming",
    "run_user_command",
    "start_worker",
    "stop_worker",
    "user_env",
]

#: A started worker process.
Worker = subprocess.Popen

GIT_TIMEOUT_S = 10.0


class CommandTimeout(TimeoutError):
    """A command ran longer than its timeout (it was killed)."""


@dataclass(frozen=True)
class Captured:
    """A finished process whose output was captured."""

    code: int
    stdout: str
    stderr: str


def user_env(base: Mapping[str, str] | None = None, **extra: str) -> dict[str, str]:
    """The environment of a user's command: ``base`` (default ``os.environ``) plus ``extra``.

    The directory of the running interpreter comes first on ``PATH``.
    """
    env = dict(os.environ if base is None else base)
    env.update(extra)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def run_user_command(
    command: str,
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> int:
    """Run a user's shell command as a workflow's ``run:`` step would; return its exit code.

    Args:
        command: The command line (a shell runs it).
        cwd: The project directory.
        env: The full environment (default: `user_env`).
        timeout: Seconds before it is killed (default: none).

    Raises:
        OSError: when the shell cannot start.
        CommandTimeout: when it runs longer than ``timeout``.
    """
    try:
        # The user's own command, as the workflow's `run:` step would run it.
        done = subprocess.run(  # noqa: S602
            command,
            shell=True,
            cwd=cwd,
            env=dict(env) if env is not None else user_env(),
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise CommandTimeout(f"{command!r} did not finish in {timeout:g} s") from None
    return done.returncode


def run_captured(argv: Sequence[str], *, cwd: Path) -> Captured:
    """Run ``argv`` (no shell) and capture its output as text.

    Raises:
        OSError: when the program cannot start.
    """
    done = subprocess.run(list(argv), cwd=cwd, capture_output=True, text=True, check=False)
    return Captured(done.returncode, done.stdout, done.stderr)


def run_streaming(argv: Sequence[str], *, cwd: Path, on_line: Callable[[str], None]) -> int:
    """Run ``argv`` (no shell), passing each line of its merged output to ``on_line``.

    Raises:
        OSError: when the program cannot start.
    """
    with subprocess.Popen(
        list(argv),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            on_line(line)
    return proc.returncode


def git(*args: str, cwd: Path | None = None) -> str | None:
    """The stripped output of ``git ARGS`` in ``cwd``, or None when git fails or is missing."""
    try:
        out = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return (out.stdout.strip() or None) if out.returncode == 0 else None


def start_worker(code: str, *, stdin: int, pass_fds: Sequence[int] = ()) -> Worker[bytes]:
    """Start this interpreter running ``code`` (mlci's own), fed on ``stdin``.

    Raises:
        OSError: when the process cannot start.
    """
    return subprocess.Popen(  # noqa: S603 - this interpreter and mlci's own code
        [sys.executable, "-c", code],
        stdin=stdin,
        stdout=subprocess.DEVNULL,  # a reader of the service's output waits for no one else
        pass_fds=tuple(pass_fds),
        start_new_session=True,
    )


def stop_worker(worker: Worker[bytes], timeout: float) -> None:
    """Wait up to ``timeout`` seconds for a worker to end, then kill it."""
    try:
        worker.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()
