"""`mlci run pr|deploy|retrain|monitor`: a workflow's pipeline, run locally.

Each pipeline is the list of steps its generated workflow runs, and each step is
the very `mlci` command the workflow's action calls (run in-process through
`mlci.cli.main`) or the user's own train command. So a local run and a run on
GitHub cannot drift apart: they share the commands, the results files and the
report. Off GitHub nothing is posted: the report is printed and written as
Markdown and HTML beside the results, and the registry is the local one.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from mlci.config import Config, find_config, load_config
from mlci.errors import EXIT_FAILED, EXIT_OK, InputError
from mlci.github.runtime import Runtime

__all__ = ["PIPELINES", "StepResult", "run_pipeline"]

Pipeline = Literal["pr", "deploy", "retrain", "monitor"]
PIPELINES: tuple[Pipeline, ...] = ("pr", "deploy", "retrain", "monitor")


@dataclass(frozen=True)
class StepResult:
    """How one step ended."""

    name: str
    code: int
    seconds: float
    skipped: str | None = None


@dataclass(frozen=True)
class _Step:
    name: str
    argv: tuple[str, ...] = ()
    shell: str | None = None
    skip: str | None = None


def _steps(pipeline: Pipeline, cfg: Config, config: Path, results: Path) -> list[_Step]:
    common = ("--config", str(config), "--results", str(results))
    has_data = cfg.data.current is not None or cfg.data.reference is not None
    no_data = None if has_data else "no data.current or data.reference in mlci.yaml"
    if pipeline == "pr":
        return [
            _Step("check config", ("config", "check", str(config))),
            _Step("validate data", ("validate-data", *common), skip=no_data),
            _Step(
                "train",
                shell=cfg.model.train_command,
                skip=None if cfg.model.train_command else "no model.train_command in mlci.yaml",
            ),
            _Step("validate model", ("validate-model", *common)),
            _Step("report", ("report", "--results", str(results), "--output-dir", str(results))),
        ]
    if pipeline == "deploy":
        return [
            _Step("check config", ("config", "check", str(config))),
            _Step("deploy", ("deploy", *common, "--registry", "local")),
        ]
    if pipeline == "retrain":
        return [
            _Step("check config", ("config", "check", str(config))),
            _Step("retrain", ("retrain", *common)),
        ]
    return [
        _Step("check config", ("config", "check", str(config))),
        _Step("monitor", ("monitor", *common)),
    ]


def _run_shell(command: str, cwd: Path) -> int:
    # `python` in the user's command means the interpreter mlci runs on (its virtual
    # environment), as it does after actions/setup-python in the workflow.
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    try:
        # The user's own command, as the workflow's `run:` step would run it.
        return subprocess.run(command, shell=True, cwd=cwd, env=env, check=False).returncode
    except OSError as exc:
        raise InputError(
            f"model.train_command {command!r} could not start ({exc.strerror});"
            " check the command in mlci.yaml"
        ) from None


def run_pipeline(
    pipeline: Pipeline,
    *,
    config_path: Path | None,
    results_dir: Path | None,
    runtime: Runtime,
    cli: Callable[[Sequence[str]], int] | None = None,
) -> tuple[int, list[StepResult]]:
    """Run the steps of ``pipeline`` in order, showing progress and durations.

    A step that fails a gate (exit 1) does not stop the pipeline, so the report
    still shows everything; a usage error or a bug (exit 2 or 3) stops it.

    Args:
        pipeline: Which workflow to reproduce.
        config_path: The mlci.yaml (default ./mlci.yaml).
        results_dir: Where results go (default: mlci-results/ beside mlci.yaml).
        runtime: Where progress goes.
        cli: The command entry point (default `mlci.cli.main`).

    Returns:
        The exit code (the worst of the steps) and each step's result.
    """
    if cli is None:
        from mlci.cli import main

        cli = main
    config = find_config(config_path)
    cfg = load_config(config)
    results = results_dir or (cfg.root / "mlci-results")
    steps = _steps(pipeline, cfg, config, results)
    # Off GitHub the registry is the local one, whatever mlci.yaml says for the workflows.
    previous = os.environ.get("MLCI_REGISTRY")
    os.environ["MLCI_REGISTRY"] = "local"
    try:
        return _run_steps(steps, cfg, cli, runtime)
    finally:
        if previous is None:
            os.environ.pop("MLCI_REGISTRY", None)
        else:
            os.environ["MLCI_REGISTRY"] = previous


def _run_steps(
    steps: list[_Step],
    cfg: Config,
    cli: Callable[[Sequence[str]], int],
    runtime: Runtime,
) -> tuple[int, list[StepResult]]:
    outcome: list[StepResult] = []
    worst = EXIT_OK
    for number, step in enumerate(steps, start=1):
        title = f"[{number}/{len(steps)}] {step.name}"
        if step.skip:
            runtime.info(f"{title}: skipped ({step.skip})")
            outcome.append(StepResult(step.name, EXIT_OK, 0.0, step.skip))
            continue
        shown = step.shell if step.shell else "mlci " + " ".join(step.argv)
        runtime.info(f"{title}: {shown}")
        start = time.perf_counter()
        code = _run_shell(step.shell, cfg.root) if step.shell else cli(list(step.argv))
        seconds = time.perf_counter() - start
        if step.shell and code != 0:
            raise InputError(
                f"model.train_command {step.shell!r} failed with exit code {code}"
                f" after {seconds:.1f} s; its output is above: fix the training code or the"
                " command in mlci.yaml"
            )
        verdict = {0: "ok", 1: "failed a gate"}.get(code, f"stopped (exit {code})")
        runtime.info(f"{title}: {verdict} in {seconds:.1f} s")
        outcome.append(StepResult(step.name, code, seconds))
        if code > EXIT_FAILED:
            return code, outcome
        worst = max(worst, code)
    return worst, outcome
