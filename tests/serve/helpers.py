"""Real models for the serve, registry and deploy tests: trained here, saved with skops."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def breast_cancer_frame() -> pd.DataFrame:
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True)
    frame = data.frame.copy()
    # short, JSON-friendly column names
    frame.columns = [str(c).replace(" ", "_") for c in frame.columns]
    return frame


def train_classifier(directory: Path, *, c: float = 1.0, name: str = "model.skops") -> Path:
    """A LogisticRegression pipeline on breast cancer, fitted on a DataFrame, saved with skops."""
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    frame = breast_cancer_frame()
    train = frame.iloc[::2]
    model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=500))
    model.fit(train.drop(columns="target"), train["target"])
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    sio.dump(model, path)
    return path


def eval_frame() -> pd.DataFrame:
    frame = breast_cancer_frame()
    return frame.iloc[1::2].reset_index(drop=True)


def train_regressor(directory: Path) -> tuple[Path, pd.DataFrame]:
    import skops.io as sio
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge

    frame = load_diabetes(as_frame=True).frame
    model = Ridge(alpha=0.5).fit(frame.drop(columns="target"), frame["target"])
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "ridge.skops"
    sio.dump(model, path)
    return path, frame
