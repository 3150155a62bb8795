"""The monitor's checks: each reads production data and returns the problems it found.

A check records what it measured in the document's payload and the key of its problem
in ``evaluated`` (so an issue whose check ran and found nothing may close).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from mlci.config import Config
from mlci.errors import InputError
from mlci.metrics import metric_set
from mlci.model.baseline import load_production
from mlci.report.escape import plain_number
from mlci.report.monitor import gate_table
from mlci.report.tables import drift_table

if TYPE_CHECKING:
    from collections.abc import Callable

    import numpy as np
    import pandas as pd

    from mlci.data.drift import DriftReport
    from mlci.data.profile import Profile
    from mlci.metrics import Task
    from mlci.model.evaluate import Predictions
    from mlci.model.load import LoadedModel
    from mlci.registry import ModelVersion, Registry

__all__ = [
    "Current",
    "LabelJoin",
    "ModelAnswers",
    "Problem",
    "current_path",
    "drift_problem",
    "label_drift",
    "live_metrics",
    "new_payload",
    "plain_metrics",
    "predict_file",
    "prediction_drift_problem",
    "profile_series",
    "read_current",
    "read_frame",
    "reference_predictions",
    "registered",
]


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


def read_frame(path: Path, chunk_rows: int, columns: list[str] | None = None) -> pd.DataFrame:
    """The data at ``path`` as one frame (only ``columns``, when given)."""
    import pandas as pd

    from mlci.data.io import iter_frames

    frames = [f for _, f in iter_frames(path, chunk_rows=chunk_rows, columns=columns)]
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


@dataclass
class Current:
    """What the checks need of the current data, gathered in one chunked read.

    Attributes:
        rows: How many rows the data has.
        profile: The profile of the columns read.
        predictions: The logged predictions, else the production model's, or None.
        y_true: The delayed labels aligned with the rows, or None.
        label_source: Where the labels came from (or why there are none).
        answers: The production model's answers on the rows that have a label, or None.
    """

    rows: int
    profile: Profile
    predictions: np.ndarray | None
    y_true: np.ndarray | None
    label_source: str
    answers: ModelAnswers | None


class ModelAnswers:
    """A model's answers on the labelled rows, gathered chunk by chunk (live metrics)."""

    def __init__(self, model: LoadedModel, task: Task) -> None:
        self.model = model
        self.task = task
        self.pred: list[np.ndarray] = []
        self.proba: list[np.ndarray | None] = []

    def add(self, features: pd.DataFrame) -> None:
        """Run the model on the labelled rows of one chunk."""
        import numpy as np

        if len(features) == 0:
            return
        self.pred.append(np.asarray(self.model.predict(features)).reshape(-1))
        if self.task != "regression":
            self.proba.append(self.model.predict_proba(features))

    def pairs(self, y_true: np.ndarray) -> Predictions:
        """The answers paired with the labels of the same rows, like `predict` pairs them."""
        import numpy as np

        from mlci.model.evaluate import pair_predictions

        def proba() -> np.ndarray | None:
            parts = self.proba
            if not parts or any(p is None for p in parts):
                return None
            return np.concatenate([p for p in parts if p is not None])

        pred = np.concatenate(self.pred) if self.pred else np.asarray([])
        return pair_predictions(self.model, y_true, pred, proba, self.task)


def read_current(
    config: Config, path: Path, *, columns: list[str], drop: set[str], model: LoadedModel | None
) -> Current:
    """Profile, predict and join the labels chunk by chunk, reading only ``columns``.

    No chunk outlives its turn: what stays is the profile, one prediction and one label
    per row, and the model's answers on the labelled rows.
    """
    import numpy as np
    import pandas as pd

    from mlci.data.io import iter_frames
    from mlci.data.profile import Profiler

    pred_col = config.monitor.predictions or config.data.prediction
    profiler = Profiler()
    labels = LabelJoin(config)
    preds: list[np.ndarray] = []
    truth: list[np.ndarray] = []
    answers = ModelAnswers(model, config.task) if model is not None else None
    rows = 0
    for offset, frame in iter_frames(path, chunk_rows=config.data.chunk_rows, columns=columns):
        profiler.update(offset, frame)
        rows += len(frame)
        features = frame.drop(columns=[c for c in drop if c in frame.columns])
        if pred_col and pred_col in frame.columns:
            preds.append(np.asarray(frame[pred_col].to_numpy()))
        elif model is not None:
            preds.append(np.asarray(model.predict(features)).reshape(-1))
        y = labels.take(frame, offset)
        if y is not None:
            truth.append(y)
            if answers is not None:
                answers.add(features[~pd.isna(y)])
    profile = profiler.finish()
    profile.sources = [str(path)]
    source = labels.finish(rows)
    return Current(
        rows,
        profile,
        np.concatenate(preds) if preds else None,
        np.concatenate(truth) if truth else None,
        source,
        answers if truth else None,
    )


