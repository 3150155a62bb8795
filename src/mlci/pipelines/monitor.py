"""`mlci monitor`: production data, predictions and delayed labels against the training reference.

Checks, each a *problem* with a stable key when it fires:

- ``data-drift``: feature drift per column (`mlci.data.drift.compare_profiles`, the
  settings of ``data.drift``); error severity when the dataset drifted and
  ``data.drift.dataset_severity`` is error, or a drifted column is configured as error.
- ``prediction-drift``: the production model's answers on current data against its
  answers on the reference (logged in the ``monitor.predictions`` column, else
  computed with the registry's production model).
- ``label-drift``: the delayed labels against the reference's label column.
- ``metric-<name>``: a live metric (production model on current data and delayed
  labels) fails its gate under ``model.gates``; change bounds compare with the
  metrics production was blessed with. Always an error.

On GitHub, each problem has one issue (found again by a hidden marker and the
``mlci-monitor`` label): opened when it appears, its body updated while it
persists, closed with a comment once a run sees the data healthy again (only for
checks that ran). With ``monitor.trigger_retrain``, a newly opened drift or decay
problem dispatches ``mlci-retrain.yml``; with ``monitor.rollback``, a live metric
failing its gate moves production back (`mlci.pipelines.deploy.rollback`), once.
Exit 1 when a problem of error severity was found.
"""

from __future__ import annotations

import datetime as _dt
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlci.config import Config
from mlci.data.profile import reference_profile
from mlci.errors import (
    EXIT_FAILED,
    EXIT_OK,
    DeployError,
    InputError,
    ValidationFailed,
)
from mlci.github.limits import BODY_LIMIT
from mlci.github.runtime import Runtime
from mlci.metrics import metric_set
from mlci.model.baseline import load_production
from mlci.provenance import file_fingerprint
from mlci.registry import production_version
from mlci.report.escape import cell, code, md, plain_number, safe_url
from mlci.report.tables import drift_table
from mlci.results import Finding, make_document, write_results

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mlci.data.drift import DriftReport
    from mlci.data.profile import Profile
    from mlci.github.api import GitHubClient
    from mlci.model.load import LoadedModel
    from mlci.registry import ModelVersion, Registry

__all__ = [
    "ISSUE_LABEL",
    "ISSUE_MARKER",
    "RETRAIN_WORKFLOW",
    "Problem",
    "monitor",
    "sync_issues",
]

ISSUE_LABEL = "mlci-monitor"
#: Hidden marker identifying the issue of one problem (report key, problem key).
ISSUE_MARKER = "<!-- mlci-monitor:{key}:{problem} -->"
RETRAIN_WORKFLOW = "mlci-retrain.yml"
_RETRAIN_WORTHY = ("data-drift", "prediction-drift", "label-drift", "metric-")


@dataclass
class Problem:
    """One problem found by a monitor run (one GitHub issue).

    Attributes:
        key: Stable identity (``data-drift``, ``metric-accuracy`` ...).
        severity: ``error`` or ``warning``.
        title: The issue title.
        summary: One sentence.
        details: Markdown lines (a table of drifted columns, the gate ...).
    """

    key: str
    severity: str
    title: str
    summary: str
    details: list[str] = field(default_factory=list)


# -- reading ----------------------------------------------------------------------------------


def _read_frame(path: Path, chunk_rows: int) -> pd.DataFrame:
    return _read_and_profile(path, chunk_rows, profile=False)[0]


def _read_and_profile(
    path: Path, chunk_rows: int, *, profile: bool = True
) -> tuple[pd.DataFrame, Profile | None]:
    """The data at ``path`` as one frame and, from the same single read, its profile."""
    import pandas as pd

    from mlci.data.io import iter_frames
    from mlci.data.profile import Profiler

    profiler = Profiler() if profile else None
    frames = []
    for offset, frame in iter_frames(path, chunk_rows=chunk_rows):
        if profiler is not None:
            profiler.update(offset, frame)
        frames.append(frame)
    whole = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    if profiler is None:
        return whole, None
    result = profiler.finish()
    result.sources = [str(path)]
    return whole, result


def _profile_series(name: str, values: Any) -> Profile:
    import pandas as pd

    from mlci.data.profile import Profiler

    profiler = Profiler()
    profiler.update(0, pd.DataFrame({name: values}))
    return profiler.finish()


