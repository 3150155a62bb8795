"""The drift reference of a version: the profile of the data it was trained for.

A retrained version carries, with its files, the profile of the fresh data its retrain
trained on (``reference-profile.json``, hash-verified like every file of a version). The
monitor and the ``on-drift`` retrain policy judge production against that profile, so
that once a retrain on drifted data is deployed, the drift it answered is no longer
drift. A version without one (a model trained in a pull request or deploy job, or
registered before) is judged against ``data.reference``, as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlci.config import Config
    from mlci.data.profile import Profile
    from mlci.registry.base import ModelVersion, Registry

__all__ = ["REFERENCE_FILE", "DriftReference", "drift_reference", "recorded_reference"]

#: The file name of a version's reference profile in the registry.
REFERENCE_FILE = "reference-profile.json"
#: How the fallback is named in reports.
CONFIGURED = "data.reference"


@dataclass(frozen=True)
class DriftReference:
    """The profile drift is judged against, and where it comes from.

    Attributes:
        profile: The reference profile.
        label: ``training data of v2`` or ``data.reference``, for reports and issues.
        version: The version whose recorded profile it is; None for ``data.reference``.
    """

    profile: Profile
    label: str
    version: int | None = None

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
    from mlci.data.profile import load_profile, reference_profile

    name = recorded_reference(version) if version is not None else None
    if version is None or name is None:
        return DriftReference(reference_profile(config, purpose=purpose), CONFIGURED)
    # Only the profile: the model and the other files of the version are not needed.
    path = registry.download_file(version.version, name, work / f"reference-v{version.version}")
    return DriftReference(
        load_profile(path), f"training data of v{version.version}", version.version
    )
