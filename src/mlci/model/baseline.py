"""The model a candidate or live data is compared with: production, or a file.

One loader for the production model, used by validate-model (the baseline) and the
monitor (live predictions): the file it loads is decided once (`served_file`), and
so is how its features are matched (`load_baseline`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mlci.errors import InputError

if TYPE_CHECKING:
    from mlci.config import Config
    from mlci.model.load import LoadedModel
    from mlci.registry import ModelVersion, Registry

__all__ = ["PICKLE_SUFFIXES", "load_baseline", "load_production", "served_file"]

#: Model files that unpickle (run code) when loaded.
PICKLE_SUFFIXES = (".joblib", ".jbl", ".pkl", ".pickle")


def served_file(version: ModelVersion, *, trusted: bool) -> str | None:
    """The file of a registered version to load: the model, or its ONNX export.

    Without ``model.trusted`` a pickle-based model file is never loaded: its ONNX
    export is used when the version has one.
    """
    name = version.model_file or version.onnx_file
    if name and not trusted and Path(name).suffix.lower() in PICKLE_SUFFIXES:
        name = version.onnx_file or name
    return name or None


def load_baseline(path: Path, config: Config) -> LoadedModel:
    """Load a baseline or production model file, matched by its own feature names.

    The baseline may take other features than the candidate (a feature was added): it
    is matched by its own names, and by ``model.features`` only when it has none.

    Raises:
        InputError: naming it as the baseline, when it cannot be loaded.
    """
    from mlci.model.load import load_model

    mc = config.model
    try:
        model = load_model(path, fmt="auto", trusted=mc.trusted, trusted_types=mc.trusted_types)
    except InputError as exc:
        raise InputError(f"baseline: {exc}") from None
    if model.feature_names is None and mc.features is not None:
        model = load_model(
            path,
            fmt="auto",
            trusted=mc.trusted,
            features=mc.features,
            trusted_types=mc.trusted_types,
        )
    return model


def load_production(
    config: Config, registry: Registry, version: ModelVersion, work: Path
) -> tuple[LoadedModel, Path]:
    """Download a registered version into ``work`` and load it (see `served_file`).

    Returns:
        The loaded model and the file it was loaded from.

    Raises:
        InputError: when the version names no model file or it cannot be loaded.
    """
    name = served_file(version, trusted=config.model.trusted)
    if not name:
        raise InputError(
            f"registry {registry.describe()}: version {version.version} names no model file"
            " in its metadata; register the model again with `mlci deploy`, or pass"
            " --baseline PATH"
        )
    folder = registry.download(version.version, work / f"v{version.version}")
    model = load_baseline(folder / name, config)
    model.label = f"v{version.version} of the {registry.name} registry ({name})"
    return model, folder / name
