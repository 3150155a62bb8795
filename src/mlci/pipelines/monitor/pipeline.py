"""`monitor`: read production data (a file or the prediction log), run the checks, conclude."""

from __future__ import annotations

import datetime as _dt
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlci.config import Config
from mlci.errors import EXIT_FAILED, EXIT_OK, InputError
from mlci.github.runtime import Runtime
from mlci.model.baseline import load_production
from mlci.pipelines.monitor.detect import (
    Current,
    Problem,
    current_path,
    drift_problem,
    label_drift,
    live_metrics,
    new_payload,
    one_column_drift,
    plain_metrics,
    predict_file,
    prediction_drift_problem,
    profile_series,
    read_current,
    reference_data,
    reference_predictions,
    registered,
)
from mlci.pipelines.monitor.dispatch import dispatch_retrain, rollback_on_decay
from mlci.pipelines.monitor.issues import github_repository, sync_issues
from mlci.provenance import file_fingerprint
from mlci.registry import production_version
from mlci.report.monitor import monitor_summary
from mlci.results import Finding, MonitorResults, as_typed, make_document, write_results

if TYPE_CHECKING:
    import numpy as np

    from mlci.data.drift import DriftReport
    from mlci.data.predlog import LabelIndex, LogSummary, VersionSummary
    from mlci.data.profile import Profile
    from mlci.github.api import GitHubClient
    from mlci.model.load import LoadedModel
    from mlci.registry import ModelVersion, Registry
    from mlci.registry.reference import DriftReference

__all__ = ["monitor"]


@dataclass(frozen=True)
class _Context:
    """Where a monitor run reads from and reports to (the same on both reading paths)."""

    path: Path
    now: str
    results_dir: Path
    runtime: Runtime
    client: GitHubClient | None
    reference: DriftReference


@dataclass
class _Found:
    """What the checks found so far: the document's body, the problems, the checks run."""

    payload: dict[str, Any]
    problems: list[Problem] = field(default_factory=list)
    evaluated: list[str] = field(default_factory=list)

    @property
    def notes(self) -> list[str]:
        notes: list[str] = self.payload["notes"]
        return notes

    def add(self, problem: Problem | None) -> None:
        if problem is not None:
            self.problems.append(problem)


def monitor(
    config: Config,
    *,
    current: Path | None,
    results_dir: Path,
    runtime: Runtime,
    client: GitHubClient | None = None,
    registry: Registry | None = None,
    backend: str | None = None,
    since: str | None = None,
) -> int:
    """Run every monitoring check, sync the issues, and write ``monitor.json``.

    When ``current`` is a folder of prediction log parts (``mlci serve --log-dir``), the
    log is read in bounded chunks (`mlci.data.predlog`) and judged per model version.

    Args:
        config: The loaded mlci.yaml.
        current: Production data (default ``monitor.current``, else ``data.current``).
        results_dir: Where ``monitor.json`` goes.
        runtime: The Actions runtime (summary, outputs, token, repository).
        client: A ready GitHub client (default: from the runtime).
        registry: An open registry (default: ``registry`` of mlci.yaml).
        backend: The registry backend when ``registry`` is not given (default:
            ``registry.backend``; ``mlci run`` passes ``local``).
        since: A time window of the prediction log (``7d``, ``12h``); None reads all of it.

    Returns:
        0 when no problem of error severity was found, else 1.
    """
    from mlci.data.predlog import is_prediction_log
    from mlci.github.schedule import inactivity_warning
    from mlci.registry import open_registry

    stale = inactivity_warning(config.root, runtime)
    if stale:
        runtime.warning(stale)
    now = _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()
    path = current_path(config, current)
    if not is_prediction_log(path) and since is not None:
        raise InputError(
            f"--since {since}: a time window applies to a prediction log folder (mlci serve"
            f" --log-dir), and {path} is not one; drop --since or point --current at the log"
        )
    reg = registry or open_registry(config, backend=backend, runtime=runtime, client=client)
    ref = _drift_reference(config, reg)
    ctx = _Context(path, now, results_dir, runtime, client, ref)
    if is_prediction_log(path):
        return _monitor_log(config, ref.profile, registry=reg, since=since, ctx=ctx)
    return _monitor_data(config, ref.profile, open_registry=lambda: reg, ctx=ctx)


def _drift_reference(config: Config, registry: Registry) -> DriftReference:
    """What production is judged against: its recorded training reference, else data.reference."""
    from mlci.registry.reference import drift_reference

    with tempfile.TemporaryDirectory(prefix="mlci-monitor-") as tmp:
        return drift_reference(
            config,
            registry,
            production_version(registry),
            Path(tmp),
            purpose="the training reference the monitor compares with",
        )


