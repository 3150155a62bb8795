"""Fixtures of the data tests: real data (scikit-learn's breast cancer set) and writers."""

from __future__ import annotations

import functools
import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest


@functools.cache
def load_cancer() -> pd.DataFrame:
    """The breast cancer data set as a frame (30 float features + int target)."""
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    frame.columns = [c.replace(" ", "_") for c in frame.columns]
    return frame


@pytest.fixture
def cancer() -> pd.DataFrame:
    """A fresh copy of the breast cancer data set."""
    return load_cancer().copy()


def mixed_frame(n: int, seed: int, *, shift: float = 0.0, p_label: float = 0.3) -> pd.DataFrame:
    """A frame with every column kind: float, int, category, bool, datetime, string id, label."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "id": np.arange(n) + 10 * seed * n,
            "age": rng.integers(18, 90, n),
            "income": rng.lognormal(10 + shift, 0.5, n),
            "score": rng.normal(shift, 1.0, n),
            "city": rng.choice(["Paris", "Lyon", "Nice", "Lille"], n, p=[0.4, 0.3, 0.2, 0.1]),
            "member": rng.random(n) < 0.5,
            "seen": pd.Timestamp("2024-01-01")
            + pd.to_timedelta(rng.integers(0, 10**7, n), unit="s"),
            "label": (rng.random(n) < p_label).astype("int64"),
        }
    )


def write(frame: pd.DataFrame, path: Path) -> Path:
    """Write ``frame`` in the format its suffix names (csv, csv.gz, parquet, jsonl)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    name = path.name
    if name.endswith(".csv.gz"):
        with gzip.open(path, "wt", encoding="utf-8") as fh:
            frame.to_csv(fh, index=False)
    elif name.endswith(".csv"):
        frame.to_csv(path, index=False)
    elif name.endswith(".parquet"):
        frame.to_parquet(path, index=False)
    elif name.endswith(".jsonl"):
        frame.to_json(path, orient="records", lines=True, date_format="iso")
    else:  # pragma: no cover - a test bug
        raise ValueError(name)
    return path
