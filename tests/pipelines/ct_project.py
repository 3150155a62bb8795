"""A continuous-training project for the retrain and monitor tests, built once per session.

scikit-learn's breast cancer data, shuffled with a fixed seed and cut into
time-like batches: ``reference`` (the training data of the champion), ``eval``
(the holdout), ``batch1`` (a healthy later batch) and ``batch2`` (a later batch
with a covariate shift: a new scanner reads texture 60% and worst area 80% higher).
The schema is inferred from the reference with ``mlci schema infer``; the champion
is trained by the project's own ``train.py``, validated with
``mlci validate-model`` and deployed with ``mlci deploy`` into the local registry,
so it is production version 1 exactly as a real project would have it.
Each test copies the finished project into its own directory.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from mlci.cli import main
from mlci.yamlio import dump as yaml_dump

SHIFTED = ("mean_texture", "worst_area")

TRAIN_PY = '''\
"""Train the model on data/reference.csv plus the fresh data of a retrain."""
import json
import os
from pathlib import Path

import pandas as pd
import skops.io as sio
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

here = Path(__file__).resolve().parent
params = json.loads((here / "params.json").read_text())
frames = [pd.read_csv(here / "data" / "reference.csv")]
for name in filter(None, os.environ.get("MLCI_RETRAIN_DATA", "").split(os.pathsep)):
    frames.append(pd.read_csv(name))
data = pd.concat(frames, ignore_index=True)
features = params["features"]
if features == "all":
    features = [c for c in data.columns if c not in ("id", "target")]
clf = LogisticRegression(C=params.get("C", 1.0), max_iter=2000)
model = Pipeline([("scale", StandardScaler()), ("clf", clf)])
model.fit(data[features], data["target"])
sio.dump(model, here / "model.skops")
print(f"trained on {len(data)} rows")
'''


def batches() -> dict[str, Any]:
    """The data as time-like batches (pandas frames)."""
    import numpy as np
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame.rename(columns=lambda c: c.replace(" ", "_"))
    frame.insert(0, "id", np.arange(1000, 1000 + len(frame)))
    frame = frame.sample(frac=1.0, random_state=3).reset_index(drop=True)
    out = {
        "reference": frame.iloc[:260],
        "eval": frame.iloc[260:380],
        "batch1": frame.iloc[380:475].reset_index(drop=True),
        "batch2": frame.iloc[475:].reset_index(drop=True),
    }
    shifted = out["batch2"].copy()
    shifted["mean_texture"] *= 1.6
    shifted["worst_area"] *= 1.8
    out["batch2"] = shifted
    return out


BASE_CONFIG: dict[str, Any] = {
    "version": 1,
    "task": "classification",
    "data": {
        "reference": "data/reference.csv",
        "eval": "data/eval.csv",
        "target": "target",
        "id_columns": ["id"],
        "drift": {"ignore": ["id"]},
    },
    "model": {
        "path": "model.skops",
        "train_command": f"{sys.executable} train.py",
        "metrics": ["accuracy", "roc_auc"],
        "gates": {"accuracy": {"min": 0.85, "max_drop": 0.05}},
        "bootstrap": {"resamples": 0},
        "export_onnx": False,
    },
    "registry": {"backend": "local", "path": ".mlci/registry"},
    "deploy": {"smoke_test": False},
    "retrain": {"policy": "on-drift", "drift_columns": ["mean_texture"]},
}


def merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``extra`` merged in (nested mappings merged, the rest replaced)."""
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def write_config(root: Path, extra: Mapping[str, Any] | None = None) -> Path:
    """Write ``mlci.yaml`` (the base config with ``extra`` merged in)."""
    path = root / "mlci.yaml"
    path.write_text(yaml_dump(merge(BASE_CONFIG, extra or {})), encoding="utf-8")
    return path


def set_params(root: Path, *, c: float = 1.0) -> None:
    """The train command's parameters (``c``: the inverse regularization strength)."""
    (root / "params.json").write_text(json.dumps({"features": "all", "C": c}), encoding="utf-8")


def build_template(root: Path) -> Path:
    """Write the project, train the champion and deploy it as production v1."""
    root.mkdir(parents=True, exist_ok=True)
    data = batches()
    (root / "data").mkdir()
    for name, frame in data.items():
        frame.to_csv(root / "data" / f"{name}.csv", index=False)
    (root / "train.py").write_text(TRAIN_PY, encoding="utf-8")
    set_params(root)
    config = write_config(root)
    import subprocess

    subprocess.run([sys.executable, "train.py"], cwd=root, check=True, capture_output=True)
    results = root / "seed-results"
    args = ["--config", str(config), "--results", str(results)]
    assert (
        main(["schema", "infer", str(root / "data" / "reference.csv"), "--config", str(config)])
        == 0
    )
    assert main(["validate-model", *args]) == 0
    assert main(["deploy", *args]) == 0
    shutil.rmtree(results)
    return root


_TEMPLATE: list[Path] = []


@pytest.fixture(scope="session")
def ct_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The finished project (champion in production); never modified by tests.

    Built once per session even though each test module registers the fixture.
    """
    if not _TEMPLATE:
        _TEMPLATE.append(build_template(tmp_path_factory.mktemp("ct") / "project"))
    return _TEMPLATE[0]


@pytest.fixture
def project(ct_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the project; the tests run with it as the working directory."""
    root = tmp_path / "project"
    shutil.copytree(ct_template, root)
    monkeypatch.chdir(root)
    monkeypatch.setenv("MLCI_GIT_SHA", "c" * 40)
    return root


def github(monkeypatch: pytest.MonkeyPatch, fake: Any) -> None:
    """Point mlci at the fake GitHub as a workflow run would (repository, token, run)."""
    for key, value in {
        "GITHUB_REPOSITORY": fake.repo,
        "GITHUB_TOKEN": fake.token,
        "GITHUB_SERVER_URL": fake.server_url,
        "GITHUB_RUN_ID": "7",
    }.items():
        monkeypatch.setenv(key, value)


def results(root: Path, kind: str) -> dict[str, Any]:
    """A results document the command wrote (validated like the report reads it)."""
    from mlci.results import read_results

    return read_results(root / "mlci-results" / f"{kind}.json")


def promote_with_reference(root: Path, data: Path, predictions: Any) -> int:
    """Register production's model again as a retrain would, and promote it.

    Its drift reference is the profile of ``data`` with the profile of ``predictions``
    (the model's predictions on its training data); returns the new version's number.
    """
    from mlci.config import load_config
    from mlci.data.profile import profile_files
    from mlci.pipelines.monitor.detect import profile_series
    from mlci.registry import make_event, open_registry
    from mlci.registry.base import METADATA_FILE
    from mlci.registry.reference import REFERENCE_FILE, write_reference

    registry = open_registry(load_config(root / "mlci.yaml"), backend="local")
    current = registry.get(registry.state().production or 0)
    folder = Path(current.location)
    files = {n: folder / n for n in current.files if n not in (METADATA_FILE, REFERENCE_FILE)}
    files[REFERENCE_FILE] = write_reference(
        profile_files([data]),
        profile_series("prediction", predictions),
        root / "retrained-reference.json",
    )
    meta = {k: v for k, v in current.metadata.items() if k not in ("version", "hashes")}
    meta["data"] = {"reference": {"file": REFERENCE_FILE, "source": "retrain fresh data"}}
    version = registry.register(files, meta)
    registry.record(make_event("promote", version.version))
    return version.version
