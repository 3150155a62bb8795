"""proc: the one process runner (user commands, captured and streamed runs, git)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mlci.proc import CommandTimeout, git, run_captured, run_streaming, run_user_command, user_env


def test_a_user_command_sees_the_running_interpreter_first_on_path(tmp_path: Path) -> None:
    env = user_env({"PATH": "/nowhere"}, MLCI_X="1")
    assert env["PATH"].split(":")[0] == str(Path(sys.executable).parent)
    assert env["MLCI_X"] == "1"
    code = run_user_command(
        "python -c \"import os, sys; open('out', 'w').write(sys.executable + os.environ['MLCI_X'])\"",
        cwd=tmp_path,
        env=env,
    )
    assert code == 0
    written = (tmp_path / "out").read_text()
    assert written.endswith("1") and Path(written[:-1]).parent == Path(sys.executable).parent


def test_exit_codes_and_timeouts(tmp_path: Path) -> None:
    assert run_user_command("exit 4", cwd=tmp_path) == 4
    with pytest.raises(CommandTimeout):
        run_user_command("sleep 5", cwd=tmp_path, timeout=0.2)


def test_captured_and_streamed_runs(tmp_path: Path) -> None:
    done = run_captured(
        [sys.executable, "-c", "import sys; sys.stderr.write('no'); exit(3)"], cwd=tmp_path
    )
    assert (done.code, done.stderr) == (3, "no")
    lines: list[str] = []
    code = run_streaming(
        [sys.executable, "-c", "print('a'); print('b')"], cwd=tmp_path, on_line=lines.append
    )
    assert (code, lines) == (0, ["a\n", "b\n"])


def test_git_outside_a_repository_is_unknown(tmp_path: Path) -> None:
    assert git("rev-parse", "HEAD", cwd=tmp_path) is None
