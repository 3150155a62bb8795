"""The drift reference of a version: the profile of the data it was trained for.

A retrained version carries, with its files, the profile of the fresh data its retrain
trained on (``reference-profile.json``, hash-verified like every file of a version). The
monitor and the ``on-drift`` retrain policy judge production against that profile, so
that once a retrain on drifted data is deployed, the drift it answered is no longer
drift. A version without one (a model trained in a pull request or deploy job, or
registered before) is judged against ``data.reference``, as before.

The profile also carries, under ``predictions``, the profile of the retrained model's
own predictions on that data (`write_reference`): the reference of the monitor's
prediction drift once that model is in production, as the data profile is the
reference of its feature drift. A profile without it (written before) leaves the
monitor to run the model on ``data.reference``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlci.errors import InputError

if TYPE_CHECKING:
    from mlci.config import Config
    from mlci.data.profile import Profile
    from mlci.model.load import LoadedModel
    from mlci.registry.base import ModelVersion, Registry

__all__ = [
    "PREDICTIONS_KEY",
    "REFERENCE_FILE",
    "DriftReference",
    "drift_reference",
    "predictions_profile",
    "read_reference",
    "recorded_reference",
    "write_reference",
]

#: The file name of a version's reference profile in the registry.
REFERENCE_FILE = "reference-profile.json"
#: The key of a reference profile that holds the profile of the model's predictions.
PREDICTIONS_KEY = "predictions"
#: How the fallback is named in reports.
CONFIGURED = "data.reference"


@dataclass(frozen=True)
class DriftReference:
    """The profile drift is judged against, and where it comes from.

    Attributes:
        profile: The reference profile.
        label: ``training data of v2`` or ``data.reference``, for reports and issues.
        version: The version whose recorded profile it is; None for ``data.reference``.
        predictions: The profile of that version's predictions on its reference data
            (one column, ``prediction``), when the profile records it.
    """

    profile: Profile
    label: str
    version: int | None = None
    predictions: Profile | None = None

    def to_dict(self) -> dict[str, Any]:
        """What ``monitor.json`` and ``retrain.json`` record under ``reference``."""
        return {"source": self.label, "version": self.version, "rows": self.profile.rows}


def recorded_reference(version: ModelVersion) -> str | None:
    """The file name of the reference profile ``version`` was registered with, or None."""
    data = version.metadata.get("data")
    ref = data.get("reference") if isinstance(data, Mapping) else None
    name = ref.get("file") if isinstance(ref, Mapping) else None
    hashes = version.metadata.get("hashes")
    if isinstance(name, str) and isinstance(hashes, Mapping) and name in hashes:
        return name
    return None


def drift_reference(
    config: Config,
    registry: Registry,
    version: ModelVersion | None,
    work: Path,
    *,
    purpose: str,
) -> DriftReference:
    """The reference to judge ``version``'s production data against.

    The version's recorded reference profile when it has one (only that file is
    downloaded, and verified against its sha256), else ``data.reference``.

    Args:
        config: The loaded mlci.yaml.
        registry: The registry holding ``version``.
        version: The version in production (or judged); None before the first deploy.
        work: A scratch folder for the download.
        purpose: Why the reference is needed, for the message when ``data.reference`` is
            missing.

    Raises:
        InputError: when the recorded profile is missing, changed or not a profile.
        ConfigError: when the fallback ``data.reference`` is unset or missing.
    """
    from mlci.data.profile import reference_profile

    name = recorded_reference(version) if version is not None else None
    if version is None or name is None:
        return DriftReference(reference_profile(config, purpose=purpose), CONFIGURED)
    # Only the profile: the model and the other files of the version are not needed.
    path = registry.download_file(version.version, name, work / f"reference-v{version.version}")
    profile, predictions = read_reference(path)
    return DriftReference(
        profile, f"training data of v{version.version}", version.version, predictions
    )


def predictions_profile(
    model: LoadedModel, files: Sequence[Path], *, chunk_rows: int, drop: set[str]
) -> Profile:
    """The profile of ``model``'s predictions on ``files`` (column ``prediction``).

    Read chunk by chunk, only the model's features (all columns but ``drop`` when the
    model names none), so memory stays bounded by the chunk.
    """
    import numpy as np
    import pandas as pd

    from mlci.data.io import iter_frames
    from mlci.data.profile import Profiler

    profiler = Profiler()
    offset = 0
    for path in files:
        for _, frame in iter_frames(path, chunk_rows=chunk_rows, columns=model.feature_names):
            x = frame.drop(columns=[c for c in drop if c in frame.columns])
            values = np.asarray(model.predict(x)).reshape(-1)
            profiler.update(offset, pd.DataFrame({"prediction": values}))
            offset += len(values)
    return profiler.finish()


def write_reference(profile: Profile, predictions: Profile | None, path: Path) -> Path:
    """Write a drift reference: the data's profile, with its predictions' when given."""
    from mlci import jsonio

    doc = profile.to_dict()
    if predictions is not None:
        doc[PREDICTIONS_KEY] = predictions.to_dict()
    return jsonio.write_json(path, doc, indent=None)


def read_reference(path: Path) -> tuple[Profile, Profile | None]:
    """A drift reference written by `write_reference`: the profile, and the predictions'.

    Raises:
        InputError: when the file, or the predictions' profile in it, is not a profile.
    """
    from mlci import jsonio
    from mlci.data.profile import Profile, load_profile
    from mlci.data.profile_doc import check_profile

    profile = load_profile(path)  # checks the file and its data profile
    raw = jsonio.read_json(path, what="profile", fix="write it again with `mlci profile`")
    nested = raw.get(PREDICTIONS_KEY) if isinstance(raw, Mapping) else None
    if nested is None:
        return profile, None
    check_profile(nested, f"{path}: {PREDICTIONS_KEY}")
    predictions = Profile.from_dict(nested)
    if "prediction" not in predictions.columns:
        raise InputError(
            f"{path}: {PREDICTIONS_KEY}: no prediction column; write the reference again"
            " with `mlci retrain`"
        )
    return profile, predictions
