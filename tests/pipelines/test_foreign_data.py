"""The first hour on data mlci did not make, walked as one chain per data set.

A penguins-shaped multiclass table (text categories, ``NA`` for missing values, an
increasing ``id``, a ``year`` the training script drops) and a bike-sharing-shaped
regression (a row number, a ``dteday`` date, text categories with gaps, a target not
named like one, two columns that add up to it). Each goes, in a fresh git repository
whose ``train.py`` is written as a data scientist writes one:

``mlci init`` → ``mlci schema infer`` (init's hint) → pull request (``mlci run pr``,
no production model) → merge (``mlci run deploy``) → a pull request whose data lost a
column (blocked, the column named by data validation, the report still written) →
``mlci deploy`` of that run refused, production unchanged → the production model
served with a missing category → a shifted batch with new ids and later dates, which
``mlci validate-data`` only warns about and ``mlci monitor`` reports as drift.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import requests

from mlci.cli import main
from mlci.config import load_config
from mlci.results import read_results
from tests.act.harness import git_repo
from tests.scaffold.shapes import bike_sharing, penguins
from tests.scaffold.test_first_merge import production, run

pytestmark = pytest.mark.slow

PENGUINS_TRAIN = '''\
"""Train a penguin species classifier."""
import pandas as pd
import skops.io as sio
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

df = pd.read_csv("data/train.csv")
X = df.drop(columns=["id", "species", "year"])
y = df["species"]
numeric = X.select_dtypes("number").columns.tolist()
categorical = X.select_dtypes(exclude="number").columns.tolist()

categories = Pipeline(
    [
        ("impute", SimpleImputer(strategy="most_frequent")),
        ("onehot", OneHotEncoder(handle_unknown="ignore")),
    ]
)
prep = ColumnTransformer(
    [("num", SimpleImputer(strategy="median"), numeric), ("cat", categories, categorical)]
)
model = Pipeline([("prep", prep), ("rf", RandomForestClassifier(n_estimators=40, random_state=42))])
model.fit(X, y)
sio.dump(model, "model.skops")
print(f"train accuracy: {model.score(X, y):.3f}")
'''

BIKES_TRAIN = '''\
"""Daily bike rentals: predict the day's count from the calendar and the weather."""
import pandas as pd
import skops.io as sio
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestRegressor
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

df = pd.read_csv("data/train.csv")
# casual + registered == cnt, so they go, with the row number and the date
X = df.drop(columns=["instant", "dteday", "casual", "registered", "cnt"])
y = df["cnt"]
categorical = ["season", "weathersit"]
numeric = [c for c in X.columns if c not in categorical]

