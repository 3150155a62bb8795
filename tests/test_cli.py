"""The command line: help, version, dispatch, exit codes, start-up imports."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from mlci import __version__
from mlci.cli import build_parser, main
from mlci.error_handler import run_guarded
from mlci.errors import InputError, ValidationFailed

HEAVY = ("pandas", "sklearn", "onnxruntime", "pyarrow", "numpy", "scipy", "jinja2", "yaml")


def test_version(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"mlci {__version__}\n"


def test_help_lists_every_command_with_a_description(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    names = [choice.dest for choice in sub._choices_actions]
    assert "config" in names
    for action in sub._choices_actions:
        assert action.help, f"{action.dest} has no one-line description"
        assert action.dest in out


def test_no_command_prints_help(capsys) -> None:
    assert main([]) == 0
    assert "usage: mlci" in capsys.readouterr().out


def test_unknown_command_is_usage_error(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["frobnicate"])
    assert info.value.code == 2
    assert "invalid choice: 'frobnicate'" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--help"], ["--version"]])
def test_startup_imports_no_heavy_library(argv) -> None:
    code = (
        "import sys\nfrom mlci.cli import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
        "import json\nsys.stderr.write(json.dumps(sorted(sys.modules)))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    modules = set(json.loads(proc.stderr))
    assert not {m for m in modules if m.split(".")[0] in HEAVY}


def test_run_pipelines_match_the_parser() -> None:
    from mlci.pipelines.run import PIPELINES

    run = next(a for a in build_parser()._actions if a.dest == "command").choices["run"]
    (pipeline,) = [a for a in run._actions if a.dest == "pipeline"]
    assert tuple(pipeline.choices) == PIPELINES


def test_python_dash_m_smoke() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mlci", "--version"], capture_output=True, text=True, check=False
    )
    assert (proc.returncode, proc.stdout) == (0, f"mlci {__version__}\n")


def test_exit_codes_of_the_handler(capsys) -> None:
    def usage() -> int:
        raise InputError("data.csv: file not found; check the path")

    def gate() -> int:
        raise ValidationFailed("accuracy 0.71 is below the gate 0.80")

    def bug() -> int:
        raise ZeroDivisionError("division by zero")

    def interrupted() -> int:
        raise KeyboardInterrupt

    assert run_guarded(lambda: 0) == 0
    assert run_guarded(usage) == 2
    err = capsys.readouterr().err
    assert err == "mlci: error: data.csv: file not found; check the path\n"
    assert run_guarded(gate) == 1
    assert capsys.readouterr().err == "mlci: accuracy 0.71 is below the gate 0.80\n"
    assert run_guarded(interrupted) == 130
    capsys.readouterr()
    assert run_guarded(bug) == 3
    err = capsys.readouterr().err
    assert err.startswith(
        "mlci: internal error: ZeroDivisionError: division by zero\nThis is a bug in mlci"
    )
    assert "Traceback (most recent call last)" in err


def test_internal_error_under_actions_is_annotated(gh_env, capsys) -> None:
    def bug() -> int:
        raise RuntimeError("boom")

    assert run_guarded(bug) == 3
    captured = capsys.readouterr()
    assert "::error::mlci internal error (RuntimeError: boom); this is a bug" in captured.out


def test_usage_error_under_actions_points_at_file(gh_env, capsys) -> None:
    def usage() -> int:
        raise InputError("data.csv: header only; add rows", file="data.csv", line=1)

    assert run_guarded(usage) == 2
    assert (
        capsys.readouterr().out
        == "::error file=data.csv,line=1,title=mlci::data.csv: header only; add rows\n"
    )
