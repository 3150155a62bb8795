from __future__ import annotations

import pickle
import re
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

from mlci.errors import InputError
from mlci.model.load import OnnxModel, SklearnModel, load_model
from tests.model.models import Models


def test_skops_model_predicts_by_feature_name(models: Models) -> None:
    m = load_model(models.binary.good)
    assert isinstance(m, SklearnModel)
    assert m.format == "skops" and m.task_hint == "classification" and m.classes == [0, 1]
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", m.sha256)
    assert m.feature_names is not None and m.feature_names[0] == "mean radius"
    frame = models.binary.eval
    shuffled = frame[list(reversed(frame.columns))]  # column order of the data does not matter
    np.testing.assert_array_equal(m.predict(frame), m.predict(shuffled))
    proba = m.predict_proba(frame)
    assert proba is not None and proba.shape == (len(frame), 2)
    assert load_model(models.regression.good).task_hint == "regression"
    assert load_model(models.regression.good).predict_proba(models.regression.eval) is None


def test_onnx_model_takes_feature_order_from_metadata(models: Models) -> None:
    assert models.binary.good_onnx is not None
    m = load_model(models.binary.good_onnx)
    assert isinstance(m, OnnxModel)
    assert m.format == "onnx" and m.task_hint == "classification" and m.classes == [0, 1]
    assert m.feature_names == load_model(models.binary.good).feature_names
    frame = models.binary.eval
    reference = load_model(models.binary.good).predict_proba(frame)
    proba = m.predict_proba(frame[list(reversed(frame.columns))])
    assert proba is not None and reference is not None
    assert np.max(np.abs(proba - reference)) < 1e-4


def test_config_features_that_disagree_with_the_model_are_named(models: Models) -> None:
    names = load_model(models.binary.good).feature_names
    assert names is not None
    swapped = [names[1], names[0], *names[2:]]
    for path in (models.binary.good, models.binary.good_onnx):
        assert path is not None
        with pytest.raises(
            InputError, match=r"different order.*reordered: 'mean texture', 'mean radius'"
        ):
            load_model(path, features=swapped)
        with pytest.raises(
            InputError, match=r"expects 'worst fractal dimension', missing from model.features"
        ):
            load_model(path, features=names[:-1])
        with pytest.raises(
            InputError, match=r"model.features lists 'bogus', which the model does not take"
        ):
            load_model(path, features=[*names, "bogus"])


def test_missing_columns_are_errors_and_extra_columns_are_returned(models: Models) -> None:
    m = load_model(models.binary.good)
    frame = models.binary.eval
    with pytest.raises(InputError, match=r"lacks feature column\(s\) 'mean area' that the model"):
        m.check_columns(frame.drop(columns=["mean area"]), ignore=["target"])
    extra = frame.assign(surprise=1.0, year=2007)
    assert m.check_columns(extra, ignore=["target"]) == ["surprise", "year"]
    assert m.check_columns(extra, ignore=["target", "year"]) == ["surprise"]
    assert m.check_columns(frame, ignore=["target"]) == []
    # the model is fed its own columns, whatever else the table holds
    assert (m.predict(extra) == m.predict(frame)).all()
    with pytest.raises(InputError, match=r"lacks feature column\(s\) 'mean area'"):
        m.predict(frame.drop(columns=["mean area"]))


def test_dtype_mismatch_is_named(models: Models) -> None:
    assert models.binary.good_onnx is not None
    frame = models.binary.eval.copy()
    frame["mean area"] = "big"
    with pytest.raises(InputError, match=r"dtype mismatch.*'mean area \((object|str)\)'"):
        load_model(models.binary.good_onnx).predict(frame)
    with pytest.raises(
        InputError, match=r"could not predict.*non-numeric column\(s\): 'mean area'"
    ):
        load_model(models.binary.good).predict(frame)


def test_model_without_names_needs_model_features(tmp_path: Path) -> None:
    X, y = load_breast_cancer(return_X_y=True)
    est = LogisticRegression(max_iter=1000).fit(X[:, :4] / X[:, :4].std(axis=0), y)
    X = X / X.std(axis=0)
    path = tmp_path / "plain.onnx"
    onx = convert_sklearn(
        est,
        initial_types=[("input", FloatTensorType([None, 4]))],
        options={id(est): {"zipmap": False}},
    )
    path.write_bytes(onx.SerializeToString())
    m = load_model(path)
    assert m.feature_names is None and m.n_features == 4 and m.classes == [0, 1]
    frame = pd.DataFrame(X[:, :4], columns=["a", "b", "c", "d"])
    with pytest.raises(InputError, match="does not record its feature names; list them"):
        m.predict(frame)
    named = load_model(path, features=["a", "b", "c", "d"])
    np.testing.assert_array_equal(named.predict(frame), est.predict(X[:, :4]))
    with pytest.raises(InputError, match="expects 4 features but model.features lists 3"):
        load_model(path, features=["a", "b", "c"])
    skops_path = tmp_path / "plain.skops"
    sio.dump(est, skops_path)
    with pytest.raises(InputError, match="expects 4 features but model.features lists 5"):
        load_model(skops_path, features=["a", "b", "c", "d", "e"])


