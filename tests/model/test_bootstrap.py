from __future__ import annotations

import numpy as np
import pytest

from mlci.metrics import metric_names
from mlci.model.bootstrap import _Model, paired_bootstrap, resample_weights
from mlci.model.evaluate import Predictions, compute_metrics, predict
from mlci.model.load import load_model
from tests.model.models import Models


def _synthetic(n: int, k: int, seed: int, ties: bool) -> Predictions:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    proba = rng.dirichlet(np.ones(k), n) + np.eye(k)[y] * 0.3
    if ties:
        proba = np.round(proba, 1) + 1e-3
    proba /= proba.sum(axis=1, keepdims=True)
    return Predictions(y, proba.argmax(axis=1), proba, list(range(k)), "classification")


@pytest.mark.parametrize(("k", "ties"), [(2, False), (2, True), (3, True)])
def test_vectorized_metrics_equal_scikit_learn_on_every_resample(k: int, ties: bool) -> None:
    """Each resample's vectorized value equals scikit-learn on the same drawn rows."""
    pred = _synthetic(300, k, 0, ties)
    names = metric_names("classification")
    model = _Model(pred, list(range(k)), 0)
    L = np.concatenate(model.blocks, axis=1)
    idx, W = resample_weights(np.random.default_rng(1), len(pred.y_true), 5)
    S = W @ L
    for name in names:
        fast = model.metric(name, S, W)
        for r in range(5):
            slow = compute_metrics(pred.subset(idx[r]), [name]).metrics[name]
            assert fast[r] == pytest.approx(slow, rel=1e-9, abs=1e-12), (name, r)


def test_regression_resamples_equal_scikit_learn() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(50, 10, 200)
    pred = Predictions(y, y + rng.normal(0, 3, 200), None, None, "regression")
    model = _Model(pred, [], 0)
    idx, W = resample_weights(np.random.default_rng(2), 200, 4)
    S = W @ np.concatenate(model.blocks, axis=1)
    for name in ("rmse", "mae", "mape", "r2"):
        fast = model.metric(name, S, W)
        for r in range(4):
            slow = compute_metrics(pred.subset(idx[r]), [name]).metrics[name]
            assert fast[r] == pytest.approx(slow, rel=1e-9), name


def test_better_model_is_significant_and_seeded(models: Models) -> None:
    c = models.binary
    good = predict(load_model(c.good), c.eval, c.eval["target"], "classification")
    worse = predict(load_model(c.worse), c.eval, c.eval["target"], "classification")
    names = ["accuracy", "f1_macro", "roc_auc", "log_loss"]
    a = paired_bootstrap(good, worse, names, resamples=500, seed=7)
    b = paired_bootstrap(good, worse, names, resamples=500, seed=7)
    other = paired_bootstrap(good, worse, names, resamples=500, seed=8)
    assert a == b
    assert [(v.ci_low, v.ci_high) for v in a.values()] != [
        (v.ci_low, v.ci_high) for v in other.values()
    ]
    assert a["accuracy"].significant is True and a["accuracy"].ci_low > 0  # type: ignore[operator]
    assert a["log_loss"].significant is True and a["log_loss"].ci_high < 0  # type: ignore[operator]
    delta = (
        compute_metrics(good, ["accuracy"]).metrics["accuracy"]
        - compute_metrics(worse, ["accuracy"]).metrics["accuracy"]  # type: ignore[operator]
    )
    assert a["accuracy"].ci_low < delta < a["accuracy"].ci_high  # type: ignore[operator]


def test_identical_models_are_within_noise(models: Models) -> None:
    c = models.binary
    p = predict(load_model(c.good), c.eval, c.eval["target"], "classification")
    out = paired_bootstrap(p, p, ["accuracy", "roc_auc"], resamples=200)
    assert out["accuracy"].significant is False
    assert out["accuracy"].ci_low == out["accuracy"].ci_high == 0.0
    assert out["accuracy"].reason == "the models give the same answers on every row"


def test_says_when_it_cannot_tell() -> None:
    """With few rows or few disagreements the bootstrap cannot fail; it says so."""
    strong, weak = _synthetic(20, 2, 0, False), _synthetic(20, 2, 1, False)
    weak = Predictions(strong.y_true, 1 - strong.y_true, weak.proba, [0, 1], "classification")
    few = paired_bootstrap(strong, weak, ["accuracy"], resamples=1000)["accuracy"]
    assert few.significant is None and "only 20 eval rows" in (few.reason or "")
    big = _synthetic(500, 2, 3, False)
    flipped = big.y_pred.copy()
    flipped[:3] = 1 - flipped[:3]
    near = Predictions(big.y_true, flipped, big.proba, [0, 1], "classification")
    iv = paired_bootstrap(big, near, ["accuracy"], resamples=1000)["accuracy"]
    assert iv.significant is None and "differ on only 3 rows" in (iv.reason or "")
    iv = paired_bootstrap(big, near, ["accuracy"], resamples=50)["accuracy"]
    assert iv.significant is None and "raise model.bootstrap.resamples" in (iv.reason or "")
    off = paired_bootstrap(big, near, ["accuracy"], resamples=0)["accuracy"]
    assert off.ci_low is None and off.significant is None


def test_slow_path_for_metrics_without_a_vectorized_form() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(size=300)
    a = Predictions(y, y + rng.normal(0, 0.1, 300), None, None, "regression")
    b = Predictions(y, y + rng.normal(0, 1.0, 300), None, None, "regression")
    out = paired_bootstrap(a, b, ["median_ae", "rmse"], resamples=400)
    assert out["median_ae"].significant is True and out["median_ae"].ci_high < 0  # type: ignore[operator]
    assert out["rmse"].significant is True


def test_threads_do_not_change_the_result(monkeypatch: pytest.MonkeyPatch) -> None:
    import mlci.model.bootstrap as bs

    a, b = _synthetic(2000, 2, 0, False), _synthetic(2000, 2, 1, False)
    b = Predictions(a.y_true, b.y_pred, b.proba, [0, 1], "classification")
    monkeypatch.setattr(bs, "CHUNK_CELLS", 2000 * 7)  # several chunks
    monkeypatch.setattr(bs, "WORKERS", 1)
    one = paired_bootstrap(a, b, ["accuracy", "roc_auc"], resamples=100, seed=3)
    monkeypatch.setattr(bs, "WORKERS", 2)
    two = paired_bootstrap(a, b, ["accuracy", "roc_auc"], resamples=100, seed=3)
    assert one == two
