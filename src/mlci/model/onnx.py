"""Export scikit-learn models to ONNX with skl2onnx and check parity with the original.

`export_onnx` converts with float32 inputs first and, when that changes answers
beyond the tolerances, converts again in double precision where skl2onnx supports
it (linear models, scalers, many transformers). skl2onnx's tree ensembles are
float32-only; it rounds their thresholds so float32 inputs take the same
branches, and the parity check measures what is left (rounding of leaf sums).
Feature names, class labels and the task are written into the ONNX
``metadata_props`` so `mlci.model.load` can feed a single-tensor model by name.
An estimator skl2onnx cannot convert is reported as an ``onnx_unsupported`` finding, never a crash.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from mlci import jsonio
from mlci.errors import InputError
from mlci.model.load import (
    META_CLASSES,
    META_FEATURES,
    META_SOURCE,
    META_TASK,
    LoadedModel,
    OnnxModel,
    SklearnModel,
)
from mlci.results import Finding

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["ExportResult", "ParityResult", "check_parity", "export_onnx"]

Precision = Literal["auto", "float32", "float64"]


@dataclass
class ParityResult:
    """How closely two models agree on the same rows.

    Attributes:
        rows: Rows compared.
        compared: ``probabilities`` or ``predictions`` (what ``max_abs_diff`` is over).
        max_abs_diff: Largest absolute difference of probabilities or predicted values.
        label_mismatch: Share of rows with a different label (classification), else None.
        passed: Both figures within the tolerances.
        max_abs_diff_limit: The tolerance for ``max_abs_diff``.
        label_mismatch_limit: The tolerance for ``label_mismatch``.
    """

    rows: int
    compared: str
    max_abs_diff: float | None
    label_mismatch: float | None
    passed: bool
    max_abs_diff_limit: float
    label_mismatch_limit: float

    def to_payload(self) -> dict[str, Any]:
        """The ``parity`` entry of ``model.json`` (see docs/results.md)."""
        return {
            "max_abs_diff": self.max_abs_diff,
            "label_mismatch": self.label_mismatch,
            "passed": self.passed,
            "rows": self.rows,
        }


@dataclass
class ExportResult:
    """The outcome of an export.

    Attributes:
        output: The ONNX file written, or None when the model could not be converted.
        precision: ``float32`` or ``float64`` inputs, or None when not exported.
        parity: Agreement with the original on the sample, or None.
        findings: ``onnx_unsupported`` (conversion failed) or ``onnx_parity`` (too far apart).
        model: The exported model, loaded, or None.
    """

    output: Path | None
    precision: str | None
    parity: ParityResult | None
    findings: list[Finding] = field(default_factory=list)
    model: OnnxModel | None = None

    @property
    def passed(self) -> bool:
        """Exported and within the parity tolerances."""
        return self.output is not None and self.parity is not None and self.parity.passed


def _same_labels(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    import numpy as np

    a, b = np.asarray(a).reshape(-1), np.asarray(b).reshape(-1)
    if a.dtype.kind != b.dtype.kind and {a.dtype.kind, b.dtype.kind} & {"U", "S", "O"}:
        return np.asarray(a.astype(str) == b.astype(str))
    return np.asarray(a == b)


def check_parity(
    original: LoadedModel,
    other: LoadedModel,
    X: pd.DataFrame,
    *,
    max_abs_diff: float = 1e-4,
    max_label_mismatch: float = 0.0,
) -> ParityResult:
    """Compare two models' answers on ``X``.

    Args:
        original: The reference model (e.g. the scikit-learn one).
        other: The model that should behave the same (e.g. its ONNX export).
        X: The rows to compare on (e.g. the eval data).
        max_abs_diff: Tolerance on probabilities (classifiers) or predicted values.
        max_label_mismatch: Tolerance on the share of differing labels.
    """
    import numpy as np

    rows = len(X)
    pred_a, pred_b = original.predict(X), other.predict(X)
    proba_a, proba_b = original.predict_proba(X), other.predict_proba(X)
    classification = original.task_hint == "classification" or proba_a is not None
    mismatch: float | None = None
    if classification:
        mismatch = float(1.0 - _same_labels(pred_a, pred_b).mean()) if rows else 0.0
    if proba_a is not None and proba_b is not None and proba_a.shape == proba_b.shape:
        compared = "probabilities"
        diff = float(np.max(np.abs(proba_a - proba_b))) if rows else 0.0
    elif not classification:
        compared = "predictions"
        a = np.asarray(pred_a, dtype=np.float64).reshape(-1)
        b = np.asarray(pred_b, dtype=np.float64).reshape(-1)
        diff = float(np.max(np.abs(a - b))) if rows else 0.0
    else:
        compared = "labels"
        diff = None
    passed = (diff is None or (np.isfinite(diff) and diff <= max_abs_diff)) and (
        mismatch is None or mismatch <= max_label_mismatch
    )
    return ParityResult(
        rows=rows,
        compared=compared,
        max_abs_diff=diff,
        label_mismatch=mismatch,
        passed=bool(passed),
        max_abs_diff_limit=max_abs_diff,
        label_mismatch_limit=max_label_mismatch,
    )


def _initial_types(X: pd.DataFrame, double: bool) -> tuple[list[Any], bool]:
    """skl2onnx input declarations: one tensor when all columns are numeric, else one per column."""
    from pandas.api.types import is_bool_dtype, is_integer_dtype, is_numeric_dtype
    from skl2onnx.common.data_types import (
        DoubleTensorType,
        FloatTensorType,
        Int64TensorType,
        StringTensorType,
    )

    real = DoubleTensorType if double else FloatTensorType
    numeric = all(is_numeric_dtype(X[c]) or is_bool_dtype(X[c]) for c in X.columns)
    if numeric:
        return [("input", real([None, X.shape[1]]))], True
    types: list[Any] = []
    for c in X.columns:
        col = X[c]
        if is_integer_dtype(col) or is_bool_dtype(col):
            types.append((str(c), Int64TensorType([None, 1])))
        elif is_numeric_dtype(col):
            types.append((str(c), real([None, 1])))
        else:
            types.append((str(c), StringTensorType([None, 1])))
    return types, False


def _convert(model: SklearnModel, X: pd.DataFrame, double: bool) -> Any:
    from skl2onnx import convert_sklearn

    initial, _single = _initial_types(X, double)
    options: dict[int, dict[str, Any]] | None = None
    if model.task_hint == "classification":
        options = {id(model.estimator): {"zipmap": False}}
    onx = convert_sklearn(model.estimator, initial_types=initial, options=options)
    meta = {
        META_TASK: model.task_hint or "",
        META_SOURCE: model.sha256,
    }
    if model.feature_names is not None:
        # One tensor: the column order; one input per column: the column names
        # (skl2onnx may rename inputs, e.g. spaces to underscores).
        meta[META_FEATURES] = jsonio.dumps(model.feature_names, indent=None)
    if model.classes is not None:
        meta[META_CLASSES] = jsonio.dumps(model.classes, indent=None)
    for key, value in meta.items():
        prop = onx.metadata_props.add()
        prop.key, prop.value = key, value
    return onx


def export_onnx(
    model: LoadedModel,
    sample: pd.DataFrame,
    output: Path,
    *,
    max_abs_diff: float = 1e-4,
    max_label_mismatch: float = 0.0,
    precision: Precision = "auto",
) -> ExportResult:
    """Convert a scikit-learn model to ONNX and check parity on ``sample``.

    Args:
        model: A loaded scikit-learn model (skops, joblib or pickle).
        sample: Rows holding the model's features (e.g. the eval data); extra
            columns are ignored.
        output: Where to write the ``.onnx`` file.
        max_abs_diff: Parity tolerance on probabilities or predicted values.
        max_label_mismatch: Parity tolerance on the share of differing labels.
        precision: ``float32``, ``float64``, or ``auto``: float32 unless it breaks
            parity and float64 keeps it.

    Returns:
        The export with its parity figures; conversion failures are findings.

    Raises:
        InputError: when the model is already ONNX or the sample lacks features.
    """
    model, X = _exportable(model, sample)
    attempts: list[bool] = {"float32": [False], "float64": [True], "auto": [False, True]}[precision]
    output.parent.mkdir(parents=True, exist_ok=True)
    best: ExportResult | None = None
    errors: list[str] = []
    for double in attempts:
        tried = _attempt(model, X, double, output, max_abs_diff, max_label_mismatch)
        if isinstance(tried, str):
            errors.append(tried)
            continue
        best = _keep_better(best, tried, output)
        if tried.parity is not None and tried.parity.passed:
            break
    if best is None or best.output is None:
        return _unsupported(model, errors)
    best.output.replace(output)
    best.output = output
    best.model = OnnxModel(output, features=None)
    assert best.parity is not None
    if not best.parity.passed:
        best.findings.append(_parity_finding(best.parity))
    return best


def _exportable(model: LoadedModel, sample: pd.DataFrame) -> tuple[SklearnModel, pd.DataFrame]:
    """The scikit-learn model and the sample's rows of its features, or an InputError."""
    if not isinstance(model, SklearnModel):
        raise InputError(
            f"{model.path}: the model is already ONNX; export takes a scikit-learn model"
            " (.skops, or a trusted .joblib/.pkl)"
        )
    if model.feature_names is None:
        raise InputError(
            f"{model.path}: the model does not record its feature names; list them in"
            " model input order under model.features in mlci.yaml"
        )
    X = model._select(sample)
    if len(X) == 0:
        raise InputError("export: the sample data has no rows; pass eval data with rows")
    return model, X


