"""`retrain`: fresh data, decision, train, champion versus challenger, then PR or deploy."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from mlci.config import Config
from mlci.data.profile import profile_files
from mlci.errors import (
    EXIT_FAILED,
    EXIT_OK,
    DeployError,
    InputError,
    ValidationFailed,
)
from mlci.github.runtime import Runtime
from mlci.paths import relative_path
from mlci.pipelines.retrain.fresh import (
    check_fresh_data,
    compute_drift,
    locate_fresh_data,
)
from mlci.pipelines.retrain.policy import decide
from mlci.pipelines.retrain.propose import check_branch, github_target, propose
from mlci.pipelines.validate_model import validate_model
from mlci.proc import run_user_command, user_env
from mlci.provenance import file_fingerprint
from mlci.report.retrain import retrain_report
from mlci.results import (
    Finding,
    ModelResults,
    RetrainResults,
    as_typed,
    has_errors,
    make_document,
    write_results,
)

if TYPE_CHECKING:
    from mlci.data.drift import DriftReport
    from mlci.data.profile import Profile
    from mlci.github.api import GitHubClient
    from mlci.registry import Registry


# -- training and the comparison ----------------------------------------------------------


def _run_train(config: Config, files: Sequence[Path]) -> int:
    command = config.model.train_command
    if not command:
        raise InputError(
            f"{config.where('model')}: model.train_command is not set, but a retrain needs it;"
            " add the command that trains and saves the model"
        )
    env = user_env(
        MLCI_RETRAIN="1", MLCI_RETRAIN_DATA=os.pathsep.join(str(f.resolve()) for f in files)
    )
    try:
        return run_user_command(command, cwd=config.root, env=env)
    except OSError as exc:
        raise InputError(
            f"{config.where('model', 'train_command')}: model.train_command could not start"
            f" ({exc.strerror}); check the command"
        ) from None


def _typed_model(model_doc: Mapping[str, Any] | None) -> ModelResults | None:
    """``model.json`` of the comparison, typed for the report (None before the comparison)."""
    return None if model_doc is None else as_typed(ModelResults, model_doc, what="model.json")


class _Stopped(Exception):
    """The pipeline ended before its last phase; ``retrain.json`` is written."""

    def __init__(self, code: int):
        super().__init__(code)
        self.code = code


@dataclass
class _Run:
    """One retrain run: its settings, where it reports, and what it found so far."""

    config: Config
    results_dir: Path
    runtime: Runtime
    findings: list[Finding] = field(default_factory=list)
    payload: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    fresh: Profile | None = None
    fresh_files: list[Path] = field(default_factory=list)

    def document(self, *, passed: bool, outcome: str) -> dict[str, Any]:
        """``retrain.json`` as it stands, ending with ``outcome``."""
        return make_document(
            "retrain",
            passed=passed,
            findings=self.findings,
            payload={**self.payload, "outcome": outcome},
            provenance=self.provenance,
        )

    def finish(
        self, *, passed: bool, outcome: str, model_doc: Mapping[str, Any] | None = None
    ) -> int:
        """Write ``retrain.json`` and the summary; the exit code of a run that ends so."""
        self.payload["outcome"] = outcome
        doc = self.document(passed=passed, outcome=outcome)
        path = write_results(self.results_dir, doc)
        text = retrain_report(
            as_typed(RetrainResults, doc, what="retrain.json"), _typed_model(model_doc)
        )
        runtime = self.runtime
        runtime.summary(text)
        runtime.set_output("outcome", outcome)
        if not runtime.on_actions:
            runtime.info(text.rstrip())
        runtime.info(f"wrote {path}")
        return EXIT_OK if passed else EXIT_FAILED

    def stop(
        self, *, passed: bool, outcome: str, model_doc: Mapping[str, Any] | None = None
    ) -> NoReturn:
        """End the run here (`finish`, then leave the pipeline with its exit code)."""
        raise _Stopped(self.finish(passed=passed, outcome=outcome, model_doc=model_doc))


def retrain(
    config: Config,
    *,
    results_dir: Path,
    runtime: Runtime,
    dry_run: bool = False,
    client: GitHubClient | None = None,
    backend: str | None = None,
) -> int:
    """Run the retrain pipeline (see the module docstring) and write ``retrain.json``.

    Args:
        config: The loaded mlci.yaml.
        results_dir: Where ``retrain.json`` and ``model.json`` go.
        runtime: The Actions runtime (summary, outputs, token, repository).
        dry_run: Decide, train and compare, but open no pull request and deploy nothing.
        client: A ready GitHub client (default: from the runtime).
        backend: The registry backend (default: ``registry.backend``; ``mlci run``
            passes ``local``).

    Returns:
        0 when nothing was needed or the challenger was proposed or deployed; 1 when
        the fresh data failed its schema check, training failed, or the challenger was
        not blessed.
    """
    from mlci.github.schedule import inactivity_warning

    stale = inactivity_warning(config.root, runtime)
    if stale:
        runtime.warning(stale)
    run = _Run(config, results_dir, runtime)
    run.payload.update(
        mode=config.retrain.mode,
        policy=config.retrain.policy,
        dry_run=dry_run,
        decision=None,
        data=None,
        drift=None,
        champion=None,
        blessing=None,
        pull_request=None,
        deploy=None,
    )
    try:
        from mlci.registry import open_registry

        registry = open_registry(config, backend=backend, runtime=runtime, client=client)
        files, drift = _fresh_data(run, registry)
        reason = _decide(run, drift, registry)
        dry_run, proposal = _proposal_target(run, dry_run, client)
        _train(run, files)
        model_doc, model_path = _champion_versus_challenger(run, backend)
        if dry_run:
            return run.finish(passed=True, outcome="blessed (dry run)", model_doc=model_doc)
        if config.retrain.mode == "deploy":
            return _deploy(run, registry, model_doc)
        assert proposal is not None
        return _propose(run, proposal, model_path, model_doc, reason)
    except _Stopped as stopped:
        return stopped.code


# -- 1. fresh data ----------------------------------------------------------------------------


def _fresh_data(run: _Run, registry: Registry) -> tuple[list[Path], DriftReport | None]:
    """Find, profile and check the fresh data; its drift from the reference, if any.

    The reference is the one production is judged against (`_drift_reference`).

    Schema errors stop the run (exit 1): nothing is trained on data that does not fit.
    """
    config = run.config
    with run.runtime.group("fresh data"):
        files, source = locate_fresh_data(config, work_dir=run.results_dir / "retrain-data")
        fresh = profile_files(files, chunk_rows=config.data.chunk_rows)
        fresh.sources = [relative_path(f, config.root) for f in files]
        run.fresh = fresh
        run.fresh_files = list(files)
        run.payload["data"] = {
            "source": source,
            "files": [relative_path(f, config.root) for f in files],
            "rows": fresh.rows,
            "columns": len(fresh.columns),
        }
        run.provenance["data"] = {
            "fresh": [
                {"path": relative_path(f, config.root), "fingerprint": file_fingerprint(f)}
                for f in files
            ]
        }
        reference = _drift_reference(run, registry)
        run.findings += check_fresh_data(config, files, reference, fresh)
        if has_errors(run.findings):
            errors = [f for f in run.findings if f.severity == "error"]
            run.runtime.error(
                f"the fresh data does not fit the schema: {len(errors)} schema"
                " error(s); nothing was trained"
            )
            run.payload["decision"] = {
                "retrain": False,
                "reason": "schema errors in the fresh data",
                "policy": config.retrain.policy,
            }
            run.stop(passed=False, outcome="stopped: schema errors")
        if reference is None:
            return files, None
        return files, _record_drift(run, reference, fresh)


def _drift_reference(run: _Run, registry: Registry) -> Profile | None:
    """Production's drift reference (`mlci.registry.reference`), or None without one.

    The profile of the data production was retrained on when its version records one,
    else ``data.reference`` (required by ``retrain.policy: on-drift``).
    """
    import tempfile

    from mlci.registry import production_version
    from mlci.registry.reference import drift_reference, recorded_reference

    config = run.config
    production = production_version(registry)
    recorded = production is not None and recorded_reference(production) is not None
    if not recorded and not config.data.reference:
        if config.retrain.policy == "on-drift":
            config.existing_path(
                "data", "reference", purpose="retrain.policy on-drift compares with it"
            )
        return None
    with tempfile.TemporaryDirectory(prefix="mlci-retrain-") as tmp:
        ref = drift_reference(
            config, registry, production, Path(tmp), purpose="the training reference for drift"
        )
    run.payload["reference"] = ref.to_dict()
    run.runtime.info(f"drift reference: {ref.label}")
    return ref.profile


def _record_drift(run: _Run, reference: Profile, fresh: Profile) -> DriftReport:
    """The fresh data's drift, recorded with the one drift rule's findings as information."""
    from mlci.data.drift import watched_drift_findings

    config = run.config
    drift = compute_drift(config, reference, fresh)
    run.payload["drift"] = drift.to_dict()
    # The one drift rule; a retrain records drift (it is what a retrain is
    # for), so its findings are information here, never a failure.
    for finding in watched_drift_findings(drift, config):
        finding.severity = "info"
        run.findings.append(finding)
    return drift


# -- 2. decision ------------------------------------------------------------------------------


def _decide(run: _Run, drift: DriftReport | None, registry: Registry) -> str:
    """The champion and the policy's decision; no retrain ends the run (exit 0).

    Returns:
        The decision's reason.
    """
    from mlci.registry import production_version

    config, runtime = run.config, run.runtime
    champion = production_version(registry)
    if champion is not None:
        run.payload["champion"] = {
            "version": champion.version,
            "created": champion.created,
            "metrics": champion.metrics,
        }
    decision = decide(config, drift, champion)
    run.payload["decision"] = {
        "retrain": decision.retrain,
        "reason": decision.reason,
        "policy": decision.policy,
        "age_days": decision.age_days,
        "drifted_columns": list(decision.drifted_columns),
    }
    runtime.info(f"decision: {'retrain' if decision.retrain else 'no retrain'} ({decision.reason})")
    if not decision.retrain:
        run.stop(passed=True, outcome="skipped")
    return decision.reason


def _proposal_target(
    run: _Run, dry_run: bool, client: GitHubClient | None
) -> tuple[bool, tuple[GitHubClient, str] | None]:
    """Fail fast, before an hour of training: where would the pull request go?

    Returns:
        Whether the run is a dry run (always off GitHub), and the client and repository
        of the pull request (None unless ``mode: pull-request`` proposes one).
    """
    config, runtime = run.config, run.runtime
    if config.retrain.mode != "pull-request":
        return dry_run, None
    if not dry_run and not runtime.repository:
        # A laptop (or `mlci run retrain`): do everything but the pull request, like
        # `mlci run pr` prints the comment it would post.
        run.payload["dry_run"] = True
        run.findings.append(
            Finding(
                "not_on_github",
                "info",
                "not on GitHub (no GITHUB_REPOSITORY): ran as --dry-run; mlci-retrain.yml"
                " opens the pull request",
            )
        )
        return True, None
    if dry_run:
        return True, None
    proposal = github_target(runtime, client)
    check_branch(config, proposal)
    return False, proposal


# -- 3. train, 4. champion versus challenger --------------------------------------------------


def _train(run: _Run, files: Sequence[Path]) -> None:
    """The user's train command on the fresh data; a failure ends the run (exit 1)."""
    with run.runtime.group("train"):
        code = _run_train(run.config, files)
    if code != 0:
        run.findings.insert(
            0,
            Finding(
                "train_failed",
                "error",
                f"model.train_command exited with {code}; see its output above",
                observed=code,
            ),
        )
        run.stop(passed=False, outcome="failed: train command")


