"""`mlci retrain`: fresh data, a decision by policy, challenger versus champion, PR or deploy.

The pipeline, in order (each stage's outcome lands in ``retrain.json``):

1. **Fresh data**: ``retrain.data`` (a path or glob, relative to mlci.yaml) or the
   files ``retrain.data_command`` writes into ``$MLCI_RETRAIN_DATA_DIR``; without
   either, ``data.current``. It is profiled and checked against the reference's
   columns and types (schema errors stop here, exit 1) and compared with the
   training reference (drift is recorded).
2. **Decision** by ``retrain.policy``: ``always``; ``on-drift`` (dataset drift share
   at or over ``data.drift.share``, a drifted label, or any of
   ``retrain.drift_columns``); ``max-age`` (the production model is older than
   ``retrain.max_age_days``, or there is none). No retrain: exit 0 with the reason.
3. **Train**: ``model.train_command`` runs in the project with ``MLCI_RETRAIN_DATA``
   (the fresh files, ``os.pathsep``-separated) in its environment.
4. **Champion versus challenger**: `validate_model`, the pipeline of ``mlci
   validate-model`` (the same gates as a pull request; the champion is the registry's
   production version), writes ``model.json`` with the blessing.
5. **Blessed**: ``mode: pull-request`` commits the new model file and a record
   (``.mlci/retrain.json``) on ``retrain.branch`` through the GitHub contents API and
   opens a pull request, or updates the open one mlci opened before (found by a
   hidden marker); ``mode: deploy`` calls `deploy`. **Not blessed**: nothing
   changes (exit 1, the reason in the summary).
"""

from __future__ import annotations

import datetime as _dt
import glob
import os
import shlex
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
from mlci.github.limits import BODY_LIMIT
from mlci.github.pulls import (
    PullRequestResult,
    find_own_pull,
    open_or_update_pull_request,
)
from mlci.github.runtime import Runtime
from mlci.pipelines.validate_model import validate_model
from mlci.proc import run_user_command, user_env
from mlci.provenance import file_fingerprint, repo_toplevel
from mlci.report.escape import cell, code, md, safe_url
from mlci.report.tables import drift_table
from mlci.results import (
    Finding,
    has_errors,
    make_document,
    to_jsonable,
    write_results,
)

if TYPE_CHECKING:
    from mlci.data.drift import DriftReport
    from mlci.data.profile import Profile
    from mlci.github.api import GitHubClient
    from mlci.registry import ModelVersion

__all__ = [
    "DATA_SUFFIXES",
    "PR_MARKER",
    "RECORD_PATH",
    "Decision",
    "PullRequestResult",
    "decide",
    "locate_fresh_data",
    "open_or_update_pull_request",
    "retrain",
    "check_fresh_data",
    "schema_findings",
]

DATA_SUFFIXES = (".csv", ".tsv", ".gz", ".parquet", ".pq", ".jsonl", ".ndjson")
#: Hidden marker that identifies mlci's retrain pull request (with the report key).
PR_MARKER = "<!-- mlci-retrain:{key} -->"
#: Where the retrain record is committed, relative to the directory of mlci.yaml.
RECORD_PATH = ".mlci/retrain.json"

# -- fresh data and the reference ------------------------------------------------------------


def _is_glob(text: str) -> bool:
    return any(ch in text for ch in "*?[")


def _data_files(directory: Path) -> list[Path]:
    return sorted(
        p for p in directory.rglob("*") if p.is_file() and p.suffix.lower() in DATA_SUFFIXES
    )


