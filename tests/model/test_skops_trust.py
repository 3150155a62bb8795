"""skops files of standard pipelines load without trusting anything by hand; crafted trees do not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer, make_column_selector, make_column_transformer
from sklearn.ensemble import (
    BaggingClassifier,
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
)
from sklearn.feature_selection import SelectKBest, f_classif
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, TweedieRegressor
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier

from mlci.errors import InputError
from mlci.model.load import load_model
from mlci.model.skops_trust import STANDARD_TYPES, VERIFIED_TYPES, verify_trees


def _table(n: int = 240) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Penguin-shaped rows: numbers and strings, both with missing values."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "bill_length_mm": rng.normal(44, 5, n),
            "flipper_length_mm": rng.normal(200, 14, n),
            "island": rng.choice(["Biscoe", "Dream", "Torgersen", None], n),
            "sex": rng.choice(["male", "female", None], n),
        }
    )
    frame.loc[rng.random(n) < 0.05, "bill_length_mm"] = np.nan
    species = np.where(frame["flipper_length_mm"].fillna(200) > 205, "Gentoo", "Adelie")
    species[frame["island"].to_numpy() == "Dream"] = "Chinstrap"
    return frame, species, frame["flipper_length_mm"].to_numpy() * 20


def _prep() -> ColumnTransformer:
    return ColumnTransformer(
        [
            (
                "num",
                make_pipeline(SimpleImputer(), StandardScaler()),
                ["bill_length_mm", "flipper_length_mm"],
            ),
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"),
                    OneHotEncoder(handle_unknown="ignore"),
                ),
                ["island", "sex"],
            ),
        ]
    )


STANDARD = {
    "onehot_logistic": lambda: make_pipeline(_prep(), LogisticRegression(max_iter=500)),
    "random_forest": lambda: make_pipeline(_prep(), RandomForestClassifier(5, random_state=0)),
    "gradient_boosting": lambda: make_pipeline(
        _prep(), GradientBoostingClassifier(n_estimators=5, random_state=0)
    ),
    "hist_gradient_boosting": lambda: make_pipeline(
        _prep(), HistGradientBoostingClassifier(max_iter=5)
    ),
    "bagging": lambda: make_pipeline(
        _prep(), BaggingClassifier(DecisionTreeClassifier(), 4, max_features=0.5, random_state=0)
    ),
    "knn": lambda: make_pipeline(_prep(), KNeighborsClassifier()),
    "select_k_best": lambda: make_pipeline(
        _prep(), SelectKBest(f_classif, k=3), LogisticRegression()
    ),
    "calibrated": lambda: make_pipeline(_prep(), CalibratedClassifierCV(LogisticRegression())),
    "mlp": lambda: make_pipeline(_prep(), MLPClassifier((8,), max_iter=30, random_state=0)),
    "column_selector": lambda: make_pipeline(
        make_column_transformer(
            (SimpleImputer(), make_column_selector(dtype_include=np.number)),
            (
                make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder()),
                make_column_selector(dtype_exclude=np.number),
            ),
        ),
        LogisticRegression(max_iter=500),
    ),
}


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("name", sorted(STANDARD))
def test_standard_pipelines_load_without_trust(tmp_path: Path, name: str) -> None:
    X, species, _ = _table()
    model = STANDARD[name]().fit(X, species)
    path = tmp_path / f"{name}.skops"
    sio.dump(model, path)
    # the list skops itself reports for this pipeline is covered by mlci's standard set
    reported = set(sio.get_untrusted_types(file=path))
    assert reported <= STANDARD_TYPES | VERIFIED_TYPES, reported - STANDARD_TYPES
    loaded = load_model(path)  # neither model.trusted nor model.trusted_types
    assert loaded.warnings == []
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_regression_losses_are_standard(tmp_path: Path) -> None:
    X, _, value = _table()
    for i, est in enumerate(
        [TweedieRegressor(power=1.5), HistGradientBoostingRegressor(max_iter=5)]
    ):
        path = tmp_path / f"r{i}.skops"
        sio.dump(make_pipeline(_prep(), est).fit(X, value), path)
        assert load_model(path).predict(X).shape == (len(X),)


def _dump_with_state(tree_owner: DecisionTreeClassifier, edit, path: Path) -> None:  # type: ignore[no-untyped-def]
    state = tree_owner.tree_.__getstate__()
    nodes = state["nodes"].copy()
    edit(nodes)
    state["nodes"] = nodes
    tree_owner.tree_.__setstate__(state)
    sio.dump(tree_owner, path)


def test_crafted_tree_nodes_are_refused(tmp_path: Path) -> None:
    X, species, _ = _table()
    num = X[["bill_length_mm", "flipper_length_mm"]].fillna(0)
    good = DecisionTreeClassifier(max_depth=3, random_state=0).fit(num, species)
    assert verify_trees(good) == []

    def far_child(nodes: np.ndarray) -> None:
        nodes["left_child"][0] = 10**6

    def far_feature(nodes: np.ndarray) -> None:
        nodes["feature"][0] = 10**6

    def loop(nodes: np.ndarray) -> None:
        nodes["right_child"][0] = 0

    for i, edit in enumerate([far_child, far_feature, loop]):
        bad = DecisionTreeClassifier(max_depth=3, random_state=0).fit(num, species)
        path = tmp_path / f"bad{i}.skops"
        _dump_with_state(bad, edit, path)
        with pytest.raises(InputError, match="refusing to use the model: its tree nodes are"):
            load_model(path)
        # the user may still vouch for the file by hand
        load_model(path, trusted_types=["sklearn.tree._tree.Tree"])


def test_ensemble_fed_a_wider_table_than_its_trees_is_refused(tmp_path: Path) -> None:
    X, species, _ = _table()
    num = X[["bill_length_mm", "flipper_length_mm"]].fillna(0)
    forest = RandomForestClassifier(3, random_state=0).fit(num, species)
    narrow = RandomForestClassifier(3, random_state=0).fit(num[["bill_length_mm"]], species)
    forest.estimators_[0] = narrow.estimators_[0]
    path = tmp_path / "forest.skops"
    sio.dump(forest, path)
    with pytest.raises(InputError, match=r"estimators_\[0\]: takes 1 features, the ensemble"):
        load_model(path)


def test_crafted_hist_gradient_boosting_nodes_are_refused(tmp_path: Path) -> None:
    X, species, _ = _table()
    num = X[["bill_length_mm", "flipper_length_mm"]]
    model = HistGradientBoostingClassifier(max_iter=3).fit(num, species)
    model._predictors[0][0].nodes["feature_idx"][0] = 50
    path = tmp_path / "hgb.skops"
    sio.dump(model, path)
    with pytest.raises(InputError, match=r"_predictors\[0\]: child or feature indices"):
        load_model(path)


def test_serving_honours_model_trusted_types(tmp_path: Path) -> None:
    import operator

    from sklearn.preprocessing import FunctionTransformer

    from mlci.serve.app import load_served_model

    X, species, _ = _table()
    num = X[["bill_length_mm", "flipper_length_mm"]].fillna(0)
    model = make_pipeline(
        FunctionTransformer(operator.neg, feature_names_out="one-to-one"), LogisticRegression()
    )
    path = tmp_path / "neg.skops"
    sio.dump(model.fit(num, species), path)
    with pytest.raises(InputError, match=r'trusted_types: \["_operator.neg"\]'):
        load_served_model(path)
    served = load_served_model(path, trusted_types=["_operator.neg"])
    assert served.path == path