def _champion_versus_challenger(run: _Run, backend: str | None) -> tuple[dict[str, Any], Path]:
    """`validate_model` on the challenger; not blessed ends the run (exit 1).

    Returns:
        ``model.json`` of the comparison and the challenger's file.
    """
    config = run.config
    with run.runtime.group("champion versus challenger"):
        model_doc = validate_model(
            config, results_dir=run.results_dir, runtime=run.runtime, backend=backend
        )
    blessing = dict(model_doc.get("blessing") or {})
    run.payload["blessing"] = blessing
    model_path = config.existing_path(
        "model", "path", purpose="the challenger the train command wrote"
    )
    run.provenance["model"] = {
        "challenger": {
            "path": relative_path(model_path, config.root),
            "hash": file_fingerprint(model_path),
        }
    }
    if not blessing.get("blessed"):
        run.findings.insert(
            0,
            Finding(
                "not_blessed",
                "error",
                f"the challenger was not blessed: {blessing.get('reason', 'no reason given')};"
                " nothing was changed",
            ),
        )
        run.stop(passed=False, outcome="not blessed", model_doc=model_doc)
    return model_doc, model_path


# -- 5. deploy or propose ---------------------------------------------------------------------


def _deploy(run: _Run, registry: Registry, model_doc: Mapping[str, Any]) -> int:
    """``mode: deploy``: deploy the blessed challenger now (`mlci.pipelines.deploy.deploy`)."""
    from mlci.pipelines.deploy import deploy

    try:
        outcome = deploy(
            run.config,
            results_dir=run.results_dir,
            runtime=run.runtime,
            registry=registry,
            reference=_write_reference(run, run.results_dir / "retrain-reference.json")[0],
        )
    except (DeployError, ValidationFailed) as exc:
        run.payload["deploy"] = {"status": "failed", "message": str(exc)}
        run.findings.insert(0, Finding("deploy_failed", "error", f"the deploy failed: {exc}"))
        run.finish(passed=False, outcome="failed: deploy", model_doc=model_doc)
        raise
    run.payload["deploy"] = {
        "status": outcome.status,
        "version": outcome.version,
        "previous": outcome.previous,
        "message": outcome.message,
    }
    return run.finish(passed=True, outcome="deployed", model_doc=model_doc)


