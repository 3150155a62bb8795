"""The catalogue of built-in metrics: names, task, direction and range.

Light on purpose (no scikit-learn import): the config, the gates and the report
all need to know that ``rmse`` is better when lower, without computing anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from mlci.config import Config

Task = Literal["classification", "regression"]

__all__ = [
    "BUILTIN_METRICS",
    "MetricInfo",
    "Task",
    "default_metrics",
    "metric_names",
    "metric_set",
]


@dataclass(frozen=True)
class MetricInfo:
    """What mlci knows about a metric without computing it."""

    name: str
    task: Task
    higher_is_better: bool
    lower: float | None = None
    upper: float | None = None
    description: str = ""


def _m(
    name: str, task: Task, higher: bool, lo: float | None, hi: float | None, text: str
) -> MetricInfo:
    return MetricInfo(name, task, higher, lo, hi, text)


BUILTIN_METRICS: dict[str, MetricInfo] = {
    m.name: m
    for m in (
        _m("accuracy", "classification", True, 0, 1, "share of correct labels"),
        _m("balanced_accuracy", "classification", True, 0, 1, "mean recall over classes"),
        _m("precision_macro", "classification", True, 0, 1, "precision, unweighted class mean"),
        _m("recall_macro", "classification", True, 0, 1, "recall, unweighted class mean"),
        _m("f1_macro", "classification", True, 0, 1, "F1, unweighted class mean"),
        _m("precision_weighted", "classification", True, 0, 1, "precision, support-weighted"),
        _m("recall_weighted", "classification", True, 0, 1, "recall, support-weighted"),
        _m("f1_weighted", "classification", True, 0, 1, "F1, support-weighted"),
        _m("roc_auc", "classification", True, 0, 1, "ROC AUC (one-vs-rest when multiclass)"),
        _m("log_loss", "classification", False, 0, None, "cross-entropy of the probabilities"),
        _m("brier", "classification", False, 0, 1, "mean squared error of the probabilities"),
        _m("ece", "classification", False, 0, 1, "expected calibration error"),
        _m("rmse", "regression", False, 0, None, "root mean squared error"),
        _m("mae", "regression", False, 0, None, "mean absolute error"),
        _m("r2", "regression", True, None, 1, "coefficient of determination"),
        _m("mape", "regression", False, 0, None, "mean absolute percentage error"),
        _m("median_ae", "regression", False, 0, None, "median absolute error"),
    )
}

_DEFAULTS: dict[Task, tuple[str, ...]] = {
    "classification": ("accuracy", "balanced_accuracy", "f1_macro", "roc_auc", "log_loss"),
    "regression": ("rmse", "mae", "r2"),
}


def metric_names(task: Task) -> list[str]:
    """The built-in metric names for ``task``."""
    return [m.name for m in BUILTIN_METRICS.values() if m.task == task]


def default_metrics(task: Task) -> list[str]:
    """The metrics computed when the config names none."""
    return list(_DEFAULTS[task])


def metric_set(config: Config) -> list[str]:
    """The metrics a model is measured by, in order: the one set for every command.

    ``model.metrics`` (default: `default_metrics` of the task), then the custom
    metrics and the gated metrics not listed there. validate-model computes them for
    the candidate and the baseline, the monitor for the production model on live data.
    """
    mc = config.model
    names = list(mc.metrics) if mc.metrics else default_metrics(config.task)
    for name in [*mc.custom_metrics, *mc.gates]:
        if name not in names:
            names.append(name)
    return names
