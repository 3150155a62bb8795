"""A seeded, vectorized paired bootstrap of metric deltas (candidate minus baseline).

Both models are judged on the same resamples of the eval rows. A resample is a
row of a weight matrix ``W`` (how often each row was drawn), built from a
seeded index matrix with one ``bincount`` per resample; then

- every metric that is a function of per-row sums (accuracy, precision, recall
  and F1 in all averages, balanced accuracy, log loss, Brier score, ECE, RMSE,
  MAE, MAPE, R²) comes out of ONE matrix product ``W @ L`` with a small matrix
  ``L`` of per-row statistics;
- ROC AUC uses its rank form (the Mann-Whitney U statistic): rows are sorted by
  score once, and per resample the weighted count of negatives below each
  positive is a cumulative sum along the sorted weights, with ties counted half;
- anything else (median absolute error, custom metrics) falls back to a loop over
  resamples, only when rows x resamples is small.

There is no Python loop per resample for the built-in metrics. The percentile
interval says whether a change is within noise; with few rows, few resamples or
few rows where the models disagree, the bootstrap cannot tell, and we say so
(``significant`` is None with a reason) instead of reporting a pass.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from mlci.config import CustomMetric
from mlci.model.evaluate import Predictions

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "MIN_DISCORDANT",
    "MIN_ROWS",
    "MIN_TAIL",
    "Interval",
    "paired_bootstrap",
    "resample_weights",
]

#: Fewer eval rows than this: a bootstrap interval means little.
MIN_ROWS = 30
#: Fewer rows where the two models' answers differ than this: too few to judge.
MIN_DISCORDANT = 10
#: Resamples needed in each tail of the interval.
MIN_TAIL = 5
#: Largest rows x resamples for metrics without a vectorized form.
GENERIC_LIMIT = 20_000_000
#: Weight-matrix cells per chunk (bounds memory: 4M float64 = 32 MB per array).
CHUNK_CELLS = 4_000_000

#: Threads for the chunks of resamples (numpy releases the GIL in the heavy parts).
WORKERS = min(2, os.cpu_count() or 1)

_EPS = 2.220446049250313e-16  # float64 machine epsilon, as scikit-learn's log loss/MAPE


@dataclass(frozen=True)
class Interval:
    """The bootstrap interval of one metric delta (candidate minus baseline).

    Attributes:
        ci_low: Lower end of the percentile interval, or None.
        ci_high: Upper end, or None.
        significant: True when the interval excludes 0, False when it includes it,
            None when the bootstrap cannot tell (see ``reason``).
        reason: Why ``significant`` is None or False when that needs explaining.
        resamples: Resamples with a finite delta.
    """

    ci_low: float | None
    ci_high: float | None
    significant: bool | None
    reason: str | None
    resamples: int


def resample_weights(rng: np.random.Generator, n: int, b: int) -> tuple[np.ndarray, np.ndarray]:
    """``b`` bootstrap resamples of ``n`` rows as an index matrix and a weight matrix.

    Returns:
        ``(idx, W)``: ``idx`` is ``b x n`` row numbers drawn with replacement;
        ``W[r, i]`` is how often row ``i`` is in resample ``r``.
    """
    import numpy as np

    idx = rng.integers(0, n, size=(b, n), dtype=np.int64)
    W = np.empty((b, n))
    for r in range(b):  # one bincount per row: cache-friendly, 2x faster than one flat
        W[r] = np.bincount(idx[r], minlength=n)
    return idx, W


# -- per-model preparation ------------------------------------------------------------------


class _Auc:
    """ROC AUC of one score column against one positive class, by ranks.

    Negatives are sorted by score once; for each positive, ``lo``/``hi`` count the
    negatives scored strictly below / at most its score. Per resample, the
    weighted count of negatives below a positive is the cumulative sum of the
    negatives' weights at ``lo``, and ties count half: ``(C[lo] + C[hi]) / 2``.
    """

    def __init__(self, scores: np.ndarray, positive: np.ndarray):
        import numpy as np

        pos = np.flatnonzero(positive)
        neg = np.flatnonzero(~positive)
        self.neg_order = neg[np.argsort(scores[neg], kind="mergesort")]
        neg_sorted = scores[self.neg_order]
        self.pos_order = pos[np.argsort(scores[pos], kind="mergesort")]
        pos_scores = scores[self.pos_order]
        self.lo = np.searchsorted(neg_sorted, pos_scores, side="left")
        self.hi = np.searchsorted(neg_sorted, pos_scores, side="right")
        self.ties = bool(np.any(self.hi > self.lo))

    def __call__(self, W: np.ndarray) -> np.ndarray:
        import numpy as np

        b = len(W)
        C = np.empty((b, len(self.neg_order) + 1))
        C[:, 0] = 0.0
        np.cumsum(W.take(self.neg_order, axis=1), axis=1, out=C[:, 1:])
        below = C.take(self.lo, axis=1)
        if self.ties:
            below += C.take(self.hi, axis=1)
            below *= 0.5
        Wp = W.take(self.pos_order, axis=1)
        num = np.einsum("ij,ij->i", Wp, below)
        npos = Wp.sum(axis=1)
        nneg = C[:, -1]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(num / (npos * nneg))


def _codes(values: np.ndarray, labels: list[Any]) -> np.ndarray:
    """Positions of ``values`` in ``labels`` (vectorized when both are plain arrays)."""
    import numpy as np

    lab = np.asarray(labels)
    if lab.dtype.kind in "biufUS" and values.dtype.kind == lab.dtype.kind:
        sorter = np.argsort(lab, kind="mergesort")
        pos = np.searchsorted(lab, values, sorter=sorter)
        pos = np.minimum(pos, len(lab) - 1)
        codes = sorter[pos]
        return np.asarray(np.where(lab[codes] == values, codes, -1))
    index = {v: i for i, v in enumerate(labels)}
    return np.array([index.get(_key(v), -1) for v in values], dtype=np.int64)


class _Model:
    """Per-row statistics of one model for the vectorized metrics.

    ``columns`` are appended to the shared linear-statistics matrix; ``metric``
    turns the resampled sums back into metric values.
    """

    def __init__(
        self,
        pred: Predictions,
        labels: list[Any],
        offset: int,
        names: Sequence[str] | None = None,
    ):
        import numpy as np

        want = set(names) if names is not None else _ALL
        self.pred = pred
        self.n = len(pred.y_true)
        cols: dict[str, np.ndarray] = {}
        self.auc: list[_Auc] = []
        self.K = 0
        if pred.task == "classification":
            K = len(labels)
            self.K = K
            y = _codes(pred.y_true, labels)
            p = _codes(pred.y_pred, labels)
            eye = np.eye(K)
            T, P = eye[y], eye[p]
            self.present = np.zeros(K, dtype=bool)
            self.present[np.unique(np.concatenate([y, p]))] = True
            if want & _LABEL_METRICS:
                cols["tc"], cols["pc"], cols["tp"] = T, P, T * P
            if pred.proba is not None and pred.classes is not None:
                rows = _codes(pred.y_true, list(pred.classes))
                if (rows >= 0).all():
                    proba = pred.proba
                    onehot = np.zeros_like(proba)
                    onehot[np.arange(self.n), rows] = 1.0
                    p_true = proba[np.arange(self.n), rows]
                    row_sum = proba.sum(axis=1)
                    p_norm = np.clip(p_true / np.where(row_sum > 0, row_sum, 1.0), _EPS, 1.0)
                    if "log_loss" in want:
                        cols["log_loss"] = -np.log(p_norm)[:, None]
                    if "brier" in want:
                        cols["brier"] = (np.sum((proba - onehot) ** 2, axis=1) / 2.0)[:, None]
                    if "ece" in want:
                        conf = proba.max(axis=1)
                        correct = (proba.argmax(axis=1) == rows).astype(np.float64)
                        bins = np.minimum((conf * 10).astype(int), 9)
                        cols["ece"] = np.eye(10)[bins] * (correct - conf)[:, None]
                    present = np.unique(rows)
                    binary = proba.shape[1] == 2
                    if "roc_auc" in want and binary and len(present) == 2:
                        self.auc = [_Auc(proba[:, 1], rows == 1)]
                    elif "roc_auc" in want and not binary and len(present) == proba.shape[1]:
                        self.auc = [_Auc(proba[:, k], rows == k) for k in range(proba.shape[1])]
        else:
            y, p = pred.y_true, pred.y_pred
            err = p - y
            cols["sq"] = (err**2)[:, None]
            cols["abs"] = np.abs(err)[:, None]
            cols["ape"] = (np.abs(err) / np.maximum(np.abs(y), _EPS))[:, None]
            cols["y"] = y[:, None]
            cols["y2"] = (y**2)[:, None]
        self.slots: dict[str, slice] = {}
        blocks = []
        at = offset
        for key, block in cols.items():
            self.slots[key] = slice(at, at + block.shape[1])
            blocks.append(block)
            at += block.shape[1]
        self.blocks = blocks
        self.width = at - offset

    def vectorized(self, name: str) -> bool:
        task = self.pred.task
        if task == "classification":
            if name in ("log_loss", "brier", "ece"):
                return name in self.slots
            if name == "roc_auc":
                return bool(self.auc)
            return name in _LABEL_METRICS
        return name in ("rmse", "mae", "mape", "r2")

    def metric(self, name: str, S: np.ndarray, W: np.ndarray) -> np.ndarray:
        import numpy as np

        n = self.n

        def get(key: str) -> np.ndarray:
            return S[:, self.slots[key]]

        with np.errstate(divide="ignore", invalid="ignore"):
            if self.pred.task == "regression":
                if name == "rmse":
                    return np.asarray(np.sqrt(get("sq")[:, 0] / n))
                if name == "mae":
                    return get("abs")[:, 0] / n
                if name == "mape":
                    return get("ape")[:, 0] / n
                sy, sy2 = get("y")[:, 0], get("y2")[:, 0]
                sst = sy2 - sy * sy / n
                return np.asarray(1.0 - get("sq")[:, 0] / sst)
            if name == "roc_auc":
                return np.asarray(np.mean([auc(W) for auc in self.auc], axis=0))
            if name in ("log_loss", "brier"):
                return get(name)[:, 0] / n
            if name == "ece":
                return np.asarray(np.abs(get("ece")).sum(axis=1) / n)
            tc, pc, tp = get("tc"), get("pc"), get("tp")
            if name == "accuracy":
                return np.asarray(tp.sum(axis=1) / n)
            recall = np.where(tc > 0, tp / tc, 0.0)
            if name == "balanced_accuracy":
                return np.asarray(
                    np.sum(np.where(tc > 0, recall, 0.0), axis=1) / np.sum(tc > 0, axis=1)
                )
            kind, _, average = name.partition("_")
            if kind == "recall":
                value = recall
            elif kind == "precision":
                value = np.where(pc > 0, tp / pc, 0.0)
            else:
                value = np.where(tc + pc > 0, 2 * tp / (tc + pc), 0.0)
            mask = self.present
            if average == "macro":
                return np.asarray(value[:, mask].mean(axis=1))
            return np.asarray((value[:, mask] * tc[:, mask]).sum(axis=1) / tc[:, mask].sum(axis=1))


_LABEL_METRICS = frozenset(
    {
        "accuracy",
        "balanced_accuracy",
        "precision_macro",
        "recall_macro",
        "f1_macro",
        "precision_weighted",
        "recall_weighted",
        "f1_weighted",
    }
)


_ALL = _LABEL_METRICS | {"roc_auc", "log_loss", "brier", "ece", "rmse", "mae", "mape", "r2"}


def _key(value: Any) -> Any:
    item = getattr(value, "item", None)
    return item() if callable(item) else value


def _discordant(a: Predictions, b: Predictions, name: str) -> int:
    """Rows where the two models' answers that ``name`` depends on differ."""
    import numpy as np

    if (
        name in ("roc_auc", "log_loss", "brier", "ece")
        and a.proba is not None
        and (b.proba is not None and a.proba.shape == b.proba.shape)
    ):
        return int(np.sum(np.any(np.abs(a.proba - b.proba) > 1e-12, axis=1)))
    if a.task == "regression":
        return int(np.sum(np.abs(a.y_pred - b.y_pred) > 1e-12))
    return int(np.sum(a.y_pred != b.y_pred))