def _propose(
    run: _Run,
    proposal: tuple[GitHubClient, str],
    model_path: Path,
    model_doc: Mapping[str, Any],
    reason: str,
) -> int:
    """``mode: pull-request``: the challenger, its record and reference on a pull request."""
    pr, files = propose(
        run.config,
        run.runtime,
        proposal,
        model_path=model_path,
        model_doc=model_doc,
        title=f"mlci retrain: new model ({reason.split(':', 1)[0]})",
        draft=run.document(passed=True, outcome="proposed"),
        reference=_write_reference(run, run.results_dir / "retrain-reference.json"),
    )
    run.payload["pull_request"] = {
        "number": pr.number,
        "url": pr.url,
        "action": pr.action,
        "branch": pr.branch,
        "files": files,
    }
    run.runtime.set_output("pull-request", str(pr.number))
    return run.finish(
        passed=True, outcome=f"proposed (pull request {pr.action})", model_doc=model_doc
    )


def _write_reference(run: _Run, path: Path) -> tuple[Path, str]:
    """Write the new version's drift reference and return it with its sha256.

    The fresh data's profile, with the profile of the challenger's predictions on that
    data: what the monitor's feature and prediction drift compare production with once
    the challenger is deployed (`mlci.registry.reference`).
    """
    from mlci.registry.reference import write_reference

    assert run.fresh is not None
    write_reference(run.fresh, _fresh_predictions(run), path)
    return path, file_fingerprint(path)


def _fresh_predictions(run: _Run) -> Profile | None:
    """The profile of the challenger's predictions on the fresh data, or None with a note."""
    from mlci.model.load import load_configured
    from mlci.registry.reference import predictions_profile

    config = run.config
    model_path = config.resolve(config.model.path or "")
    drop = {c for c in (config.data.target, config.data.prediction) if c}
    drop |= set(config.data.id_columns)
    try:
        model = load_configured(model_path, config.model)
        return predictions_profile(
            model, run.fresh_files, chunk_rows=config.data.chunk_rows, drop=drop
        )
    except (InputError, ValueError, TypeError, KeyError) as exc:
        run.findings.append(
            Finding(
                "reference_predictions",
                "info",
                f"the challenger's predictions on the fresh data were not recorded ({exc});"
                " the monitor's prediction drift will run the model on data.reference",
            )
        )
        return None
