"""Train the example model: a scaled logistic regression, saved with skops.

Reads data/reference.csv and params.json ({"C": inverse regularization strength}),
writes model.skops. This is the project's own training code: mlci runs it as the
`model.train_command` and judges what it produces.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import skops.io as sio
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

HERE = Path(__file__).resolve().parent


def main() -> None:
    params = json.loads((HERE / "params.json").read_text())
    data = pd.read_csv(HERE / "data" / "reference.csv")
    features = [c for c in data.columns if c not in ("id", "target")]
    model = Pipeline(
        [
            ("scale", StandardScaler()),
            ("clf", LogisticRegression(C=float(params["C"]), max_iter=2000)),
        ]
    )
    model.fit(data[features], data["target"])
    sio.dump(model, HERE / "model.skops")
    print(f"trained on {len(data)} rows, {len(features)} features -> model.skops")


if __name__ == "__main__":
    main()
