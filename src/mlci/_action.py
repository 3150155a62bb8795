"""The run step of mlci's composite actions: one CLI command, then the outputs and summary.

``python -m mlci._action`` reads its settings from ``MLCI_*`` environment variables
(the actions pass every input through ``env:``), runs one ``mlci`` command in a
subprocess and then, whatever happened, writes the outputs ``passed``,
``exit-code``, ``results-path``, ``report-path`` and (for model commands)
``blessed``, with paths relative to the workspace. When the command wrote no step
summary of its own, a short one with the tail of its output is added.
"""

from __future__ import annotations

import argparse
import html
import os
import sys
from collections import deque
from collections.abc import Mapping
from pathlib import Path

from mlci.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, MlciError
from mlci.github.runtime import Runtime

__all__ = ["COMMANDS", "COMMON_OUTPUTS", "COMMAND_OUTPUTS", "build_argv", "main", "outputs_of"]

#: Action command -> the words of the mlci command line.
COMMANDS: dict[str, tuple[str, ...]] = {
    "validate-data": ("validate-data",),
    "validate-model": ("validate-model",),
    "report": ("report",),
    "deploy": ("deploy",),
    "retrain": ("retrain",),
    "monitor": ("monitor",),
    "test": ("test",),
    "config-check": ("config", "check"),
}
_MODEL_COMMANDS = {"validate-model", "deploy", "retrain"}
#: The outputs every action writes, whatever happened.
COMMON_OUTPUTS = ("passed", "exit-code", "results-path", "report-path")
#: The outputs a command adds: written by the command when it gets that far, and
#: written empty by `main` when it stopped before (so every declared output is set).
COMMAND_OUTPUTS: dict[str, tuple[str, ...]] = {
    "validate-data": (),
    "validate-model": ("blessed",),
    "report": ("state", "comment-url"),
    "deploy": ("blessed", "deployed", "version", "status"),
    "retrain": ("blessed", "outcome", "pull-request"),
    "monitor": ("problems",),
    "config-check": (),
}


def outputs_of(command: str) -> tuple[str, ...]:
    """Every output the action of ``command`` declares (and `main` writes)."""
    return COMMON_OUTPUTS + COMMAND_OUTPUTS.get(command, ())


def _written(rt: Runtime) -> set[str]:
    path = rt.output_path
    if not path or not Path(path).is_file():
        return set()
    names: set[str] = set()
    delimiter = None
    for line in Path(path).read_text(encoding="utf-8", errors="replace").splitlines():
        if delimiter is not None:
            if line == delimiter:
                delimiter = None
            continue
        name, sep, rest = line.partition("<<")
        if sep and "=" not in name:
            names.add(name)
            delimiter = rest
            continue
        names.add(line.partition("=")[0])
    return names


_TAIL_LINES = 40


def _subparser(words: tuple[str, ...]) -> argparse.ArgumentParser | None:
    from mlci.cli import build_parser

    parser: argparse.ArgumentParser | None = build_parser()
    for word in words:
        if parser is None:
            return None
        actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        parser = actions[0].choices.get(word) if actions else None
    return parser


def _accepts(parser: argparse.ArgumentParser, option: str) -> bool:
    return any(option in a.option_strings for a in parser._actions)