def paired_bootstrap(
    candidate: Predictions,
    baseline: Predictions,
    names: Sequence[str],
    *,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    custom: Mapping[str, CustomMetric] | None = None,
    functions: Mapping[str, Callable[..., Any]] | None = None,
    metric_fn: Callable[[Predictions, str], float | None] | None = None,
) -> dict[str, Interval]:
    """Confidence intervals of ``metric(candidate) - metric(baseline)`` on shared resamples.

    Args:
        candidate: The candidate's predictions on the eval rows.
        baseline: The baseline's predictions on the SAME rows, in the same order.
        names: The metrics to bootstrap.
        resamples: Number of resamples.
        confidence: Level of the percentile interval.
        seed: Random seed (the same seed gives the same intervals).
        custom: Custom metric declarations (their names go to the slow path).
        functions: Imported custom metric functions.
        metric_fn: Computes one metric on a subset, for the slow path (default:
            `mlci.model.evaluate.compute_metrics`).

    Returns:
        ``{name: Interval}`` for every name.
    """
    import numpy as np

    n = len(candidate.y_true)
    if len(baseline.y_true) != n:
        raise ValueError("paired bootstrap needs both models' predictions on the same rows")
    names = list(names)
    if resamples <= 0 or n == 0:
        reason = "bootstrap is off (model.bootstrap.resamples: 0)" if n else "no eval rows"
        return {name: Interval(None, None, None, reason, 0) for name in names}
    paired = _Paired.of(candidate, baseline, names, _slow_metric(custom, functions, metric_fn))
    out: dict[str, Interval] = {}
    if n * resamples > GENERIC_LIMIT:
        for m in paired.generic:
            out[m] = Interval(
                None,
                None,
                None,
                f"no vectorized bootstrap for {m!r} and {n} rows x {resamples} resamples is"
                " too many for the slow path",
                0,
            )
        paired = replace(paired, generic=[])
    parts = _in_chunks(paired, resamples, seed)
    for m in paired.fast + paired.generic:
        d = np.concatenate([p[m] for p in parts])
        finite = d[np.isfinite(d)]
        out[m] = _interval(
            finite, 1.0 - confidence, n, resamples, _discordant(candidate, baseline, m)
        )
    return out


