"""Data mlci did not make: a penguins-shaped multiclass table and a weather-shaped regression.

Both are generated here with the shape of the public data sets (string features with
missing values and a ``year`` the training script drops; a ``date`` column), and walked
through the loop with the pipeline functions: first pull request (no production model)
→ merge (deploy to the local registry) → a pull request whose model drops a feature
→ the report a reviewer reads.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio

from mlci.config import load_config
from mlci.github.runtime import Runtime
from mlci.pipelines.deploy import deploy
from mlci.pipelines.report import report
from mlci.pipelines.validate_model import validate_model
from mlci.results import read_results

pytestmark = pytest.mark.slow


def penguins(n: int, seed: int) -> pd.DataFrame:
    """Palmer-penguins shape: species by island, bill and flipper; strings and gaps."""
    rng = np.random.default_rng(seed)
    species = rng.choice(["Adelie", "Chinstrap", "Gentoo"], n, p=[0.44, 0.2, 0.36])
    island = np.where(
        species == "Gentoo",
        "Biscoe",
        np.where(species == "Chinstrap", "Dream", rng.choice(["Biscoe", "Dream", "Torgersen"], n)),
    )
    base = {
        "Adelie": (38.8, 18.3, 190),
        "Chinstrap": (48.8, 18.4, 196),
        "Gentoo": (47.5, 15.0, 217),
    }
    bill_length = np.array([base[s][0] for s in species]) + rng.normal(0, 2.5, n)
    bill_depth = np.array([base[s][1] for s in species]) + rng.normal(0, 0.9, n)
    flipper = np.array([base[s][2] for s in species]) + rng.normal(0, 6, n)
    frame = pd.DataFrame(
        {
            "species": species,
            "island": island,
            "bill_length_mm": bill_length.round(1),
            "bill_depth_mm": bill_depth.round(1),
            "flipper_length_mm": flipper.round(0),
            "body_mass_g": (flipper * 20 + rng.normal(0, 300, n)).round(-1),
            "sex": rng.choice(["male", "female"], n),
            "year": rng.choice([2007, 2008, 2009], n),
        }
    )
    for column, share in (("sex", 0.05), ("bill_length_mm", 0.02), ("island", 0.02)):
        frame.loc[rng.random(n) < share, column] = None
    return frame


def weather(n: int, seed: int) -> pd.DataFrame:
    """Seattle-weather shape: a date, precipitation, wind, a weather category, temp_max."""
    rng = np.random.default_rng(seed)
    date = pd.date_range("2012-01-01", periods=n, freq="D")
    season = np.cos(2 * np.pi * (date.day_of_year.to_numpy() - 200) / 365.25)
    precipitation = np.where(rng.random(n) < 0.4, rng.gamma(1.2, 4.0, n), 0.0).round(1)
    wind = rng.gamma(4.0, 0.8, n).round(1)
    kind = np.where(precipitation > 0, rng.choice(["rain", "drizzle", "snow"], n), "sun")
    temp_max = 16 + 9 * season - 0.4 * precipitation - 0.8 * wind + rng.normal(0, 2, n)
    frame = pd.DataFrame(
        {
            "date": date.strftime("%Y-%m-%d"),
            "precipitation": precipitation,
            "wind": wind,
            "weather": kind,
            "season": np.where(season > 0, "warm", "cold"),
            "temp_max": temp_max.round(1),
        }
    )
    frame.loc[rng.random(n) < 0.03, "weather"] = None
    return frame


def train_penguins(train: pd.DataFrame, path: Path, *, drop: tuple[str, ...] = ()) -> None:
    """The project's training script: it drops ``year`` (and ``drop``) and imputes gaps."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    X = train.drop(columns=["species", "year", *drop])
    numbers = [c for c in X.columns if X[c].dtype.kind in "if"]
    strings = [c for c in X.columns if c not in numbers]
    model = make_pipeline(
        ColumnTransformer(
            [
                ("num", make_pipeline(SimpleImputer(), StandardScaler()), numbers),
                (
                    "cat",
                    make_pipeline(
                        SimpleImputer(strategy="most_frequent"),
                        OneHotEncoder(handle_unknown="ignore"),
                    ),
                    strings,
                ),
            ]
        ),
        LogisticRegression(max_iter=1000),
    )
    sio.dump(model.fit(X, train["species"]), path)


