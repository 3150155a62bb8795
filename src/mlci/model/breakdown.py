"""Where a change comes from: per-class metrics, both confusion matrices, regression errors.

A reviewer who sees balanced accuracy fall needs to know which class suffered.
`per_class` gives precision, recall and F1 per class for both models, with the
deltas' paired bootstrap intervals (the same seeded resamples as the metric
deltas: one weight matrix, one matrix product per chunk), sorted by how much
each class got worse. `confusions` puts both models' confusion matrices on one
label set. For regression, `error_summary` gives MAE, RMSE and bias
(mean of prediction minus truth) and `residual_sample` a bounded, seeded sample
of (actual, predicted) pairs and a shared residual histogram for the charts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mlci.model.bootstrap import CHUNK_CELLS, MIN_ROWS, resample_weights
from mlci.model.evaluate import Predictions
from mlci.results import (
    ClassMetricDoc,
    ConfusionDoc,
    ErrorSummaryDoc,
    PerClassDoc,
    ResidualCountsDoc,
    ResidualsDoc,
    SliceErrorsDoc,
)

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "MAX_CLASSES",
    "MAX_POINTS",
    "confusions",
    "error_summary",
    "per_class",
    "residual_sample",
]

#: Classes kept in the per-class table and the confusion matrices (most frequent first).
MAX_CLASSES = 50
#: (actual, predicted) pairs kept for the predicted-versus-actual chart.
MAX_POINTS = 300
#: Bars of the residual histogram.
BINS = 20


def _py(value: Any) -> Any:
    item = getattr(value, "item", None)
    return item() if callable(item) else value


def _labels(*preds: Predictions | None) -> list[Any]:
    """Every label of truth and predictions, most frequent in the truth first, capped."""
    import numpy as np

    present = [p for p in preds if p is not None]
    truth = present[0].y_true
    every = np.concatenate([truth, *(p.y_pred for p in present)])
    values, counts = np.unique(every, return_counts=True)
    in_truth = dict(zip(*np.unique(truth, return_counts=True), strict=True))
    order = sorted(
        range(len(values)), key=lambda i: (-int(in_truth.get(values[i], 0)), -int(counts[i]))
    )
    kept = [_py(values[i]) for i in order[:MAX_CLASSES]]
    try:
        return sorted(kept)
    except TypeError:  # mixed types: keep the frequency order
        return kept


def confusions(candidate: Predictions, baseline: Predictions | None) -> ConfusionDoc | None:
    """Both confusion matrices on one label set (rows: truth, columns: prediction).

    Returns:
        The matrices (``baseline`` None without a baseline model), or None for regression.
    """
    import numpy as np
    from sklearn.metrics import confusion_matrix

    if candidate.task != "classification" or len(candidate.y_true) == 0:
        return None
    labels = _labels(candidate, baseline)
    every = np.unique(
        np.concatenate(
            [candidate.y_true, candidate.y_pred]
            + ([baseline.y_pred] if baseline is not None else [])
        )
    )

    def matrix(pred: Predictions) -> list[list[int]]:
        return [
            [int(v) for v in row]
            for row in confusion_matrix(pred.y_true, pred.y_pred, labels=labels)
        ]

    return ConfusionDoc(
        labels,
        matrix(candidate),
        matrix(baseline) if baseline is not None else None,
        len(every),
    )


def _counts(pred: Predictions, labels: list[Any]) -> np.ndarray:
    """Per-row indicators: for each class, [true positive, predicted, actual] (rows x 3k)."""
    import numpy as np

    cols = []
    for label in labels:
        actual = pred.y_true == label
        predicted = pred.y_pred == label
        cols += [actual & predicted, predicted, actual]
    return np.column_stack(cols).astype(np.float64)


def _scores(S: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall and F1 (each resamples x k) from summed indicators."""
    import numpy as np

    tp, predicted, actual = S[:, 0 : 3 * k : 3], S[:, 1 : 3 * k : 3], S[:, 2 : 3 * k : 3]
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(actual > 0, tp / actual, np.nan)
        f1 = np.where(predicted + actual > 0, 2 * tp / (predicted + actual), 0.0)
    return precision, recall, f1


