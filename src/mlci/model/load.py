"""Load a model file (ONNX, skops, or trusted joblib/pickle) behind one small interface.

`load_model` is the only entry point. ONNX models run through onnxruntime and
skops files load without executing code; skops refuses types it does not trust
and we name them. joblib and pickle files run code when loaded, so they are
refused unless the config marks the model ``trusted`` (and then the report
carries a warning). Features are matched to the model's inputs by name: each
model takes its own columns from a table and ignores the others; a missing
feature, a dtype the model cannot take, or model.features that disagree with
the model is an `InputError` that names the columns.
"""

from __future__ import annotations

import pickle
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from mlci import jsonio
from mlci.errors import InputError
from mlci.provenance import file_fingerprint

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mlci.config import ModelConfig

__all__ = [
    "EXTENSIONS",
    "LoadedModel",
    "ModelFormat",
    "OnnxModel",
    "SklearnModel",
    "TaskHint",
    "detect_format",
    "load_configured",
    "load_model",
]

ModelFormat = Literal["onnx", "skops", "joblib", "pickle"]
TaskHint = Literal["classification", "regression"]

EXTENSIONS: dict[str, ModelFormat] = {
    ".onnx": "onnx",
    ".skops": "skops",
    ".joblib": "joblib",
    ".jbl": "joblib",
    ".pkl": "pickle",
    ".pickle": "pickle",
}

#: Keys of the ONNX ``metadata_props`` that mlci writes when exporting.
META_FEATURES = "mlci.features"
META_CLASSES = "mlci.classes"
META_TASK = "mlci.task"
META_SOURCE = "mlci.source_sha256"

_CLASS_ATTRS = ("classlabels_int64s", "classlabels_ints", "classlabels_strings")


def _names(columns: Iterable[str]) -> str:
    cols = [str(c) for c in columns]
    shown = ", ".join(repr(c) for c in cols[:10])
    return shown + (f" and {len(cols) - 10} more" if len(cols) > 10 else "")


def _compare_features(where: str, declared: Sequence[str], model: Sequence[str]) -> None:
    """Raise when the configured features and the model's own names disagree."""
    missing = [c for c in model if c not in declared]
    extra = [c for c in declared if c not in model]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"the model expects {_names(missing)}, missing from model.features")
        if extra:
            parts.append(f"model.features lists {_names(extra)}, which the model does not take")
        raise InputError(
            f"{where}: "
            + "; ".join(parts)
            + "; make model.features match the features the model was trained on"
        )
    if list(declared) != list(model):
        moved = [d for d, m in zip(declared, model, strict=True) if d != m]
        raise InputError(
            f"{where}: model.features is in a different order than the model's inputs"
            f" (reordered: {_names(moved)}); list them in the model's order:"
            f" {_names(model)}"
        )


