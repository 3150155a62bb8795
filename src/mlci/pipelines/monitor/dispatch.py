"""What a monitor run sets in motion: the retrain workflow, and a rollback on decay."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlci.config import Config
from mlci.errors import DeployError, InputError, ValidationFailed
from mlci.github.runtime import Runtime
from mlci.github.workflows import dispatch_workflow
from mlci.pipelines.monitor.detect import Problem
from mlci.results import Finding

if TYPE_CHECKING:
    from mlci.github.api import GitHubClient
    from mlci.registry import ModelVersion, Registry

__all__ = ["RETRAIN_WORKFLOW", "dispatch_retrain", "rollback_on_decay"]

RETRAIN_WORKFLOW = "mlci-retrain.yml"
_RETRAIN_WORTHY = ("data-drift", "prediction-drift", "label-drift", "metric-")


def dispatch_retrain(
    config: Config,
    gh: tuple[GitHubClient, str] | None,
    problems: Sequence[Problem],
    opened: set[str],
    notes: list[str],
) -> dict[str, Any] | None:
    """Dispatch ``mlci-retrain.yml`` for new drift or decay (``monitor.trigger_retrain``).

    With ``monitor.open_issues``, only problems whose issue this run opened dispatch it
    (a problem that persists was dispatched for when it appeared).

    Returns:
        The dispatch (``workflow``, ``ref``, ``problems``), or None.
    """
    worthy = [p.key for p in problems if p.key.startswith(_RETRAIN_WORTHY)]
    if not (config.monitor.trigger_retrain and worthy):
        return None
    fresh = [k for k in worthy if k in opened] if config.monitor.open_issues else worthy
    if gh is None:
        notes.append("not on GitHub: the retrain workflow was not dispatched")
        return None
    if not fresh:
        notes.append(
            "retrain not dispatched again: the problems were already open (dispatched when"
            " they appeared)"
        )
        return None
    ref = dispatch_workflow(gh[0], gh[1], RETRAIN_WORKFLOW)
    return {"workflow": RETRAIN_WORKFLOW, "ref": ref, "problems": fresh}


def rollback_on_decay(
    config: Config,
    problems: Sequence[Problem],
    *,
    registry: Registry,
    production: ModelVersion | None,
    results_dir: Path,
    runtime: Runtime,
    findings: list[Finding],
) -> dict[str, Any] | None:
    """Move production back when a live metric fails its gate, with ``monitor.rollback``.

    Returns:
        What happened (``status``, ``message`` ...), or None when no rollback was due.
    """
    decayed = [p for p in problems if p.key.startswith("metric-")]
    if not (config.monitor.rollback and decayed and production is not None):
        return None
    return _rollback(config, registry, results_dir, runtime, findings)


def _rollback(
    config: Config,
    registry: Registry,
    results_dir: Path,
    runtime: Runtime,
    findings: list[Finding],
) -> dict[str, Any]:
    from mlci.pipelines.deploy import rollback

    history = registry.state().history
    last = next((e for e in reversed(history) if e.get("event") in ("promote", "rollback")), None)
    if last is not None and last.get("event") == "rollback":
        message = (
            f"production v{last.get('version')} is itself the result of a rollback; not rolling"
            " back again automatically: check it and run `mlci rollback` by hand"
        )
        findings.append(Finding("rollback_skipped", "warning", message))
        return {"status": "skipped", "message": message}
    try:
        outcome = rollback(config, results_dir=results_dir, runtime=runtime, registry=registry)
    except (InputError, DeployError, ValidationFailed) as exc:
        message = f"automatic rollback failed: {exc}"
        findings.append(Finding("rollback_failed", "error", message))
        return {"status": "failed", "message": message}
    findings.append(
        Finding(
            "rolled_back",
            "warning",
            f"production rolled back from v{outcome.previous} to v{outcome.version}",
        )
    )
    return {
        "status": outcome.status,
        "version": outcome.version,
        "previous": outcome.previous,
        "message": outcome.message,
    }
