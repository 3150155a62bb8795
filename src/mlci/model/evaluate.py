"""Evaluate a model on labelled data: metrics, per-slice metrics and the confusion matrix.

Point estimates come from scikit-learn's own metric functions (so they mean
what users expect); a metric that cannot be computed (no probabilities, one
class only, NaN) is ``None`` with the reason in ``errors``, never a number
that could pass a gate by accident.
"""

from __future__ import annotations

import importlib
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlci.config import CustomMetric
from mlci.errors import InputError
from mlci.metrics import BUILTIN_METRICS, Task

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mlci.model.load import LoadedModel

__all__ = [
    "PROBA_METRICS",
    "Evaluation",
    "Predictions",
    "compute_metrics",
    "confusion",
    "feature_changes",
    "higher_is_better",
    "pair_predictions",
    "predict",
    "resolve_function",
    "resolve_functions",
    "slice_masks",
]

#: Built-in metrics that need predicted probabilities.
PROBA_METRICS = frozenset({"roc_auc", "log_loss", "brier", "ece"})
ECE_BINS = 10
MAX_SLICE_VALUES = 50


@dataclass
class Predictions:
    """A model's answers on labelled rows, with labels made comparable.

    Attributes:
        y_true: True labels or values.
        y_pred: Predicted labels or values.
        proba: Probabilities (rows x ``classes``), or None.
        classes: Class labels in the column order of ``proba`` (classification).
        task: ``classification`` or ``regression``.
    """

    y_true: np.ndarray
    y_pred: np.ndarray
    proba: np.ndarray | None
    classes: list[Any] | None
    task: Task

    def subset(self, mask: np.ndarray) -> Predictions:
        """The same predictions restricted to the rows in ``mask``."""
        return Predictions(
            self.y_true[mask],
            self.y_pred[mask],
            None if self.proba is None else self.proba[mask],
            self.classes,
            self.task,
        )

    def labels(self) -> list[Any]:
        """Every label seen in the truth or the predictions, sorted (classification)."""
        import numpy as np

        seen = np.unique(np.concatenate([self.y_true, self.y_pred]))
        return [_py(v) for v in seen]


@dataclass
class Evaluation:
    """Metrics of one model on one data set.

    Attributes:
        metrics: ``{name: value}``; None when the metric could not be computed.
        errors: ``{name: reason}`` for every None in ``metrics``.
    """

    metrics: dict[str, float | None] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def _py(value: Any) -> Any:
    item = getattr(value, "item", None)
    return item() if callable(item) else value