class LoadedModel:
    """A loaded model: predictions on a pandas DataFrame, matched to its features by name.

    Attributes:
        path: The model file.
        format: ``onnx``, ``skops``, ``joblib`` or ``pickle``.
        sha256: ``sha256:<hex>`` of the file.
        feature_names: The feature columns in model input order, or None when neither
            the model nor the config records them.
        n_features: How many features the model takes, when known.
        classes: The class labels in the order of ``predict_proba``'s columns
            (classification), else None.
        task_hint: ``classification`` or ``regression`` as far as the model tells.
        warnings: Things a reviewer should know (e.g. an unpickled trusted file).
        label: How messages name the model: its path, or the registry version it was
            downloaded from (not the temporary folder it was downloaded to).
    """

    format: ModelFormat

    def __init__(
        self,
        path: Path,
        *,
        feature_names: list[str] | None,
        n_features: int | None,
        classes: list[Any] | None,
        task_hint: TaskHint | None,
        warnings: list[str] | None = None,
    ):
        self.path = path
        self.label = str(path)
        self.sha256 = file_fingerprint(path)
        self.feature_names = feature_names
        self.n_features = n_features
        self.classes = classes
        self.task_hint = task_hint
        self.warnings: list[str] = list(warnings or [])

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.format} {self.path}>"

    # -- features -----------------------------------------------------------------------

    def _features(self) -> list[str]:
        if self.feature_names is None:
            raise InputError(
                f"{self.label}: the model does not record its feature names; list them"
                " in model input order under model.features in mlci.yaml"
            )
        return self.feature_names

    def check_columns(self, X: pd.DataFrame, *, ignore: Iterable[str] = ()) -> list[str]:
        """Raise unless ``X`` holds every feature of the model; name the columns it leaves out.

        Each model takes its own features: columns of ``X`` that it was not trained on
        (a column the training script drops, ids, timestamps) are not an error, they
        are returned so the caller can say they were ignored.

        Args:
            X: The data, e.g. the eval set.
            ignore: Columns that are expected besides the features (target, ids,
                slices); they are not returned.

        Returns:
            The columns of ``X`` that are neither features of the model nor in ``ignore``.

        Raises:
            InputError: naming the feature columns ``X`` lacks.
        """
        features = self._features()
        missing = [c for c in features if c not in X.columns]
        if missing:
            raise InputError(
                f"{self.label}: the data lacks feature column(s) {_names(missing)} that the"
                f" model was trained on (it takes {len(features)} features); add them to the"
                " eval data, or train the model without them"
            )
        taken = set(features) | set(ignore)
        return [str(c) for c in X.columns if c not in taken]

    def _select(self, X: pd.DataFrame) -> pd.DataFrame:
        features = self._features()
        if len(X.columns) == len(features) and list(X.columns) == features:
            return X  # already the model's columns in order: no copy (single-row latency)
        missing = [c for c in features if c not in X.columns]
        if missing:
            raise InputError(
                f"{self.label}: the data lacks feature column(s) {_names(missing)};"
                " add them or fix model.features"
            )
        return X[features]

    # -- predictions ----------------------------------------------------------------------

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Predicted labels (classification) or values (regression), one per row."""
        raise NotImplementedError

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray | None:
        """Class probabilities (rows x classes, columns in `classes` order), or None."""
        raise NotImplementedError


# -- scikit-learn (skops, joblib, pickle) ------------------------------------------------


class SklearnModel(LoadedModel):
    """A scikit-learn estimator (or anything with ``predict``) loaded from skops/joblib/pickle.

    Attributes:
        estimator: The unpickled estimator, for export to ONNX.
    """

    def __init__(
        self,
        path: Path,
        estimator: Any,
        fmt: ModelFormat,
        *,
        features: list[str] | None,
        warnings: list[str] | None = None,
    ):
        from sklearn.base import is_classifier, is_regressor

        if not callable(getattr(estimator, "predict", None)):
            raise InputError(
                f"{path}: the file holds a {type(estimator).__name__}, not a model with"
                " predict(); save the fitted estimator itself"
            )
        self.estimator = estimator
        self.format = fmt
        own = getattr(estimator, "feature_names_in_", None)
        own_names = [str(c) for c in own] if own is not None else None
        n = getattr(estimator, "n_features_in_", None)
        n_features = int(n) if n is not None else None
        if features is not None and own_names is not None:
            _compare_features(str(path), features, own_names)
        if features is not None and n_features is not None and len(features) != n_features:
            raise InputError(
                f"{path}: the model expects {n_features} features but model.features lists"
                f" {len(features)}; list exactly the features it was trained on, in order"
            )
        task: TaskHint | None = (
            "classification"
            if is_classifier(estimator)
            else "regression"
            if is_regressor(estimator)
            else None
        )
        classes = getattr(estimator, "classes_", None)
        super().__init__(
            path,
            feature_names=features if features is not None else own_names,
            n_features=n_features,
            classes=[_py(c) for c in classes] if classes is not None else None,
            task_hint=task,
            warnings=warnings,
        )

    def _input(self, X: pd.DataFrame) -> Any:
        frame = self._select(X)
        own = getattr(self.estimator, "feature_names_in_", None)
        # A model fitted on a plain array would warn about named input.
        return frame if own is not None else frame.to_numpy()

    #: Library -> (version the file was saved with, version installed), when they differ.
    version_mismatch: dict[str, tuple[str, str]] = {}

    def _call(self, method: str, X: pd.DataFrame) -> Any:
        data = self._input(X)
        try:
            return getattr(self.estimator, method)(data)
        except (AttributeError, ImportError, ValueError, TypeError) as exc:
            error = (
                _environment_error(self.path, self.format, exc, self.version_mismatch)
                if self.version_mismatch or isinstance(exc, ModuleNotFoundError)
                else None
            )
            if error is not None:
                raise error from None
            if not isinstance(exc, (ValueError, TypeError)):
                raise
            frame = self._select(X)
            odd = [str(c) for c in frame.columns if not _is_numeric(frame[c])]
            hint = f" non-numeric column(s): {_names(odd)};" if odd else ""
            raise InputError(
                f"{self.label}: the model could not {method} on the data ({exc});{hint}"
                " check the column dtypes against the training data"
            ) from None

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Predicted labels or values, one per row."""
        import numpy as np

        return np.asarray(self._call("predict", X))

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray | None:
        """Class probabilities, or None when the estimator has none."""
        import numpy as np

        # hasattr is False for e.g. SVC(probability=False) (sklearn's available_if).
        if self.task_hint == "regression" or not hasattr(self.estimator, "predict_proba"):
            return None
        return np.asarray(self._call("predict_proba", X), dtype=np.float64)


