"""Models that need the project's environment: its own modules, and the library versions
they were saved with. Failing for either is the environment (exit 2), never a bug."""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sklearn
import skops.io as sio
from sklearn.linear_model import LogisticRegression

from mlci.cli import main
from mlci.errors import InputError
from mlci.model.load import load_model, saved_versions

INSTALLED = sklearn.__version__
OLD = ("0" if INSTALLED[0] != "0" else "9") + INSTALLED[1:]  # same length, another version


def _frame() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(40, 2)), columns=["a", "b"])
    return X, pd.Series((X["a"] > 0).astype(int))


def _as_if_saved_with_another_version(path: Path) -> None:
    """Rewrite the ``_sklearn_version`` recorded in a pickle (same length, valid pickle)."""
    data = path.read_bytes()
    assert data.count(INSTALLED.encode()) >= 1
    path.write_bytes(data.replace(INSTALLED.encode(), OLD.encode()))


def test_a_missing_module_is_exit_2_with_the_module_and_versions(tmp_path: Path, capsys) -> None:
    # What pickle writes for an object of a class from a package this Python lacks.
    path = tmp_path / "model.pkl"
    path.write_bytes(
        b"\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x00"
        b"\x8c\x12xgboost_not_here.s\x94\x8c\x07Booster\x94\x93\x94)\x81\x94."
    )
    with pytest.raises(InputError) as err:
        load_model(path, trusted=True)
    message = err.value.message
    assert message.startswith(f"{path}: the model needs the module 'xgboost_not_here'")
    assert "installed: not installed" in message
    assert "install the project's requirements (requirements.txt or install_command)" in message
    (tmp_path / "eval.csv").write_text("a,b,y\n1,2,0\n", encoding="utf-8")
    (tmp_path / "mlci.yaml").write_text(
        "version: 1\ntask: classification\ndata:\n  eval: eval.csv\n  target: y\n"
        "model:\n  path: model.pkl\n  trusted: true\n  baseline: none\n"
        "  gates: {accuracy: {min: 0.5}}\n",
        encoding="utf-8",
    )
    code = main(
        [
            "validate-model",
            "--config",
            str(tmp_path / "mlci.yaml"),
            "--results",
            str(tmp_path / "r"),
        ]
    )
    assert code == 2
    assert "the model needs the module 'xgboost_not_here'" in capsys.readouterr().err


def test_a_model_that_fails_with_the_installed_version_names_both(tmp_path: Path) -> None:
    X, y = _frame()
    model = LogisticRegression().fit(X, y)
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(model))
    _as_if_saved_with_another_version(path)
    assert saved_versions(path, "pickle") == {"scikit-learn": OLD}
    loaded = load_model(path, trusted=True)
    assert loaded.version_mismatch == {"scikit-learn": (OLD, INSTALLED)}
    assert any(
        f"saved with scikit-learn {OLD}, loaded with {INSTALLED}" in w for w in loaded.warnings
    )
    # An attribute the installed version needs and the saved one did not have.
    del loaded.estimator.coef_
    with pytest.raises(InputError) as err:
        loaded.predict(X)
    assert err.value.message.startswith(
        f"{path}: the model was saved with scikit-learn {OLD} (installed: {INSTALLED})"
        " and fails with this version ("
    )


def test_skops_files_record_their_version(tmp_path: Path) -> None:
    X, y = _frame()
    path = tmp_path / "model.skops"
    sio.dump(LogisticRegression().fit(X, y), path)
    assert saved_versions(path, "skops") == {"scikit-learn": INSTALLED}
    assert load_model(path).version_mismatch == {}


def test_the_project_root_is_importable_for_its_own_classes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pipeline step defined in the project (features.py) loads from the project root."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "mlci_test_features.py").write_text(
        "from sklearn.linear_model import LogisticRegression\n\n\n"
        "class Mine(LogisticRegression):\n    pass\n",
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(project))
    import mlci_test_features  # type: ignore[import-not-found]

    X, y = _frame()
    path = project / "model.pkl"
    path.write_bytes(pickle.dumps(mlci_test_features.Mine().fit(X, y)))
    # A fresh process started as the console script: the project root is not on sys.path.
    monkeypatch.delitem(sys.modules, "mlci_test_features")
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in (str(project), "")])
    monkeypatch.chdir(project)
    loaded = load_model(path, trusted=True)
    assert type(loaded.estimator).__name__ == "Mine"
    assert len(loaded.predict(X)) == len(X)