class LabelJoin:
    """The delayed labels, aligned chunk by chunk with the current data's rows.

    The labels come from ``monitor.labels`` (a column of the data, or a file joined on
    ``data.id_columns``, else by row order), else from the ``data.target`` column.
    """

    def __init__(self, config: Config) -> None:
        self.config = config
        self.source: str | None = None
        self.column: str | None = None
        self.labels: pd.DataFrame | None = None
        self.ids: list[str] = []
        self.path: Path | None = None

    def _open(self, columns: list[str]) -> None:
        """Decide where the labels come from, given the data's columns."""
        target = self.config.data.target
        spec = self.config.monitor.labels
        if spec and spec in columns:
            self.column, self.source = spec, f"column {spec!r}"
        elif spec:
            path = self.path = self.config.resolve(spec)
            if not path.exists():
                self.source = f"monitor.labels {spec!r} not found (labels not arrived yet?)"
                return
            labels = read_frame(path, self.config.data.chunk_rows)
            ids = [c for c in self.config.data.id_columns if c in labels.columns and c in columns]
            value_cols = [c for c in labels.columns if c not in ids]
            column = target if target in labels.columns else (value_cols[0] if value_cols else None)
            if column is None:
                raise InputError(
                    f"{path}: no label column (expected {target!r}); write the delayed labels"
                    " with the data.target column"
                )
            self.column, self.ids, self.labels = column, ids, labels[[*ids, column]]
            self.source = f"{spec} joined on {', '.join(ids)}" if ids else f"{spec} (by row order)"
        elif target and target in columns:
            self.column, self.source = target, f"column {target!r}"
        else:
            self.source = "no labels (set monitor.labels when delayed labels arrive)"

    def take(self, frame: pd.DataFrame, offset: int) -> np.ndarray | None:
        """The labels of one chunk whose first row is ``offset``, or None without labels."""
        import numpy as np

        if self.source is None:
            self._open([str(c) for c in frame.columns])
        if self.column is None:
            return None
        if self.labels is None:
            return np.asarray(frame[self.column].to_numpy())
        if not self.ids:
            return np.asarray(self.labels[self.column].to_numpy()[offset : offset + len(frame)])
        joined = frame[self.ids].merge(self.labels, on=self.ids, how="left")
        if len(joined) != len(frame):
            raise InputError(
                f"{self.path}: the id columns {', '.join(self.ids)} are not unique in the"
                " labels; keep one label per row"
            )
        return np.asarray(joined[self.column].to_numpy())

    def finish(self, rows: int) -> str:
        """Where the labels came from (or why there are none), once every row was taken."""
        assert self.source is not None
        if self.labels is not None and not self.ids and len(self.labels) != rows:
            raise InputError(
                f"{self.path}: {len(self.labels)} labels for {rows} production rows and no"
                " data.id_columns to join on; set data.id_columns or write one label per row"
            )
        return self.source


def profile_series(name: str, values: Any) -> Profile:
    """The profile of one column of values (predictions, delayed labels)."""
    import pandas as pd

    from mlci.data.profile import Profiler

    profiler = Profiler()
    profiler.update(0, pd.DataFrame({name: values}))
    return profiler.finish()


def new_payload(rows: int, notes: list[str]) -> dict[str, Any]:
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


def current_path(config: Config, current: Path | None) -> Path:
    """The production data to monitor: ``--current``, ``monitor.current`` or ``data.current``."""
    if current is not None:
        from mlci.data.io import data_files, is_glob

        if not current.exists() and not (is_glob(current) and data_files(current)):
            raise InputError(f"--current {current}: not found; check the path")
        return current
    if config.monitor.current:
        return config.existing_path("monitor", "current", purpose="production data to monitor")
    return config.existing_path("data", "current", purpose="production data to monitor")


def drift_problem(
    config: Config, drift: DriftReport, *, reference: str = "data.reference"
) -> Problem | None:
    """The data-drift problem, by the one drift rule (`mlci.data.drift.drift_findings`).

    Every drifted column is still listed in ``monitor.json``; the issue opens for the
    columns the rule turns into findings (watched columns: ``retrain.drift_columns``).
    ``reference`` names what the data was compared with (``training data of v2``).
    """
    from mlci.data.drift import watched_drift_findings

    findings = watched_drift_findings(drift, config)
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
        f" threshold {drift.share_threshold:.0%}): {names} (reference: {reference})"
    )
    return Problem(
        "data-drift",
        "error" if error else "warning",
        f"mlci monitor: {what} in production data",
        summary,
        drift_table([c.to_dict() for c in drifted]),
    )


