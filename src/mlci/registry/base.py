"""The registry Protocol every backend satisfies, the version record and shared helpers.

A registry keeps numbered model versions (1, 2, ...), each with its files and a
``metadata.json`` (lineage, metrics, the blessing, hashes), plus a small *state*:
the aliases (``production``, ``previous``) and the history of promotions and
rollbacks. Version numbers are allocated by the backend so that two concurrent
writers never get the same one.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from mlci.errors import InputError

__all__ = [
    "EVENT_KINDS",
    "METADATA_FILE",
    "PRODUCTION",
    "PREVIOUS",
    "ModelVersion",
    "Registry",
    "RegistryState",
    "make_event",
    "parse_version_ref",
    "resolve_version",
    "rollback_target",
    "sha256_file",
]

METADATA_FILE = "metadata.json"
PRODUCTION = "production"
PREVIOUS = "previous"
EVENT_KINDS = ("register", "promote", "rollback", "deploy_failed")
# History kept in the state; older events stay in each version's metadata and logs.
MAX_HISTORY = 500

EventKind = Literal["register", "promote", "rollback", "deploy_failed"]


def sha256_file(path: Path) -> str:
    """The hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()


@dataclass(frozen=True)
class ModelVersion:
    """One registered model version.

    Attributes:
        version: The version number (1, 2, ...).
        metadata: The parsed ``metadata.json``.
        files: The names of the files stored with the version (metadata included).
        location: Where it lives (a directory or a release URL), for messages.
    """

    version: int
    metadata: Mapping[str, Any]
    files: tuple[str, ...] = ()
    location: str = ""

    @property
    def created(self) -> str:
        """When the version was registered (ISO 8601, UTC)."""
        return str(self.metadata.get("created", ""))

    @property
    def git_sha(self) -> str | None:
        """The commit the version was registered from."""
        sha = self.metadata.get("git_sha")
        return str(sha) if sha else None

    @property
    def model_file(self) -> str:
        """The file name of the model as trained (skops, ONNX ...)."""
        return str(self.metadata.get("model_file", ""))

    @property
    def onnx_file(self) -> str | None:
        """The file name of the ONNX export, when there is one."""
        name = self.metadata.get("onnx_file")
        return str(name) if name else None

    @property
    def model_hash(self) -> str | None:
        """The SHA-256 of the model file (hex)."""
        hashes = self.metadata.get("hashes") or {}
        value = hashes.get(self.model_file) if isinstance(hashes, Mapping) else None
        return str(value) if value else None

    @property
    def metrics(self) -> dict[str, Any]:
        """The metrics the version was blessed with."""
        metrics = self.metadata.get("metrics") or {}
        return dict(metrics) if isinstance(metrics, Mapping) else {}

    @property
    def blessed(self) -> bool:
        """Whether the stored blessing says the version may be deployed."""
        blessing = self.metadata.get("blessing") or {}
        return bool(isinstance(blessing, Mapping) and blessing.get("blessed") is True)


@dataclass
class RegistryState:
    """Aliases and history of a registry.

    Attributes:
        aliases: Alias name to version number (``production``, ``previous``).
        history: Events, oldest first: ``{"event", "version", "from", "time", ...}``.
    """

    aliases: dict[str, int] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def production(self) -> int | None:
        """The version currently in production, if any."""
        return self.aliases.get(PRODUCTION)

    def to_dict(self) -> dict[str, Any]:
        """The state as JSON data."""
        return {"schema_version": 1, "aliases": dict(self.aliases), "history": self.history}

    @classmethod
    def from_dict(cls, data: Any, where: str) -> RegistryState:
        """Parse stored state, refusing anything malformed.

        Raises:
            InputError: when the data is not a registry state.
        """
        if not isinstance(data, Mapping):
            raise InputError(
                f"{where}: registry state is not a JSON object; restore it from a backup"
            )
        aliases = data.get("aliases", {})
        history = data.get("history", [])
        if not isinstance(aliases, Mapping) or not all(
            isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool)
            for k, v in aliases.items()
        ):
            raise InputError(f"{where}: aliases must map names to version numbers; fix the file")
        if not isinstance(history, list) or not all(isinstance(e, Mapping) for e in history):
            raise InputError(f"{where}: history must be a list of objects; fix the file")
        return cls(dict(aliases), [dict(e) for e in history])

    def apply(self, event: Mapping[str, Any]) -> None:
        """Record ``event``; a promote or rollback moves ``production`` and ``previous``."""
        kind = event["event"]
        if kind in ("promote", "rollback"):
            current = self.aliases.get(PRODUCTION)
            if current is not None and current != event["version"]:
                self.aliases[PREVIOUS] = current
            self.aliases[PRODUCTION] = int(event["version"])
        self.history.append(dict(event))
        del self.history[: max(0, len(self.history) - MAX_HISTORY)]