def _not_features(config: Config) -> set[str]:
    """Columns that are not model features: label, logged predictions, labels, ids."""
    target = config.data.target
    pred_col = config.monitor.predictions or config.data.prediction
    return {c for c in (target, pred_col, config.monitor.labels) if c} | set(config.data.id_columns)


def _production_doc(production: ModelVersion | None) -> dict[str, Any] | None:
    if production is None:
        return None
    return {
        "version": production.version,
        "created": production.created,
        "metrics": production.metrics,
    }


# -- a data file --------------------------------------------------------------------------------


def _monitor_data(
    config: Config,
    reference: Profile,
    *,
    open_registry: Callable[[], Registry],
    ctx: _Context,
) -> int:
    """The monitor on a data file: feature drift, prediction drift, label drift, live metrics.

    The file is read once, in chunks, and only its columns that a check uses.
    """
    found = _Found(new_payload(0, []), evaluated=["data-drift"])
    found.payload["reference"] = ctx.reference.to_dict()
    drop = _not_features(config)
    registry = open_registry()
    production = production_version(registry)
    with tempfile.TemporaryDirectory(prefix="mlci-monitor-") as tmp:
        model = _production_model(config, registry, production, Path(tmp), found)
        columns = _needed_columns(config, reference, model)
        current = read_current(config, ctx.path, columns=columns, drop=drop, model=model)
        found.payload["rows"] = current.rows
        _feature_drift(config, reference, current.profile, drop, found)
        _prediction_drift(config, ctx.reference, drop, model, current.predictions, found)
        _label_checks(config, reference, current, production, found)
    return _conclude(config, found, registry=registry, production=production, ctx=ctx)


def _needed_columns(config: Config, reference: Profile, model: LoadedModel | None) -> list[str]:
    """The columns of the current data a check uses: the reference's, the model's, labels, ids."""
    features = (model.feature_names or []) if model is not None else []
    names = [
        *reference.columns,
        *features,
        config.monitor.predictions or config.data.prediction,
        config.monitor.labels,
        config.data.target,
        *config.data.id_columns,
    ]
    return list(dict.fromkeys(str(n) for n in names if n))


def _feature_drift(
    config: Config, reference: Profile, current: Profile, drop: set[str], found: _Found
) -> None:
    """Feature drift (label and logged predictions are judged on their own)."""
    from mlci.data.drift import compare_profiles

    names = [n for n in reference.columns if n in current.columns and n not in drop]
    drift = compare_profiles(reference, current, config.data.drift, columns=names)
    found.payload["drift"] = drift.to_dict()
    found.add(drift_problem(config, drift, reference=found.payload["reference"]["source"]))


def _production_model(
    config: Config,
    registry: Registry,
    production: ModelVersion | None,
    work: Path,
    found: _Found,
) -> LoadedModel | None:
    """The production model, loaded by the one production-model loader, or None."""
    if production is None:
        found.notes.append("no model in production: prediction drift and live metrics need one")
        return None
    found.payload["production"] = _production_doc(production)
    model, _ = load_production(config, registry, production, work)
    return model


def _prediction_drift(
    config: Config,
    ref: DriftReference,
    drop: set[str],
    model: LoadedModel | None,
    predictions: np.ndarray | None,
    found: _Found,
) -> None:
    """The predictions on current data against the reference predictions.

    The reference is, in order: the prediction column of the reference profile (logged
    predictions), the predictions production recorded on its own training data (a
    retrained version), else the production model run on ``data.reference``.
    """
    reference = ref.profile
    pred_col = config.monitor.predictions or config.data.prediction
    in_profile = bool(pred_col) and pred_col in reference.columns
    ref_side: Profile | None = None
    name = "prediction"
    if in_profile:
        name, ref_side = str(pred_col), reference
    elif ref.predictions is not None:
        ref_side = ref.predictions
    elif predictions is not None and model is not None:
        ref_pred = _reference_side(config, model, drop, found.notes)
        ref_side = profile_series(name, ref_pred) if ref_pred is not None else None
    if predictions is not None and ref_side is not None:
        pdrift = one_column_drift(
            config, ref_side, profile_series(name, predictions), name, "prediction"
        )
        found.evaluated.append("prediction-drift")
        found.payload["prediction_drift"] = pdrift
        found.add(prediction_drift_problem(pdrift, "the production model's"))
    elif predictions is None:
        found.notes.append(
            "prediction drift skipped: no logged predictions and no production model"
        )
    elif model is None:
        found.notes.append(
            "prediction drift skipped: data.reference has no prediction column and there"
            " is no production model to compute one"
        )