def locate_fresh_data(config: Config, *, work_dir: Path) -> tuple[list[Path], str]:
    """Find the fresh data a retrain uses.

    Args:
        config: The loaded mlci.yaml.
        work_dir: Where ``retrain.data_command`` writes its files (emptied first).

    Returns:
        The data files and how they were found (for the summary).

    Raises:
        InputError: when nothing matches, or the data command fails or writes nothing.
    """
    rc = config.retrain
    if rc.data:
        pattern = str(config.resolve(rc.data))
        if _is_glob(rc.data):
            found = sorted(
                Path(p)
                for p in glob.glob(pattern, recursive=True)  # noqa: PTH207 - absolute patterns too
                if Path(p).is_file()
            )
            if not found:
                raise InputError(
                    f"{config.where('retrain', 'data')}: retrain.data: no file matches"
                    f" {rc.data!r} (looked in {config.root}); check the glob"
                )
            return found, f"retrain.data {rc.data!r} ({len(found)} file(s))"
        path = Path(pattern)
        if not path.exists():
            raise InputError(
                f"{config.where('retrain', 'data')}: retrain.data: {rc.data!r} does not exist"
                f" (looked for {path}); check the path"
            )
        return [path], f"retrain.data {rc.data!r}"
    if rc.data_command:
        if work_dir.exists():
            shutil.rmtree(work_dir)
        work_dir.mkdir(parents=True)
        env = user_env(MLCI_RETRAIN_DATA_DIR=str(work_dir.resolve()))
        try:
            code = run_user_command(rc.data_command, cwd=config.root, env=env)
        except OSError as exc:
            raise InputError(
                f"{config.where('retrain', 'data_command')}: retrain.data_command could not"
                f" start ({exc.strerror}); check the command"
            ) from None
        if code != 0:
            raise InputError(
                f"{config.where('retrain', 'data_command')}: retrain.data_command"
                f" {shlex.quote(rc.data_command)} exited with {code}; fix the"
                " command (it must write data files into $MLCI_RETRAIN_DATA_DIR)"
            )
        found = _data_files(work_dir)
        if not found:
            raise InputError(
                f"{config.where('retrain', 'data_command')}: retrain.data_command wrote no data"
                f" file into $MLCI_RETRAIN_DATA_DIR ({work_dir}); write .csv, .parquet or"
                " .jsonl files there"
            )
        return found, f"retrain.data_command ({len(found)} file(s))"
    if config.data.current:
        path = config.existing_path("data", "current", purpose="the fresh data of a retrain")
        return [path], f"data.current {config.data.current!r} (retrain.data is not set)"
    raise InputError(
        f"{config.where('retrain')}: retrain.data, retrain.data_command and data.current are"
        " all unset; say where fresh data comes from, e.g. `retrain: {data: data/batches/*.csv}`"
    )


def schema_findings(
    reference: Profile, current: Profile, *, ignore: Sequence[str] = ()
) -> list[Finding]:
    """Columns the model's data had that are missing now, or whose type changed.

    A small check on the two profiles alone (``missing_column``, ``dtype_mismatch``;
    errors), so that a broken batch stops a retrain before anything trains on it.
    """
    out: list[Finding] = []
    for name, ref in reference.columns.items():
        if name in ignore:
            continue
        cur = current.columns.get(name)
        if cur is None:
            out.append(
                Finding(
                    "missing_column",
                    "error",
                    f"column {name!r} of the reference is missing from the fresh data",
                    column=name,
                )
            )
        elif ref.kind is not None and cur.kind is not None and ref.kind != cur.kind:
            out.append(
                Finding(
                    "dtype_mismatch",
                    "error",
                    f"column {name!r} was {ref.kind} in the reference and is {cur.kind} now",
                    column=name,
                    observed=cur.kind,
                    expected=ref.kind,
                )
            )
    return out


#: Check codes that mean the fresh data does not fit the model's schema: they stop a
#: retrain. Other findings (ranges, domains, null shares) are value drift: recorded only.
STRUCTURAL_CHECKS = frozenset(
    {"missing_column", "dtype_mismatch", "label_missing", "duplicate_key", "row_count"}
)


def check_fresh_data(
    config: Config, files: Sequence[Path], reference: Profile | None, fresh: Profile
) -> list[Finding]:
    """Check the fresh data: against ``data.schema`` when the file exists, else the reference.

    With a schema file, the data checks of ``mlci validate-data`` run on every file;
    findings of `STRUCTURAL_CHECKS` keep their severity (errors stop the retrain) and
    the value checks become warnings (value drift is recorded, not fatal: it is what
    a retrain is for). Without one, `schema_findings` compares the two profiles.
    """
    schema_path = config.resolve(config.data.schema)
    if not schema_path.is_file():
        if reference is None:
            return []
        return schema_findings(reference, fresh, ignore=config.data.drift.ignore)
    from mlci.data.checks import Checker, severity_resolver
    from mlci.data.io import iter_frames
    from mlci.data.schema import load_schema

    schema = load_schema(schema_path)
    severity = severity_resolver(config.data.checks, config.data.column_checks)
    out: list[Finding] = []
    for path in files:
        checker = Checker(
            schema,
            severity=severity,
            target=config.data.target,
            id_columns=config.data.id_columns,
            data_name=_display_path(path, config),
        )
        for offset, frame in iter_frames(path, chunk_rows=config.data.chunk_rows):
            checker.update(offset, frame)
        for finding in checker.finish():
            if finding.check not in STRUCTURAL_CHECKS and finding.severity == "error":
                finding.severity = "warning"
            finding.file = finding.file or _display_path(path, config)
            out.append(finding)
    return out