def _attempt(
    model: SklearnModel,
    X: pd.DataFrame,
    double: bool,
    output: Path,
    max_abs_diff: float,
    max_label_mismatch: float,
) -> ExportResult | str:
    """Convert at one precision into a temporary file and check parity; or why not."""
    from onnx import save_model

    name = "float64" if double else "float32"
    try:
        onx = _convert(model, X, double)
    except (
        RuntimeError,
        NotImplementedError,
        TypeError,
        ValueError,
        KeyError,
        AttributeError,
    ) as exc:
        return f"{name}: {type(exc).__name__}: {exc}"
    tmp = output.with_suffix(".onnx.tmp")
    save_model(onx, str(tmp))
    try:
        exported = OnnxModel(tmp, features=None)
        parity = check_parity(
            model,
            exported,
            X,
            max_abs_diff=max_abs_diff,
            max_label_mismatch=max_label_mismatch,
        )
    except InputError as exc:
        tmp.unlink(missing_ok=True)
        return f"{name}: {exc}"
    return ExportResult(tmp, name, parity)


def _keep_better(best: ExportResult | None, tried: ExportResult, output: Path) -> ExportResult:
    """The first export, or one that passes parity where the kept one did not.

    The kept export's file is renamed ``OUTPUT.onnx.<precision>``; the other is deleted.
    """
    assert tried.output is not None and tried.parity is not None
    tmp = tried.output
    if best is None or (tried.parity.passed and not (best.parity and best.parity.passed)):
        if best is not None and best.output is not None:
            best.output.unlink(missing_ok=True)
        final = output.with_suffix(f".onnx.{tried.precision}")
        tmp.replace(final)
        tried.output = final
        return tried
    tmp.unlink(missing_ok=True)
    return best


