"""`mlci run pr|deploy|retrain|monitor`: a workflow's pipeline, run locally.

Each pipeline is the list of steps its generated workflow runs, and each step calls
the very pipeline function the workflow's `mlci` command calls (validate-data,
validate-model, report, deploy, retrain, monitor) or runs the user's own train
command. So a local run and a run on GitHub cannot drift apart: they share the
functions, the results files and the report. Off GitHub nothing is posted: the
report is printed and written as Markdown and HTML beside the results, and the
registry is the local one (passed to each step, not through the environment).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from mlci.config import Config, find_config, load_config
from mlci.errors import EXIT_FAILED, EXIT_OK, InputError
from mlci.github.runtime import Runtime

__all__ = ["LOCAL_REGISTRY", "PIPELINES", "StepResult", "deploy_locally", "run_pipeline"]

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
    shown: str = ""
    call: Callable[[], int] | None = None
    shell: str | None = None
    skip: str | None = None
    #: The config key of ``shell``, named when the command fails.
    shell_key: str = "model.train_command"
    #: Run only when this run's model.json says blessed (the workflow's
    #: ``if: steps.model.outputs.blessed == 'true'``).
    if_blessed: bool = False


#: A local run never touches a remote registry, whatever mlci.yaml says for the workflows.
LOCAL_REGISTRY = "local"


def _train_skip(cfg: Config) -> str | None:
    """Why the train step does not run (as the workflows' ``if:`` on it), or None."""
    from mlci.model.committed import RECORD_PATH, carried_model

    if not cfg.model.train_command:
        return "no model.train_command in mlci.yaml"
    if carried_model(cfg) is not None:
        return f"this commit carries a retrained model ({RECORD_PATH}): validated as committed"
    return None


def _steps(
    pipeline: Pipeline, cfg: Config, config: Path, results: Path, runtime: Runtime
) -> list[_Step]:
    common = f"--config {config} --results {results}"
    check = _Step(
        "check config",
        f"mlci config check {config}",
        lambda: _check_config(config, cfg, runtime),
    )
    if pipeline in ("pr", "deploy"):
        validate = _validation_steps(cfg, common, results, runtime)
        if pipeline == "pr":
            return [
                check,
                *validate,
                _Step(
                    "report",
                    f"mlci report --results {results} --output-dir {results}",
                    lambda: _report(results, runtime),
                ),
            ]
        # The steps of mlci-deploy.yml: validate again on the merged code, train, and
        # register and deploy only a model blessed in this very run (never stale results).
        return [
            check,
            *[s for s in validate if s.name != "test"],
            _Step(
                "deploy",
                f"mlci deploy {common} --registry {LOCAL_REGISTRY}",
                lambda: deploy_locally(cfg, results, runtime),
                if_blessed=True,
            ),
        ]
    if pipeline == "retrain":
        from mlci.pipelines.retrain import retrain

        return [
            check,
            _Step(
                "retrain",
                f"mlci retrain {common}",
                lambda: retrain(cfg, results_dir=results, runtime=runtime, backend=LOCAL_REGISTRY),
            ),
        ]
    return [check, *_monitor_steps(cfg, common, results, runtime)]


def _validation_steps(cfg: Config, common: str, results: Path, runtime: Runtime) -> list[_Step]:
    """Validate data, the project's tests (when it has some), train, validate model."""
    from mlci.error_handler import document_exit_code
    from mlci.pipelines.validate_data import validate_data
    from mlci.pipelines.validate_model import validate_model

    has_data = cfg.data.current is not None or cfg.data.reference is not None
    return [
        _Step(
            "validate data",
            f"mlci validate-data {common}",
            lambda: document_exit_code(validate_data(cfg, results_dir=results, runtime=runtime)),
            skip=None if has_data else "no data.current or data.reference in mlci.yaml",
        ),
        # Only listed when the project has tests, as in mlci-pr.yml.
        *(
            [_Step("test", f"mlci test {common}", lambda: _project_tests(cfg, results, runtime))]
            if cfg.ci.test_command
            else []
        ),
        _Step(
            "train",
            shell=cfg.model.train_command,
            skip=_train_skip(cfg),
        ),
        _Step(
            "validate model",
            f"mlci validate-model {common}",
            lambda: document_exit_code(
                validate_model(cfg, results_dir=results, runtime=runtime, backend=LOCAL_REGISTRY)
            ),
        ),
    ]


def _monitor_steps(cfg: Config, common: str, results: Path, runtime: Runtime) -> list[_Step]:
    """Bring production data (monitor.data_command), then monitor."""
    from mlci.pipelines.monitor import monitor

    return [
        _Step(
            "bring production data",
            shell=cfg.monitor.data_command,
            shell_key="monitor.data_command",
            skip=None if cfg.monitor.data_command else "no monitor.data_command in mlci.yaml",
        ),
        _Step(
            "monitor",
            f"mlci monitor {common}",
            lambda: monitor(
                cfg, current=None, results_dir=results, runtime=runtime, backend=LOCAL_REGISTRY
            ),
        ),
    ]


def _project_tests(cfg: Config, results: Path, runtime: Runtime) -> int:
    from mlci.pipelines.project_tests import run_project_tests

    return run_project_tests(cfg, results_dir=results, runtime=runtime)


def _check_config(path: Path, cfg: Config, runtime: Runtime) -> int:
    runtime.info(f"{path}: ok ({cfg.task}, registry {cfg.registry.backend})")
    return EXIT_OK


def _report(results: Path, runtime: Runtime) -> int:
    from mlci.pipelines.report import report

    outcome = report(results_dir=results, output_dir=results, runtime=runtime)
    runtime.info(outcome.markdown.rstrip("\n"))
    for note in outcome.notes:
        runtime.warning(note)
    runtime.info(
        f"mlci: report ({outcome.state}) written to {outcome.markdown_path} and {outcome.html_path}"
    )
    return EXIT_OK


def deploy_locally(cfg: Config, results: Path, runtime: Runtime) -> int:
    """Deploy the blessed model of ``results`` to the local registry (`mlci run deploy`)."""
    from mlci.pipelines.deploy import deploy

    outcome = deploy(cfg, results_dir=results, backend=LOCAL_REGISTRY, runtime=runtime)
    runtime.info(f"mlci deploy: {outcome.message}")
    return EXIT_OK


def _run_shell(command: str, cwd: Path, key: str = "model.train_command") -> int:
    from mlci.proc import run_user_command

    try:
        return run_user_command(command, cwd=cwd)
    except OSError as exc:
        raise InputError(
            f"{key} {command!r} could not start ({exc.strerror}); check the command in mlci.yaml"
        ) from None


def run_pipeline(
    pipeline: Pipeline,
    *,
    config_path: Path | None,
    results_dir: Path | None,
    runtime: Runtime,
) -> tuple[int, list[StepResult]]:
    """Run the steps of ``pipeline`` in order, showing progress and durations.

    Each step calls the pipeline function its workflow's command runs, with the local
    registry; what a step raises is mapped to an exit code by the one error handler.
    A step that fails a gate (exit 1) does not stop the pipeline, so the report still
    shows everything; a usage error or a bug (exit 2 or 3) stops it.

    Args:
        pipeline: Which workflow to reproduce.
        config_path: The mlci.yaml (default ./mlci.yaml).
        results_dir: Where results go (default: mlci-results/ beside mlci.yaml).
        runtime: Where progress goes.

    Returns:
        The exit code (the worst of the steps) and each step's result.
    """
    config = find_config(config_path)
    cfg = load_config(config)
    results = results_dir or (cfg.root / "mlci-results")
    return _run_steps(_steps(pipeline, cfg, config, results, runtime), cfg, runtime, results)


def _not_blessed(results: Path) -> str | None:
    """Why the model of this run's ``model.json`` is not blessed; None when it is."""
    from mlci.results import read_model_results

    path = results / "model.json"
    if not path.is_file():
        return "no model.json from the validate-model step"
    blessing = read_model_results(path).blessing
    if blessing is not None and blessing.blessed:
        return None
    reason = blessing.reason if blessing is not None else None
    return f"the model is not blessed: {reason or 'no blessing in model.json'}"


def _run_steps(
    steps: list[_Step], cfg: Config, runtime: Runtime, results: Path
) -> tuple[int, list[StepResult]]:
    from mlci.error_handler import run_guarded

    outcome: list[StepResult] = []
    worst = EXIT_OK
    for number, step in enumerate(steps, start=1):
        title = f"[{number}/{len(steps)}] {step.name}"
        skip = step.skip or (_not_blessed(results) if step.if_blessed else None)
        if skip:
            runtime.info(f"{title}: skipped ({skip})")
            outcome.append(StepResult(step.name, EXIT_OK, 0.0, skip))
            continue
        runtime.info(f"{title}: {step.shell or step.shown}")
        start = time.perf_counter()
        if step.shell:
            code = _run_shell(step.shell, cfg.root, step.shell_key)
        else:
            assert step.call is not None
            code = run_guarded(step.call, runtime)
        seconds = time.perf_counter() - start
        if step.shell and code != 0:
            raise InputError(
                f"{step.shell_key} {step.shell!r} failed with exit code {code}"
                f" after {seconds:.1f} s; its output is above: fix the command (or what it"
                " runs) in mlci.yaml"
            )
        verdict = {0: "ok", 1: "failed a gate"}.get(code, f"stopped (exit {code})")
        runtime.info(f"{title}: {verdict} in {seconds:.1f} s")
        outcome.append(StepResult(step.name, code, seconds))
        if code > EXIT_FAILED:
            return code, outcome
        worst = max(worst, code)
    return worst, outcome