def compute_drift(config: Config, reference: Profile, current: Profile) -> DriftReport:
    """Drift of ``current`` against the reference: features, and the label as ``label``."""
    from mlci.data.drift import compare_profiles

    kinds: dict[str, Any] = {}
    if config.data.target:
        kinds[config.data.target] = "label"
    if config.data.prediction:
        kinds[config.data.prediction] = "prediction"
    ignore = set(config.data.id_columns)
    names = [n for n in reference.columns if n in current.columns and n not in ignore]
    return compare_profiles(reference, current, config.data.drift, columns=names, kinds=kinds)


# -- the registry ----------------------------------------------------------------------------


def _parse_time(text: str) -> _dt.datetime | None:
    try:
        value = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=_dt.UTC)


# -- the decision ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """Whether to retrain, and why (shown in the summary and ``retrain.json``)."""

    retrain: bool
    reason: str
    policy: str
    age_days: float | None = None
    drifted_columns: tuple[str, ...] = ()


def decide(
    config: Config,
    drift: DriftReport | None,
    production: ModelVersion | None,
    *,
    now: _dt.datetime | None = None,
) -> Decision:
    """Apply ``retrain.policy`` to the drift report and the production model's age."""
    rc = config.retrain
    policy = rc.policy
    drifted = tuple(c.column for c in drift.drifted) if drift else ()
    age: float | None = None
    if production is not None:
        created = _parse_time(production.created)
        if created is not None:
            age = ((now or _dt.datetime.now(_dt.UTC)) - created).total_seconds() / 86400
    if policy == "always":
        return Decision(True, "policy always: retrain on every run", policy, age, drifted)
    if policy == "max-age":
        if production is None:
            return Decision(
                True, "policy max-age: no model in production yet", policy, None, drifted
            )
        if age is None:
            return Decision(
                True,
                f"policy max-age: production version {production.version} has no valid"
                " creation time; retraining to be safe",
                policy,
                None,
                drifted,
            )
        if age >= rc.max_age_days:
            return Decision(
                True,
                f"policy max-age: production version {production.version} is {age:.1f} days"
                f" old (limit {rc.max_age_days})",
                policy,
                age,
                drifted,
            )
        return Decision(
            False,
            f"policy max-age: production version {production.version} is {age:.1f} days old,"
            f" under the {rc.max_age_days}-day limit",
            policy,
            age,
            drifted,
        )
    # on-drift
    assert drift is not None  # the caller computes drift for on-drift
    named = [c for c in rc.drift_columns if c in drifted]
    labels = [c.column for c in drift.drifted if c.kind == "label"]
    reasons = []
    if named:
        reasons.append(f"named column(s) {', '.join(named)} drifted")
    if drift.dataset_drift:
        reasons.append(
            f"{drift.share:.0%} of the columns drifted (threshold {drift.share_threshold:.0%})"
        )
    if labels:
        reasons.append(f"the label {labels[0]!r} drifted")
    if reasons:
        return Decision(True, "policy on-drift: " + "; ".join(reasons), policy, age, drifted)
    watched = (
        f"; watched columns {', '.join(rc.drift_columns)} are stable" if rc.drift_columns else ""
    )
    return Decision(
        False,
        f"policy on-drift: no drift ({drift.share:.0%} of the columns drifted, threshold"
        f" {drift.share_threshold:.0%}){watched}",
        policy,
        age,
        drifted,
    )


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


# -- GitHub: the pull request (mlci.github.pulls) ------------------------------------------


def _repo_path(path: Path, config: Config, runtime: Runtime) -> str:
    """``path`` relative to the repository root (the workspace on a runner)."""
    resolved = path.resolve()
    roots = [runtime.workspace, _git_toplevel(config.root)]
    for root in roots:
        if root and resolved.is_relative_to(Path(root).resolve()):
            return resolved.relative_to(Path(root).resolve()).as_posix()
    return resolved.relative_to(config.root.resolve()).as_posix()


def _git_toplevel(cwd: Path) -> str | None:
    return repo_toplevel(cwd)


# -- rendering --------------------------------------------------------------------------------


