"""`mlci validate-model`: candidate versus production on the same rows, gates, blessing.

Reads ``mlci.yaml`` (flags override it), evaluates the candidate and the
baseline (production) model on the same eval rows, bootstraps the metric
deltas, checks ONNX parity and budgets, applies the gates and writes
``<results>/model.json`` in the format of docs/results.md. Returns 0 when the
candidate is blessed and 1 when it is not; bad input raises `MlciError` (exit 2).
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlci.config import Config, find_config, load_config
from mlci.errors import EXIT_FAILED, EXIT_OK, GitHubAPIError, InputError, MlciError
from mlci.github.runtime import Runtime
from mlci.metrics import metric_set
from mlci.model.baseline import load_baseline, load_production
from mlci.provenance import file_fingerprint, git_sha
from mlci.report.summaries import model_summary
from mlci.results import (
    DEFAULT_RESULTS_DIR,
    BlessingDoc,
    BootstrapDoc,
    DeltaDoc,
    ErrorsDoc,
    Finding,
    ModelResults,
    SliceDoc,
    as_typed,
    make_document,
    read_document,
    write_results,
)

if TYPE_CHECKING:
    import pandas as pd

    from mlci.model.bootstrap import Interval
    from mlci.model.evaluate import Evaluation, Predictions
    from mlci.model.gates import Blessing, GateResult
    from mlci.model.load import LoadedModel
    from mlci.registry.experiments import ExperimentLog
    from mlci.registry.release_experiments import ReleaseExperimentLog

__all__ = ["FIRST_MODEL_NOTE", "read_table", "validate_model"]

FIRST_MODEL_NOTE = "no production model in the registry: first model"


def read_table(path: Path) -> pd.DataFrame:
    """The whole table at ``path`` (CSV, Parquet, JSON Lines) as one DataFrame.

    Raises:
        InputError: for a missing, empty or unreadable file.
    """
    import pandas as pd

    from mlci.data.io import iter_frames

    frames = [frame for _, frame in iter_frames(path)]
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


@dataclass
class _Baseline:
    """Where the baseline came from and what it gave."""

    kind: str  # "none", "model", "metrics"
    note: str | None = None
    model: LoadedModel | None = None
    metrics: dict[str, float | None] | None = None
    path: Path | None = None
    hash: str | None = None
    version: int | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    #: What provenance names as the baseline (a registry version, not a temporary path).
    where: str | None = None
    params: dict[str, Any] | None = None


def _load_stored_metrics(path: Path, data_fp: str) -> _Baseline:
    doc = read_document(path)
    if not isinstance(doc, ModelResults):
        raise InputError(
            f"{path}: not a model results file (kind {doc.kind!r}); pass a model.json"
            " written by `mlci validate-model`, a model file, registry or none"
        )
    metrics = dict(doc.metrics)
    eval_file = (doc.provenance.data or {}).get("eval")
    stored_fp = eval_file.fingerprint if eval_file is not None else None
    models = doc.provenance.model
    cand = models.candidate.hash if models is not None and models.candidate else None
    same = stored_fp == data_fp
    note = (
        f"baseline metrics read from {path.name}"
        + (
            " (computed on the same eval data)"
            if same
            else " (computed on OTHER eval data than this run: the comparison is approximate)"
        )
        + "; no confidence intervals without the baseline model"
    )
    return _Baseline(
        "metrics", note, metrics=metrics, path=path, hash=cand if isinstance(cand, str) else None
    )


def _registry_baseline(cfg: Config, runtime: Runtime, work: Path, backend: str | None) -> _Baseline:
    """The production model of the registry, or "no baseline" when there is none yet."""
    from mlci.registry import open_registry

    registry = open_registry(cfg, backend=backend, runtime=runtime)
    versions = registry.versions()
    history = [{"version": v.version, "metrics": v.metrics} for v in versions]
    production = registry.state().production
    if production is None:
        return _Baseline("none", FIRST_MODEL_NOTE, history=history)
    version = registry.get(production)
    model, path = load_production(cfg, registry, version, work)
    name = path.name
    return _Baseline(
        "model",
        f"baseline: production model v{production} from the {registry.name} registry",
        model=model,
        path=path,
        hash=model.sha256,
        version=production,
        history=history,
        where=f"{registry.name} registry: v{production}/{name}",
        params=_recorded_params(version.metadata),
    )


def _recorded_params(metadata: Mapping[str, Any]) -> dict[str, Any] | None:
    """The flattened parameters a registered version was validated with, if recorded."""
    params = metadata.get("params")
    return dict(params) if isinstance(params, Mapping) else None


def _params(cfg: Config, base: _Baseline) -> dict[str, Any] | None:
    """The candidate's parameters (``model.params``) next to production's, and what changed."""
    from mlci.model.params import params_diff, read_params

    if not cfg.model.params:
        return None
    files = [cfg.resolve(p) for p in cfg.model.params]
    candidate = read_params(files, names=list(cfg.model.params))
    return {
        "files": list(cfg.model.params),
        "candidate": candidate,
        "baseline": base.params,
        "changed": params_diff(candidate, base.params) if base.params is not None else [],
    }


def _experiment_log(
    cfg: Config, backend: str | None, rt: Runtime
) -> ExperimentLog | ReleaseExperimentLog | None:
    """The experiment history of the registry in use (`experiment_log`), if it can be used.

    None for the github registry without a token or a repository (nothing to read or write).
    """
    from mlci.pipelines.experiments import experiment_log
    from mlci.registry.release_experiments import ReleaseExperimentLog

    try:
        log = experiment_log(cfg, backend, rt)
    except InputError:
        return None
    if isinstance(log, ReleaseExperimentLog) and not log.client.has_token:
        return None
    return log


def _experiment_record(cfg: Config) -> dict[str, Any]:
    """What reproduces this candidate, for the history: train command, environment, packages.

    In ``model.json`` so that the comment job can write the entry of a pull request whose
    job cannot (forks), with the same content.
    """
    from mlci.registry.experiments import environment

    env, packages = environment(cfg.root)
    return {"train_command": cfg.model.train_command, "environment": env, "packages": packages}


def _recent_experiments(
    log: ExperimentLog | ReleaseExperimentLog, count: int = 5
) -> list[dict[str, Any]]:
    """The last candidates before this one, newest first, for the report."""
    from mlci.registry.experiments import recent

    try:
        entries = log.entries()
    except (OSError, MlciError):  # a history that cannot be read never blocks the report
        return []
    return recent(entries, count)


def _pull_head(rt: Runtime) -> str | None:
    """The pull request's head commit on a ``pull_request`` event (the job sees the merge).

    The comment job records that commit too, and it outlives ``refs/pull/N/merge``.
    """
    from mlci.github.event import read_event

    try:
        event = read_event(rt)
    except InputError:
        return None
    head = ((event.get("pull_request") or {}).get("head") or {}).get("sha")
    return head if isinstance(head, str) else None


def _remember(
    log: ExperimentLog | ReleaseExperimentLog, doc: Mapping[str, Any], cfg: Config, rt: Runtime
) -> None:
    """Append this candidate to the experiment history (a failure to write is a warning)."""
    import re

    from mlci.proc import git
    from mlci.registry.experiments import make_entry

    ref = rt.ref or ""
    match = re.fullmatch(r"refs/pull/(\d+)/(?:merge|head)", ref)
    branch = rt.head_ref or rt.ref_name or git("rev-parse", "--abbrev-ref", "HEAD", cwd=cfg.root)
    record = doc.get("experiment") or {}
    try:
        entry = make_entry(
            doc,
            branch=branch or None,
            pr=int(match.group(1)) if match else None,
            train_command=cfg.model.train_command,
            env=record.get("environment") or {},
        )
        entry["git_sha"] = _pull_head(rt) or entry["git_sha"]
        packages = record.get("packages") or []
        log.append(entry, packages)
    except OSError as exc:
        rt.warning(
            f"{log.path}: could not record the experiment ({exc.strerror or exc});"
            " check that the registry directory is writable"
        )
        return
    except GitHubAPIError as exc:
        # A pull request's job has no write token (forks never do): the comment job
        # records the entry from the validated artifact.
        rt.info(
            f"{log.path}: not recorded from this job ({exc.message}); the comment job"
            " (mlci report --post) records it"
        )
        return
    rt.info(f"recorded experiment {entry['id']} in {log.path}")


def _resolve_baseline(
    spec: str,
    cfg: Config,
    runtime: Runtime,
    work: Path,
    data_fp: str,
    from_flag: bool,
    backend: str | None,
) -> _Baseline:
    if spec == "none":
        return _Baseline("none", "no baseline (baseline: none): first model")
    if spec == "registry":
        return _registry_baseline(cfg, runtime, work, backend)
    path = Path(spec) if from_flag else cfg.resolve(spec)
    if not path.exists():
        raise InputError(
            f"{path}: baseline not found; pass a model file, a model.json, registry or none"
        )
    if path.suffix.lower() == ".json":
        return _load_stored_metrics(path, data_fp)
    model = load_baseline(path, cfg)
    return _Baseline("model", f"baseline: {path.name}", model=model, path=path, hash=model.sha256)


def _ignored_note(who: str, columns: list[str]) -> str:
    shown = ", ".join(repr(c) for c in columns[:10])
    more = f" and {len(columns) - 10} more" if len(columns) > 10 else ""
    return (
        f"eval column(s) {shown}{more} are not features of {who} and were ignored;"
        " nothing to do when the training script drops them on purpose (a column that"
        " identifies rows can be declared in data.id_columns, which silences this note)"
    )


def _deltas(
    names: list[str],
    metrics: dict[str, float | None],
    base: dict[str, float | None],
    higher: dict[str, bool],
    intervals: dict[str, Interval] | None,
    no_ci_reason: str,
) -> dict[str, DeltaDoc]:
    from mlci.model.gates import relative_change

    out: dict[str, DeltaDoc] = {}
    for name in names:
        c, b = metrics.get(name), base.get(name)
        if c is None or b is None:
            side = "the candidate" if c is None else "the baseline"
            out[name] = DeltaDoc(reason=f"{name} is missing on {side}")
            continue
        delta = c - b
        iv = (intervals or {}).get(name)
        out[name] = DeltaDoc(
            delta=delta,
            relative=relative_change(c, b),
            ci_low=iv.ci_low if iv is not None else None,
            ci_high=iv.ci_high if iv is not None else None,
            significant=iv.significant if iv is not None else None,
            better=None if delta == 0 else (delta > 0) == higher[name],
            reason=iv.reason if iv is not None else no_ci_reason,
        )
    return out


def _slice_metrics(
    frame: pd.DataFrame,
    cfg: Config,
    names: list[str],
    cand: Predictions,
    base: Predictions | None,
    custom_fns: dict[str, Any],
) -> tuple[list[Any], list[str]]:
    from mlci.model.evaluate import compute_metrics, slice_masks
    from mlci.model.gates import SliceMetrics

    masks, notes = slice_masks(frame, cfg.model.slices.columns, cfg.model.slices.min_size)
    out = []
    custom = cfg.model.custom_metrics
    for column, value, mask in masks:
        m = compute_metrics(cand.subset(mask), names, custom=custom, functions=custom_fns)
        bm = (
            compute_metrics(base.subset(mask), names, custom=custom, functions=custom_fns)
            if base is not None
            else None
        )
        out.append(
            SliceMetrics(
                column, value, int(mask.sum()), m.metrics, bm.metrics if bm is not None else None
            )
        )
    return out, notes


def _breakdown(
    frame: pd.DataFrame, cfg: Config, cand: Predictions, base: Predictions | None
) -> dict[str, Any]:
    """Where the change comes from: per class (classification) or error summary (regression)."""
    from mlci.model import breakdown
    from mlci.model.evaluate import slice_masks

    b = cfg.model.bootstrap
    if cfg.task == "classification":
        return {
            "confusion": breakdown.confusions(cand, base),
            "per_class": breakdown.per_class(
                cand, base, resamples=b.resamples, confidence=b.confidence, seed=b.seed
            ),
        }
    masks, _ = slice_masks(frame, cfg.model.slices.columns, cfg.model.slices.min_size)
    return {
        "errors": ErrorsDoc(
            breakdown.error_summary(cand),
            breakdown.error_summary(base) if base is not None else None,
            breakdown.slice_errors(masks, cand, base),
        ),
        "residuals": breakdown.residual_sample(cand, base, seed=b.seed),
    }


def validate_model(
    config: Config,
    *,
    model: Path | None = None,
    baseline: str | None = None,
    eval_data: Path | None = None,
    target: str | None = None,
    results_dir: Path | None = None,
    runtime: Runtime | None = None,
    backend: str | None = None,
) -> dict[str, Any]:
    """Validate the candidate model against the baseline and write ``model.json``.

    Args:
        config: The loaded ``mlci.yaml``.
        model: The candidate model file (default: ``model.path``).
        baseline: ``registry``, ``none`` or a model / ``model.json`` path (default:
            ``model.baseline``).
        eval_data: The labelled eval data (default: ``data.eval``).
        target: The label column (default: ``data.target``).
        results_dir: Where ``model.json`` goes (default: ``mlci-results/``).
        runtime: The Actions runtime (default: from the environment).
        backend: The registry backend of a ``registry`` baseline (default:
            ``registry.backend``); ``mlci run`` passes ``local``.

    Returns:
        The ``model.json`` document; ``passed`` says whether the candidate is blessed.

    Raises:
        MlciError: for bad usage, config or input (exit 2); the Actions outputs are
            written before it propagates.
    """
    rt = runtime or Runtime()
    out_dir = results_dir if results_dir is not None else Path(DEFAULT_RESULTS_DIR)
    try:
        return _validate(config, model, baseline, eval_data, target, out_dir, rt, backend)
    except MlciError:
        if rt.on_actions:
            rt.set_output("passed", "false")
            rt.set_output("blessed", "false")
            rt.set_output("results-path", "")
        raise


@dataclass
class _Run:
    """What the phases of one validation share: the eval rows and what they found."""

    cfg: Config
    model_path: Path
    eval_path: Path
    target: str
    frame: pd.DataFrame
    data_fp: str
    findings: list[Finding]
    notes: list[str] = field(default_factory=list)
    #: Eval columns each model does not take (``candidate``, ``baseline``).
    ignored: dict[str, list[str]] = field(default_factory=dict)
    #: Features of the baseline the eval data lacks (it was not evaluated).
    baseline_lacks: list[str] = field(default_factory=list)

    @property
    def ignore(self) -> list[str]:
        """Eval columns that are never features: label, ids, slices, logged prediction."""
        cfg = self.cfg
        out = [self.target, *cfg.data.id_columns, *cfg.model.slices.columns]
        if cfg.data.prediction:
            out.append(cfg.data.prediction)
        return out


@dataclass
class _Scores:
    """The candidate and baseline evaluated on the same rows, and how they differ."""

    names: list[str]
    higher: dict[str, bool]
    custom_fns: dict[str, Any]
    cand_pred: Predictions
    cand_eval: Evaluation
    base_pred: Predictions | None = None
    base_eval: Evaluation | None = None
    intervals: dict[str, Interval] | None = None
    deltas: dict[str, DeltaDoc] = field(default_factory=dict)
    slices: list[Any] = field(default_factory=list)
    breakdown: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Served:
    """What gets served (the ONNX export when it passes parity) and its budgets."""

    model: LoadedModel
    parity: dict[str, Any] | None = None
    blocking: list[str] = field(default_factory=list)
    budgets: list[Any] = field(default_factory=list)


def _validate(
    cfg: Config,
    model_flag: Path | None,
    baseline_flag: str | None,
    eval_flag: Path | None,
    target_flag: str | None,
    out_dir: Path,
    rt: Runtime,
    backend: str | None,
) -> dict[str, Any]:
    run = _read_eval(cfg, model_flag, eval_flag, target_flag)
    candidate = _load_candidate(run)
    scores = _score_candidate(run, candidate)
    spec = baseline_flag if baseline_flag is not None else cfg.model.baseline
    with tempfile.TemporaryDirectory(prefix="mlci-model-") as tmp:
        work = Path(tmp)
        base = _resolve_baseline(
            spec, cfg, rt, work, run.data_fp, baseline_flag is not None, backend
        )
        _score_baseline(run, base, scores)
        _compare(run, scores)
        served = _export_and_measure(run, candidate, work)
    results, blessing = _gate(run, candidate, base, scores, served)
    history_log = _experiment_log(cfg, backend, rt)
    doc = _document(run, candidate, base, scores, served, results, blessing, history_log)
    _announce(doc, run, results, out_dir, rt, history_log)
    return doc


def _read_eval(
    cfg: Config, model_flag: Path | None, eval_flag: Path | None, target_flag: str | None
) -> _Run:
    """Find the candidate, the eval data and the label; read the labelled eval rows."""
    mc = cfg.model
    model_path = (
        model_flag if model_flag is not None else (cfg.resolve(mc.path) if mc.path else None)
    )
    if model_path is None:
        raise InputError(
            "validate-model: no model to validate; pass --model PATH or set model.path"
        )
    from mlci.model.committed import carried_model, verify_committed

    committed = carried_model(cfg)
    if committed is not None:  # the retrain pull request: its model as committed, or nothing
        verify_committed(committed, model_path)
    eval_path = (
        eval_flag
        if eval_flag is not None
        else (cfg.resolve(cfg.data.eval) if cfg.data.eval else None)
    )
    if eval_path is None:
        raise InputError(
            "validate-model: no eval data; pass --eval-data PATH or set data.eval in mlci.yaml"
        )
    target = target_flag or cfg.data.target
    if not target:
        raise InputError("validate-model: no label column; pass --target COLUMN or set data.target")

    findings: list[Finding] = []
    frame = read_table(eval_path)
    if target not in frame.columns:
        raise InputError(
            f"{eval_path}: the label column {target!r} is not in the eval data; fix data.target"
            " or pass --target"
        )
    unlabelled = int(frame[target].isna().sum())
    if unlabelled:
        frame = frame[frame[target].notna()].reset_index(drop=True)
        findings.append(
            Finding(
                "label_missing",
                "warning",
                f"{unlabelled} eval row(s) have no label in {target!r} and were left out",
                column=target,
                count=unlabelled,
            )
        )
    if len(frame) == 0:
        raise InputError(f"{eval_path}: no labelled rows to evaluate on; fix the eval data")
    return _Run(cfg, model_path, eval_path, target, frame, file_fingerprint(eval_path), findings)


def _load_candidate(run: _Run) -> LoadedModel:
    """Load the candidate and check it fits the task and the eval columns."""
    from mlci.model.load import load_configured

    mc, task = run.cfg.model, run.cfg.task
    candidate = load_configured(run.model_path, mc)
    if candidate.task_hint is not None and candidate.task_hint != task:
        kind = "classifier" if candidate.task_hint == "classification" else "regressor"
        raise InputError(
            f"{run.model_path}: the model is a {kind} but task is {task!r}; fix `task` in"
            " mlci.yaml or validate the right model"
        )
    if candidate.feature_names is None:
        # Without names the only safe order is the one the config declares.
        raise InputError(
            f"{run.model_path}: the model does not record its feature names; list them in model"
            " input order under model.features in mlci.yaml"
        )
    # Each model takes its own columns of the same eval rows; the rest is ignored.
    run.ignored["candidate"] = candidate.check_columns(run.frame, ignore=run.ignore)
    if run.ignored["candidate"]:
        run.notes.append(_ignored_note("the candidate", run.ignored["candidate"]))
    for w in candidate.warnings:
        run.findings.append(Finding("trusted_model", "warning", w))
    return candidate


def _score_candidate(run: _Run, candidate: LoadedModel) -> _Scores:
    """Predict the eval rows with the candidate and compute the one metric set."""
    from mlci.model.evaluate import compute_metrics, higher_is_better, predict, resolve_functions

    mc = run.cfg.model
    names = metric_set(run.cfg)
    custom_fns = resolve_functions(mc.custom_metrics, trusted=mc.trusted)
    cand_pred = predict(candidate, run.frame, run.frame[run.target], run.cfg.task)
    return _Scores(
        names=names,
        higher={n: higher_is_better(n, mc.custom_metrics) for n in names},
        custom_fns=custom_fns,
        cand_pred=cand_pred,
        cand_eval=compute_metrics(cand_pred, names, custom=mc.custom_metrics, functions=custom_fns),
    )


def _score_baseline(run: _Run, base: _Baseline, scores: _Scores) -> None:
    """Evaluate the baseline model on the same rows, or take its stored metrics."""
    from mlci.model.evaluate import Evaluation, compute_metrics, predict

    task, names = run.cfg.task, scores.names
    if base.note:
        run.notes.append(base.note)
    if base.model is not None:
        for w in base.model.warnings:
            run.findings.append(Finding("trusted_model", "warning", f"baseline: {w}"))
        if base.model.task_hint is not None and base.model.task_hint != task:
            raise InputError(
                f"{base.path}: the baseline model is not a {task} model; pass another --baseline"
            )
        features = base.model.feature_names or []
        lacking = [c for c in features if c not in run.frame.columns]
        if lacking and len(lacking) < len(features):  # none at all: not a model of this data
            _baseline_lacks(run, base, scores, lacking)
            return
        try:
            run.ignored["baseline"] = base.model.check_columns(run.frame, ignore=run.ignore)
            scores.base_pred = predict(base.model, run.frame, run.frame[run.target], task)
        except InputError as exc:
            raise InputError(f"baseline: {exc}") from None
        if run.ignored["baseline"] and run.ignored["baseline"] != run.ignored["candidate"]:
            run.notes.append(_ignored_note("production", run.ignored["baseline"]))
        scores.base_eval = compute_metrics(
            scores.base_pred,
            names,
            custom=run.cfg.model.custom_metrics,
            functions=scores.custom_fns,
        )
    elif base.kind == "metrics":
        assert base.metrics is not None
        stored = base.metrics
        scores.base_eval = Evaluation(
            {n: stored.get(n) for n in names},
            {n: "not in the stored baseline metrics" for n in names if stored.get(n) is None},
        )


def _baseline_lacks(run: _Run, base: _Baseline, scores: _Scores, lacking: list[str]) -> None:
    """The eval data lacks columns the baseline takes: its metrics are unknown, not an exit 2.

    A pull request that drops a column from the data still gets its full report: the
    candidate is evaluated, the baseline is named as not evaluated, each missing column is
    an error finding, and every change gate fails closed (it needs the baseline's value).
    """
    from mlci.model.evaluate import Evaluation

    who = f"production model v{base.version}" if base.version is not None else "the baseline"
    names = ", ".join(repr(c) for c in lacking)
    why = f"{who} was not evaluated: it takes {names}, which the eval data lacks"
    scores.base_eval = Evaluation({n: None for n in scores.names}, dict.fromkeys(scores.names, why))
    run.baseline_lacks = lacking
    run.notes.append(f"{why}; change gates fail closed")
    for column in lacking:
        run.findings.append(
            Finding(
                "missing_column",
                "error",
                f"{who} takes feature column {column!r}, which the eval data lacks, so the"
                " models cannot be compared on the same rows; keep the column in the eval data"
                " (the candidate ignores columns it does not take)",
                column=column,
            )
        )


def _compare(run: _Run, scores: _Scores) -> None:
    """Bootstrap the paired deltas, then the slice metrics and the per-class breakdown."""
    cfg, mc = run.cfg, run.cfg.model
    if scores.base_pred is not None:
        from mlci.model.bootstrap import paired_bootstrap

        b = mc.bootstrap
        scores.intervals = paired_bootstrap(
            scores.cand_pred,
            scores.base_pred,
            scores.names,
            resamples=b.resamples,
            confidence=b.confidence,
            seed=b.seed,
            custom=mc.custom_metrics,
            functions=scores.custom_fns,
        )
    if scores.base_eval is not None:
        scores.deltas = _deltas(
            scores.names,
            scores.cand_eval.metrics,
            scores.base_eval.metrics,
            scores.higher,
            scores.intervals,
            "no baseline model evaluated on these rows",
        )
    scores.slices, slice_notes = _slice_metrics(
        run.frame, cfg, scores.names, scores.cand_pred, scores.base_pred, scores.custom_fns
    )
    run.notes.extend(slice_notes)
    scores.breakdown = _breakdown(run.frame, cfg, scores.cand_pred, scores.base_pred)


def _export_and_measure(run: _Run, candidate: LoadedModel, work: Path) -> _Served:
    """Export to ONNX and check parity (the export is what gets served); measure budgets."""
    from mlci.model.budgets import measure_budgets
    from mlci.model.load import SklearnModel

    mc = run.cfg.model
    served = _Served(candidate)
    if mc.export_onnx and isinstance(candidate, SklearnModel):
        from mlci.model.onnx import export_onnx

        export = export_onnx(
            candidate,
            run.frame,
            work / "candidate.onnx",
            max_abs_diff=mc.parity.max_abs_diff,
            max_label_mismatch=mc.parity.max_label_mismatch,
        )
        for f in export.findings:
            if f.check == "onnx_unsupported":
                f.severity = "warning"
                f.message += "; the original file will be served"
            run.findings.append(f)
        if export.parity is not None:
            served.parity = export.parity.to_payload()
            if not export.parity.passed:
                served.blocking.append("the ONNX export fails the parity check")
            elif export.model is not None:
                served.model = export.model
                run.notes.append(f"ONNX export: {export.precision} inputs, parity passed")
    served.budgets = measure_budgets(served.model, run.frame, mc.budgets)
    return served


def _gate(
    run: _Run, candidate: LoadedModel, base: _Baseline, scores: _Scores, served: _Served
) -> tuple[list[GateResult], Blessing]:
    """Apply the gates and the budgets, decide the blessing, record failed gates."""
    from mlci.model.evaluate import higher_is_better
    from mlci.model.gates import GateResult, bless, evaluate_gates

    mc = run.cfg.model
    base_eval = scores.base_eval
    results, skipped = evaluate_gates(
        mc.gates,
        metrics=scores.cand_eval.metrics,
        baseline_metrics=base_eval.metrics if base_eval is not None else None,
        higher_is_better=lambda n: higher_is_better(n, mc.custom_metrics),
        errors=scores.cand_eval.errors,
        baseline_errors=base_eval.errors if base_eval is not None else None,
        intervals=scores.intervals,
        slices=scores.slices,
    )
    for budget in served.budgets:
        if budget.limit is None:
            continue
        word = "at least" if budget.higher_is_better else "at most"
        results.append(
            GateResult(
                budget.name,
                None,
                budget.name,
                budget.limit,
                budget.observed,
                None,
                bool(budget.passed),
                f"{budget.name} is {budget.observed:.4g} {budget.unit}; must be {word}"
                f" {budget.limit:g} {budget.unit} ({budget.detail})",
            )
        )
    has_baseline = base_eval is not None
    notes = run.notes
    if has_baseline and skipped:
        notes.append(
            "change gates not applied on slices (the baseline has no slice metrics): "
            + ", ".join(skipped)
        )
    notes.extend(f"trusted load: {w}" for w in candidate.warnings)
    blessing = bless(
        results,
        gates_configured=bool(mc.gates) or any(r.limit is not None for r in served.budgets),
        allow_ungated=mc.allow_ungated,
        has_baseline=has_baseline,
        skipped=skipped,
        blocking=served.blocking,
        first_model_note=base.note or FIRST_MODEL_NOTE,
        first=mc.first,
    )
    # The baseline note is already the first-model note when there is no baseline.
    blessing.notes = blessing.notes + [
        n for n in notes if not (not has_baseline and n == base.note)
    ]
    for r in results:
        if not r.passed:
            run.findings.append(
                Finding(
                    "gate_failed",
                    "error",
                    r.reason,
                    metric=r.metric,
                    observed=r.observed,
                    expected={r.rule: r.threshold},
                )
            )
    for name, why in scores.cand_eval.errors.items():
        run.findings.append(Finding("metric_error", "warning", f"{name}: {why}", metric=name))
    return results, blessing


def _document(
    run: _Run,
    candidate: LoadedModel,
    base: _Baseline,
    scores: _Scores,
    served: _Served,
    results: list[GateResult],
    blessing: Blessing,
    history_log: ExperimentLog | ReleaseExperimentLog | None,
) -> dict[str, Any]:
    """The ``model.json`` document (docs/results.md)."""
    from mlci.model.evaluate import confusion, feature_changes

    cfg, mc = run.cfg, run.cfg.model
    assert candidate.feature_names is not None  # _load_candidate refuses a model without
    payload: dict[str, Any] = {
        "task": cfg.task,
        "metrics": scores.cand_eval.metrics,
        "metric_errors": scores.cand_eval.errors,
        "baseline_metrics": scores.base_eval.metrics if scores.base_eval is not None else None,
        "deltas": scores.deltas,
        "higher_is_better": scores.higher,
        "gates": [r.to_payload() for r in results],
        "blessing": BlessingDoc(
            blessed=blessing.blessed,
            reason=blessing.reason,
            notes=blessing.notes,
            candidate_hash=candidate.sha256,
            baseline_hash=base.hash,
            data_fingerprint=run.data_fp,
            git_sha=git_sha(),
        ),
        "slices": [
            SliceDoc(s.column, s.value, s.rows, s.metrics, s.baseline_metrics)
            for s in scores.slices
        ],
        "budgets": [r.to_payload() for r in served.budgets],
        "parity": served.parity,
        "features": feature_changes(
            candidate.feature_names,
            base.model.feature_names if base.model is not None else None,
            run.ignored,
        )
        | {"baseline_lacks": run.baseline_lacks},
        "params": _params(cfg, base),
        "experiment": _experiment_record(cfg),
        "confusion_matrix": confusion(scores.cand_pred),
        **scores.breakdown,
        "rows": len(run.frame),
        "bootstrap": BootstrapDoc(
            resamples=mc.bootstrap.resamples if scores.intervals is not None else 0,
            confidence=mc.bootstrap.confidence,
            seed=mc.bootstrap.seed,
        ),
    }
    if base.history:
        payload["history"] = base.history
    from mlci.model.committed import carried_model

    committed = carried_model(run.cfg)
    if committed is not None:
        payload["retrain_record"] = committed.lineage()
    if history_log is not None:
        payload["experiments"] = _recent_experiments(history_log)
    return make_document(
        "model",
        passed=blessing.blessed,
        findings=run.findings,
        payload=payload,
        provenance=_provenance(run, candidate, base),
    )


def _provenance(run: _Run, candidate: LoadedModel, base: _Baseline) -> dict[str, Any]:
    baseline = (
        {
            "path": base.where or base.path,
            "hash": base.hash,
            "format": base.model.format if base.model is not None else "metrics",
            "version": base.version,
        }
        if base.kind != "none"
        else None
    )
    return {
        "model": {
            "candidate": {
                "path": run.model_path,
                "hash": candidate.sha256,
                "format": candidate.format,
            },
            "baseline": baseline,
        },
        "data": {"eval": {"path": run.eval_path, "fingerprint": run.data_fp}},
    }


def _announce(
    doc: dict[str, Any],
    run: _Run,
    results: list[GateResult],
    out_dir: Path,
    rt: Runtime,
    history_log: ExperimentLog | ReleaseExperimentLog | None,
) -> None:
    """Write ``model.json``, log, annotate, summarize, set the outputs, remember the run."""
    written = write_results(out_dir, doc)
    typed = as_typed(ModelResults, doc, what="model.json")
    blessing = typed.blessing
    assert blessing is not None  # _document always blesses or not
    rt.info(blessing.reason or "")
    for note in blessing.notes:
        rt.info(f"note: {note}")
    for r in results:
        rt.info(f"  {'pass' if r.passed else 'FAIL'}  {r.reason}")
    rt.info(f"wrote {written}")
    for f in run.findings:
        if f.severity == "error" and rt.on_actions:  # off Actions the FAIL lines say it
            rt.error(f.message, title=f"mlci: {f.check}")
        elif f.severity == "warning":
            rt.warning(f.message, title=f"mlci: {f.check}")
    rt.summary(model_summary(typed, run.cfg.report.title))
    if rt.on_actions:
        blessed = "true" if blessing.blessed else "false"
        rt.set_output("passed", blessed)
        rt.set_output("blessed", blessed)
        rt.set_output("results-path", rt.workspace_path(written))
    if history_log is not None:
        _remember(history_log, doc, run.cfg, rt)


def export_model(
    model: Path,
    *,
    sample: Path,
    output: Path | None = None,
    config_path: Path | None = None,
    runtime: Runtime | None = None,
) -> int:
    """`mlci export`: convert a scikit-learn model to ONNX and check parity on ``sample``.

    ``trusted``, ``features``, the parity tolerances and the label column come from
    ``mlci.yaml`` when one is found (``./mlci.yaml`` by default); without it the
    defaults apply.

    Returns:
        0 when exported within the parity tolerances, 1 when parity failed or the
        estimator cannot be converted (reported as a finding, not a crash).
    """
    from mlci.config import CONFIG_FILE, ModelConfig
    from mlci.model.load import load_configured
    from mlci.model.onnx import export_onnx

    rt = runtime or Runtime()
    cfg_file = config_path if config_path is not None else Path(CONFIG_FILE)
    cfg = (
        load_config(find_config(cfg_file)) if config_path is not None or cfg_file.exists() else None
    )
    mc = cfg.model if cfg is not None else ModelConfig()
    loaded = load_configured(model, mc)
    frame = read_table(sample)
    target = cfg.data.target if cfg is not None else None
    if target and target in frame.columns:
        frame = frame.drop(columns=[target])
    out = output if output is not None else model.with_suffix(".onnx")
    if out.resolve() == model.resolve():
        raise InputError(f"{model}: the output would overwrite the model; pass -o PATH")
    result = export_onnx(
        loaded,
        frame,
        out,
        max_abs_diff=mc.parity.max_abs_diff,
        max_label_mismatch=mc.parity.max_label_mismatch,
    )
    for w in loaded.warnings:
        rt.warning(w)
    for f in result.findings:
        rt.error(f.message, title=f"mlci: {f.check}")
    if result.output is None:
        return EXIT_FAILED
    p = result.parity
    assert p is not None
    diff = "n/a" if p.max_abs_diff is None else f"{p.max_abs_diff:.3g}"
    mismatch = "n/a" if p.label_mismatch is None else f"{p.label_mismatch:.3g}"
    rt.info(
        f"wrote {result.output} ({result.precision} inputs); parity on {p.rows} rows:"
        f" max abs diff of {p.compared} {diff} (limit {p.max_abs_diff_limit:g}),"
        f" label mismatch {mismatch} (limit {p.label_mismatch_limit:g}):"
        f" {'passed' if p.passed else 'FAILED'}"
    )
    return EXIT_OK if result.passed else EXIT_FAILED