def one_column_drift(
    config: Config,
    reference: Profile,
    current: Profile,
    name: str,
    kind: Literal["label", "prediction"],
) -> dict[str, Any]:
    """The drift of the one column ``name`` (a ``label`` or ``prediction``), as a dict."""
    from mlci.data.drift import compare_profiles

    report = compare_profiles(
        reference, current, config.data.drift, columns=[name], kinds={name: kind}
    )
    return report.columns[0].to_dict()


def label_drift(
    config: Config,
    reference: Profile,
    target: str,
    y_true: Any,
    payload: dict[str, Any],
    evaluated: list[str],
) -> list[Problem]:
    """Judge the delayed labels against the reference's label: the label-drift check."""
    evaluated.append("label-drift")
    ldrift = one_column_drift(config, reference, profile_series(target, y_true), target, "label")
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


def live_metrics(
    config: Config,
    payload: dict[str, Any],
    evaluated: list[str],
    *,
    labelled: int,
    pairs: Callable[[], Predictions],
    production: ModelVersion | None,
) -> list[Problem]:
    """Live metrics on the labelled rows, gated like a blessing: the ``metric-`` check.

    ``pairs`` gives the answers (the model's, else the logged ones) paired with the
    ``labelled`` delayed labels; change bounds compare with the metrics production was
    blessed with.
    """
    from mlci.model.evaluate import compute_metrics, higher_is_better, resolve_functions
    from mlci.model.gates import evaluate_gates

    if labelled == 0:
        payload["notes"].append("no labelled rows yet: live metrics skipped")
        return []
    pred = pairs()
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
        problems.append(
            Problem(
                f"metric-{metric}",
                "error",
                f"mlci monitor: live {metric} fails its gate",
                f"live {metric} is {plain_number(evaluation.metrics.get(metric))} on {labelled}"
                f" labelled production rows: {failed[0].reason}",
                gate_table(failed),
            )
        )
    return problems


def plain_metrics(config: Config, y_true: Any, y_pred: Any) -> dict[str, float | None]:
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


def reference_data(config: Config, notes: list[str]) -> Path | None:
    """``data.reference`` when it is data a model can run on; a profile is noted and None."""
    ref_path = config.resolve(config.data.reference or "")
    if ref_path.suffix.lower() == ".json":
        notes.append(
            "prediction drift skipped: data.reference is a profile, so the model cannot be run"
            " on it"
        )
        return None
    return ref_path


def reference_predictions(
    config: Config,
    registry: Registry,
    version: int | None,
    work: Path,
    drop: set[str],
    chunk_rows: int,
    notes: list[str],
) -> np.ndarray | None:
    """A version's predictions on the reference data (for its prediction drift), or None."""
    if version is None:
        notes.append("rows logged without a model version: their prediction drift is skipped")
        return None
    ref_path = reference_data(config, notes)
    if ref_path is None:
        return None
    version_doc = registered(registry, version)
    if version_doc is None:
        notes.append(f"v{version} is not in the registry: its prediction drift is skipped")
        return None
    model, _ = load_production(config, registry, version_doc, work)
    return predict_file(model, ref_path, chunk_rows, drop)


def predict_file(model: LoadedModel, path: Path, chunk_rows: int, drop: set[str]) -> np.ndarray:
    """The model's predictions on the data at ``path``, chunk by chunk, its features only."""
    import numpy as np

    from mlci.data.io import iter_frames

    columns = model.feature_names  # None: the model names no features, read them all
    out = []
    for _, frame in iter_frames(path, chunk_rows=chunk_rows, columns=columns):
        x = frame.drop(columns=[c for c in drop if c in frame.columns])
        out.append(np.asarray(model.predict(x)).reshape(-1))
    return np.concatenate(out)


def prediction_drift_problem(pdrift: dict[str, Any], whose: str) -> Problem | None:
    """The prediction-drift problem from the prediction column's drift, if it drifted.

    Args:
        pdrift: ``ColumnDrift.to_dict()`` of the predictions.
        whose: Whose predictions, for the summary (``the production model's``).
    """
    if not pdrift["drifted"]:
        return None
    return Problem(
        "prediction-drift",
        "warning",
        "mlci monitor: the model's predictions drifted",
        f"the distribution of {whose} predictions changed"
        f" ({pdrift['method']} {plain_number(pdrift['statistic'])},"
        f" threshold {plain_number(pdrift['threshold'])})",
        drift_table([pdrift]),
    )


def registered(registry: Registry, version: int | None) -> ModelVersion | None:
    """A registered version, or None when the registry does not have it."""
    if version is None or version not in {v.version for v in registry.versions()}:
        return None
    return registry.get(version)