def render_markdown(
    doc: Mapping[str, Any],
    model_doc: Mapping[str, Any] | None = None,
    *,
    max_chars: int | None = None,
) -> str:
    """The retrain report (job summary and pull request body) from the results documents.

    Args:
        doc: The ``retrain.json`` document.
        model_doc: ``model.json`` of the comparison, rendered by `mlci.report` below.
        max_chars: A size limit for the whole text (the comparison drops details to fit).
    """
    decision = doc.get("decision") or {}
    lines = [f"## mlci retrain: {cell(doc.get('outcome'))}", ""]
    lines.append(f"**Decision:** {md(decision.get('reason') or '—', 1000)}")
    data = doc.get("data") or {}
    if data:
        lines.append(f"**Fresh data:** {cell(data.get('source'))}, {data.get('rows', 0)} rows")
    prod = doc.get("champion")
    if prod:
        lines.append(
            f"**Champion:** registry version {prod.get('version')} (created"
            f" {cell(prod.get('created'))})"
        )
    elif not str(doc.get("outcome", "")).startswith("stopped"):
        lines.append("**Champion:** none in production (first model)")
    blessing = doc.get("blessing")
    if blessing:
        verdict = "blessed" if blessing.get("blessed") else "not blessed"
        lines.append(f"**Challenger:** {verdict}: {md(blessing.get('reason') or '—', 1000)}")
    errors = [f for f in doc.get("findings", []) if f.get("severity") == "error"]
    if errors:
        lines += ["", "### Problems", ""]
        lines += [f"- {code(f['check'])}: {md(f['message'], 1000)}" for f in errors[:50]]
    drift = doc.get("drift")
    if drift and drift.get("columns"):
        drifted = [c for c in drift["columns"] if c.get("drifted")]
        lines += [
            "",
            f"### Drift: {len(drifted)} of {len(drift['columns'])} columns"
            f" (share {drift.get('share', 0):.0%},"
            f" threshold {drift.get('share_threshold', 0):.0%})",
        ]
        if drifted:
            lines += ["", *drift_table(drifted)]
    pr = doc.get("pull_request")
    if pr:
        url = safe_url(pr.get("url")) or ""
        lines += ["", f"Pull request #{int(pr['number'])} {md(pr['action'])}: {url}".rstrip()]
    prov = doc.get("provenance") or {}
    run_url = safe_url(prov.get("run_url"))
    if run_url:
        lines += ["", f"Run: {run_url}"]
    text = "\n".join(lines) + "\n"
    if model_doc:
        from mlci.report.render import Report
        from mlci.report.render import render_markdown as render_report

        room = None if max_chars is None else max(max_chars - len(text) - 2, 2000)
        text += "\n" + render_report(Report(None, model_doc), max_chars=room)
    return text


# -- the command ------------------------------------------------------------------------------


@dataclass
class _State:
    findings: list[Finding] = field(default_factory=list)
    payload: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)


def _finish(
    state: _State,
    results_dir: Path,
    runtime: Runtime,
    *,
    passed: bool,
    outcome: str,
    model_doc: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    state.payload["outcome"] = outcome
    doc = make_document(
        "retrain",
        passed=passed,
        findings=state.findings,
        payload=state.payload,
        provenance=state.provenance,
    )
    path = write_results(results_dir, doc)
    text = render_markdown(doc, model_doc)
    runtime.summary(text)
    runtime.set_output("outcome", outcome)
    if not runtime.on_actions:
        runtime.info(text.rstrip())
    runtime.info(f"wrote {path}")
    return doc


def _context(runtime: Runtime, client: GitHubClient | None) -> tuple[GitHubClient, str]:
    repo = str(runtime.repository)
    if client is None:
        from mlci.github.api import GitHubClient

        client = GitHubClient.from_runtime(runtime, log=runtime.info)
    if not client.has_token:
        raise InputError(
            "retrain.mode pull-request: no token; pass the workflow token as the action's"
            " github-token input or set GITHUB_TOKEN (permissions: contents: write,"
            " pull-requests: write)"
        )
    return client, repo


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
    body = render_markdown(draft_doc, model_doc, max_chars=BODY_LIMIT - len(marker) - 200)
    with runtime.group("pull request"):
        pr = open_or_update_pull_request(
            gh,
            repo,
            branch=config.retrain.branch,
            files=files_to_commit,
            title=title,
            body=f"{marker}\n{body}",
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


def _display_path(path: Path, config: Config) -> str:
    try:
        return path.resolve().relative_to(config.root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()