def _common_labels(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cast labels to strings when truth and prediction disagree on type (e.g. 1 vs '1')."""
    import numpy as np

    kinds = {y_true.dtype.kind, y_pred.dtype.kind}
    textual = {"U", "S", "O"}
    if kinds & textual and not kinds <= textual:
        return y_true.astype(str), y_pred.astype(str)
    if kinds <= {"i", "u", "b", "f"} and "f" in kinds:
        # Float labels read from CSV next to integer predictions: compare as numbers.
        return y_true.astype(np.float64), y_pred.astype(np.float64)
    return y_true, y_pred


def predict(model: LoadedModel, X: pd.DataFrame, y_true: pd.Series, task: Task) -> Predictions:
    """Run ``model`` on ``X`` and pair its answers with ``y_true``.

    Raises:
        InputError: when the model answers with the wrong number of rows or classes.
    """
    import numpy as np

    pred = np.asarray(model.predict(X)).reshape(-1)
    return pair_predictions(model, y_true.to_numpy(), pred, lambda: model.predict_proba(X), task)


def pair_predictions(
    model: LoadedModel,
    y: np.ndarray,
    pred: np.ndarray,
    proba_of: Callable[[], np.ndarray | None],
    task: Task,
) -> Predictions:
    """Pair a model's answers ``pred`` with the labels ``y`` (`predict` once the model ran).

    ``proba_of`` gives the model's probabilities on the same rows; it is called for a
    classification task only. A caller that ran the model in chunks passes the answers
    joined.

    Raises:
        InputError: when the model answered with the wrong number of rows or classes.
    """
    import numpy as np

    if len(pred) != len(y):
        raise InputError(
            f"{model.path}: the model returned {len(pred)} predictions for {len(y)} rows;"
            " it must return one answer per row"
        )
    if task == "regression":
        try:
            y_f = y.astype(np.float64)
            pred_f = pred.astype(np.float64)
        except (TypeError, ValueError):
            raise InputError(
                f"{model.path}: the target or the predictions are not numbers, but task is"
                " regression; set task: classification or fix data.target"
            ) from None
        return Predictions(y_f, pred_f, None, None, task)
    y, pred = _common_labels(y, pred)
    proba = proba_of()
    classes = list(model.classes) if model.classes is not None else None
    if proba is not None:
        if classes is None:
            labels = np.unique(np.concatenate([y, pred]))
            if len(labels) == proba.shape[1]:
                classes = [_py(v) for v in labels]
        if classes is None:
            proba = None  # cannot tell which column is which class
        elif len(classes) != proba.shape[1]:
            raise InputError(
                f"{model.path}: the model returned {proba.shape[1]} probability columns"
                f" for {len(classes)} classes; export it again"
            )
        if proba is not None:
            # float32 runtimes (ONNX) give rows summing to 1 +- 1e-7; renormalize
            # so log loss and friends see probabilities.
            total = proba.sum(axis=1, keepdims=True)
            proba = np.where(total > 0, proba / np.where(total > 0, total, 1.0), proba)
        if classes is not None and y.dtype.kind in "USO":
            classes = [str(c) for c in classes]
    return Predictions(y, pred, proba, classes, task)


def resolve_function(name: str, metric: CustomMetric, *, trusted: bool) -> Callable[..., Any]:
    """Import a custom metric's function.

    Only ``sklearn.metrics.*`` unless the model config is trusted: the config of a
    pull request is as untrusted as its model file.

    Raises:
        InputError: when the function cannot be imported or is not allowed.
    """
    module_name, _, attr = metric.function.rpartition(".")
    if not module_name:
        raise InputError(
            f"model.custom_metrics.{name}.function: {metric.function!r} is not a dotted"
            " path; write e.g. sklearn.metrics.matthews_corrcoef"
        )
    if not trusted and not (
        module_name == "sklearn.metrics" or module_name.startswith("sklearn.metrics.")
    ):
        raise InputError(
            f"model.custom_metrics.{name}.function: {metric.function!r} is outside"
            " sklearn.metrics; other functions run code from the repository, so set"
            " model.trusted: true to allow them"
        )
    try:
        fn = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError):
        raise InputError(
            f"model.custom_metrics.{name}.function: cannot import {metric.function!r};"
            " check the spelling (e.g. sklearn.metrics.matthews_corrcoef)"
        ) from None
    if not callable(fn):
        raise InputError(
            f"model.custom_metrics.{name}.function: {metric.function!r} is not callable"
        )
    return fn  # type: ignore[no-any-return]


def resolve_functions(
    custom: Mapping[str, CustomMetric], *, trusted: bool
) -> dict[str, Callable[..., Any]]:
    """`resolve_function` for every custom metric (``model.custom_metrics``)."""
    return {name: resolve_function(name, m, trusted=trusted) for name, m in custom.items()}


def higher_is_better(name: str, custom: Mapping[str, CustomMetric]) -> bool:
    """The direction of ``name``: the catalogue's, or as declared for a custom metric."""
    if name in custom:
        return custom[name].higher_is_better
    return BUILTIN_METRICS[name].higher_is_better


def _class_rows(y_true: np.ndarray, classes: Sequence[Any]) -> np.ndarray:
    """The position of each label in ``classes`` (-1 for a label not among them).

    Each distinct label is looked up once (a million rows hold a handful of labels);
    labels numpy cannot sort together (mixed types) are looked up one by one.
    """
    import numpy as np

    index = {c: i for i, c in enumerate(classes)}
    try:
        uniq, inverse = np.unique(y_true, return_inverse=True)
    except TypeError:
        return np.array([index.get(_py(v), -1) for v in y_true], dtype=np.int64)
    found = np.array([index.get(_py(v), -1) for v in uniq], dtype=np.int64)
    return found[inverse.reshape(-1)]


def _positive_scores(pred: Predictions) -> tuple[np.ndarray, np.ndarray]:
    """True-class indicator matrix (rows x classes) aligned with ``proba``."""
    import numpy as np

    assert pred.proba is not None and pred.classes is not None
    rows = _class_rows(pred.y_true, pred.classes)
    if (rows < 0).any():
        unknown = sorted({str(v) for v, r in zip(pred.y_true, rows, strict=True) if r < 0})
        raise ValueError(f"label(s) {', '.join(unknown[:5])} are not among the model's classes")
    onehot = np.zeros_like(pred.proba)
    onehot[np.arange(len(rows)), rows] = 1.0
    return onehot, rows


def ece(pred: Predictions, bins: int = ECE_BINS) -> float:
    """Expected calibration error of the top-label confidence, equal-width bins."""
    import numpy as np

    assert pred.proba is not None and pred.classes is not None
    conf = pred.proba.max(axis=1)
    correct = pred.proba.argmax(axis=1) == _class_rows(pred.y_true, pred.classes)
    which = np.minimum((conf * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        m = which == b
        if m.any():
            total += abs(correct[m].mean() - conf[m].mean()) * m.sum()
    return float(total / len(conf))


def _builtin(name: str, pred: Predictions) -> float:
    import numpy as np
    from sklearn import metrics as skm

    y, p = pred.y_true, pred.y_pred
    if pred.task == "regression":
        if name == "rmse":
            return float(np.sqrt(skm.mean_squared_error(y, p)))
        fn = {
            "mae": skm.mean_absolute_error,
            "r2": skm.r2_score,
            "mape": skm.mean_absolute_percentage_error,
            "median_ae": skm.median_absolute_error,
        }[name]
        return float(fn(y, p))
    if name in PROBA_METRICS:
        if pred.proba is None or pred.classes is None:
            raise ValueError("the model gives no class probabilities (no predict_proba)")
        onehot, rows = _positive_scores(pred)
        present = np.unique(rows)
        if name == "roc_auc":
            if len(present) < 2:
                raise ValueError("only one class is present in the labels")
            if pred.proba.shape[1] == 2:
                return float(skm.roc_auc_score(rows == 1, pred.proba[:, 1]))
            if len(present) < pred.proba.shape[1]:
                raise ValueError(
                    "some classes are absent from the labels; one-vs-rest AUC needs all"
                )
            return float(
                skm.roc_auc_score(
                    rows, pred.proba, multi_class="ovr", labels=list(range(pred.proba.shape[1]))
                )
            )
        if name == "log_loss":
            return float(skm.log_loss(rows, pred.proba, labels=list(range(pred.proba.shape[1]))))
        if name == "brier":
            return float(np.mean(np.sum((pred.proba - onehot) ** 2, axis=1)) / 2.0)
        return ece(pred)
    labels = pred.labels()
    if name == "accuracy":
        return float(skm.accuracy_score(y, p))
    if name == "balanced_accuracy":
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "y_pred contains classes not in y_true")
            return float(skm.balanced_accuracy_score(y, p))
    kind, _, average = name.partition("_")
    fn = {"precision": skm.precision_score, "recall": skm.recall_score, "f1": skm.f1_score}[kind]
    return float(fn(y, p, labels=labels, average=average, zero_division=0))


def compute_metrics(
    pred: Predictions,
    names: Sequence[str],
    *,
    custom: Mapping[str, CustomMetric] | None = None,
    functions: Mapping[str, Callable[..., Any]] | None = None,
) -> Evaluation:
    """Compute ``names`` on ``pred``.

    Args:
        pred: Predictions paired with the truth.
        names: Built-in or custom metric names.
        custom: The custom metric declarations (``model.custom_metrics``).
        functions: The imported custom metric functions (see `resolve_function`).

    Returns:
        Values, with None plus a reason for anything that could not be computed.
    """
    custom = custom or {}
    functions = functions or {}
    out = Evaluation()
    for name in names:
        try:
            if len(pred.y_true) == 0:
                raise ValueError("no rows to evaluate")
            if name in custom:
                arg = pred.y_pred
                if custom[name].needs_proba:
                    if pred.proba is None:
                        raise ValueError("the model gives no class probabilities")
                    arg = pred.proba[:, 1] if pred.proba.shape[1] == 2 else pred.proba
                fn = functions.get(name) or resolve_function(name, custom[name], trusted=False)
                value = float(fn(pred.y_true, arg))
            elif name in BUILTIN_METRICS:
                value = _builtin(name, pred)
            else:
                raise ValueError("unknown metric")
        except (ValueError, TypeError, ZeroDivisionError, IndexError, InputError) as exc:
            out.metrics[name] = None
            out.errors[name] = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            continue
        if not math.isfinite(value):
            out.metrics[name] = None
            out.errors[name] = f"the value is {value} (not a finite number)"
        else:
            out.metrics[name] = value
    return out


def confusion(pred: Predictions) -> dict[str, Any] | None:
    """``{"labels": [...], "matrix": [[...]]}`` (rows: truth, columns: prediction)."""
    from sklearn.metrics import confusion_matrix

    if pred.task != "classification" or len(pred.y_true) == 0:
        return None
    labels = pred.labels()
    matrix = confusion_matrix(pred.y_true, pred.y_pred, labels=labels)
    return {"labels": labels, "matrix": matrix.tolist()}


def feature_changes(
    candidate: Sequence[str],
    baseline: Sequence[str] | None,
    ignored: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Any]:
    """How the candidate's features differ from the baseline's (both evaluated on the same rows).

    Args:
        candidate: The candidate's feature columns, in input order.
        baseline: The baseline's, or None without a baseline model.
        ignored: Per role (``candidate``, ``baseline``), the eval columns that model
            does not take.

    Returns:
        ``{"candidate", "baseline", "added", "removed", "reordered", "changed",
        "ignored"}``; ``changed`` is True when a feature was added or removed.
    """
    cand = [str(c) for c in candidate]
    base = [str(c) for c in baseline] if baseline is not None else None
    added = [c for c in cand if base is not None and c not in base]
    removed = [c for c in base if c not in cand] if base is not None else []
    common_c = [c for c in cand if base is not None and c in base]
    common_b = [c for c in base if c in cand] if base is not None else []
    return {
        "candidate": cand,
        "baseline": base,
        "added": added,
        "removed": removed,
        "reordered": common_c != common_b,
        "changed": bool(added or removed),
        "ignored": {k: [str(c) for c in v] for k, v in (ignored or {}).items()},
    }


def slice_masks(
    frame: pd.DataFrame, columns: Sequence[str], min_size: int
) -> tuple[list[tuple[str, Any, np.ndarray]], list[str]]:
    """The row masks of every slice with at least ``min_size`` rows.

    Returns:
        ``[(column, value, mask)]`` and notes about what was skipped.

    Raises:
        InputError: when a slice column is not in the data.
    """
    import numpy as np

    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(
            f"model.slices.columns: column(s) {', '.join(map(repr, missing))} are not in the"
            " eval data; fix the names or add the columns"
        )
    out: list[tuple[str, Any, np.ndarray]] = []
    notes: list[str] = []
    for column in columns:
        values = frame[column]
        uniques = values.dropna().unique()
        if len(uniques) > MAX_SLICE_VALUES:
            notes.append(
                f"slice column {column!r} has {len(uniques)} distinct values (more than"
                f" {MAX_SLICE_VALUES}); bin it into a categorical column to slice by it"
            )
            continue
        small = 0
        for value in sorted(uniques, key=str):
            mask = np.asarray(values == value)
            if mask.sum() < min_size:
                small += 1
                continue
            out.append((column, _py(value), mask))
        if small:
            notes.append(
                f"{small} slice(s) of {column!r} have fewer than {min_size} rows"
                " (model.slices.min_size) and were skipped"
            )
    return out, notes