def test_skops_refuses_untrusted_types_by_name(tmp_path: Path) -> None:
    import operator

    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    path = tmp_path / "neg.skops"
    model = make_pipeline(
        FunctionTransformer(operator.neg, feature_names_out="one-to-one"),
        DecisionTreeClassifier(max_depth=2, random_state=0),
    )
    sio.dump(model.fit(X, y), path)
    with pytest.raises(
        InputError,
        match=r"refusing to load.*'_operator.neg'.*add this line under model: in mlci.yaml:"
        r' trusted_types: \["_operator.neg"\]$',
    ):
        load_model(path)
    m = load_model(path, trusted_types=["_operator.neg"])
    assert m.predict(X).shape == (len(X),)
    assert m.warnings == [
        "neg.skops: loaded with types trusted by model.trusted_types: _operator.neg"
    ]
    m = load_model(path, trusted=True)
    assert m.warnings and "_operator.neg" in m.warnings[0]


@pytest.mark.parametrize("suffix", [".joblib", ".pkl"])
def test_pickled_models_only_when_trusted(tmp_path: Path, suffix: str) -> None:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    est = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    path = tmp_path / f"model{suffix}"
    if suffix == ".joblib":
        joblib.dump(est, path)
    else:
        path.write_bytes(pickle.dumps(est))
    with pytest.raises(
        InputError, match=r"refusing to load a (joblib|pickle) file: loading it runs arbitrary code"
    ):
        load_model(path)
    m = load_model(path, trusted=True)
    assert m.format == ("joblib" if suffix == ".joblib" else "pickle")
    assert "runs code when loaded" in m.warnings[0]
    truncated = tmp_path / f"cut{suffix}"
    truncated.write_bytes(path.read_bytes()[:200])
    with pytest.raises(InputError, match="could not unpickle.*corrupt, truncated"):
        load_model(truncated, trusted=True)


def test_broken_files_give_clear_messages(models: Models, tmp_path: Path) -> None:
    assert models.binary.good_onnx is not None
    cut_onnx = tmp_path / "cut.onnx"
    cut_onnx.write_bytes(models.binary.good_onnx.read_bytes()[:300])
    with pytest.raises(InputError, match="not a valid ONNX model.*corrupt or truncated"):
        load_model(cut_onnx)
    cut_skops = tmp_path / "cut.skops"
    cut_skops.write_bytes(models.binary.good.read_bytes()[:300])
    with pytest.raises(InputError, match="not a valid skops file.*corrupt or truncated"):
        load_model(cut_skops)
    empty = tmp_path / "empty.skops"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="the model file is empty"):
        load_model(empty)
    odd = tmp_path / "model.h5"
    odd.write_bytes(b"x")
    with pytest.raises(InputError, match=r"unknown model format '.h5'; use .onnx, .skops"):
        load_model(odd)
    with pytest.raises(InputError, match="model file not found"):
        load_model(tmp_path / "nope.skops")
    with pytest.raises(InputError, match="unknown model format 'tensorflow'"):
        load_model(models.binary.good, fmt="tensorflow")
    not_a_model = tmp_path / "dict.skops"
    sio.dump({"a": 1}, not_a_model)
    with pytest.raises(InputError, match="holds a dict, not a model with predict"):
        load_model(not_a_model)


# -- a skops archive is bounded before skops reads it -------------------------------------


def _rewrite_skops(source: Path, target: Path, schema: bytes | None = None, **extra: bytes) -> Path:
    import zipfile

    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            dst.writestr(
                info.filename, schema if info.filename == "schema.json" and schema else data
            )
        for name, data in extra.items():
            dst.writestr(name, data)
    return target


def test_a_skops_zip_bomb_is_refused_unread(
    models: Models, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bomb = _rewrite_skops(models.binary.good, tmp_path / "bomb.skops", **{"z.npy": b"\0" * 10**7})
    assert bomb.stat().st_size < 10**6
    monkeypatch.setenv("MLCI_MAX_SKOPS_BYTES", str(5 * 10**6))
    with pytest.raises(InputError) as info:
        load_model(bomb)
    assert str(info.value).startswith(f"{bomb}: the skops archive unpacks to")
    assert "set MLCI_MAX_SKOPS_BYTES to raise the limit" in str(info.value)
    monkeypatch.delenv("MLCI_MAX_SKOPS_BYTES")
    assert load_model(bomb).format == "skops"  # within the default bound


@pytest.mark.parametrize(
    ("schema", "says"),
    [
        (b'{"a": NaN}', "schema.json: NaN is not valid JSON"),
        (b"[" * 300 + b"]" * 300, "schema.json: nested more than 200 levels deep"),
        (b'{"a": ' + b"9" * 400 + b"}", "schema.json: a whole number with 400 digits"),
        (b"\xff\xfe", "schema.json: not UTF-8 text"),
    ],
)
def test_a_hostile_skops_schema_is_exit_2_not_a_crash(
    models: Models, tmp_path: Path, schema: bytes, says: str
) -> None:
    path = _rewrite_skops(models.binary.good, tmp_path / "bad.skops", schema=schema)
    with pytest.raises(InputError) as info:
        load_model(path)
    assert str(info.value).startswith(f"{path}: schema.json"), str(info.value)
    assert says in str(info.value) and "save it again with skops.io.dump" in str(info.value)


def test_a_skops_file_without_a_schema_is_not_a_skops_file(models: Models, tmp_path: Path) -> None:
    import zipfile

    path = tmp_path / "noschema.skops"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x.npy", b"0")
    with pytest.raises(InputError, match=r"not a valid skops file \(KeyError"):
        load_model(path)
