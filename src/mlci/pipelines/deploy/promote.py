"""`deploy` and `rollback`: the phases in order, ``production`` moved last."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

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
    from mlci.config import Config
    from mlci.github.runtime import Runtime

__all__ = ["deploy", "registry_rows", "rollback"]


def deploy(
    config: Config,
    *,
    model: Path | None = None,
    results_dir: Path,
    backend: str | None = None,
    runtime: Runtime,
    registry: Registry | None = None,
) -> DeployOutcome:
    """Register, smoke-test and deploy the blessed model; move ``production`` last.

    Args:
        config: The loaded mlci.yaml.
        model: The model file (default ``model.path``, or the path in ``model.json``).
        results_dir: Holds ``model.json`` with the blessing; ``deploy.json`` is written here.
        backend: Registry backend overriding ``registry.backend``.
        runtime: The Actions runtime (summary, outputs, token).
        registry: An open registry (tests); default `open_registry`.

    Returns:
        The outcome; ``deploy.json`` and the job summary are written.

    Raises:
        ValidationFailed: when the model is not blessed, is not the blessed file, or
            fails the smoke test (exit 1).
        DeployError: when the deploy step fails (production unchanged).
    """
    typed = read_model_results(results_dir / "model.json")
    doc = typed.raw
    model_path = _model_path(config, model, doc)
    if not model_path.is_file():
        raise InputError(f"{model_path}: model file not found; pass --model or fix model.path")
    sha = git_sha(config.root)
    model_hash = _bare_hash(file_fingerprint(model_path)) or ""
    metrics = dict(typed.metrics)
    provenance = {"model": {"path": str(model_path), "hash": f"sha256:{model_hash}"}}
    expected = _expected_hash(doc)
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
    if refusal:
        _finish(
            DeployOutcome("refused", None, None, refusal),
            config=config,
            results_dir=results_dir,
            runtime=runtime,
            registry=None,
            findings=[Finding("not_blessed", "error", refusal)],
            payload={"action": "deploy", "metrics": metrics},
            provenance=provenance,
        )
        raise ValidationFailed(f"deploy refused: {refusal}")

    reg = registry or open_registry(config, backend=backend, runtime=runtime)
    state = reg.state()
    current = state.production
    versions = {v.version: v for v in reg.versions()}
    existing = next(
        (
            v
            for v in versions.values()
            if _bare_hash(v.model_hash) == model_hash and (sha is None or v.git_sha == sha)
        ),
        None,
    )
    notes: list[Finding] = []
    payload: dict[str, Any] = {"action": "deploy"}
    production = versions.get(current) if current else None
    held = _production_holds(config, runtime, production, sha, model_hash)
    if existing is None and held is not None:
        # Deploys never go backwards, and the same model is not registered twice.
        return _finish(
            DeployOutcome("unchanged", current, current, held),
            config=config,
            results_dir=results_dir,
            runtime=runtime,
            registry=reg,
            findings=[Finding("production_holds", "info", held)],
            payload={**payload, "metrics": metrics},
            provenance=provenance,
        )
    if existing is not None:
        promoted_before = any(
            e.get("version") == existing.version and e.get("event") in ("promote", "rollback")
            for e in state.history
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
            return _finish(
                DeployOutcome(
                    "unchanged",
                    existing.version,
                    current,
                    f"v{existing.version} ({model_path.name}, commit {sha or 'unknown'}) {where};"
                    " nothing to do",
                ),
                config=config,
                results_dir=results_dir,
                runtime=runtime,
                registry=reg,
                findings=[],
                payload={**payload, "metrics": existing.metrics},
                provenance=provenance,
            )
        notes.append(
            Finding(
                "resumed",
                "info",
                f"v{existing.version} was registered for this commit by an earlier run that did"
                " not finish; resuming it",
            )
        )

    sample = _read_sample(config, max(SAMPLE_ROWS, config.deploy.smoke_rows))
    with _workdir() as work:
        if existing is None:
            version, onnx_info = _register(
                config,
                reg,
                model_path=model_path,
                model_hash=model_hash,
                doc=doc,
                results_dir=results_dir,
                sample=sample,
                sha=sha,
                runtime=runtime,
                work=work,
            )
            reg.record(
                make_event("register", version.version, git_sha=sha, run_url=runtime.run_url())
            )
            payload["onnx"] = onnx_info
            if onnx_info.get("finding"):
                notes.append(Finding(**onnx_info.pop("finding")))
        else:
            version = existing
        runtime.info(f"registered v{version.version} in {reg.name} registry {reg.describe()}")
        model_dir = reg.download(version.version, work / f"v{version.version}")
        previous_metrics = versions[current].metrics if current in versions else None
        payload["metrics"] = version.metrics
        payload["previous_metrics"] = previous_metrics
        payload["changes"] = _metric_changes(version.metrics, previous_metrics)

        def fail(message: str, finding: Finding) -> DeployOutcome:
            reg.record(
                make_event(
                    "deploy_failed",
                    version.version,
                    previous=current,
                    git_sha=sha,
                    run_url=runtime.run_url(),
                    note=message[:500],
                )
            )
            return _finish(
                DeployOutcome("failed", version.version, current, message),
                config=config,
                results_dir=results_dir,
                runtime=runtime,
                registry=reg,
                findings=[finding, *notes],
                payload=payload,
                provenance=provenance,
            )

        if config.deploy.smoke_test:
            if sample is None:
                notes.append(
                    Finding(
                        "smoke_test_skipped",
                        "warning",
                        "no eval data (data.eval) to smoke-test the service with; skipped",
                    )
                )
            else:
                try:
                    smoke = _smoke_test(
                        config,
                        version=version,
                        model_dir=model_dir,
                        original=model_path,
                        sample=sample,
                    )
                except (InputError, DeployError) as exc:
                    fail(f"smoke test: {exc.message}", Finding("smoke_test", "error", exc.message))
                    raise
                payload["smoke_test"] = smoke
                if not smoke["passed"]:
                    message = "smoke test failed: " + "; ".join(smoke.get("problems", []))
                    fail(message, Finding("smoke_test", "error", message))
                    raise ValidationFailed(f"deploy stopped: {message}; production is unchanged")
        try:
            payload["deploy_step"] = run_deploy_step(
                config,
                version=version,
                model_dir=model_dir,
                action="deploy",
                previous=current,
                registry=reg,
                runtime=runtime,
            )
        except DeployError as exc:
            fail(exc.message, Finding("deploy_step", "error", exc.message))
            raise
    recorded = reg.record(
        make_event(
            "promote", version.version, previous=current, git_sha=sha, run_url=runtime.run_url()
        )
    )
    current = _true_previous(recorded, current)
    return _finish(
        DeployOutcome(
            "deployed",
            version.version,
            current,
            f"v{version.version} is now production" + (f" (was v{current})" if current else ""),
        ),
        config=config,
        results_dir=results_dir,
        runtime=runtime,
        registry=reg,
        findings=notes,
        payload=payload,
        provenance=provenance,
    )


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
    reg = registry or open_registry(config, backend=backend, runtime=runtime)
    state = reg.state()
    current = state.production
    if current is None:
        raise InputError(
            f"registry {reg.describe()}: nothing is in production yet, so there is nothing to"
            " roll back; deploy a model first with `mlci deploy`"
        )
    versions = {v.version: v for v in reg.versions()}
    if to is None:
        number = rollback_target(state, versions)
        if number is None:
            raise InputError(
                f"registry {reg.describe()}: no earlier blessed production version to return to"
                f" from v{current}; name one with `mlci rollback --to VERSION`"
            )
        target = versions[number]
    else:
        target = resolve_version(reg, to)
    if target.version == current:
        raise InputError(f"--to {to}: v{current} is already in production; name another version")
    if not target.blessed:
        reason = (target.metadata.get("blessing") or {}).get("reason", "no blessing recorded")
        raise ValidationFailed(f"rollback refused: v{target.version} is not blessed ({reason})")
    sha = git_sha(config.root)
    payload: dict[str, Any] = {
        "action": "rollback",
        "metrics": target.metrics,
        "previous_metrics": versions[current].metrics if current in versions else None,
        "changes": _metric_changes(
            target.metrics, versions[current].metrics if current in versions else None
        ),
    }
    with _workdir() as work:
        model_dir = reg.download(target.version, work / f"v{target.version}")
        smoke = _rollback_smoke_test(config, target, model_dir)
        if smoke is not None:
            payload["smoke_test"] = smoke
            if not smoke["passed"]:
                message = "smoke test failed: " + "; ".join(smoke.get("problems", []))
                reg.record(
                    make_event(
                        "deploy_failed",
                        target.version,
                        previous=current,
                        git_sha=sha,
                        run_url=runtime.run_url(),
                        note=f"rollback: {message}"[:500],
                    )
                )
                _finish(
                    DeployOutcome("failed", target.version, current, message),
                    config=config,
                    results_dir=results_dir,
                    runtime=runtime,
                    registry=reg,
                    findings=[Finding("smoke_test", "error", message)],
                    payload=payload,
                    provenance={},
                )
                raise ValidationFailed(f"rollback stopped: {message}; production is unchanged")
        try:
            payload["deploy_step"] = run_deploy_step(
                config,
                version=target,
                model_dir=model_dir,
                action="rollback",
                previous=current,
                registry=reg,
                runtime=runtime,
            )
        except DeployError as exc:
            reg.record(
                make_event(
                    "deploy_failed",
                    target.version,
                    previous=current,
                    git_sha=sha,
                    run_url=runtime.run_url(),
                    note=f"rollback: {exc.message}"[:500],
                )
            )
            _finish(
                DeployOutcome("failed", target.version, current, exc.message),
                config=config,
                results_dir=results_dir,
                runtime=runtime,
                registry=reg,
                findings=[Finding("deploy_step", "error", exc.message)],
                payload=payload,
                provenance={},
            )
            raise
    recorded = reg.record(
        make_event(
            "rollback",
            target.version,
            previous=current,
            git_sha=sha,
            run_url=runtime.run_url(),
            note=f"rolled back from v{current}",
        )
    )
    current = _true_previous(recorded, current)
    return _finish(
        DeployOutcome(
            "rolled_back",
            target.version,
            current,
            f"production rolled back from v{current} to v{target.version}",
        ),
        config=config,
        results_dir=results_dir,
        runtime=runtime,
        registry=reg,
        findings=[],
        payload=payload,
        provenance={},
    )


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
