from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import skops.io as sio
from sklearn.datasets import load_diabetes, load_iris
from sklearn.ensemble import RandomForestRegressor
from sklearn.neighbors import NearestCentroid

from mlci.cli import main
from mlci.errors import InputError
from mlci.model.load import load_model
from mlci.model.onnx import check_parity, export_onnx
from tests.model.models import Models


def test_export_writes_metadata_and_passes_parity(models: Models, tmp_path: Path) -> None:
    for case in (models.binary, models.multiclass, models.regression):
        original = load_model(case.good)
        result = export_onnx(original, case.eval, tmp_path / f"{case.good.stem}.onnx")
        assert result.passed and result.findings == []
        assert result.parity is not None and result.parity.rows == len(case.eval)
        assert result.output is not None
        props = {p.key: p.value for p in onnx.load(str(result.output)).metadata_props}
        assert props["mlci.task"] == case.task
        exported = load_model(result.output)
        assert exported.feature_names == original.feature_names
        assert exported.classes == original.classes
        np.testing.assert_allclose(
            exported.predict(case.eval).astype(float),
            original.predict(case.eval).astype(float),
            rtol=1e-4,
            atol=1e-3,
        )


def test_falls_back_to_double_precision_when_float32_breaks_parity(
    models: Models, tmp_path: Path
) -> None:
    case = models.regression  # predictions around 150: float32 is off by ~1e-5
    model = load_model(case.good)
    result = export_onnx(model, case.eval, tmp_path / "ridge.onnx", max_abs_diff=1e-7)
    assert result.passed and result.precision == "float64"
    assert result.parity is not None and result.parity.max_abs_diff < 1e-7  # type: ignore[operator]
    forced = export_onnx(
        model, case.eval, tmp_path / "ridge32.onnx", max_abs_diff=1e-7, precision="float32"
    )
    assert not forced.passed and forced.findings[0].check == "onnx_parity"
    assert "differs from the original" in forced.findings[0].message


def test_tree_ensemble_keeps_its_decisions_in_float32(tmp_path: Path) -> None:
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    path = tmp_path / "forest.skops"
    sio.dump(RandomForestRegressor(n_estimators=10, random_state=0).fit(X, y), path)
    model = load_model(path, trusted=True)
    result = export_onnx(model, X, tmp_path / "forest.onnx")
    # skl2onnx rounds thresholds so float32 inputs take the same branches; what is
    # left is float32 rounding of the summed leaf values (~1e-5 on values ~150)
    assert result.passed and result.precision == "float32"
    strict = export_onnx(model, X, tmp_path / "strict.onnx", max_abs_diff=1e-9)
    assert not strict.passed and strict.output is not None  # parity figures, no crash
    assert [f.check for f in strict.findings] == ["onnx_parity"]


def test_unsupported_estimator_is_a_finding(tmp_path: Path) -> None:
    X, y = load_iris(return_X_y=True, as_frame=True)
    path = tmp_path / "centroid.skops"
    sio.dump(NearestCentroid().fit(X, y), path)
    result = export_onnx(load_model(path), X, tmp_path / "centroid.onnx")
    assert result.output is None and not result.passed
    assert result.findings[0].check == "onnx_unsupported"
    assert "skl2onnx cannot convert this NearestCentroid" in result.findings[0].message
    assert not (tmp_path / "centroid.onnx").exists()


def test_parity_counts_label_mismatches(models: Models) -> None:
    good, worse = load_model(models.binary.good), load_model(models.binary.worse)
    p = check_parity(good, worse, models.binary.eval)
    assert not p.passed and p.label_mismatch is not None and p.label_mismatch > 0.05
    assert p.compared == "probabilities"


def test_export_refuses_onnx_input(models: Models, tmp_path: Path) -> None:
    assert models.binary.good_onnx is not None
    with pytest.raises(InputError, match="already ONNX"):
        export_onnx(load_model(models.binary.good_onnx), models.binary.eval, tmp_path / "x.onnx")


def test_cli_export(
    models: Models,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out" / "model.onnx"
    code = main(
        ["export", str(models.binary.good), "--sample", str(models.binary.eval_csv), "-o", str(out)]
    )
    assert code == 0 and out.exists()
    text = capsys.readouterr().out
    assert f"wrote {out} (float32 inputs); parity on {len(models.binary.eval)} rows" in text
    assert text.rstrip().endswith("passed")
    X, y = load_iris(return_X_y=True, as_frame=True)
    sio.dump(NearestCentroid().fit(X, y), tmp_path / "c.skops")
    X.to_csv(tmp_path / "iris.csv", index=False)
    assert main(["export", "c.skops", "--sample", "iris.csv"]) == 1
    assert "skl2onnx cannot convert this NearestCentroid" in capsys.readouterr().out
    assert main(["export", "c.skops", "--sample", "missing.csv"]) == 2
    assert "missing.csv: data file not found" in capsys.readouterr().err


def test_mixed_types_and_string_labels_export_per_column(tmp_path: Path) -> None:
    """A ColumnTransformer pipeline gets one ONNX input per column; skl2onnx renames
    'mean radius' to 'mean_radius', and the metadata maps the inputs back to columns."""
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X = X.iloc[:, :4].copy()
    X["site"] = np.where(X["mean radius"] > 14, "north", "south")
    X["visits"] = (X["mean texture"] // 5).astype("int64")
    labels = pd.Series(np.where(y == 1, "benign", "malignant"))
    numeric = [*X.columns[:4], "visits"]
    ct = ColumnTransformer(
        [
            ("num", StandardScaler(), numeric),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["site"]),
        ]
    )
    est = Pipeline([("ct", ct), ("lr", LogisticRegression(max_iter=1000))]).fit(X, labels)
    sio.dump(est, tmp_path / "mixed.skops")
    original = load_model(tmp_path / "mixed.skops")
    result = export_onnx(original, X, tmp_path / "mixed.onnx")
    assert result.passed, result.findings
    exported = load_model(tmp_path / "mixed.onnx")
    assert len(exported.session.get_inputs()) == 6  # type: ignore[attr-defined]
    assert exported.feature_names == list(X.columns)
    assert exported.classes == ["benign", "malignant"]
    assert list(exported.predict(X)) == list(original.predict(X))
    bad = X.assign(visits=X["visits"] + 0.5)
    with pytest.raises(
        InputError, match=r"dtype mismatch in column\(s\) 'visits \(float64 with fractions"
    ):
        exported.predict(bad)
