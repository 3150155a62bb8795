"""Write the example's data files from scikit-learn's bundled breast cancer data set.

Usage: python prepare_data.py [--drift]

data/reference.csv  training data (and the reference for drift)
data/eval.csv       the holdout every model is evaluated on
data/current.csv    the newest batch, validated against the reference

With --drift, current.csv becomes a batch from a changed source: two measurements
shifted, missing values, and an impossible negative radius, which is what a
broken upstream pipeline or a new scanner looks like to the model.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer

HERE = Path(__file__).resolve().parent


def load() -> pd.DataFrame:
    bunch = load_breast_cancer(as_frame=True)
    frame = bunch.frame.rename(columns=lambda c: c.replace(" ", "_"))
    frame.insert(0, "id", np.arange(100_000, 100_000 + len(frame)))
    return frame


def split(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    shuffled = frame.sample(frac=1.0, random_state=7).reset_index(drop=True)
    n = len(shuffled)
    reference = shuffled.iloc[: int(n * 0.6)]
    evaluation = shuffled.iloc[int(n * 0.6) : int(n * 0.8)]
    current = shuffled.iloc[int(n * 0.8) :]
    return reference, evaluation, current


def drifted(current: pd.DataFrame) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    out = current.copy()
    out["mean_texture"] = out["mean_texture"] * 1.6
    out["worst_area"] = out["worst_area"] * 1.8
    holes = rng.choice(len(out), size=len(out) // 5, replace=False)
    out.loc[out.index[holes], "mean_smoothness"] = np.nan
    out.loc[out.index[:3], "mean_radius"] = -1.0
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drift", action="store_true", help="write a drifted current.csv")
    parser.add_argument("--out", type=Path, default=HERE / "data")
    args = parser.parse_args()
    reference, evaluation, current = split(load())
    args.out.mkdir(parents=True, exist_ok=True)
    if args.drift:
        current = drifted(current)
    reference.to_csv(args.out / "reference.csv", index=False)
    evaluation.to_csv(args.out / "eval.csv", index=False)
    current.to_csv(args.out / "current.csv", index=False)
    print(
        f"wrote {args.out}: {len(reference)} reference, {len(evaluation)} eval,"
        f" {len(current)} current rows"
    )


if __name__ == "__main__":
    main()