def make_event(
    kind: EventKind,
    version: int,
    *,
    previous: int | None = None,
    git_sha: str | None = None,
    run_url: str | None = None,
    note: str = "",
) -> dict[str, Any]:
    """A history event (time stamped now)."""
    return {
        "event": kind,
        "version": version,
        "from": previous,
        "time": _now(),
        "git_sha": git_sha,
        "run_url": run_url,
        "note": note,
    }


class Registry(Protocol):
    """What every registry backend provides."""

    name: str

    def describe(self) -> str:
        """Where the registry lives, for messages (a directory, ``owner/repo``)."""
        ...

    def versions(self) -> list[ModelVersion]:
        """Every version, oldest first."""
        ...

    def get(self, version: int) -> ModelVersion:
        """One version.

        Raises:
            InputError: when the version does not exist.
        """
        ...

    def register(self, files: Mapping[str, Path], metadata: Mapping[str, Any]) -> ModelVersion:
        """Store ``files`` (name to local path) as a new version with ``metadata``.

        The backend allocates the next version number atomically and writes it
        into the metadata (``version``); other keys are kept as given.
        """
        ...

    def download(self, version: int, dest: Path) -> Path:
        """Copy the files of ``version`` into ``dest`` (created) and return it."""
        ...

    def state(self) -> RegistryState:
        """The aliases and history (cheap: one file read or one or two API calls)."""
        ...

    def record(self, event: Mapping[str, Any]) -> RegistryState:
        """Apply ``event`` (see `RegistryState.apply`) and store the state; return it."""
        ...


_REF = re.compile(r"^(?:[A-Za-z_-]*v)?(\d+)$")


def parse_version_ref(ref: str) -> int | str:
    """``"3"``, ``"v3"`` or ``"model-v3"`` give 3; anything else is an alias name."""
    match = _REF.match(ref.strip())
    return int(match.group(1)) if match else ref.strip()


def resolve_version(registry: Registry, ref: str | int) -> ModelVersion:
    """The version named by a number, tag or alias (``production``, ``previous``).

    Raises:
        InputError: when the alias is not set or the version does not exist.
    """
    parsed = ref if isinstance(ref, int) else parse_version_ref(ref)
    if isinstance(parsed, str):
        aliases = registry.state().aliases
        if parsed not in aliases:
            known = ", ".join(sorted(aliases)) or "none yet"
            raise InputError(
                f"registry {registry.describe()}: no alias {parsed!r} (aliases: {known});"
                " give a version number, or deploy a model first with `mlci deploy`"
            )
        parsed = aliases[parsed]
    return registry.get(parsed)


def rollback_target(state: RegistryState, versions: Mapping[int, ModelVersion]) -> int | None:
    """The version a plain ``mlci rollback`` returns to.

    Walks the production history backwards from the current version and returns
    the most recent earlier production version that is blessed and was not itself
    rolled back away from (so two rollbacks in a row go two steps back instead of
    flipping between two versions).
    """
    current = state.production
    rolled_away = {e.get("from") for e in state.history if e.get("event") == "rollback"} | {current}
    for event in reversed(state.history):
        if event.get("event") not in ("promote", "rollback"):
            continue
        candidate = event.get("version")
        if not isinstance(candidate, int) or candidate in rolled_away:
            continue
        found = versions.get(candidate)
        if found is not None and found.blessed:
            return candidate
    return None