def _slow_metric(
    custom: Mapping[str, CustomMetric] | None,
    functions: Mapping[str, Callable[..., Any]] | None,
    metric_fn: Callable[[Predictions, str], float | None] | None,
) -> Callable[[Predictions, str], float | None]:
    """One metric on one resample, for the metrics without a vectorized form."""
    if metric_fn is not None:
        return metric_fn
    from mlci.model.evaluate import compute_metrics

    def slow(pred: Predictions, name: str) -> float | None:
        return compute_metrics(pred, [name], custom=custom, functions=functions).metrics[name]

    return slow


def _labels(candidate: Predictions, baseline: Predictions) -> list[Any]:
    """Every class either model answers or the eval rows hold, in a stable order."""
    import numpy as np

    if candidate.task != "classification":
        return []
    every = np.concatenate([candidate.y_true, candidate.y_pred, baseline.y_pred])
    if every.dtype.kind in "biufUS":
        return [_key(v) for v in np.unique(every)]
    return sorted({_key(v) for v in every}, key=lambda v: (str(type(v)), str(v)))


@dataclass(frozen=True)
class _Paired:
    """Both models' per-row statistics, and which metrics take the fast or the slow path."""

    candidate: Predictions
    baseline: Predictions
    cm: _Model
    bm: _Model
    L: np.ndarray | None
    fast: list[str]
    generic: list[str]
    slow: Callable[[Predictions, str], float | None]

    @classmethod
    def of(
        cls,
        candidate: Predictions,
        baseline: Predictions,
        names: list[str],
        slow: Callable[[Predictions, str], float | None],
    ) -> _Paired:
        import numpy as np

        labels = _labels(candidate, baseline)
        cm = _Model(candidate, labels, 0, names)
        bm = _Model(baseline, labels, cm.width, names)
        L = np.concatenate(cm.blocks + bm.blocks, axis=1) if cm.blocks or bm.blocks else None
        fast = [m for m in names if cm.vectorized(m) and bm.vectorized(m)]
        generic = [m for m in names if m not in fast]
        return cls(candidate, baseline, cm, bm, L, fast, generic, slow)

    def deltas(self, b: int, seed: np.random.SeedSequence) -> dict[str, np.ndarray]:
        """Every metric's delta on ``b`` resamples drawn from ``seed``."""
        import numpy as np

        n = len(self.candidate.y_true)
        idx, W = resample_weights(np.random.default_rng(seed), n, b)
        S = W @ self.L if self.L is not None else np.zeros((b, 0))
        part = {m: self.cm.metric(m, S, W) - self.bm.metric(m, S, W) for m in self.fast}
        for m in self.generic:
            values = np.empty(b)
            for r in range(b):  # slow path: only small inputs get here
                rows = idx[r]
                c = self.slow(self.candidate.subset(rows), m)
                base = self.slow(self.baseline.subset(rows), m)
                values[r] = np.nan if c is None or base is None else c - base
            part[m] = values
        return part