def _py(value: Any) -> Any:
    item = getattr(value, "item", None)
    return item() if callable(item) else value


def _is_numeric(series: pd.Series) -> bool:
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    return bool(is_numeric_dtype(series.dtype) or is_bool_dtype(series.dtype))


# -- ONNX ------------------------------------------------------------------------------------

_ONNX_NUMERIC = {
    "tensor(float)": "float32",
    "tensor(double)": "float64",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
    "tensor(bool)": "bool",
}


def _ort_errors() -> tuple[type[BaseException], ...]:
    """Onnxruntime's error classes (plain ``Exception`` subclasses) plus the usual ones."""
    from onnxruntime.capi import onnxruntime_pybind11_state as state

    own = [v for v in vars(state).values() if isinstance(v, type) and issubclass(v, Exception)]
    return (RuntimeError, ValueError, OSError, *own)


class OnnxModel(LoadedModel):
    """An ONNX model run with onnxruntime (CPU)."""

    format: ModelFormat = "onnx"

    def __init__(self, path: Path, *, features: list[str] | None, serving: bool = False):
        import onnxruntime as ort

        try:
            options = ort.SessionOptions()
            options.log_severity_level = 3
            if serving:
                # Worker threads that spin after each run (onnxruntime's default) take a
                # core from the event loop's parsing on a small machine: measured in
                # bench/serve_bench.py, 3-4x the server's CPU per 1,000-row request.
                options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            self.session = ort.InferenceSession(
                str(path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except _ort_errors() as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InputError(
                f"{path}: not a valid ONNX model ({first[:300]}); the file may be corrupt"
                " or truncated: export it again"
            ) from None
        self.inputs = self.session.get_inputs()
        self.outputs = self.session.get_outputs()
        meta = dict(self.session.get_modelmeta().custom_metadata_map)
        self.metadata = meta
        where = str(path)
        n_features: int | None
        if len(self.inputs) > 1:
            # skl2onnx renames inputs ("mean radius" -> "mean_radius"); the metadata
            # keeps the column names, in input order.
            stored_names = _json_list(meta.get(META_FEATURES))
            names: list[str] | None = (
                [str(n) for n in stored_names]
                if stored_names is not None and len(stored_names) == len(self.inputs)
                else [i.name for i in self.inputs]
            )
            n_features = len(self.inputs)
            if features is not None and names is not None:
                _compare_features(where, features, names)
        else:
            shape = self.inputs[0].shape
            width = shape[1] if len(shape) == 2 else None
            n_features = width if isinstance(width, int) else None
            stored = _json_list(meta.get(META_FEATURES))
            if features is not None and stored is not None:
                _compare_features(where, features, stored)
            names = features if features is not None else stored
            if names is not None and n_features is not None and len(names) != n_features:
                raise InputError(
                    f"{path}: the model expects {n_features} features but"
                    f" {'model.features' if features is not None else 'its metadata'} lists"
                    f" {len(names)}; list exactly the features it was trained on, in order"
                )
        classes = _json_list(meta.get(META_CLASSES))
        if classes is None and len(self.outputs) > 1:
            classes = _graph_classes(path)
        task = meta.get(META_TASK)
        hint: TaskHint | None
        if task in ("classification", "regression"):
            hint = task
        elif len(self.outputs) > 1 or self.outputs[0].type in ("tensor(int64)", "tensor(string)"):
            hint = "classification"
        else:
            hint = "regression"
        super().__init__(
            path, feature_names=names, n_features=n_features, classes=classes, task_hint=hint
        )

    def _feed(self, X: pd.DataFrame) -> dict[str, Any]:
        import numpy as np

        frame = self._select(X)
        if len(self.inputs) == 1:
            inp = self.inputs[0]
            dtype = _ONNX_NUMERIC.get(inp.type)
            if dtype is None:
                raise InputError(
                    f"{self.label}: the model's single input has type {inp.type}, which mlci"
                    " cannot feed from a table; export it with numeric inputs"
                )
            odd = [
                f"{c} ({dt})"
                for c, dt in zip(frame.columns, frame.dtypes, strict=True)
                if getattr(dt, "kind", "O") not in "biuf"
            ]
            if odd:
                raise InputError(
                    f"{self.label}: dtype mismatch: the model takes numbers ({inp.type}) but"
                    f" column(s) {_names(odd)} are not numeric; fix the data or the model"
                )
            return {inp.name: frame.to_numpy(dtype=dtype)}
        feed: dict[str, Any] = {}
        odd = []
        for inp, column in zip(self.inputs, frame.columns, strict=True):
            col = frame[column]
            if inp.type == "tensor(string)":
                feed[inp.name] = col.astype(str).to_numpy(dtype=object).reshape(-1, 1)
                continue
            dtype = _ONNX_NUMERIC.get(inp.type)
            if dtype is None or not _is_numeric(col):
                odd.append(f"{column} ({col.dtype}, model takes {inp.type})")
                continue
            values = col.to_numpy()
            if dtype.startswith("int") and not np.all(np.equal(np.mod(values, 1), 0)):
                odd.append(f"{column} ({col.dtype} with fractions, model takes {inp.type})")
                continue
            feed[inp.name] = values.astype(dtype).reshape(-1, 1)
        if odd:
            raise InputError(
                f"{self.label}: dtype mismatch in column(s) {_names(odd)}; cast the data to"
                " the types the model was exported with"
            )
        return feed

    def _run(self, X: pd.DataFrame) -> list[Any]:
        feed = self._feed(X)
        try:
            return list(self.session.run(None, feed))
        except _ort_errors() as exc:
            first = str(exc).strip().splitlines()[0][:300]
            raise InputError(
                f"{self.label}: onnxruntime could not run the model on the data ({first});"
                " check the columns and dtypes against the model's inputs"
            ) from None

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Predicted labels or values, one per row."""
        import numpy as np

        out = np.asarray(self._run(X)[0])
        return out.reshape(-1) if out.ndim == 2 and out.shape[1] == 1 else out

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray | None:
        """Class probabilities (``classes`` order), or None for a regressor."""
        import numpy as np

        if len(self.outputs) < 2:
            return None
        probs = self._run(X)[1]
        if isinstance(probs, list):  # ZipMap: a list of {label: probability}
            keys = list(probs[0]) if probs else list(self.classes or [])
            if self.classes is None:
                self.classes = [_py(k) for k in keys]
            order = self.classes
            return np.array([[row[k] for k in order] for row in probs], dtype=np.float64)
        return np.asarray(probs, dtype=np.float64)


def _json_list(text: str | None) -> list[Any] | None:
    if not text:
        return None
    try:
        value = jsonio.loads(text, source="ONNX metadata")
    except InputError:
        return None
    return list(value) if isinstance(value, list) else None


def _graph_classes(path: Path) -> list[Any] | None:
    """Class labels from the classifier node of an ONNX graph (skl2onnx writes them there)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    for node in model.graph.node:
        for attr in node.attribute:
            if attr.name in _CLASS_ATTRS:
                values = attr.ints if attr.ints else [s.decode() for s in attr.strings]
                return [_py(v) for v in values]
    return None


# -- entry point -------------------------------------------------------------------------------


def detect_format(path: Path) -> ModelFormat:
    """The format of ``path`` from its extension.

    Raises:
        InputError: for an unknown extension, listing the known ones.
    """
    fmt = EXTENSIONS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(
            f"{path}: unknown model format {path.suffix or '(no extension)'!r}; use .onnx,"
            " .skops, or .joblib/.pkl (trusted only), or set model.format"
        )
    return fmt


# -- the project's environment: its modules, and the library versions a model was saved with --


def _project_importable() -> None:
    """Make the working directory (the project root) importable, as ``python -m mlci`` does.

    A model may reference the project's own classes (a transformer in ``features.py``);
    ``python -m mlci`` has the working directory on ``sys.path``, the ``mlci`` console
    script does not. Both load the same models this way.
    """
    import sys

    cwd = str(Path.cwd())
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)


def _walk_json(node: Any) -> Iterable[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield str(key), value
            yield from _walk_json(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk_json(item)


_RESAVE = "the file may be corrupt or truncated: save it again with skops.io.dump"


def _skops_schema(path: Path) -> Any:
    """The ``schema.json`` of a skops file, read with mlci's bounds before skops reads it.

    skops parses the archive itself (every entry read whole, ``schema.json`` with no
    nesting bound), so the archive is checked first: at most `SKOPS_MAX_ENTRIES` entries
    and `SKOPS_MAX_BYTES` uncompressed in all (a zip bomb is refused unread), and a
    schema that is strict JSON (`mlci.jsonio`) nested at most `SKOPS_MAX_DEPTH` levels.

    Raises:
        InputError: naming the file and the bound, or the problem with the schema.
    """
    from mlci import jsonio
    from mlci.limits import SKOPS_MAX_BYTES, SKOPS_MAX_DEPTH, SKOPS_MAX_ENTRIES

    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
            if len(entries) > SKOPS_MAX_ENTRIES.value:
                raise InputError(
                    f"{path}: the skops archive holds {len(entries):,} entries, more than"
                    f" {SKOPS_MAX_ENTRIES.value:,}; {SKOPS_MAX_ENTRIES.hint()}"
                )
            total = sum(entry.file_size for entry in entries)
            if total > SKOPS_MAX_BYTES.value:
                raise InputError(
                    f"{path}: the skops archive unpacks to {total:,} bytes, more than"
                    f" {SKOPS_MAX_BYTES.value:,}; {SKOPS_MAX_BYTES.hint()}"
                )
            raw = archive.read("schema.json")
    except (zipfile.BadZipFile, KeyError, EOFError, OSError, ValueError) as exc:
        raise InputError(
            f"{path}: not a valid skops file ({type(exc).__name__}: {str(exc)[:200]}); {_RESAVE}"
        ) from None
    return jsonio.loads(
        raw, source=f"{path}: schema.json", fix=_RESAVE, max_depth=SKOPS_MAX_DEPTH.value
    )


def saved_versions(path: Path, fmt: str) -> dict[str, str]:
    """The library versions a skops or pickle file records (``{"scikit-learn": "1.5.2"}``).

    scikit-learn stores its version in every estimator's state (``_sklearn_version``);
    the file is read as data, nothing in it runs. Empty when the file records none.
    """
    import pickletools

    from mlci import jsonio

    versions: set[str] = set()
    try:
        if fmt == "skops":
            for key, value in _walk_json(_skops_schema(path)):
                if key == "_sklearn_version" and isinstance(value, dict):
                    content = str(value.get("content"))
                    if value.get("is_json"):
                        content = str(jsonio.loads(content, source=f"{path}: schema.json"))
                    versions.add(content)
        else:
            data = path.read_bytes()[: 256 * 1024 * 1024]
            previous = None
            for _op, arg, _pos in pickletools.genops(data):
                if isinstance(arg, str):
                    if previous == "_sklearn_version":
                        versions.add(arg)
                    previous = arg
    except Exception:  # noqa: BLE001 - best effort: a file we cannot read records nothing
        pass
    return {"scikit-learn": ", ".join(sorted(versions))} if versions else {}


def _installed_version(module: str) -> str:
    from importlib import metadata

    dist = {"sklearn": "scikit-learn", "skimage": "scikit-image", "cv2": "opencv-python"}.get(
        module, module
    )
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _environment_error(
    path: Path, fmt: str, exc: BaseException, mismatch: dict[str, tuple[str, str]]
) -> InputError | None:
    """Exit 2, naming the module and versions, when ``exc`` comes from the environment.

    ``mismatch`` maps a library to (saved version, installed version) as recorded while
    loading. A missing module, or an error while loading or using a model saved with
    another version of a library, is the project's environment, not a bug in mlci.
    """
    fix = (
        "install the project's requirements (requirements.txt or install_command) into"
        " the Python that runs mlci, with the versions the model was trained with"
    )
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        module = exc.name.split(".")[0]
        saved = saved_versions(path, fmt)
        known = saved.get({"sklearn": "scikit-learn"}.get(module, module))
        return InputError(
            f"{path}: the model needs the module {module!r}, which is not installed"
            f" (saved with {module} {known or 'of an unknown version'}; installed:"
            f" {_installed_version(module)}); {fix}"
        )
    if mismatch:
        parts = [
            f"{lib} {saved} (installed: {installed})"
            for lib, (saved, installed) in sorted(mismatch.items())
        ]
        return InputError(
            f"{path}: the model was saved with {', '.join(parts)} and fails with this"
            f" version ({type(exc).__name__}: {str(exc)[:200]}); {fix}"
        )
    return None


def _load_recording_versions(
    path: Path, fmt: str, load: Any
) -> tuple[Any, dict[str, tuple[str, str]]]:
    """Call ``load()`` with the project importable; note any library version mismatch.

    Raises:
        InputError: when loading fails for a missing module or a version mismatch.
    """
    import warnings

    _project_importable()
    mismatch: dict[str, tuple[str, str]] = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = load()
        except (ImportError, AttributeError, TypeError, ValueError, KeyError) as exc:
            mismatch = _mismatches(caught) or _saved_mismatch(path, fmt)
            error = _environment_error(path, fmt, exc, mismatch)
            if error is not None:
                raise error from None
            raise
    for item in caught:
        if not _is_version_warning(item.message):
            warnings.warn_explicit(item.message, item.category, item.filename, item.lineno)
    return result, _mismatches(caught)


def _is_version_warning(message: Warning | str) -> bool:
    return type(message).__name__ == "InconsistentVersionWarning"


def _mismatches(caught: list[Any]) -> dict[str, tuple[str, str]]:
    for item in caught:
        message = item.message
        if _is_version_warning(message):
            return {
                "scikit-learn": (
                    str(getattr(message, "original_sklearn_version", "?")),
                    str(getattr(message, "current_sklearn_version", "?")),
                )
            }
    return {}


def _saved_mismatch(path: Path, fmt: str) -> dict[str, tuple[str, str]]:
    saved = saved_versions(path, fmt).get("scikit-learn")
    installed = _installed_version("sklearn")
    return {"scikit-learn": (saved, installed)} if saved and saved != installed else {}


def _load_skops(
    path: Path, trusted: bool, trusted_types: Sequence[str]
) -> tuple[Any, list[str], dict[str, tuple[str, str]]]:
    import skops.io as sio

    from mlci.model.skops_trust import (
        STANDARD_TYPES,
        VERIFIED_TYPES,
        trusted_line,
        verify_trees,
    )

    mine = set(trusted_types)
    _skops_schema(path)  # bounded before skops reads the archive
    try:
        untrusted = sio.get_untrusted_types(file=path)
        other = [t for t in untrusted if t not in STANDARD_TYPES | VERIFIED_TYPES | mine]
        if other and not trusted:
            raise InputError(
                f"{path}: refusing to load: the skops file holds type(s) that are not part"
                f" of scikit-learn, numpy or scipy's standard pipelines: {_names(other)};"
                " if this is your own model, review them and add this line under model:"
                f" in mlci.yaml: {trusted_line([*mine, *other])}"
            )
        estimator, mismatch = _load_recording_versions(
            path, "skops", lambda: sio.load(path, trusted=untrusted or None)
        )
    except (zipfile.BadZipFile, KeyError, ValueError, EOFError, RecursionError) as exc:
        raise InputError(
            f"{path}: not a valid skops file ({type(exc).__name__}: {str(exc)[:200]}); {_RESAVE}"
        ) from None
    unchecked = [t for t in untrusted if t in VERIFIED_TYPES and t not in mine]
    if unchecked and not trusted:
        # Node indices that scikit-learn follows without bounds checks: check them first.
        problems = verify_trees(estimator)
        if problems:
            raise InputError(
                f"{path}: refusing to use the model: its tree nodes are malformed"
                f" ({'; '.join(problems[:3])}); save the model again with skops.io.dump"
            )
    warnings = []
    if other:
        warnings.append(
            f"{path.name}: loaded with types outside the standard set"
            f" {', '.join(other)} (model.trusted)"
        )
    chosen = [t for t in untrusted if t in mine and t not in STANDARD_TYPES | VERIFIED_TYPES]
    if chosen:
        warnings.append(
            f"{path.name}: loaded with types trusted by model.trusted_types: {', '.join(chosen)}"
        )
    return estimator, warnings, mismatch


def _load_unsafe(
    path: Path, fmt: ModelFormat, trusted: bool
) -> tuple[Any, list[str], dict[str, tuple[str, str]]]:
    if not trusted:
        raise InputError(
            f"{path}: refusing to load a {fmt} file: loading it runs arbitrary code, and"
            " model files from a pull request are untrusted; save the model with skops or"
            " ONNX, or set model.trusted: true if only you can change this file"
        )

    def load() -> Any:
        if fmt == "joblib":
            import joblib  # type: ignore[import-untyped]

            return joblib.load(path)
        with path.open("rb") as fh:
            return pickle.load(fh)  # noqa: S301 - trusted by configuration

    try:
        estimator, mismatch = _load_recording_versions(path, fmt, load)
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        AttributeError,
        ImportError,
        IndexError,
        KeyError,
        TypeError,
    ) as exc:
        raise InputError(
            f"{path}: could not unpickle the {fmt} file ({type(exc).__name__}: "
            f"{str(exc)[:200]}); the file may be corrupt, truncated or need another"
            " package version: save it again"
        ) from None
    warning = (
        f"{path.name}: loaded from {fmt}, which runs code when loaded; it was allowed"
        " because model.trusted is true"
    )
    return estimator, [warning], mismatch


def load_model(
    path: Path,
    *,
    fmt: str = "auto",
    trusted: bool = False,
    features: list[str] | None = None,
    trusted_types: Sequence[str] = (),
    serving: bool = False,
) -> LoadedModel:
    """Load a model file.

    Args:
        path: The model file.
        fmt: ``auto`` (by extension), ``onnx``, ``skops``, ``joblib`` or ``pickle``.
        trusted: Allow joblib/pickle files and any type in a skops file.
        trusted_types: Further types a skops file may hold (``model.trusted_types``),
            besides those of standard scikit-learn, numpy and scipy pipelines.
        features: Feature columns in model input order (``model.features``); checked
            against the names the model records.
        serving: Load for the prediction service: an ONNX session whose worker
            threads sleep between runs instead of spinning.

    Returns:
        The model, ready to predict on a DataFrame.

    Raises:
        InputError: for a missing, corrupt or truncated file, an unknown format, an
            untrusted file, or features that do not fit the model.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(
            f"{path}: model file not found; run the train command first or fix model.path"
        )
    if fmt == "auto":
        fmt_: ModelFormat = detect_format(path)
    elif fmt in ("onnx", "skops", "joblib", "pickle"):
        fmt_ = fmt  # type: ignore[assignment]
    else:
        raise InputError(
            f"{path}: unknown model format {fmt!r}; use auto, onnx, skops, joblib or pickle"
        )
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the model file is empty; train and save the model again")
    if fmt_ == "onnx":
        return OnnxModel(path, features=features, serving=serving)
    if fmt_ == "skops":
        estimator, warnings, mismatch = _load_skops(path, trusted, trusted_types)
    else:
        estimator, warnings, mismatch = _load_unsafe(path, fmt_, trusted)
    for lib, (saved, installed) in sorted(mismatch.items()):
        warnings.append(
            f"{path.name}: saved with {lib} {saved}, loaded with {installed}; install the"
            " versions the model was trained with if its predictions look wrong"
        )
    model = SklearnModel(path, estimator, fmt_, features=features, warnings=warnings)
    model.version_mismatch = mismatch
    return model


def load_configured(path: Path, model: ModelConfig) -> LoadedModel:
    """``path`` loaded as ``model.*`` of mlci.yaml says: format, trust and feature order.

    The candidate, the model a deploy registers and the one its smoke test compares
    with are all the user's model file, so they load the same way (see `load_model`).
    """
    return load_model(
        path,
        fmt=model.format,
        trusted=model.trusted,
        features=model.features,
        trusted_types=model.trusted_types,
    )