def _reference_side(
    config: Config, model: LoadedModel, drop: set[str], notes: list[str]
) -> np.ndarray | None:
    """The production model's predictions on the reference data, when it is data."""
    ref_path = reference_data(config, notes)
    if ref_path is None:
        return None
    return predict_file(model, ref_path, config.data.chunk_rows, drop)


def _label_checks(
    config: Config,
    reference: Profile,
    current: Current,
    production: ModelVersion | None,
    found: _Found,
) -> None:
    """Delayed labels: label drift and live metrics."""
    import pandas as pd

    from mlci.model.evaluate import Predictions

    found.payload["labels"] = current.label_source
    y_true = current.y_true
    if y_true is None:
        return
    known = ~pd.isna(y_true)
    y_true_known = y_true[known]
    target = config.data.target
    if target and target in reference.columns:
        found.problems += label_drift(
            config, reference, target, y_true_known, found.payload, found.evaluated
        )
    predictions, answers = current.predictions, current.answers
    if answers is not None or predictions is not None:
        y = pd.Series(y_true_known).to_numpy()
        logged = predictions[known] if predictions is not None else None

        def pairs() -> Predictions:
            if answers is not None:
                return answers.pairs(y)
            assert logged is not None
            return Predictions(y, logged, None, None, config.task)

        found.problems += live_metrics(
            config,
            found.payload,
            found.evaluated,
            labelled=len(y),
            pairs=pairs,
            production=production,
        )


# -- a prediction log ---------------------------------------------------------------------------


def _monitor_log(
    config: Config,
    reference: Profile,
    *,
    registry: Registry,
    since: str | None,
    ctx: _Context,
) -> int:
    """The monitor on a prediction log folder: every check per model version.

    The version judged (whose problems open issues) is the production version when it
    answered in the window, else the newest version that did; every version's drift,
    prediction drift and live metrics are listed under ``versions`` in ``monitor.json``.
    Each version's drift is against its own drift reference (`_version_reference`).
    """
    from mlci.data.predlog import parse_since

    window = parse_since(since, _dt.datetime.fromisoformat(ctx.now)) if since else None
    summary, features = _read_log(config, ctx.path, reference, window)
    found = _Found(_log_payload(summary, window))
    found.payload["reference"] = ctx.reference.to_dict()
    production = production_version(registry)
    found.payload["production"] = _production_doc(production)
    if not summary.versions:
        found.notes.append(
            "no logged rows in the time window: nothing was checked (issues stay as they are)"
        )
        return _conclude(config, found, registry=registry, production=production, ctx=ctx)
    judged = _judged_version(summary, production, found)
    with tempfile.TemporaryDirectory(prefix="mlci-monitor-") as tmp:
        for v in summary.versions:
            ref = _version_reference(config, registry, v.version, ctx.reference, Path(tmp))
            entry, drift = _version_entry(
                config, registry, ref, v, features, Path(tmp), found.notes
            )
            entry["reference"] = ref.label
            if v.version == judged:
                found.payload["reference"] = ref.to_dict()
                _judge(config, registry, ref.profile, v, entry, drift, found)
            elif v.labelled:
                entry["live_metrics"] = plain_metrics(config, v.y_true, v.y_pred)
            found.payload["versions"].append(entry)
    return _conclude(config, found, registry=registry, production=production, ctx=ctx)


def _version_reference(
    config: Config, registry: Registry, number: int | None, production: DriftReference, work: Path
) -> DriftReference:
    """A logged version's drift reference: production's, or the version's own.

    A version other than production is judged against the profile it recorded, else
    ``data.reference`` (else production's, when ``data.reference`` is unset).
    """
    from mlci.registry.reference import drift_reference, recorded_reference

    version = registered(registry, number)
    if version is None or version.version == production.version:
        return production
    if recorded_reference(version) is None and (
        production.version is None or not config.data.reference
    ):
        return production  # data.reference already, or the only reference there is
    return drift_reference(
        config, registry, version, work, purpose="the training reference the monitor compares with"
    )