def per_class(
    candidate: Predictions,
    baseline: Predictions | None,
    *,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> list[PerClassDoc]:
    """Precision, recall and F1 per class for both models, worst change first.

    Args:
        candidate: The candidate's predictions.
        baseline: The baseline's on the same rows, or None.
        resamples: Bootstrap resamples for the intervals of the deltas (0: none).
        confidence: Level of the percentile intervals.
        seed: Random seed (the same seed gives the same intervals).

    Returns:
        One entry per class, sorted by the F1 delta (most negative first), or by the
        candidate's F1 without a baseline.
    """
    import numpy as np

    if candidate.task != "classification" or len(candidate.y_true) == 0:
        return []
    labels = _labels(candidate, baseline)
    k = len(labels)
    n = len(candidate.y_true)
    Lc = _counts(candidate, labels)
    Lb = _counts(baseline, labels) if baseline is not None else None
    point_c = _scores(Lc.sum(axis=0, keepdims=True), k)
    point_b = _scores(Lb.sum(axis=0, keepdims=True), k) if Lb is not None else None
    deltas: list[np.ndarray] | None = None
    if Lb is not None and resamples > 0 and n >= MIN_ROWS:
        L = np.concatenate([Lc, Lb], axis=1)
        chunk = max(1, min(resamples, CHUNK_CELLS // max(n, 1)))
        rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
        parts: list[list[np.ndarray]] = [[], [], []]
        for start in range(0, resamples, chunk):
            _, W = resample_weights(rng, n, min(chunk, resamples - start))
            S = W @ L
            for j, (sc, sb) in enumerate(
                zip(_scores(S[:, : 3 * k], k), _scores(S[:, 3 * k :], k), strict=True)
            ):
                parts[j].append(sc - sb)
        deltas = [np.concatenate(p) for p in parts]
    support = Lc[:, 2::3].sum(axis=0)
    out = []
    for i, label in enumerate(labels):
        cells = [
            _class_cell(
                float(point_c[j][0, i]),
                float(point_b[j][0, i]) if point_b is not None else None,
                deltas[j][:, i] if deltas is not None else None,
                resamples=resamples,
                confidence=confidence,
            )
            for j in range(3)
        ]
        out.append(PerClassDoc(label, int(support[i]), *cells))

    def worse_first(e: PerClassDoc) -> tuple[float, float]:
        f1 = e.f1 or ClassMetricDoc()
        key = f1.delta if f1.delta is not None else (f1.candidate or 0.0)
        return (key, -(e.support or 0))

    return sorted(out, key=worse_first)


def _class_cell(
    c: float, b: float | None, deltas: np.ndarray | None, *, resamples: int, confidence: float
) -> ClassMetricDoc:
    """One metric of one class for both models, with the percentile interval of the delta."""
    import numpy as np

    cand = c if np.isfinite(c) else None
    base = b if b is not None and np.isfinite(b) else None
    lo = hi = None
    if deltas is not None:
        d = deltas[np.isfinite(deltas)]
        if len(d) >= 0.9 * resamples:
            alpha = 1.0 - confidence
            q = np.quantile(d, [alpha / 2, 1 - alpha / 2])
            lo, hi = float(q[0]), float(q[1])
    delta = cand - base if cand is not None and base is not None else None
    return ClassMetricDoc(cand, base, delta, lo, hi)


def error_summary(pred: Predictions) -> ErrorSummaryDoc:
    """MAE, RMSE and bias (mean of prediction minus truth) of a regression."""
    import numpy as np

    if len(pred.y_true) == 0:
        return ErrorSummaryDoc()
    r = pred.y_pred.astype(np.float64) - pred.y_true.astype(np.float64)
    values = (float(np.mean(np.abs(r))), float(np.sqrt(np.mean(r * r))), float(np.mean(r)))
    mae, rmse, bias = (v if np.isfinite(v) else None for v in values)
    return ErrorSummaryDoc(mae, rmse, bias)


def residual_sample(
    candidate: Predictions, baseline: Predictions | None, *, seed: int = 0
) -> ResidualsDoc:
    """A bounded sample of (actual, predicted) pairs and a residual histogram of both models.

    Returns:
        The same sampled rows for both models, and bin edges shared by both
        histograms (open at both ends: the outer bins count everything beyond).
    """
    import numpy as np

    n = len(candidate.y_true)
    rng = np.random.default_rng(seed)
    rows = (
        np.sort(rng.choice(n, size=MAX_POINTS, replace=False)) if n > MAX_POINTS else np.arange(n)
    )
    res_c = candidate.y_pred - candidate.y_true
    res_b = baseline.y_pred - baseline.y_true if baseline is not None else None
    both = res_c if res_b is None else np.concatenate([res_c, res_b])
    both = both[np.isfinite(both)]
    sample = ResidualsDoc(
        actual=[float(v) for v in candidate.y_true[rows]],
        candidate=[float(v) for v in candidate.y_pred[rows]],
        baseline=[float(v) for v in baseline.y_pred[rows]] if baseline is not None else None,
        counts=ResidualCountsDoc(),
    )
    if len(both) == 0:
        return sample
    lo, hi = np.quantile(both, [0.01, 0.99])
    if not hi > lo:
        lo, hi = lo - 1.0, hi + 1.0
    edges = np.linspace(lo, hi, BINS + 1)

    def hist(r: np.ndarray) -> list[int]:
        clipped = np.clip(r[np.isfinite(r)], lo, hi)
        return [int(v) for v in np.histogram(clipped, bins=edges)[0]]

    counts = ResidualCountsDoc(hist(res_c), hist(res_b) if res_b is not None else None)
    return dataclasses.replace(sample, bins=[float(v) for v in edges], counts=counts)


def slice_errors(
    masks: Sequence[tuple[str, Any, np.ndarray]],
    candidate: Predictions,
    baseline: Predictions | None,
) -> list[SliceErrorsDoc]:
    """`error_summary` of both models on every slice."""
    return [
        SliceErrorsDoc(
            column,
            value,
            int(mask.sum()),
            error_summary(candidate.subset(mask)),
            error_summary(baseline.subset(mask)) if baseline is not None else None,
        )
        for column, value, mask in masks
    ]