def _unsupported(model: SklearnModel, errors: list[str]) -> ExportResult:
    """No precision converted: an ``onnx_unsupported`` finding with each attempt's error."""
    detail = "; ".join(e.splitlines()[0][:300] for e in errors) or "no conversion attempted"
    return ExportResult(
        None,
        None,
        None,
        findings=[
            Finding(
                "onnx_unsupported",
                "error",
                f"{model.path.name}: skl2onnx cannot convert this"
                f" {type(model.estimator).__name__} ({detail}); serve the skops file,"
                " or replace the unsupported step with a convertible one",
                observed=type(model.estimator).__name__,
            )
        ],
    )


def _parity_finding(p: ParityResult) -> Finding:
    """``onnx_parity``: the export answers too differently from the original."""
    return Finding(
        "onnx_parity",
        "error",
        f"the ONNX export differs from the original on {p.rows} rows: max abs"
        f" difference of {p.compared} {_fmt(p.max_abs_diff)} (limit"
        f" {p.max_abs_diff_limit:g}), label mismatch {_fmt(p.label_mismatch)}"
        f" (limit {p.label_mismatch_limit:g})",
        observed={"max_abs_diff": p.max_abs_diff, "label_mismatch": p.label_mismatch},
        expected={
            "max_abs_diff": p.max_abs_diff_limit,
            "label_mismatch": p.label_mismatch_limit,
        },
    )


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3g}"
