"""`deploy` and `rollback`: the phases in order, ``production`` moved last."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from mlci.errors import DeployError, InputError, ValidationFailed
from mlci.pipelines.deploy.outcome import (
    SAMPLE_ROWS,
    DeployOutcome,
    _bare_hash,
    _finish,
    _metric_changes,
    _read_sample,
    _workdir,
)
from mlci.pipelines.deploy.register import (
    _expected_hash,
    _model_path,
    _production_holds,
    _register,
    _true_previous,
)
from mlci.pipelines.deploy.smoke import _rollback_smoke_test, _smoke_test
from mlci.pipelines.deploy.step import run_deploy_step
from mlci.provenance import file_fingerprint, git_sha
from mlci.registry import (
    PRODUCTION,
    Registry,
    make_event,
    open_registry,
    resolve_version,
    rollback_target,
)
from mlci.results import (
    Finding,
    read_model_results,
)

if TYPE_CHECKING:
    import pandas as pd

    from mlci.config import Config
    from mlci.github.runtime import Runtime
    from mlci.registry import ModelVersion, RegistryState
    from mlci.registry.base import EventKind
    from mlci.results import ModelResults

__all__ = ["deploy", "registry_rows", "rollback"]


@dataclass
class _Run:
    """What the phases of one deploy or rollback share, and how each one ends."""

    config: Config
    results_dir: Path
    runtime: Runtime
    sha: str | None
    payload: dict[str, Any]
    provenance: dict[str, Any] = field(default_factory=dict)
    reg: Registry | None = None
    state: RegistryState | None = None
    current: int | None = None
    versions: dict[int, ModelVersion] = field(default_factory=dict)
    notes: list[Finding] = field(default_factory=list)

    def open(self, registry: Registry | None, backend: str | None) -> Registry:
        """Open the registry and read where ``production`` stands."""
        self.reg = registry or open_registry(self.config, backend=backend, runtime=self.runtime)
        self.state = self.reg.state()
        self.current = self.state.production
        self.versions = {v.version: v for v in self.reg.versions()}
        return self.reg

    def finish(
        self,
        outcome: DeployOutcome,
        findings: list[Finding],
        payload: dict[str, Any] | None = None,
    ) -> DeployOutcome:
        """Write ``deploy.json``, the summary and the outputs for ``outcome``."""
        return _finish(
            outcome,
            config=self.config,
            results_dir=self.results_dir,
            runtime=self.runtime,
            registry=self.reg,
            findings=findings,
            payload=self.payload if payload is None else payload,
            provenance=self.provenance,
        )

    def failed(self, version: int, message: str, finding: Finding, note: str = "") -> None:
        """Record a ``deploy_failed`` event and finish as failed (production unchanged)."""
        assert self.reg is not None
        self.reg.record(
            make_event(
                "deploy_failed",
                version,
                previous=self.current,
                git_sha=self.sha,
                run_url=self.runtime.run_url(),
                note=f"{note}{message}"[:500],
            )
        )
        outcome = DeployOutcome("failed", version, self.current, message)
        self.finish(outcome, [finding, *self.notes])

    def moved(self, event: EventKind, version: int, note: str = "") -> None:
        """Move ``production`` (the last phase); ``current`` becomes what it replaced."""
        assert self.reg is not None
        recorded = self.reg.record(
            make_event(
                event,
                version,
                previous=self.current,
                git_sha=self.sha,
                run_url=self.runtime.run_url(),
                note=note,
            )
        )
        self.current = _true_previous(recorded, self.current)


def deploy(
    config: Config,
    *,
    model: Path | None = None,
    results_dir: Path,
    backend: str | None = None,
    runtime: Runtime,
    registry: Registry | None = None,
    reference: Path | None = None,
) -> DeployOutcome:
    """Register, smoke-test and deploy the blessed model; move ``production`` last.

    Args:
        config: The loaded mlci.yaml.
        model: The model file (default ``model.path``, or the path in ``model.json``).
        results_dir: Holds ``model.json`` with the blessing; ``deploy.json`` is written here.
        backend: Registry backend overriding ``registry.backend``.
        runtime: The Actions runtime (summary, outputs, token).
        registry: An open registry (tests); default `open_registry`.
        reference: The profile of the data a retrain trained on (its deploy mode),
            registered as the version's drift reference.

    Returns:
        The outcome; ``deploy.json`` and the job summary are written.

    Raises:
        ValidationFailed: when the model is not blessed, is not the blessed file, or
            fails the smoke test (exit 1).
        DeployError: when the deploy step fails (production unchanged).
    """
    typed = read_model_results(results_dir / "model.json")
    model_path = _model_path(config, model, typed)
    if not model_path.is_file():
        raise InputError(f"{model_path}: model file not found; pass --model or fix model.path")
    model_hash = _bare_hash(file_fingerprint(model_path)) or ""
    run = _Run(config, results_dir, runtime, git_sha(config.root), {"action": "deploy"})
    run.provenance = {"model": {"path": str(model_path), "hash": f"sha256:{model_hash}"}}
    _check_blessing(run, typed, model_path, model_hash)
    run.open(registry, backend)
    existing = _registered_before(run, model_hash)
    done = _nothing_to_do(run, existing, model_path, model_hash, dict(typed.metrics))
    if done is not None:
        return done
    sample = _read_sample(config, max(SAMPLE_ROWS, config.deploy.smoke_rows))
    with _workdir() as work:
        version = (
            _register_new(run, typed.raw, model_path, model_hash, sample, work, reference)
            if existing is None
            else existing
        )
        assert run.reg is not None
        runtime.info(
            f"registered v{version.version} in {run.reg.name} registry {run.reg.describe()}"
        )
        model_dir = run.reg.download(version.version, work / f"v{version.version}")
        previous_metrics = (
            run.versions[run.current].metrics if run.current in run.versions else None
        )
        run.payload["metrics"] = version.metrics
        run.payload["previous_metrics"] = previous_metrics
        run.payload["changes"] = _metric_changes(version.metrics, previous_metrics)
        _smoke_phase(run, version, model_dir, model_path, sample)
        _deploy_step(run, version, model_dir, "deploy")
    run.moved("promote", version.version)
    was = f" (was v{run.current})" if run.current else ""
    message = f"v{version.version} is now production{was}"
    return run.finish(DeployOutcome("deployed", version.version, run.current, message), run.notes)


def _check_blessing(run: _Run, typed: ModelResults, model_path: Path, model_hash: str) -> None:
    """Refuse (exit 1) a model that is not blessed or is not the file that was blessed."""
    expected = _expected_hash(typed)
    from mlci.model.committed import carried_model

    committed = carried_model(run.config)
    refusal = None
    if typed.blessing is None or not typed.blessing.blessed:
        reason = typed.blessing.reason if typed.blessing else None
        refusal = f"the model is not blessed: {reason or 'no blessing in model.json'}"
    elif expected is None:
        refusal = "model.json records no model hash, so the blessed model cannot be verified"
    elif expected != model_hash:
        refusal = (
            f"{model_path.name} (sha256 {model_hash[:12]}) is not the model that was blessed"
            f" (sha256 {expected[:12]}); deploy the exact file validated, or validate this one"
        )
    elif committed is not None and f"sha256:{model_hash}" != committed.sha256:
        refusal = (
            f"{model_path.name} (sha256 {model_hash[:12]}) is not the model the retrain pull"
            f" request committed and blessed ({committed.sha256.removeprefix('sha256:')[:12]});"
            " deploy the committed file without retraining"
        )
    if refusal:
        run.finish(
            DeployOutcome("refused", None, None, refusal),
            [Finding("not_blessed", "error", refusal)],
            {"action": "deploy", "metrics": dict(typed.metrics)},
        )
        raise ValidationFailed(f"deploy refused: {refusal}")


def _registered_before(run: _Run, model_hash: str) -> ModelVersion | None:
    """The version an earlier run registered for this model and commit, if any."""
    return next(
        (
            v
            for v in run.versions.values()
            if _bare_hash(v.model_hash) == model_hash and (run.sha is None or v.git_sha == run.sha)
        ),
        None,
    )


def _nothing_to_do(
    run: _Run,
    existing: ModelVersion | None,
    model_path: Path,
    model_hash: str,
    metrics: dict[str, Any],
) -> DeployOutcome | None:
    """Finish as ``unchanged`` when production holds or already had this version.

    A version registered by an earlier run that did not finish is resumed (a note says so).
    """
    current = run.current
    production = run.versions.get(current) if current else None
    held = _production_holds(run.config, run.runtime, production, run.sha, model_hash)
    if existing is None and held is not None:
        # Deploys never go backwards, and the same model is not registered twice.
        outcome = DeployOutcome("unchanged", current, current, held)
        findings = [Finding("production_holds", "info", held)]
        return run.finish(outcome, findings, {**run.payload, "metrics": metrics})
    if existing is None:
        return None
    assert run.state is not None
    promoted_before = any(
        e.get("version") == existing.version and e.get("event") in ("promote", "rollback")
        for e in run.state.history
    )
    if current == existing.version or promoted_before:
        where = (
            "is in production"
            if current == existing.version
            else (
                f"was deployed before; production is now v{current}"
                f" (use `mlci rollback --to {existing.version}` to return to it)"
            )
        )
        message = (
            f"v{existing.version} ({model_path.name}, commit {run.sha or 'unknown'}) {where};"
            " nothing to do"
        )
        outcome = DeployOutcome("unchanged", existing.version, current, message)
        return run.finish(outcome, [], {**run.payload, "metrics": existing.metrics})
    run.notes.append(
        Finding(
            "resumed",
            "info",
            f"v{existing.version} was registered for this commit by an earlier run that did"
            " not finish; resuming it",
        )
    )
    return None


def _register_new(
    run: _Run,
    doc: dict[str, Any],
    model_path: Path,
    model_hash: str,
    sample: pd.DataFrame | None,
    work: Path,
    reference: Path | None = None,
) -> ModelVersion:
    """Export and register the model as a new version (a ``register`` event)."""
    assert run.reg is not None
    version, onnx_info = _register(
        run.config,
        run.reg,
        model_path=model_path,
        model_hash=model_hash,
        doc=doc,
        results_dir=run.results_dir,
        sample=sample,
        sha=run.sha,
        runtime=run.runtime,
        work=work,
        reference=reference,
    )
    run.reg.record(
        make_event("register", version.version, git_sha=run.sha, run_url=run.runtime.run_url())
    )
    run.payload["onnx"] = onnx_info
    if onnx_info.get("finding"):
        run.notes.append(Finding(**onnx_info.pop("finding")))
    return version


def _smoke_phase(
    run: _Run,
    version: ModelVersion,
    model_dir: Path,
    model_path: Path,
    sample: pd.DataFrame | None,
) -> None:
    """Smoke-test the registered files on loopback; a failure stops the deploy (exit 1)."""
    if not run.config.deploy.smoke_test:
        return
    if sample is None:
        run.notes.append(
            Finding(
                "smoke_test_skipped",
                "warning",
                "no eval data (data.eval) to smoke-test the service with; skipped",
            )
        )
        return
    try:
        smoke = _smoke_test(
            run.config, version=version, model_dir=model_dir, original=model_path, sample=sample
        )
    except (InputError, DeployError) as exc:
        run.failed(
            version.version,
            f"smoke test: {exc.message}",
            Finding("smoke_test", "error", exc.message),
        )
        raise
    _judge_smoke(run, version, smoke, "deploy")


def _judge_smoke(run: _Run, version: ModelVersion, smoke: dict[str, Any], action: str) -> None:
    run.payload["smoke_test"] = smoke
    if not smoke["passed"]:
        message = "smoke test failed: " + "; ".join(smoke.get("problems", []))
        note = "rollback: " if action == "rollback" else ""
        run.failed(version.version, message, Finding("smoke_test", "error", message), note)
        raise ValidationFailed(f"{action} stopped: {message}; production is unchanged")


def _deploy_step(
    run: _Run, version: ModelVersion, model_dir: Path, action: Literal["deploy", "rollback"]
) -> None:
    """Run ``deploy.command`` and the webhook; a failure leaves production unchanged."""
    assert run.reg is not None
    try:
        run.payload["deploy_step"] = run_deploy_step(
            run.config,
            version=version,
            model_dir=model_dir,
            action=action,
            previous=run.current,
            registry=run.reg,
            runtime=run.runtime,
        )
    except DeployError as exc:
        note = "rollback: " if action == "rollback" else ""
        run.failed(version.version, exc.message, Finding("deploy_step", "error", exc.message), note)
        raise


# -- rollback -------------------------------------------------------------------------------------


def rollback(
    config: Config,
    *,
    to: str | None = None,
    results_dir: Path,
    backend: str | None = None,
    runtime: Runtime,
    registry: Registry | None = None,
) -> DeployOutcome:
    """Move ``production`` back to the previous blessed version (or ``to``) and redeploy it.

    Raises:
        InputError: when there is nothing to roll back to, or the version is unknown.
        ValidationFailed: when the named version is not blessed.
        DeployError: when the deploy step fails (production unchanged).
    """
    run = _Run(config, results_dir, runtime, None, {"action": "rollback"})
    run.open(registry, backend)
    target = _rollback_target(run, to)
    run.sha = git_sha(config.root)
    previous = run.versions[run.current].metrics if run.current in run.versions else None
    run.payload.update(
        metrics=target.metrics,
        previous_metrics=previous,
        changes=_metric_changes(target.metrics, previous),
    )
    assert run.reg is not None
    with _workdir() as work:
        model_dir = run.reg.download(target.version, work / f"v{target.version}")
        smoke = _rollback_smoke_test(config, target, model_dir)
        if smoke is not None:
            _judge_smoke(run, target, smoke, "rollback")
        _deploy_step(run, target, model_dir, "rollback")
    was = run.current
    run.moved("rollback", target.version, note=f"rolled back from v{was}")
    message = f"production rolled back from v{run.current} to v{target.version}"
    return run.finish(DeployOutcome("rolled_back", target.version, run.current, message), [])


def _rollback_target(run: _Run, to: str | None) -> ModelVersion:
    """The blessed version to return to: ``to``, else the one before production."""
    reg, state, current = run.reg, run.state, run.current
    assert reg is not None and state is not None
    if current is None:
        raise InputError(
            f"registry {reg.describe()}: nothing is in production yet, so there is nothing to"
            " roll back; deploy a model first with `mlci deploy`"
        )
    if to is None:
        number = rollback_target(state, run.versions)
        if number is None:
            raise InputError(
                f"registry {reg.describe()}: no earlier blessed production version to return to"
                f" from v{current}; name one with `mlci rollback --to VERSION`"
            )
        target = run.versions[number]
    else:
        target = resolve_version(reg, to)
    if target.version == current:
        raise InputError(f"--to {to}: v{current} is already in production; name another version")
    if not target.blessed:
        reason = (target.metadata.get("blessing") or {}).get("reason", "no blessing recorded")
        raise ValidationFailed(f"rollback refused: v{target.version} is not blessed ({reason})")
    return target


def registry_rows(registry: Registry) -> list[dict[str, Any]]:
    """One row per version for ``mlci registry list``: number, commit, aliases, metrics."""
    state = registry.state()
    by_version: dict[int, list[str]] = {}
    for alias, number in state.aliases.items():
        by_version.setdefault(number, []).append(alias)
    rows = []
    for v in registry.versions():
        rows.append(
            {
                "version": v.version,
                "created": v.created,
                "git_sha": v.git_sha,
                "blessed": v.blessed,
                "aliases": sorted(by_version.get(v.version, []), key=lambda a: a != PRODUCTION),
                "metrics": v.metrics,
            }
        )
    return rows