def _true(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def build_argv(command: str, env: Mapping[str, str]) -> list[str]:
    """The ``mlci`` arguments for an action ``command`` and its ``MLCI_*`` settings.

    Options the installed mlci does not offer for that command are left out, so
    the actions work with every command as it grows.

    Raises:
        MlciError: when the command is unknown or this mlci does not have it yet.
    """
    words = COMMANDS.get(command)
    if words is None:
        raise MlciError(
            f"input command: unknown command {command!r}; use one of {', '.join(COMMANDS)}"
        )
    parser = _subparser(words)
    if parser is None:
        from mlci import __version__

        raise MlciError(
            f"input command: mlci {__version__} has no `mlci {' '.join(words)}` command yet;"
            " pin a newer mlci release in the workflow"
        )
    config = env.get("MLCI_CONFIG") or "mlci.yaml"
    results = env.get("MLCI_RESULTS") or "mlci-results"
    argv = list(words)
    if command == "config-check":
        return [*argv, config]
    if _accepts(parser, "--config"):
        argv += ["--config", config]
    if _accepts(parser, "--results"):
        argv += ["--results", results]
    if _true(env.get("MLCI_POST")) and _accepts(parser, "--post"):
        argv.append("--post")
    for variable, options in (
        ("MLCI_PR_NUMBER", ("--pr", "--pr-number")),
        ("MLCI_HEAD_SHA", ("--head-sha", "--sha")),
        ("MLCI_REGISTRY_TAG_PREFIX", ("--registry-tag-prefix",)),
    ):
        value = (env.get(variable) or "").strip()
        option = next((o for o in options if _accepts(parser, o)), None)
        if value and option:
            argv += [option, value]
    return argv


def _blessed(results: Path) -> str:
    from mlci.results import read_model_results

    try:
        document = read_model_results(results / "model.json")
    except (MlciError, OSError):
        return "false"
    blessed = document.blessing is not None and document.blessing.blessed
    return "true" if blessed else "false"


def _summary_size(rt: Runtime) -> int:
    path = rt.step_summary_path
    return Path(path).stat().st_size if path and Path(path).exists() else 0


def _run(argv: list[str], cwd: Path, rt: Runtime) -> tuple[int, list[str]]:
    """Run ``mlci argv``, echoing its output; return the exit code and the last lines."""
    from mlci.proc import run_streaming

    tail: deque[str] = deque(maxlen=_TAIL_LINES)

    def echo(line: str) -> None:
        rt.stream.write(line)
        tail.append(line.rstrip("\n"))

    code = run_streaming([sys.executable, "-m", "mlci", *argv], cwd=cwd, on_line=echo)
    rt.stream.flush()
    return code, list(tail)


def _summary(command: str, argv: list[str], code: int, tail: list[str]) -> str:
    verdict = {EXIT_OK: "passed", EXIT_FAILED: "a gate failed"}.get(code, f"error (exit {code})")
    icon = "✅" if code == EXIT_OK else "❌"
    lines = [f"### {icon} mlci {html.escape(command)}: {verdict}", ""]
    lines.append(f"`mlci {html.escape(' '.join(argv))}` exited with {code}.")
    if tail:
        body = html.escape("\n".join(tail))
        lines += [
            "",
            "<details><summary>Output</summary>",
            "",
            f"<pre>{body}</pre>",
            "",
            "</details>",
        ]
    return "\n".join(lines) + "\n"


def main(env: Mapping[str, str] | None = None) -> int:
    """Run the action's command and write its outputs; return the step's exit code."""
    env = os.environ if env is None else env
    rt = Runtime(env)
    command = (env.get("MLCI_COMMAND") or "").strip()
    workdir = Path(env.get("MLCI_WORKING_DIRECTORY") or ".")
    results = workdir / (env.get("MLCI_RESULTS") or "mlci-results")
    code = EXIT_USAGE
    argv: list[str] = []
    tail: list[str] = []
    before = _summary_size(rt)
    try:
        argv = build_argv(command, env)
        code, tail = _run(argv, workdir, rt)
    except MlciError as exc:
        rt.error(exc.message)
        tail = [exc.message]
    except OSError as exc:
        rt.error(f"cannot run mlci in {workdir}: {exc}; check the input working-directory")
        tail = [str(exc)]
    finally:
        rt.set_output("passed", "true" if code == EXIT_OK else "false")
        rt.set_output("exit-code", str(code))
        rt.set_output("results-path", rt.workspace_path(results))
        report = next(
            (p for p in (results / "report.md", results / "report.html") if p.is_file()), None
        )
        rt.set_output("report-path", rt.workspace_path(report) if report else "")
        if command in _MODEL_COMMANDS:
            rt.set_output("blessed", _blessed(results))
        written = _written(rt)
        for name in COMMAND_OUTPUTS.get(command, ()):
            if name not in written:
                rt.set_output(name, "")
        if _summary_size(rt) == before:
            rt.summary(_summary(command, argv, code, tail))
    if code == EXIT_FAILED and not _true(env.get("MLCI_FAIL_ON_GATE") or "true"):
        rt.warning(f"mlci {command}: a gate failed; the step continues (fail-on-gate is false)")
        return EXIT_OK
    return code


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