def _in_chunks(paired: _Paired, resamples: int, seed: int) -> list[dict[str, np.ndarray]]:
    """The deltas in chunks of resamples that bound memory, on up to WORKERS threads."""
    import numpy as np

    n = len(paired.candidate.y_true)
    chunk = max(1, min(resamples, CHUNK_CELLS // max(n, 1)))
    sizes = [min(chunk, resamples - start) for start in range(0, resamples, chunk)]
    # One seed per chunk, spawned from the configured seed: the result does not
    # depend on which thread ran which chunk.
    seeds = np.random.SeedSequence(seed).spawn(len(sizes))
    # numpy releases the GIL in bincount, take, cumsum and matrix products: chunks
    # run on up to WORKERS threads.
    if len(sizes) > 1 and WORKERS > 1:
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            return list(pool.map(paired.deltas, sizes, seeds))
    return [paired.deltas(b, s) for b, s in zip(sizes, seeds, strict=True)]


def _interval(d: np.ndarray, alpha: float, n: int, resamples: int, discordant: int) -> Interval:
    import numpy as np

    if len(d) < 0.9 * resamples:
        return Interval(
            None,
            None,
            None,
            f"the metric is undefined in {resamples - len(d)} of {resamples} resamples"
            " (e.g. a class missing); no interval",
            len(d),
        )
    lo, hi = (float(v) for v in np.quantile(d, [alpha / 2, 1 - alpha / 2]))
    if discordant == 0:
        return Interval(lo, hi, False, "the models give the same answers on every row", len(d))
    if n < MIN_ROWS:
        return Interval(
            lo,
            hi,
            None,
            f"only {n} eval rows: too few for the bootstrap to tell a change from noise;"
            " significance not assessed",
            len(d),
        )
    if resamples * alpha / 2 < MIN_TAIL:
        return Interval(
            lo,
            hi,
            None,
            f"{resamples} resamples leave fewer than {MIN_TAIL} in each tail of the"
            " interval; raise model.bootstrap.resamples",
            len(d),
        )
    if discordant < MIN_DISCORDANT:
        return Interval(
            lo,
            hi,
            None,
            f"the models differ on only {discordant} rows: too few to tell a change from"
            " noise; significance not assessed",
            len(d),
        )
    significant = bool(lo > 0 or hi < 0)
    return Interval(lo, hi, significant, None if significant else "within noise", len(d))