def train_weather(train: pd.DataFrame, path: Path, *, drop: tuple[str, ...] = ()) -> None:
    """The project's training script: it drops ``date`` (and ``drop``)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    X = train.drop(columns=["temp_max", "date", *drop])
    strings = [c for c in ("weather", "season") if c in X.columns]
    numbers = [c for c in X.columns if c not in strings]
    model = make_pipeline(
        ColumnTransformer(
            [
                ("num", "passthrough", numbers),
                (
                    "cat",
                    make_pipeline(
                        SimpleImputer(strategy="constant", fill_value="missing"),
                        OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                    ),
                    strings,
                ),
            ]
        ),
        RandomForestRegressor(n_estimators=20, max_depth=8, random_state=0),
    )
    sio.dump(model.fit(X, train["temp_max"]), path)


CASES: dict[str, tuple[Callable[[int, int], pd.DataFrame], Callable[..., None], str, str]] = {
    # name: (data, training script, task, mlci.yaml model section)
    "penguins": (
        penguins,
        train_penguins,
        "classification",
        "  gates:\n    balanced_accuracy: {min: 0.5, max_drop: 0.5}\n",
    ),
    "weather": (
        weather,
        train_weather,
        "regression",
        "  slices: {columns: [season], min_size: 20}\n"
        "  gates:\n    rmse: {max: 10.0, max_drop: 5.0}\n",
    ),
}
DROPPED = {"penguins": "bill_depth_mm", "weather": "wind"}
IGNORED = {"penguins": "year", "weather": "date"}


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    old = Path.cwd()
    os.chdir(tmp_path)
    try:
        yield tmp_path
    finally:
        os.chdir(old)


@pytest.mark.parametrize("name", sorted(CASES))
def test_first_pr_merge_then_a_pr_that_drops_a_feature(workdir: Path, name: str) -> None:
    make, train_script, task, model_yaml = CASES[name]
    target = "species" if task == "classification" else "temp_max"
    root = workdir / name
    (root / "data").mkdir(parents=True)
    make(600, 1).to_csv(root / "data" / "train.csv", index=False)
    make(300, 2).to_csv(root / "data" / "eval.csv", index=False)
    (root / "mlci.yaml").write_text(
        f"version: 1\ntask: {task}\n"
        f"data:\n  reference: data/train.csv\n  eval: data/eval.csv\n  target: {target}\n"
        "model:\n  path: model.skops\n  baseline: registry\n  bootstrap: {resamples: 200}\n"
        + model_yaml
        + "registry:\n  backend: local\n  path: registry\n"
        "deploy:\n  smoke_rows: 10\n",
        encoding="utf-8",
    )
    train = pd.read_csv(root / "data" / "train.csv")
    runtime = Runtime(env={})
    results = root / "mlci-results"

    # First pull request: no production model; the model drops `year`/`date`, which the
    # eval data still carries, and skops loads the OneHotEncoder pipeline without trust.
    config = load_config(root / "mlci.yaml")
    train_script(train, root / "model.skops")
    first = validate_model(config, results_dir=results, runtime=runtime)
    assert first["passed"] is True, first["blessing"]
    assert read_results(results / "model.json")["blessing"] == first["blessing"]
    assert first["blessing"]["blessed"] is True
    notes = " ".join(first["blessing"]["notes"])
    assert f"'{IGNORED[name]}'" in notes and "not features of the candidate" in notes
    assert not [f for f in first["findings"] if f["check"] == "trusted_model"]

    # Merge: the blessed model is registered and goes to production.
    outcome = deploy(config, results_dir=results, runtime=runtime)
    assert outcome.version == 1, outcome

    # A pull request whose training script drops a feature: full report, not exit 2.
    train_script(train, root / "model.skops", drop=(DROPPED[name],))
    doc = validate_model(config, results_dir=results, runtime=runtime)
    changes = doc["features"]
    assert changes["changed"] is True and changes["removed"] == [DROPPED[name]]
    assert changes["added"] == []
    assert IGNORED[name] in changes["ignored"]["candidate"]
    assert doc["baseline_metrics"] is not None
    assert doc["provenance"]["model"]["baseline"]["version"] == 1

    out = report(results_dir=results, runtime=runtime)
    text = out.markdown
    assert "### Features changed" in text and "➖ Removed (1)" in text
    if task == "classification":
        assert "<summary>Per-class metrics (3 classes" in text
        assert "<summary>Confusion matrix" in text
        for label in ("Adelie", "Chinstrap", "Gentoo"):
            assert f"| **{label}** |" in text
    else:
        assert "<summary>Regression errors</summary>" in text
        assert "season = cold" in text and "season = warm" in text
    page = out.html_path.read_text(encoding="utf-8")
    assert "<svg" in page and "```mermaid" not in page and "<script" not in page
