"""`retrain`: fresh data, decision, train, champion versus challenger, then PR or deploy."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mlci import jsonio
from mlci.config import Config
from mlci.data.profile import profile_files, reference_profile
from mlci.errors import (
    EXIT_FAILED,
    EXIT_OK,
    DeployError,
    InputError,
    ValidationFailed,
)
from mlci.github.git import MAX_BLOB_BYTES
from mlci.github.pulls import (
    find_own_pull,
    open_or_update_pull_request,
)
from mlci.github.runtime import Runtime
from mlci.pipelines.retrain.fresh import (
    _display_path,
    check_fresh_data,
    compute_drift,
    locate_fresh_data,
)
from mlci.pipelines.retrain.policy import decide
from mlci.pipelines.retrain.propose import (
    PR_MARKER,
    RECORD_PATH,
    _context,
    _finish,
    _repo_path,
    _State,
)
from mlci.pipelines.validate_model import validate_model
from mlci.proc import run_user_command, user_env
from mlci.provenance import file_fingerprint
from mlci.report.retrain import pull_request_body
from mlci.results import (
    Finding,
    has_errors,
    make_document,
    to_jsonable,
)

if TYPE_CHECKING:
    from mlci.github.api import GitHubClient


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
    from mlci.registry import open_registry, production_version

    stale = inactivity_warning(config.root, runtime)
    if stale:
        runtime.warning(stale)

    state = _State()
    state.payload.update(
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
    # 1. fresh data
    with runtime.group("fresh data"):
        files, source = locate_fresh_data(config, work_dir=results_dir / "retrain-data")
        fresh = profile_files(files, chunk_rows=config.data.chunk_rows)
        state.payload["data"] = {
            "source": source,
            "files": [_display_path(f, config) for f in files],
            "rows": fresh.rows,
            "columns": len(fresh.columns),
        }
        state.provenance["data"] = {
            "fresh": [
                {"path": _display_path(f, config), "fingerprint": file_fingerprint(f)}
                for f in files
            ]
        }
        reference = None
        if config.data.reference:
            reference = reference_profile(config, purpose="the training reference for drift")
        elif config.retrain.policy == "on-drift":
            config.existing_path(
                "data", "reference", purpose="retrain.policy on-drift compares with it"
            )
        drift = None
        state.findings += check_fresh_data(config, files, reference, fresh)
        if has_errors(state.findings):
            errors = [f for f in state.findings if f.severity == "error"]
            runtime.error(
                f"the fresh data does not fit the schema: {len(errors)} schema"
                " error(s); nothing was trained"
            )
            state.payload["decision"] = {
                "retrain": False,
                "reason": "schema errors in the fresh data",
                "policy": config.retrain.policy,
            }
            _finish(state, results_dir, runtime, passed=False, outcome="stopped: schema errors")
            return EXIT_FAILED
        if reference is not None:
            from mlci.data.drift import drift_findings

            drift = compute_drift(config, reference, fresh)
            state.payload["drift"] = drift.to_dict()
            # The one drift rule; a retrain records drift (it is what a retrain is
            # for), so its findings are information here, never a failure.
            for finding in drift_findings(
                drift,
                config.data.drift,
                checks=config.data.checks,
                column_checks=config.data.column_checks,
                watched=config.retrain.drift_columns,
            ):
                finding.severity = "info"
                state.findings.append(finding)
    # 2. decision
    registry = open_registry(config, backend=backend, runtime=runtime, client=client)
    champion = production_version(registry)
    if champion is not None:
        state.payload["champion"] = {
            "version": champion.version,
            "created": champion.created,
            "metrics": champion.metrics,
        }
    decision = decide(config, drift, champion)
    state.payload["decision"] = {
        "retrain": decision.retrain,
        "reason": decision.reason,
        "policy": decision.policy,
        "age_days": decision.age_days,
        "drifted_columns": list(decision.drifted_columns),
    }
    runtime.info(f"decision: {'retrain' if decision.retrain else 'no retrain'} ({decision.reason})")
    if not decision.retrain:
        _finish(state, results_dir, runtime, passed=True, outcome="skipped")
        return EXIT_OK
    # Fail fast, before an hour of training: where would the pull request go?
    proposal: tuple[GitHubClient, str] | None = None
    marker = PR_MARKER.format(key=config.report.key)
    if config.retrain.mode == "pull-request" and not dry_run and not runtime.repository:
        # A laptop (or `mlci run retrain`): do everything but the pull request, like
        # `mlci run pr` prints the comment it would post.
        dry_run = True
        state.payload["dry_run"] = True
        state.findings.append(
            Finding(
                "not_on_github",
                "info",
                "not on GitHub (no GITHUB_REPOSITORY): ran as --dry-run; mlci-retrain.yml"
                " opens the pull request",
            )
        )
    if config.retrain.mode == "pull-request" and not dry_run:
        proposal = _context(runtime, client)
        find_own_pull(proposal[0], proposal[1], config.retrain.branch, marker)
    # 3. train
    with runtime.group("train"):
        code = _run_train(config, files)
    if code != 0:
        state.findings.insert(
            0,
            Finding(
                "train_failed",
                "error",
                f"model.train_command exited with {code}; see its output above",
                observed=code,
            ),
        )
        _finish(state, results_dir, runtime, passed=False, outcome="failed: train command")
        return EXIT_FAILED
    # 4. champion versus challenger
    with runtime.group("champion versus challenger"):
        model_doc = validate_model(
            config, results_dir=results_dir, runtime=runtime, backend=backend
        )
    blessing = dict(model_doc.get("blessing") or {})
    state.payload["blessing"] = blessing
    model_path = config.existing_path(
        "model", "path", purpose="the challenger the train command wrote"
    )
    state.provenance["model"] = {
        "challenger": {
            "path": _display_path(model_path, config),
            "hash": file_fingerprint(model_path),
        }
    }
    if not blessing.get("blessed"):
        state.findings.insert(
            0,
            Finding(
                "not_blessed",
                "error",
                f"the challenger was not blessed: {blessing.get('reason', 'no reason given')};"
                " nothing was changed",
            ),
        )
        _finish(
            state, results_dir, runtime, passed=False, outcome="not blessed", model_doc=model_doc
        )
        return EXIT_FAILED
    if dry_run:
        _finish(
            state,
            results_dir,
            runtime,
            passed=True,
            outcome="blessed (dry run)",
            model_doc=model_doc,
        )
        return EXIT_OK
    # 5. propose or deploy
    if config.retrain.mode == "deploy":
        from mlci.pipelines.deploy import deploy

        try:
            outcome = deploy(config, results_dir=results_dir, runtime=runtime, registry=registry)
        except (DeployError, ValidationFailed) as exc:
            state.payload["deploy"] = {"status": "failed", "message": str(exc)}
            state.findings.insert(0, Finding("deploy_failed", "error", f"the deploy failed: {exc}"))
            _finish(
                state,
                results_dir,
                runtime,
                passed=False,
                outcome="failed: deploy",
                model_doc=model_doc,
            )
            raise
        state.payload["deploy"] = {
            "status": outcome.status,
            "version": outcome.version,
            "previous": outcome.previous,
            "message": outcome.message,
        }
        _finish(state, results_dir, runtime, passed=True, outcome="deployed", model_doc=model_doc)
        return EXIT_OK
    assert proposal is not None
    gh, repo = proposal
    record = {
        "schema_version": 1,
        "decision": state.payload["decision"],
        "data": state.provenance["data"],
        "challenger": {
            "path": _repo_path(model_path, config, runtime),
            "hash": file_fingerprint(model_path),
            "metrics": model_doc.get("metrics"),
        },
        "champion": state.payload["champion"],
        "blessing": blessing,
        "run_url": runtime.run_url(),
    }
    size = model_path.stat().st_size
    if size > MAX_BLOB_BYTES:
        raise DeployError(
            f"{model_path}: the model is {size / 1e6:.0f} MB, over the"
            f" {MAX_BLOB_BYTES // 10**6} MB"
            " mlci commits through the GitHub API; use retrain.mode: deploy, or keep the model"
            " in the registry (registry.backend: github)"
        )
    files_to_commit = {
        _repo_path(model_path, config, runtime): model_path.read_bytes(),
        _repo_path(config.root / RECORD_PATH, config, runtime): (
            jsonio.dumps(to_jsonable(record), sort_keys=True) + "\n"
        ).encode(),
    }
    title = f"mlci retrain: new model ({decision.reason.split(':', 1)[0]})"
    draft_doc = make_document(
        "retrain",
        passed=True,
        findings=state.findings,
        payload={**state.payload, "outcome": "proposed"},
        provenance=state.provenance,
    )
    with runtime.group("pull request"):
        pr = open_or_update_pull_request(
            gh,
            repo,
            branch=config.retrain.branch,
            files=files_to_commit,
            title=title,
            body=pull_request_body(draft_doc, model_doc, marker=marker),
            marker=marker,
            message="mlci retrain",
        )
    state.payload["pull_request"] = {
        "number": pr.number,
        "url": pr.url,
        "action": pr.action,
        "branch": pr.branch,
        "files": sorted(files_to_commit),
    }
    runtime.set_output("pull-request", str(pr.number))
    _finish(
        state,
        results_dir,
        runtime,
        passed=True,
        outcome=f"proposed (pull request {pr.action})",
        model_doc=model_doc,
    )
    return EXIT_OK