def _new_payload(rows: int, notes: list[str]) -> dict[str, Any]:
    """The monitor document's body before any check has run (both reading paths)."""
    return {
        "rows": rows,
        "drift": None,
        "prediction_drift": None,
        "label_drift": None,
        "live_metrics": None,
        "baseline_metrics": None,
        "gates": [],
        "production": None,
        "problems": [],
        "issues": [],
        "retrain_dispatch": None,
        "rollback": None,
        "notes": notes,
    }


def _label_drift(
    config: Config,
    reference: Profile,
    target: str,
    y_true: Any,
    payload: dict[str, Any],
    evaluated: list[str],
) -> list[Problem]:
    """Judge the delayed labels against the reference's label: the label-drift check."""
    from mlci.data.drift import compare_profiles

    evaluated.append("label-drift")
    ldrift = (
        compare_profiles(
            reference,
            _profile_series(target, y_true),
            config.data.drift,
            columns=[target],
            kinds={target: "label"},
        )
        .columns[0]
        .to_dict()
    )
    payload["label_drift"] = ldrift
    if not ldrift["drifted"]:
        return []
    return [
        Problem(
            "label-drift",
            "warning",
            f"mlci monitor: the label {target} drifted",
            f"the distribution of the delayed labels changed"
            f" ({ldrift['method']} {plain_number(ldrift['statistic'])},"
            f" threshold {plain_number(ldrift['threshold'])})",
            drift_table([ldrift]),
        )
    ]


# -- checks -----------------------------------------------------------------------------------


def _drift_problem(config: Config, drift: DriftReport) -> Problem | None:
    """The data-drift problem, by the one drift rule (`mlci.data.drift.drift_findings`).

    Every drifted column is still listed in ``monitor.json``; the issue opens for the
    columns the rule turns into findings (watched columns: ``retrain.drift_columns``).
    """
    from mlci.data.drift import drift_findings

    findings = drift_findings(
        drift,
        config.data.drift,
        checks=config.data.checks,
        column_checks=config.data.column_checks,
        watched=config.retrain.drift_columns,
    )
    if not findings:
        return None
    dataset = any(f.column is None for f in findings)
    alarming = {f.column for f in findings}
    drifted = [
        c for c in drift.drifted if c.kind == "feature" and (dataset or c.column in alarming)
    ]
    error = any(f.severity == "error" for f in findings)
    names = ", ".join(c.column for c in drifted[:10]) + (" …" if len(drifted) > 10 else "")
    what = "dataset drift" if dataset else "feature drift"
    summary = (
        f"{what}: {len(drifted)} column(s) drifted ({drift.share:.0%} of the tested features,"
        f" threshold {drift.share_threshold:.0%}): {names}"
    )
    return Problem(
        "data-drift",
        "error" if error else "warning",
        f"mlci monitor: {what} in production data",
        summary,
        drift_table([c.to_dict() for c in drifted]),
    )


def _issue_body(problem: Problem, marker: str, context: Mapping[str, Any]) -> str:
    run_url = safe_url(context.get("run_url"))
    lines = [
        marker,
        f"**{md(problem.summary, 2000)}**",
        "",
        f"Severity: {problem.severity}. Last seen: {md(context['time'])}"
        + (f" in [this run]({run_url})" if run_url else "")
        + ".",
        "",
        *problem.details,
        "",
        "This issue is managed by `mlci monitor`: it is updated while the problem persists"
        " and closed when the data is healthy again.",
    ]
    body = "\n".join(lines) + "\n"
    return body if len(body) <= BODY_LIMIT else body[: BODY_LIMIT - 40] + "\n\n*(truncated)*\n"