def _read_log(
    config: Config, path: Path, reference: Profile, window: _dt.datetime | None
) -> tuple[LogSummary, list[str]]:
    """The prediction log in the window, summarized per version, and the features read."""
    import pyarrow.parquet as pq

    from mlci.data.predlog import LOG_COLUMNS, log_parts, read_prediction_log

    log_names = set(pq.read_schema(log_parts(path)[-1]).names)
    drop = _not_features(config)
    features = [
        n
        for n in reference.columns
        if n not in drop and n not in LOG_COLUMNS and not n.startswith("proba_")
    ]
    kinds = {n: reference.columns[n].kind for n in features}
    labels, label_source = _log_labels(config, log_names)
    summary = read_prediction_log(
        path,
        features=features,
        kinds={n: k for n, k in kinds.items() if k is not None},
        since=window,
        chunk_rows=config.data.chunk_rows,
        labels=labels,
        label_source=label_source,
    )
    return summary, features


def _log_labels(config: Config, log_names: set[str]) -> tuple[LabelIndex | None, str]:
    """The delayed labels indexed for joining with the log, and where they came from."""
    from mlci.data.predlog import read_labels

    spec = config.monitor.labels
    if not spec:
        return None, "no labels (set monitor.labels to the delayed labels file)"
    label_path = config.resolve(spec)
    if not label_path.exists():
        return None, f"monitor.labels {spec!r} not found (labels not arrived yet?)"
    target = config.data.target
    if not target:
        raise InputError(
            "mlci.yaml: data.target: not set, so the delayed labels have no column to read;"
            " set data.target"
        )
    labels = read_labels(
        label_path,
        target=target,
        id_columns=config.data.id_columns,
        log_columns=sorted(log_names),
        chunk_rows=config.data.chunk_rows,
    )
    labels.source = f"{spec} {labels.source}"
    return labels, "no labels (set monitor.labels to the delayed labels file)"


def _log_payload(summary: LogSummary, window: _dt.datetime | None) -> dict[str, Any]:
    return {
        **new_payload(summary.rows, []),
        "labels": summary.labels,
        "log": {
            "parts": len(summary.parts),
            "since": window.isoformat() if window else None,
            "rows_outside_window": summary.skipped_rows,
        },
        "versions": [],
        "version_judged": None,
    }


def _judged_version(
    summary: LogSummary, production: ModelVersion | None, found: _Found
) -> int | None:
    """Production when it answered in the window, else the newest version that did."""
    logged = {v.version for v in summary.versions}
    judged = (
        production.version
        if production is not None and production.version in logged
        else summary.versions[0].version
    )
    found.payload["version_judged"] = judged
    if production is not None and production.version not in logged:
        what = (
            f"v{judged}, the newest version that did"
            if judged is not None
            else f"{_logged_as(None)} (a service started with --model serves none; serve"
            " the registered version to log it)"
        )
        found.notes.append(
            f"production v{production.version} answered no logged row in the window; judging {what}"
        )
    return judged


def _logged_as(version: int | None) -> str:
    """A logged model version as notes name it: ``v3``, or the rows that have none."""
    return f"v{version}" if version is not None else "the rows logged without a model version"


def _version_entry(
    config: Config,
    registry: Registry,
    ref: DriftReference,
    v: VersionSummary,
    features: list[str],
    work: Path,
    notes: list[str],
) -> tuple[dict[str, Any], DriftReport]:
    """One version's line under ``versions`` (its drift and prediction drift), and its drift.

    Its prediction drift compares with the predictions its drift reference recorded (a
    retrained version's on its own training data), else with its model run on
    ``data.reference``.
    """
    from mlci.data.drift import compare_profiles

    reference = ref.profile
    assert v.features is not None and v.predictions is not None
    names = [n for n in features if n in v.features.columns and n in reference.columns]
    drift = compare_profiles(reference, v.features, config.data.drift, columns=names)
    entry: dict[str, Any] = {
        "version": v.version,
        "rows": v.rows,
        "first": v.first,
        "last": v.last,
        "labelled": v.labelled,
        "drift_share": drift.share,
        "drifted": [c.column for c in drift.drifted if c.kind == "feature"],
        "prediction_drift": None,
        "live_metrics": None,
    }
    ref_side = ref.predictions
    if ref_side is None:
        ref_pred = reference_predictions(
            config, registry, v.version, work, _not_features(config), config.data.chunk_rows, notes
        )
        ref_side = profile_series("prediction", ref_pred) if ref_pred is not None else None
    if ref_side is not None:
        entry["prediction_drift"] = one_column_drift(
            config, ref_side, v.predictions, "prediction", "prediction"
        )
    return entry, drift


