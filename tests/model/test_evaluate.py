from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from mlci.config import CustomMetric
from mlci.errors import InputError
from mlci.metrics import metric_names
from mlci.model.evaluate import (
    Predictions,
    compute_metrics,
    confusion,
    predict,
    resolve_function,
    slice_masks,
)
from mlci.model.load import load_model
from tests.model.models import Models


def _pred(models: Models, case: str, which: str = "good") -> Predictions:
    c = getattr(models, case)
    m = load_model(getattr(c, which))
    return predict(m, c.eval, c.eval["target"], c.task)  # type: ignore[arg-type]


def test_binary_metrics_match_scikit_learn(models: Models) -> None:
    p = _pred(models, "binary")
    ev = compute_metrics(p, metric_names("classification"))
    assert ev.errors == {}
    y, yhat, p1 = p.y_true, p.y_pred, p.proba[:, 1]  # type: ignore[index]
    assert ev.metrics["accuracy"] == pytest.approx(skm.accuracy_score(y, yhat))
    assert ev.metrics["f1_macro"] == pytest.approx(skm.f1_score(y, yhat, average="macro"))
    assert ev.metrics["precision_weighted"] == pytest.approx(
        skm.precision_score(y, yhat, average="weighted")
    )
    assert ev.metrics["roc_auc"] == pytest.approx(skm.roc_auc_score(y, p1))
    assert ev.metrics["log_loss"] == pytest.approx(skm.log_loss(y, p.proba))
    assert ev.metrics["brier"] == pytest.approx(skm.brier_score_loss(y, p1))
    assert 0 <= ev.metrics["ece"] <= 1  # type: ignore[operator]
    assert ev.metrics["accuracy"] > 0.95  # type: ignore[operator]


def test_multiclass_one_vs_rest_auc_and_confusion_matrix(models: Models) -> None:
    p = _pred(models, "multiclass")
    ev = compute_metrics(p, ["roc_auc", "balanced_accuracy", "log_loss"])
    assert ev.metrics["roc_auc"] == pytest.approx(
        skm.roc_auc_score(p.y_true, p.proba, multi_class="ovr")
    )
    cm = confusion(p)
    assert cm is not None and cm["labels"] == [0, 1, 2]
    assert np.array(cm["matrix"]).sum() == len(p.y_true)
    assert np.trace(np.array(cm["matrix"])) == pytest.approx(
        ev.metrics["balanced_accuracy"] * 0 + (p.y_true == p.y_pred).sum()
    )


def test_regression_metrics(models: Models) -> None:
    p = _pred(models, "regression")
    ev = compute_metrics(p, metric_names("regression"))
    assert ev.metrics["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(p.y_true, p.y_pred)))
    assert ev.metrics["r2"] == pytest.approx(skm.r2_score(p.y_true, p.y_pred))
    assert ev.metrics["median_ae"] == pytest.approx(skm.median_absolute_error(p.y_true, p.y_pred))
    assert confusion(p) is None


def test_uncomputable_metrics_are_none_with_a_reason() -> None:
    y = np.array([1, 1, 1, 1])
    p = Predictions(y, np.array([1, 0, 1, 1]), None, None, "classification")
    ev = compute_metrics(p, ["accuracy", "roc_auc", "log_loss"])
    assert ev.metrics == {"accuracy": 0.75, "roc_auc": None, "log_loss": None}
    assert "no class probabilities" in ev.errors["roc_auc"]
    proba = np.array([[0.2, 0.8]] * 4)
    one_class = Predictions(y, y, proba, [0, 1], "classification")
    ev = compute_metrics(one_class, ["roc_auc"])
    assert ev.metrics["roc_auc"] is None and "only one class" in ev.errors["roc_auc"]
    empty = Predictions(np.array([]), np.array([]), None, None, "regression")
    assert compute_metrics(empty, ["rmse"]).errors == {"rmse": "no rows to evaluate"}
    const = Predictions(np.ones(5), np.ones(5), None, None, "regression")
    ev = compute_metrics(const, ["mape", "r2"])
    assert ev.metrics["mape"] == 0.0


def test_custom_metrics_by_function_name(models: Models) -> None:
    p = _pred(models, "binary")
    custom = {
        "mcc": CustomMetric("sklearn.metrics.matthews_corrcoef", higher_is_better=True),
        "ap": CustomMetric("sklearn.metrics.average_precision_score", True, needs_proba=True),
    }
    fns = {k: resolve_function(k, v, trusted=False) for k, v in custom.items()}
    ev = compute_metrics(p, ["mcc", "ap"], custom=custom, functions=fns)
    assert ev.metrics["mcc"] == pytest.approx(skm.matthews_corrcoef(p.y_true, p.y_pred))
    assert ev.metrics["ap"] == pytest.approx(
        skm.average_precision_score(p.y_true, p.proba[:, 1])  # type: ignore[index]
    )
    with pytest.raises(InputError, match="outside sklearn.metrics.*model.trusted: true"):
        resolve_function("x", CustomMetric("os.system", True), trusted=False)
    with pytest.raises(InputError, match="cannot import 'sklearn.metrics.nope'"):
        resolve_function("x", CustomMetric("sklearn.metrics.nope", True), trusted=False)
    assert resolve_function("x", CustomMetric("numpy.mean", True), trusted=True) is np.mean


def test_string_labels_and_label_type_mismatch() -> None:
    y = np.array(["a", "b", "a"], dtype=object)
    p = Predictions(y, np.array(["a", "a", "a"], dtype=object), None, None, "classification")
    assert compute_metrics(p, ["accuracy"]).metrics["accuracy"] == pytest.approx(2 / 3)


def test_slices_with_minimum_size() -> None:
    frame = pd.DataFrame({"g": ["a"] * 40 + ["b"] * 5 + [None] * 3, "x": range(48)})
    masks, notes = slice_masks(frame, ["g"], 30)
    assert [(c, v, int(m.sum())) for c, v, m in masks] == [("g", "a", 40)]
    assert notes == [
        "1 slice(s) of 'g' have fewer than 30 rows (model.slices.min_size) and were skipped"
    ]
    masks, notes = slice_masks(pd.DataFrame({"x": range(60)}), ["x"], 1)
    assert masks == [] and "60 distinct values" in notes[0]
    with pytest.raises(InputError, match="'nope' are not in the eval data"):
        slice_masks(frame, ["nope"], 1)