def sync_issues(
    client: GitHubClient,
    repo: str,
    *,
    problems: Sequence[Problem],
    evaluated: Sequence[str],
    key: str,
    context: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """Open, update and close one issue per problem (deduplicated by a hidden marker).

    Args:
        client: An authenticated client (``issues: write``).
        repo: ``owner/name``.
        problems: The problems found now.
        evaluated: Problem keys (or key prefixes ending in ``-``) whose checks ran, so
            their issues may be closed when the problem is gone.
        key: The report key (``report.key``), part of the marker.
        context: ``time`` and ``run_url`` for the bodies.

    Returns:
        One ``{"problem", "number", "url", "action"}`` per issue touched.
    """
    prefix = ISSUE_MARKER.format(key=key, problem="\0").split("\0")[0]
    open_issues: dict[str, dict[str, Any]] = {}
    for issue in client.paginate(
        f"/repos/{repo}/issues", params={"state": "open", "labels": ISSUE_LABEL}
    ):
        if issue.get("pull_request"):
            continue
        body = issue.get("body") or ""
        start = body.find(prefix)
        if start < 0:
            continue
        end = body.find(" -->", start)
        problem_key = body[start + len(prefix) : end]
        open_issues.setdefault(problem_key, issue)
    actions: list[dict[str, Any]] = []
    for problem in problems:
        marker = ISSUE_MARKER.format(key=key, problem=problem.key)
        body = _issue_body(problem, marker, context)
        existing = open_issues.pop(problem.key, None)
        if existing is not None:
            number = int(existing["number"])
            client.patch(
                f"/repos/{repo}/issues/{number}", json={"title": problem.title, "body": body}
            )
            actions.append(
                {
                    "problem": problem.key,
                    "number": number,
                    "url": existing.get("html_url"),
                    "action": "updated",
                }
            )
            continue
        created = client.post(
            f"/repos/{repo}/issues",
            json={
                "title": problem.title,
                "body": body,
                "labels": [ISSUE_LABEL, f"{ISSUE_LABEL}:{problem.severity}"],
            },
        )
        actions.append(
            {
                "problem": problem.key,
                "number": int(created["number"]),
                "url": created.get("html_url"),
                "action": "opened",
            }
        )

    def checked(problem_key: str) -> bool:
        return any(
            problem_key == e or (e.endswith("-") and problem_key.startswith(e)) for e in evaluated
        )

    for problem_key, issue in sorted(open_issues.items()):
        if not checked(problem_key):
            continue
        number = int(issue["number"])
        run = f" ([run]({context['run_url']}))" if context.get("run_url") else ""
        client.post(
            f"/repos/{repo}/issues/{number}/comments",
            json={
                "body": f"`mlci monitor` sees no `{problem_key}` problem any more as of"
                f" {context['time']}{run}; closing."
            },
        )
        client.patch(
            f"/repos/{repo}/issues/{number}", json={"state": "closed", "state_reason": "completed"}
        )
        actions.append(
            {
                "problem": problem_key,
                "number": number,
                "url": issue.get("html_url"),
                "action": "closed",
            }
        )
    return actions


def _dispatch_retrain(client: GitHubClient, repo: str) -> dict[str, Any]:
    info = client.get(f"/repos/{repo}")
    ref = str(info.get("default_branch") or "main")
    client.post(f"/repos/{repo}/actions/workflows/{RETRAIN_WORKFLOW}/dispatches", json={"ref": ref})
    return {"workflow": RETRAIN_WORKFLOW, "ref": ref}


def _github(runtime: Runtime, client: GitHubClient | None) -> tuple[GitHubClient, str] | None:
    repo = runtime.repository
    if not repo:
        return None
    if client is None:
        from mlci.github.api import GitHubClient

        client = GitHubClient.from_runtime(runtime, log=runtime.info)
    if not client.has_token:
        raise InputError(
            "mlci monitor: GITHUB_REPOSITORY is set but there is no token to open issues or"
            " dispatch the retrain workflow; pass the workflow token as the action's"
            " github-token input or set GITHUB_TOKEN (permissions: issues: write, actions:"
            " write), or set monitor.open_issues: false"
        )
    return client, repo


# -- the command --------------------------------------------------------------------------------


def _current_path(config: Config, current: Path | None) -> Path:
    if current is not None:
        if not current.exists():
            raise InputError(f"--current {current}: not found; check the path")
        return current
    if config.monitor.current:
        return config.existing_path("monitor", "current", purpose="production data to monitor")
    return config.existing_path("data", "current", purpose="production data to monitor")


def _labels(config: Config, frame: pd.DataFrame, chunk_rows: int) -> tuple[np.ndarray | None, str]:
    """The delayed labels aligned with ``frame``'s rows, and where they came from."""
    target = config.data.target
    spec = config.monitor.labels
    if spec and spec in frame.columns:
        return frame[spec].to_numpy(), f"column {spec!r}"
    if spec:
        path = config.resolve(spec)
        if not path.exists():
            return None, f"monitor.labels {spec!r} not found (labels not arrived yet?)"
        labels = _read_frame(path, chunk_rows)
        ids = [c for c in config.data.id_columns if c in labels.columns and c in frame.columns]
        value_cols = [c for c in labels.columns if c not in ids]
        column = target if target in labels.columns else (value_cols[0] if value_cols else None)
        if column is None:
            raise InputError(
                f"{path}: no label column (expected {target!r}); write the delayed labels"
                " with the data.target column"
            )
        if ids:
            joined = frame[ids].merge(labels[[*ids, column]], on=ids, how="left")
            values = joined[column].to_numpy()
            if len(values) != len(frame):
                raise InputError(
                    f"{path}: the id columns {', '.join(ids)} are not unique in the labels;"
                    " keep one label per row"
                )
            return values, f"{spec} joined on {', '.join(ids)}"
        if len(labels) != len(frame):
            raise InputError(
                f"{path}: {len(labels)} labels for {len(frame)} production rows and no"
                " data.id_columns to join on; set data.id_columns or write one label per row"
            )
        return labels[column].to_numpy(), f"{spec} (by row order)"
    if target and target in frame.columns:
        return frame[target].to_numpy(), f"column {target!r}"
    return None, "no labels (set monitor.labels when delayed labels arrive)"


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
    import numpy as np
    import pandas as pd

    from mlci.github.schedule import inactivity_warning
    from mlci.registry import open_registry

    stale = inactivity_warning(config.root, runtime)
    if stale:
        runtime.warning(stale)

    now = _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()
    chunk_rows = config.data.chunk_rows
    path = _current_path(config, current)
    reference = reference_profile(
        config, purpose="the training reference the monitor compares with"
    )
    from mlci.data.predlog import is_prediction_log

    if is_prediction_log(path):
        return _monitor_log(
            config,
            path,
            reference,
            since=since,
            now=now,
            results_dir=results_dir,
            runtime=runtime,
            client=client,
            registry=registry
            or open_registry(config, backend=backend, runtime=runtime, client=client),
        )
    if since is not None:
        raise InputError(
            f"--since {since}: a time window applies to a prediction log folder (mlci serve"
            f" --log-dir), and {path} is not one; drop --since or point --current at the log"
        )
    frame, read_profile = _read_and_profile(path, chunk_rows)  # one read of the current data
    assert read_profile is not None
    current_profile = read_profile
    target = config.data.target
    pred_col = config.monitor.predictions or config.data.prediction
    problems: list[Problem] = []
    evaluated = ["data-drift"]
    notes: list[str] = []
    payload = _new_payload(len(frame), notes)
    # feature drift (label and logged predictions are judged on their own below)
    drop = {c for c in (target, pred_col, config.monitor.labels) if c} | set(config.data.id_columns)
    from mlci.data.drift import compare_profiles

    names = [n for n in reference.columns if n in current_profile.columns and n not in drop]
    drift = compare_profiles(reference, current_profile, config.data.drift, columns=names)
    payload["drift"] = drift.to_dict()
    drift_problem = _drift_problem(config, drift)
    if drift_problem:
        problems.append(drift_problem)
    # the production model
    reg = registry or open_registry(config, backend=backend, runtime=runtime, client=client)
    production = production_version(reg)
    model: LoadedModel | None = None
    with tempfile.TemporaryDirectory(prefix="mlci-monitor-") as tmp:
        if production is not None:
            payload["production"] = {
                "version": production.version,
                "created": production.created,
                "metrics": production.metrics,
            }
            model, _ = load_production(config, reg, production, Path(tmp))
        else:
            notes.append("no model in production: prediction drift and live metrics need one")
        features = frame.drop(columns=[c for c in drop if c in frame.columns])
        # predictions: logged, else computed with the production model
        cur_pred: np.ndarray | None = None
        if pred_col and pred_col in frame.columns:
            cur_pred = frame[pred_col].to_numpy()
        elif model is not None:
            cur_pred = np.asarray(model.predict(features)).reshape(-1)
        ref_pred: np.ndarray | None = None
        ref_path = config.resolve(config.data.reference or "")
        in_profile = bool(pred_col) and pred_col in reference.columns
        if cur_pred is not None and not in_profile and model is not None:
            if ref_path.suffix.lower() == ".json":
                notes.append(
                    "prediction drift skipped: data.reference is a profile without the"
                    " prediction column, so the model cannot be run on it"
                )
            else:
                ref_frame = _read_frame(ref_path, chunk_rows)
                ref_x = ref_frame.drop(columns=[c for c in drop if c in ref_frame.columns])
                ref_pred = np.asarray(model.predict(ref_x)).reshape(-1)
        if cur_pred is not None and (in_profile or ref_pred is not None):
            name = str(pred_col) if in_profile else "prediction"
            ref_side = reference if in_profile else _profile_series(name, ref_pred)
            pdrift = (
                compare_profiles(
                    ref_side,
                    _profile_series(name, cur_pred),
                    config.data.drift,
                    columns=[name],
                    kinds={name: "prediction"},
                )
                .columns[0]
                .to_dict()
            )
            evaluated.append("prediction-drift")
            payload["prediction_drift"] = pdrift
            if pdrift["drifted"]:
                problems.append(
                    Problem(
                        "prediction-drift",
                        "warning",
                        "mlci monitor: the model's predictions drifted",
                        f"the distribution of the production model's predictions changed"
                        f" ({pdrift['method']} {plain_number(pdrift['statistic'])}, threshold"
                        f" {plain_number(pdrift['threshold'])})",
                        drift_table([pdrift]),
                    )
                )
        elif cur_pred is None:
            notes.append("prediction drift skipped: no logged predictions and no production model")
        elif model is None:
            notes.append(
                "prediction drift skipped: data.reference has no prediction column and there"
                " is no production model to compute one"
            )
        # delayed labels: label drift and live metrics
        y_true, label_source = _labels(config, frame, chunk_rows)
        payload["labels"] = label_source
        if y_true is not None:
            known = ~pd.isna(y_true)
            y_true_known = y_true[known]
            if target and target in reference.columns:
                problems += _label_drift(
                    config, reference, target, y_true_known, payload, evaluated
                )
            if model is not None or cur_pred is not None:
                problems += _live_metrics(
                    config,
                    payload,
                    evaluated,
                    model=model,
                    features=features[known],
                    y_true=pd.Series(y_true_known),
                    logged=cur_pred[known] if cur_pred is not None and model is None else None,
                    production=production,
                )
    return _conclude(
        config,
        payload,
        problems,
        evaluated,
        registry=reg,
        production=production,
        results_dir=results_dir,
        runtime=runtime,
        client=client,
        path=path,
        now=now,
    )


def _monitor_log(
    config: Config,
    path: Path,
    reference: Profile,
    *,
    since: str | None,
    now: str,
    results_dir: Path,
    runtime: Runtime,
    client: GitHubClient | None,
    registry: Registry,
) -> int:
    """The monitor on a prediction log folder: every check per model version.

    The version judged (whose problems open issues) is the production version when it
    answered in the window, else the newest version that did; every version's drift,
    prediction drift and live metrics are listed under ``versions`` in ``monitor.json``.
    """
    import pyarrow.parquet as pq

    from mlci.data.drift import compare_profiles
    from mlci.data.predlog import (
        LOG_COLUMNS,
        LabelIndex,
        log_parts,
        parse_since,
        read_labels,
        read_prediction_log,
    )

    target = config.data.target
    pred_col = config.monitor.predictions or config.data.prediction
    chunk_rows = config.data.chunk_rows
    window = parse_since(since, _dt.datetime.fromisoformat(now)) if since else None
    notes: list[str] = []
    log_names = set(pq.read_schema(log_parts(path)[-1]).names)
    drop = {c for c in (target, pred_col, config.monitor.labels) if c} | set(config.data.id_columns)
    features = [
        n
        for n in reference.columns
        if n not in drop and n not in LOG_COLUMNS and not n.startswith("proba_")
    ]
    kinds = {n: reference.columns[n].kind for n in features}
    labels: LabelIndex | None = None
    label_source = "no labels (set monitor.labels to the delayed labels file)"
    spec = config.monitor.labels
    if spec:
        label_path = config.resolve(spec)
        if not label_path.exists():
            label_source = f"monitor.labels {spec!r} not found (labels not arrived yet?)"
        elif not target:
            raise InputError(
                "mlci.yaml: data.target: not set, so the delayed labels have no column to read;"
                " set data.target"
            )
        else:
            labels = read_labels(
                label_path,
                target=target,
                id_columns=config.data.id_columns,
                log_columns=sorted(log_names),
                chunk_rows=chunk_rows,
            )
            labels.source = f"{spec} {labels.source}"
    summary = read_prediction_log(
        path,
        features=features,
        kinds={n: k for n, k in kinds.items() if k is not None},
        since=window,
        chunk_rows=chunk_rows,
        labels=labels,
        label_source=label_source,
    )
    payload = {
        **_new_payload(summary.rows, notes),
        "labels": summary.labels,
        "log": {
            "parts": len(summary.parts),
            "since": window.isoformat() if window else None,
            "rows_outside_window": summary.skipped_rows,
        },
        "versions": [],
        "version_judged": None,
    }
    problems: list[Problem] = []
    evaluated: list[str] = []
    production = production_version(registry)
    if production is not None:
        payload["production"] = {
            "version": production.version,
            "created": production.created,
            "metrics": production.metrics,
        }
    if not summary.versions:
        notes.append(
            "no logged rows in the time window: nothing was checked (issues stay as they are)"
        )
        return _conclude(
            config,
            payload,
            problems,
            evaluated,
            registry=registry,
            production=production,
            results_dir=results_dir,
            runtime=runtime,
            client=client,
            path=path,
            now=now,
        )
    logged = {v.version for v in summary.versions}
    judged = (
        production.version
        if production is not None and production.version in logged
        else summary.versions[0].version
    )
    payload["version_judged"] = judged
    if production is not None and production.version not in logged:
        notes.append(
            f"production v{production.version} answered no logged row in the window; judging"
            f" v{judged}, the newest version that did"
        )
    with tempfile.TemporaryDirectory(prefix="mlci-monitor-") as tmp:
        for v in summary.versions:
            assert v.features is not None and v.predictions is not None
            names = [n for n in features if n in v.features.columns]
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
            ref_pred = _reference_predictions(
                config, registry, v.version, Path(tmp), drop, chunk_rows, notes
            )
            if ref_pred is not None:
                entry["prediction_drift"] = (
                    compare_profiles(
                        _profile_series("prediction", ref_pred),
                        v.predictions,
                        config.data.drift,
                        columns=["prediction"],
                        kinds={"prediction": "prediction"},
                    )
                    .columns[0]
                    .to_dict()
                )
            if v.version != judged:
                if v.labelled:
                    entry["live_metrics"] = _plain_metrics(config, v.y_true, v.y_pred)
                payload["versions"].append(entry)
                continue
            evaluated.append("data-drift")
            payload["drift"] = drift.to_dict()
            drift_problem = _drift_problem(config, drift)
            if drift_problem:
                problems.append(drift_problem)
            pdrift = entry["prediction_drift"]
            if pdrift is not None:
                evaluated.append("prediction-drift")
                payload["prediction_drift"] = pdrift
                if pdrift["drifted"]:
                    problems.append(
                        Problem(
                            "prediction-drift",
                            "warning",
                            "mlci monitor: the model's predictions drifted",
                            f"the distribution of v{judged}'s logged predictions changed"
                            f" ({pdrift['method']} {plain_number(pdrift['statistic'])},"
                            f" threshold {plain_number(pdrift['threshold'])})",
                            drift_table([pdrift]),
                        )
                    )
            if v.labelled and v.y_true is not None:
                import pandas as pd

                if target and target in reference.columns:
                    problems += _label_drift(
                        config, reference, target, v.y_true, payload, evaluated
                    )
                judged_version = _registered(registry, judged)
                problems += _live_metrics(
                    config,
                    payload,
                    evaluated,
                    model=None,
                    features=pd.DataFrame(index=range(len(v.y_true))),
                    y_true=pd.Series(v.y_true),
                    logged=v.y_pred,
                    production=judged_version,
                )
                entry["live_metrics"] = payload["live_metrics"]
            elif not v.labelled:
                notes.append(f"no delayed label joined a row of v{judged}: live metrics skipped")
            payload["versions"].append(entry)
    return _conclude(
        config,
        payload,
        problems,
        evaluated,
        registry=registry,
        production=production,
        results_dir=results_dir,
        runtime=runtime,
        client=client,
        path=path,
        now=now,
    )


def _reference_predictions(
    config: Config,
    registry: Registry,
    version: int | None,
    work: Path,
    drop: set[str],
    chunk_rows: int,
    notes: list[str],
) -> np.ndarray | None:
    """A version's predictions on the reference data (for its prediction drift), or None."""
    import numpy as np

    if version is None:
        notes.append("rows logged without a model version: their prediction drift is skipped")
        return None
    ref_path = config.resolve(config.data.reference or "")
    if ref_path.suffix.lower() == ".json":
        notes.append(
            "prediction drift skipped: data.reference is a profile, so the model cannot be run"
            " on it"
        )
        return None
    version_doc = _registered(registry, version)
    if version_doc is None:
        notes.append(f"v{version} is not in the registry: its prediction drift is skipped")
        return None
    model, _ = load_production(config, registry, version_doc, work)
    ref_frame = _read_frame(ref_path, chunk_rows)
    ref_x = ref_frame.drop(columns=[c for c in drop if c in ref_frame.columns])
    return np.asarray(model.predict(ref_x)).reshape(-1)


def _registered(registry: Registry, version: int | None) -> ModelVersion | None:
    """A registered version, or None when the registry does not have it."""
    if version is None or version not in {v.version for v in registry.versions()}:
        return None
    return registry.get(version)


def _plain_metrics(config: Config, y_true: Any, y_pred: Any) -> dict[str, float | None]:
    """The metric set on logged predictions and delayed labels (no gates)."""
    from mlci.model.evaluate import Predictions, compute_metrics, resolve_functions

    mc = config.model
    functions = resolve_functions(mc.custom_metrics, trusted=mc.trusted)
    evaluation = compute_metrics(
        Predictions(y_true, y_pred, None, None, config.task),
        metric_set(config),
        custom=mc.custom_metrics,
        functions=functions,
    )
    return dict(evaluation.metrics)


def _conclude(
    config: Config,
    payload: dict[str, Any],
    problems: list[Problem],
    evaluated: list[str],
    *,
    registry: Registry,
    production: ModelVersion | None,
    results_dir: Path,
    runtime: Runtime,
    client: GitHubClient | None,
    path: Path,
    now: str,
) -> int:
    """Rollback, issues, the retrain dispatch and ``monitor.json`` from the checks' outcome."""
    reg = registry
    notes: list[str] = payload["notes"]
    findings = [
        Finding(
            "monitor_metric" if p.key.startswith("metric-") else p.key.replace("-", "_"),
            "error" if p.severity == "error" else "warning",
            p.summary,
            metric=p.key.removeprefix("metric-") if p.key.startswith("metric-") else None,
        )
        for p in problems
    ]
    errors = [p for p in problems if p.severity == "error"]
    # rollback when a live metric fails its gate
    decayed = [p for p in problems if p.key.startswith("metric-")]
    if config.monitor.rollback and decayed and production is not None:
        payload["rollback"] = _rollback(config, reg, results_dir, runtime, findings)
    # issues and the retrain dispatch
    gh = (
        _github(runtime, client)
        if (config.monitor.open_issues or config.monitor.trigger_retrain)
        else None
    )
    context = {"time": now, "run_url": runtime.run_url()}
    opened: set[str] = set()
    if gh is not None and config.monitor.open_issues:
        actions = sync_issues(
            gh[0],
            gh[1],
            problems=problems,
            evaluated=evaluated,
            key=config.report.key,
            context=context,
        )
        payload["issues"] = actions
        opened = {a["problem"] for a in actions if a["action"] == "opened"}
    elif gh is None and problems:
        notes.append("not on GitHub (no GITHUB_REPOSITORY): no issues were opened")
    worthy = [p.key for p in problems if p.key.startswith(_RETRAIN_WORTHY)]
    if config.monitor.trigger_retrain and worthy:
        fresh = [k for k in worthy if k in opened] if config.monitor.open_issues else worthy
        if gh is None:
            notes.append("not on GitHub: the retrain workflow was not dispatched")
        elif fresh:
            payload["retrain_dispatch"] = {**_dispatch_retrain(gh[0], gh[1]), "problems": fresh}
        else:
            notes.append(
                "retrain not dispatched again: the problems were already open (dispatched when"
                " they appeared)"
            )
    payload["problems"] = [
        {"key": p.key, "severity": p.severity, "summary": p.summary} for p in problems
    ]
    passed = not errors
    doc = make_document(
        "monitor",
        passed=passed,
        findings=findings,
        payload=payload,
        provenance={
            "data": {"current": {"path": str(path), "fingerprint": file_fingerprint(path)}}
        },
    )
    written = write_results(results_dir, doc)
    text = render_markdown(doc)
    runtime.summary(text)
    runtime.set_output("problems", str(len(problems)))
    if not runtime.on_actions:
        runtime.info(text.rstrip())
    for p in problems:
        (runtime.error if p.severity == "error" else runtime.warning)(p.summary)
    runtime.info(f"wrote {written}")
    return EXIT_FAILED if errors else EXIT_OK


def _live_metrics(
    config: Config,
    payload: dict[str, Any],
    evaluated: list[str],
    *,
    model: LoadedModel | None,
    features: pd.DataFrame,
    y_true: pd.Series,
    logged: np.ndarray | None,
    production: ModelVersion | None,
) -> list[Problem]:
    from mlci.model.evaluate import (
        Predictions,
        compute_metrics,
        higher_is_better,
        predict,
        resolve_functions,
    )
    from mlci.model.gates import evaluate_gates

    if len(y_true) == 0:
        payload["notes"].append("no labelled rows yet: live metrics skipped")
        return []
    if model is not None:
        pred = predict(model, features.reset_index(drop=True), y_true, config.task)
    else:
        assert logged is not None
        pred = Predictions(y_true.to_numpy(), logged, None, None, config.task)
    mc = config.model
    names = metric_set(config)
    functions = resolve_functions(mc.custom_metrics, trusted=mc.trusted)
    evaluation = compute_metrics(pred, names, custom=mc.custom_metrics, functions=functions)
    baseline = production.metrics if production is not None else None
    payload["live_metrics"] = evaluation.metrics
    payload["metric_errors"] = evaluation.errors
    payload["baseline_metrics"] = baseline
    evaluated.append("metric-")
    results, _ = evaluate_gates(
        config.model.gates,
        metrics=evaluation.metrics,
        baseline_metrics=baseline,
        higher_is_better=lambda n: higher_is_better(n, config.model.custom_metrics),
        errors=evaluation.errors,
    )
    payload["gates"] = [r.to_payload() for r in results]
    problems = []
    for metric in dict.fromkeys(r.metric for r in results if not r.passed):
        failed = [r for r in results if r.metric == metric and not r.passed]
        lines = [
            "| rule | threshold | live | at blessing | reason |",
            "| --- | --- | --- | --- | --- |",
        ]
        lines += [
            f"| {code(r.rule)} | {cell(r.threshold)} | {cell(r.observed)} | {cell(r.baseline)}"
            f" | {md(r.reason, 1000)} |"
            for r in failed
        ]
        problems.append(
            Problem(
                f"metric-{metric}",
                "error",
                f"mlci monitor: live {metric} fails its gate",
                f"live {metric} is {plain_number(evaluation.metrics.get(metric))} on {len(y_true)}"
                f" labelled production rows: {failed[0].reason}",
                lines,
            )
        )
    return problems


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


def render_markdown(doc: Mapping[str, Any]) -> str:
    """The monitor report (job summary) from ``monitor.json``."""
    problems = doc.get("problems") or []
    head = "healthy" if not problems else f"{len(problems)} problem(s)"
    lines = [f"## mlci monitor: {head}", "", f"Rows checked: {doc.get('rows')}"]
    prod = doc.get("production")
    lines.append(
        f"Production: version {prod['version']}" if prod else "Production: none registered"
    )
    drift = doc.get("drift") or {}
    drifted = [c["column"] for c in drift.get("columns") or [] if c.get("drifted")]
    if drifted:
        lines.append(
            f"Drifted columns ({len(drifted)}; not every one raises an alarm): "
            + ", ".join(cell(c) for c in drifted[:30])
            + (" …" if len(drifted) > 30 else "")
        )
    for p in problems:
        mark = "❌" if p["severity"] == "error" else "⚠️"
        lines.append(f"- {mark} {code(p['key'])}: {md(p['summary'], 2000)}")
    live = doc.get("live_metrics")
    if live:
        lines += ["", "| metric | live | at blessing |", "| --- | --- | --- |"]
        base = doc.get("baseline_metrics") or {}
        lines += [f"| {cell(k)} | {cell(v)} | {cell(base.get(k))} |" for k, v in live.items()]
    for issue in doc.get("issues") or []:
        lines.append(f"- issue #{issue['number']} {issue['action']} ({issue['problem']})")
    if doc.get("retrain_dispatch"):
        lines.append(f"- dispatched {doc['retrain_dispatch']['workflow']}")
    if doc.get("rollback"):
        lines.append(f"- rollback: {md(doc['rollback'].get('message') or '—', 1000)}")
    for note in doc.get("notes") or []:
        lines.append(f"- note: {md(note, 1000)}")
    return "\n".join(lines) + "\n"
