"""Real models trained once per test session on scikit-learn's bundled data sets."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mlci.model.load import load_model
from mlci.model.onnx import export_onnx


@dataclass
class Case:
    """One task: eval data on disk plus a good and a deliberately worse model."""

    task: str
    eval_csv: Path
    eval: pd.DataFrame
    good: Path
    worse: Path
    good_onnx: Path | None = None


@dataclass
class Models:
    root: Path
    binary: Case
    multiclass: Case
    regression: Case


def _split(loader):  # type: ignore[no-untyped-def]
    X, y = loader(return_X_y=True, as_frame=True)
    return train_test_split(X, y, test_size=0.4, random_state=0)


def _write_eval(root: Path, name: str, X: pd.DataFrame, y: pd.Series) -> tuple[Path, pd.DataFrame]:
    frame = X.reset_index(drop=True).copy()
    frame["target"] = y.reset_index(drop=True)
    path = root / f"{name}-eval.csv"
    frame.to_csv(path, index=False)
    return path, pd.read_csv(path)


def build_models(root: Path) -> Models:
    root.mkdir(parents=True, exist_ok=True)
    # binary: breast cancer; the worse model learns from 40 rows with 30% of labels flipped
    Xtr, Xte, ytr, yte = _split(load_breast_cancer)
    good = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(Xtr, ytr)
    rng = np.random.default_rng(0)
    few = Xtr.sample(40, random_state=0)
    noisy = ytr.loc[few.index].to_numpy().copy()
    flip = rng.random(len(noisy)) < 0.3
    noisy[flip] = 1 - noisy[flip]
    worse = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(few, noisy)
    csv, frame = _write_eval(root, "binary", Xte, yte)
    sio.dump(good, root / "binary-good.skops")
    sio.dump(worse, root / "binary-worse.skops")
    onnx_path = root / "binary-good.onnx"
    export_onnx(load_model(root / "binary-good.skops"), frame, onnx_path)
    binary = Case(
        "classification",
        csv,
        frame,
        root / "binary-good.skops",
        root / "binary-worse.skops",
        onnx_path,
    )
    # multiclass: wine; the worse model is heavily regularized
    Xtr, Xte, ytr, yte = _split(load_wine)
    good = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(Xtr, ytr)
    worse = make_pipeline(StandardScaler(), LogisticRegression(C=0.001, max_iter=1000)).fit(
        Xtr, ytr
    )
    csv, frame = _write_eval(root, "multiclass", Xte, yte)
    sio.dump(good, root / "multiclass-good.skops")
    sio.dump(worse, root / "multiclass-worse.skops")
    multiclass = Case(
        "classification",
        csv,
        frame,
        root / "multiclass-good.skops",
        root / "multiclass-worse.skops",
    )
    # regression: diabetes; the worse model is over-regularized
    Xtr, Xte, ytr, yte = _split(load_diabetes)
    csv, frame = _write_eval(root, "regression", Xte, yte)
    sio.dump(Ridge(alpha=0.1).fit(Xtr, ytr), root / "regression-good.skops")
    sio.dump(Ridge(alpha=100.0).fit(Xtr, ytr), root / "regression-worse.skops")
    regression = Case(
        "regression", csv, frame, root / "regression-good.skops", root / "regression-worse.skops"
    )
    return Models(root, binary, multiclass, regression)


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> Models:
    """Models trained once per session (and per test package that imports this fixture)."""
    return build_models(tmp_path_factory.mktemp("models"))