def _judge(
    config: Config,
    registry: Registry,
    reference: Profile,
    v: VersionSummary,
    entry: dict[str, Any],
    drift: DriftReport,
    found: _Found,
) -> None:
    """The judged version's problems: drift, prediction drift, label drift, live metrics."""
    import pandas as pd

    from mlci.model.evaluate import Predictions

    found.evaluated.append("data-drift")
    found.payload["drift"] = drift.to_dict()
    found.add(drift_problem(config, drift, reference=found.payload["reference"]["source"]))
    pdrift = entry["prediction_drift"]
    if pdrift is not None:
        found.evaluated.append("prediction-drift")
        found.payload["prediction_drift"] = pdrift
        found.add(prediction_drift_problem(pdrift, f"{_logged_as(v.version)}'s logged"))
    if not v.labelled:
        found.notes.append(
            f"no delayed label joined a row of {_logged_as(v.version)}: live metrics skipped"
        )
        return
    if v.y_true is None:
        return
    target = config.data.target
    if target and target in reference.columns:
        found.problems += label_drift(
            config, reference, target, v.y_true, found.payload, found.evaluated
        )
    found.problems += live_metrics(
        config,
        found.payload,
        found.evaluated,
        labelled=len(v.y_true),
        pairs=lambda: Predictions(
            pd.Series(v.y_true).to_numpy(), v.y_pred, None, None, config.task
        ),
        production=registered(registry, v.version),
    )
    entry["live_metrics"] = found.payload["live_metrics"]


# -- the conclusion -----------------------------------------------------------------------------


def _conclude(
    config: Config,
    found: _Found,
    *,
    registry: Registry,
    production: ModelVersion | None,
    ctx: _Context,
) -> int:
    """Rollback, issues, the retrain dispatch and ``monitor.json`` from the checks' outcome."""
    findings = _findings(found.problems)
    rollback = rollback_on_decay(
        config,
        found.problems,
        registry=registry,
        production=production,
        results_dir=ctx.results_dir,
        runtime=ctx.runtime,
        findings=findings,
    )
    if rollback is not None:
        found.payload["rollback"] = rollback
    monitor = config.monitor
    wanted = monitor.open_issues or monitor.trigger_retrain
    gh = github_repository(ctx.runtime, ctx.client) if wanted else None
    opened = _sync_issues(config, gh, found, ctx)
    dispatch = dispatch_retrain(config, gh, found.problems, opened, found.notes)
    if dispatch is not None:
        found.payload["retrain_dispatch"] = dispatch
    found.payload["problems"] = [
        {"key": p.key, "severity": p.severity, "summary": p.summary} for p in found.problems
    ]
    return _write_and_announce(found, findings, ctx)


def _findings(problems: list[Problem]) -> list[Finding]:
    """One finding per problem (``monitor_metric`` for a live metric)."""
    return [
        Finding(
            "monitor_metric" if p.key.startswith("metric-") else p.key.replace("-", "_"),
            "error" if p.severity == "error" else "warning",
            p.summary,
            metric=p.key.removeprefix("metric-") if p.key.startswith("metric-") else None,
        )
        for p in problems
    ]


def _sync_issues(
    config: Config, gh: tuple[GitHubClient, str] | None, found: _Found, ctx: _Context
) -> set[str]:
    """Sync the issues with ``monitor.open_issues``; the problems whose issue opened now."""
    if gh is not None and config.monitor.open_issues:
        actions = sync_issues(
            gh[0],
            gh[1],
            problems=found.problems,
            evaluated=found.evaluated,
            key=config.report.key,
            context={"time": ctx.now, "run_url": ctx.runtime.run_url()},
        )
        found.payload["issues"] = actions
        return {a["problem"] for a in actions if a["action"] == "opened"}
    if gh is None and found.problems:
        found.notes.append("not on GitHub (no GITHUB_REPOSITORY): no issues were opened")
    return set()


def _write_and_announce(found: _Found, findings: list[Finding], ctx: _Context) -> int:
    """Write ``monitor.json``, the job summary, the output and one annotation per problem."""
    errors = [p for p in found.problems if p.severity == "error"]
    path = ctx.path
    doc = make_document(
        "monitor",
        passed=not errors,
        findings=findings,
        payload=found.payload,
        provenance={
            "data": {"current": {"path": str(path), "fingerprint": file_fingerprint(path)}}
        },
    )
    written = write_results(ctx.results_dir, doc)
    text = monitor_summary(as_typed(MonitorResults, doc, what="monitor.json"))
    runtime = ctx.runtime
    runtime.summary(text)
    runtime.set_output("problems", str(len(found.problems)))
    if not runtime.on_actions:
        runtime.info(text.rstrip())
    for p in found.problems:
        (runtime.error if p.severity == "error" else runtime.warning)(p.summary)
    runtime.info(f"wrote {written}")
    return EXIT_FAILED if errors else EXIT_OK