model = make_pipeline(
    ColumnTransformer(
        [
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value="unknown"),
                    OneHotEncoder(handle_unknown="ignore"),
                ),
                categorical,
            ),
            ("num", "passthrough", numeric),
        ]
    ),
    RandomForestRegressor(n_estimators=40, min_samples_leaf=3, random_state=0),
)
model.fit(X, y)
sio.dump(model, "model.skops")
print("train R^2:", round(model.score(X, y), 3))
'''


@dataclass(frozen=True)
class Case:
    """One data set and what the chain expects of it."""

    files: dict[str, str]
    target: str
    task: str
    #: Passed to init only when the target is not named like one (init must not guess).
    target_flag: bool
    id_column: str
    #: Columns of the data the model does not take (the training script drops them).
    ignored: tuple[str, ...]
    #: The column the second pull request's data no longer has.
    dropped: str
    #: A text column the model imputes: served with a null.
    null_category: str
    #: An integer column (no gap in the CSV) the model imputes: served with a null too.
    null_integer: str | None
    #: A later batch, shifted, and a column that must be reported drifted.
    shifted: str
    drifted: str


CASES = {
    "penguins": Case(
        files={
            "data/train.csv": penguins(900, seed=1, na="NA"),
            "data/eval.csv": penguins(400, seed=2, start_id=901, na="NA"),
            "train.py": PENGUINS_TRAIN,
        },
        target="species",
        task="classification",
        target_flag=False,
        id_column="id",
        ignored=("year",),
        dropped="island",
        null_category="sex",
        null_integer="flipper_length_mm",
        shifted=penguins(400, seed=3, start_id=2001, na="NA", heavier=900),
        drifted="body_mass_g",
    ),
    "bikes": Case(
        files={
            "data/train.csv": bike_sharing(730, seed=1),
            "data/eval.csv": bike_sharing(300, seed=2, start=dt.date(2013, 1, 1), start_id=731),
            "train.py": BIKES_TRAIN,
        },
        target="cnt",
        task="regression",
        target_flag=True,
        id_column="instant",
        ignored=("dteday", "casual", "registered"),
        dropped="hum",
        null_category="weathersit",
        null_integer=None,
        shifted=bike_sharing(365, seed=3, start=dt.date(2014, 1, 1), start_id=2001, warmer=0.3),
        drifted="temp",
    ),
}


def _init(repo: Path, case: Case, capsys: pytest.CaptureFixture[str]) -> None:
    """init --yes detects what it can and refuses to guess a target not named like one."""
    if case.target_flag:
        assert main(["init", "--yes", "-C", str(repo)]) == 2
        err = capsys.readouterr().err
        assert "will not guess" in err and case.target in err and "Traceback" not in err
        assert not (repo / "mlci.yaml").exists()
    flags = ["--target", case.target] if case.target_flag else []
    assert main(["init", "--yes", "-C", str(repo), *flags]) == 0
    out = capsys.readouterr().out
    assert f"target           {case.target}" in out
    cfg = load_config(repo / "mlci.yaml")
    assert cfg.task == case.task and cfg.data.target == case.target
    assert cfg.data.id_columns == [case.id_column]
    # the first model is judged on a chance-level value gate init derived from the data
    assert cfg.model.first == "bless-on-value-gates"
    gate = cfg.model.gates["accuracy" if case.task == "classification" else "r2"]
    assert gate.min is not None and gate.max_drop is not None
    # init's hint, as printed, run from the repository's root
    assert "run `mlci schema infer data/train.csv`" in out
    assert main(["schema", "infer", "data/train.csv"]) == 0
    git_repo(repo)  # the data scientist commits mlci.yaml, the workflows and the schema


def _drop_column(repo: Path, column: str) -> None:
    """The data source no longer exports ``column``: the pull request's data files lack it."""
    for rel in ("data/train.csv", "data/eval.csv"):
        path = repo / rel
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)  # the text as written
        frame.drop(columns=[column]).to_csv(path, index=False)


@contextmanager
def _serve_production(repo: Path) -> Iterator[str]:
    """The registry's production version behind the prediction service, as `mlci serve` runs it."""
    from mlci.registry import open_registry, resolve_version
    from mlci.serve.app import create_app, load_served_model
    from mlci.serve.server import start_server

    cfg = load_config(repo / "mlci.yaml")
    registry = open_registry(cfg, backend="local")
    found = resolve_version(registry, "production")
    with tempfile.TemporaryDirectory() as tmp:
        folder = registry.download(found.version, Path(tmp) / f"v{found.version}")
        served = load_served_model(
            folder / (found.onnx_file or found.model_file),
            metadata=found.metadata,
            version=found.version,
        )
        with start_server(create_app(served)) as running:
            yield running.url


def _record_with_a_missing_category(url: str, case: Case) -> dict[str, Any]:
    """An eval row with the model's columns only, ``null_category`` (and ``null_integer``) null."""
    meta = requests.get(f"{url}/metadata", timeout=30).json()
    columns = {c["name"]: c for c in meta["input_schema"]["columns"]}
    assert columns[case.null_category]["type"] == "string"
    assert columns[case.null_category]["nullable"] is True
    eval_rows = pd.read_csv(io.StringIO(case.files["data/eval.csv"]))
    row = eval_rows[eval_rows.notna().all(axis=1)].iloc[0]
    record = {
        name: row[name].item() if hasattr(row[name], "item") else row[name] for name in columns
    }
    record[case.null_category] = None
    if case.null_integer is not None:
        assert columns[case.null_integer]["type"] == "integer"
        assert columns[case.null_integer]["nullable"] is True
        record[case.null_integer] = None
    return record


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_first_hour_on_data_mlci_did_not_make(
    tmp_path: Path,
    name: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    case = CASES[name]
    monkeypatch.delenv("GITHUB_REPOSITORY", raising=False)  # a laptop: nothing is posted
    repo = git_repo(tmp_path / name, {**case.files, "README.md": f"# {name}\n"})
    monkeypatch.chdir(repo)
    _init(repo, case, capsys)

    # Pull request 1: no production model; judged on init's chance-level value gate.
    assert run("pr", repo, "pr1") == 0, capsys.readouterr()
    first = read_results(repo / "pr1" / "model.json")
    assert first["blessing"]["blessed"] is True
    notes = " ".join(first["blessing"]["notes"])
    assert "first model" in notes
    assert all(f"'{c}'" in notes for c in case.ignored), notes  # ignored, not an error
    # skops loads the imputing OneHotEncoder pipeline without model.trusted
    assert not [f for f in first["findings"] if f["check"] == "trusted_model"]
    assert production(repo) is None

    # Merge: the deploy pipeline trains, validates and deploys v1; its smoke test sent
    # reference rows with missing values.
    assert run("deploy", repo, "merge") == 0, capsys.readouterr()
    assert production(repo) == "1"
    smoke = read_results(repo / "merge" / "deploy.json")["smoke_test"]
    assert smoke["passed"] is True and smoke["rows_with_nulls"] >= 1

    # Pull request 2: the data lost a column production takes. Blocked, with the column
    # named by data validation, and the reviewer still gets the whole report.
    _drop_column(repo, case.dropped)
    capsys.readouterr()
    assert run("pr", repo, "pr2") == 1
    out = capsys.readouterr().out
    assert f"missing_column       {case.dropped}:" in out
    data = read_results(repo / "pr2" / "data.json")
    missing = [f for f in data["findings"] if f["check"] == "missing_column"]
    assert [(f["column"], f["severity"]) for f in missing] == [(case.dropped, "error")]
    second = read_results(repo / "pr2" / "model.json")
    assert second["blessing"]["blessed"] is False
    assert second["features"]["removed"] == [case.dropped]
    baseline = second["provenance"]["model"]["baseline"]
    assert baseline["version"] == 1 and baseline["path"].startswith("local registry: v1/")
    report = (repo / "pr2" / "report.md").read_text(encoding="utf-8")
    assert report.startswith("## ❌ mlci: data errors")
    assert "### Features changed" in report and f"➖ Removed (1): **{case.dropped}**" in report
    assert f"production could not be evaluated: the eval data lacks **{case.dropped}**" in report
    breakdown = "<summary>Per-class metrics" if case.task == "classification" else "Regression"
    assert breakdown in report
    page = (repo / "pr2" / "report.html").read_text(encoding="utf-8")
    assert "<svg" in page and "```mermaid" not in page and "<script" not in page

    # Deploying what pull request 2 validated is refused; production stays v1, and the
    # pull request is closed: the repository is main's again.
    code = main(["deploy", "--config", "mlci.yaml", "--results", "pr2", "--registry", "local"])
    assert code == 1 and production(repo) == "1"
    assert "not blessed" in capsys.readouterr().err
    subprocess.run(["git", "checkout", "-q", "--", "data"], cwd=repo, check=True)

    # Production answers a record whose category (and a whole number) is missing, as the
    # model was trained.
    with _serve_production(repo) as url:
        record = _record_with_a_missing_category(url, case)
        answer = requests.post(f"{url}/predict", json={"records": [record]}, timeout=30)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["model_version"] == 1 and len(body["predictions"]) == 1
    if case.task == "classification":
        assert body["predictions"][0] in body["classes"]
    else:
        assert math.isfinite(body["predictions"][0])

    # A later batch from production, shifted: the monitor reports the drift, and ids and
    # dates (which move by nature) are not reported as drift.
    (repo / "batch.csv").write_text(case.shifted, encoding="utf-8")
    # Checked as new data first: its new ids and later dates are no finding at all, and
    # what moved (values outside the reference's range, drift) warns without blocking.
    assert main(["validate-data", "--current", "batch.csv", "--results", "batch"]) == 0
    found = read_results(repo / "batch" / "data.json")["findings"]
    assert found and all(f["severity"] == "warning" for f in found)
    assert not [f for f in found if f.get("column") in (case.id_column, "dteday")]
    code = main(
        ["monitor", "--current", "batch.csv", "--results", "monitor", "--registry", "local"]
    )
    doc = read_results(repo / "monitor" / "monitor.json")
    assert code == (1 if any(p["severity"] == "error" for p in doc["problems"]) else 0)
    assert doc["rows"] == len(pd.read_csv(repo / "batch.csv"))
    drifted = {c["column"] for c in doc["drift"]["columns"] if c["drifted"]}
    assert case.drifted in drifted, json.dumps(doc["drift"], indent=1)[:2000]
    assert case.id_column not in drifted and "dteday" not in drifted
    assert "data-drift" in {p["key"] for p in doc["problems"]}, doc["problems"]
