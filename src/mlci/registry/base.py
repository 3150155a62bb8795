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
    "check_metadata",
    "make_event",
    "parse_version_ref",
    "resolve_version",
    "rollback_target",
    "sha256_file",
    "recorded_hash",
    "verify_file",
    "verify_files",
    "with_hashes",
]

METADATA_FILE = "metadata.json"
PRODUCTION = "production"
PREVIOUS = "previous"
EVENT_KINDS = ("register", "promote", "rollback", "deploy_failed")
# History kept in the state; older events stay in each version's metadata and logs.
MAX_HISTORY = 500
# Version numbers have at most this many digits (a billion versions is plenty).
MAX_VERSION_DIGITS = 9

EventKind = Literal["register", "promote", "rollback", "deploy_failed"]


def sha256_file(path: Path) -> str:
    """The hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_ALIAS = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")


def _plain_name(value: Any) -> bool:
    return (
        isinstance(value, str)
        and 0 < len(value) <= 255
        and Path(value).name == value
        and value not in (".", "..")
    )


def _metadata_problems(number: int | None, meta: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(field, problem) for every field of a version's metadata that readers cannot trust."""
    problems: list[tuple[str, str]] = []

    def want(name: str, ok: bool, what: str) -> None:
        if not ok:
            problems.append((name, f"expected {what}, got {_short(meta.get(name))}"))

    version = meta.get("version")
    if number is not None and version is not None and version != number:
        problems.append(("version", f"says {_short(version)} but the version is {number}"))
    want("model_file", _plain_name(meta.get("model_file")), "a plain file name")
    onnx = meta.get("onnx_file")
    want("onnx_file", onnx is None or _plain_name(onnx), "a plain file name or null")
    for name in ("created", "git_sha", "format", "task", "run_url", "mlci_version"):
        value = meta.get(name)
        want(name, value is None or isinstance(value, str), "a string or null")
    metrics = meta.get("metrics")
    want(
        "metrics",
        metrics is None
        or (
            isinstance(metrics, Mapping)
            and all(
                isinstance(v, int | float) and not isinstance(v, bool) or v is None
                for v in metrics.values()
            )
        ),
        "an object of metric names to numbers",
    )
    blessing = meta.get("blessing")
    want(
        "blessing",
        blessing is None
        or (isinstance(blessing, Mapping) and isinstance(blessing.get("blessed", False), bool)),
        "an object with blessed: true or false",
    )
    if isinstance(blessing, Mapping) and not isinstance(blessing.get("reason", ""), str):
        problems.append(("blessing.reason", f"expected a string, got {_short(blessing['reason'])}"))
    for name in ("features", "classes"):
        value = meta.get(name)
        want(name, value is None or isinstance(value, list), "a list or null")
    hashes = meta.get("hashes")
    if not isinstance(hashes, Mapping) or not hashes:
        problems.append(
            ("hashes", f"expected an object of file names to sha256, got {_short(hashes)}")
        )
        return problems
    for name, digest in hashes.items():
        if not _plain_name(name):
            problems.append((f"hashes.{name}", "not a plain file name"))
        elif not isinstance(digest, str) or not _HEX64.match(digest):
            problems.append(
                (f"hashes.{name}", f"expected a sha256 (64 hex digits), got {_short(digest)}")
            )
    for listed in (meta.get("model_file"), onnx):
        if _plain_name(listed) and listed not in hashes:
            problems.append(("hashes", f"has no sha256 for {listed}"))
    return problems


def _short(value: Any) -> str:
    from mlci.typedload import describe

    return describe(value)


def check_metadata(number: int | None, meta: Any, where: str) -> Mapping[str, Any]:
    """``meta`` when it is the metadata of version ``number``; refused otherwise.

    Args:
        number: The version the metadata belongs to (None: a version being registered).
        meta: The parsed ``metadata.json`` (untrusted).
        where: The registry or file, for messages.

    Raises:
        InputError: naming the version and the first fields that do not fit.
    """
    which = "new version" if number is None else f"version {number}"
    if not isinstance(meta, Mapping):
        raise InputError(
            f"{where}: {which}: metadata is not a JSON object; the version is damaged,"
            " register the model again"
        )
    problems = _metadata_problems(number, meta)
    if problems:
        listed = "; ".join(f"{field}: {problem}" for field, problem in problems[:5])
        raise InputError(
            f"{where}: {which}: metadata {listed}; "
            + (
                "fix what is registered"
                if number is None
                else "the version is damaged, register the model again"
            )
        )
    return meta


def with_hashes(files: Mapping[str, Path], metadata: Mapping[str, Any]) -> dict[str, Any]:
    """``metadata`` with the sha256 of every file to register under ``hashes``.

    Raises:
        InputError: when ``metadata`` already records a different sha256 for a file
            (it changed between validation and registration).
    """
    given = metadata.get("hashes")
    given = given if isinstance(given, Mapping) else {}
    hashes: dict[str, str] = {}
    for name, path in files.items():
        hashes[name] = sha256_file(path)
        if name in given and given[name] != hashes[name]:
            raise InputError(
                f"{path}: the file changed since it was validated (sha256 {hashes[name][:12]}...,"
                f" validated {str(given[name])[:12]}...); re-run the deploy"
            )
    out = {**metadata, "hashes": hashes}
    check_metadata(None, out, "registry")
    return out


def verify_files(version: ModelVersion, folder: Path, where: str) -> None:
    """Check every file recorded for ``version`` is in ``folder`` with its recorded sha256.

    Every reader of a version (serve, the baseline of validate-model, pull, rollback,
    deploy) goes through this, so a swapped or deleted file is never used under the
    version's name.

    Raises:
        InputError: naming the version and the file that is missing or differs.
    """
    hashes = version.metadata.get("hashes")
    if not isinstance(hashes, Mapping) or not hashes:
        raise InputError(
            f"{where}: version {version.version}: no sha256 recorded for its files; the"
            " version cannot be verified, register the model again"
        )
    for name in sorted(hashes):
        verify_file(version, folder / str(name), str(name), where)


def recorded_hash(version: ModelVersion, name: str, where: str) -> str:
    """The sha256 ``version`` recorded for its file ``name``.

    Raises:
        InputError: when the version recorded none for that name.
    """
    hashes = version.metadata.get("hashes")
    expected = hashes.get(name) if isinstance(hashes, Mapping) else None
    if not isinstance(expected, str):
        raise InputError(
            f"{where}: version {version.version}: no sha256 recorded for {name}; the"
            " version cannot be verified, register the model again"
        )
    return expected


def verify_file(version: ModelVersion, path: Path, name: str, where: str) -> None:
    """Check that ``path`` is the file ``name`` of ``version`` with its recorded sha256.

    Raises:
        InputError: naming the version and the file when it has no recorded sha256, is
            missing or differs.
    """
    expected = recorded_hash(version, name, where)
    if not path.is_file():
        raise InputError(
            f"{where}: version {version.version}: {name} is missing; the version is"
            " damaged, register the model again"
        )
    actual = sha256_file(path)
    if actual != expected:
        raise InputError(
            f"{where}: version {version.version}: {name} has sha256 {actual[:12]}..., the"
            f" registry recorded {str(expected)[:12]}...; the file was changed or replaced,"
            " restore it or register the model again"
        )


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
        recorded = dict(event)
        if kind in ("promote", "rollback"):
            current = self.aliases.get(PRODUCTION)
            # The caller read production before its work; another deploy may have moved it
            # since. The state is applied under the registry's lock: this is the truth.
            recorded["from"] = current
            if current is not None and current != event["version"]:
                self.aliases[PREVIOUS] = current
            self.aliases[PRODUCTION] = int(event["version"])
        self.history.append(recorded)
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

    def download_file(self, version: int, name: str, dest: Path) -> Path:
        """Copy one recorded file of ``version`` into ``dest`` (created), verified.

        For readers that need one file (a drift reference), not the model.

        Raises:
            InputError: when the version or the file is unknown, or the file differs
                from its recorded sha256.
        """
        ...

    def state(self) -> RegistryState:
        """The aliases and history (cheap: one file read or one or two API calls)."""
        ...

    def record(self, event: Mapping[str, Any]) -> RegistryState:
        """Apply ``event`` (see `RegistryState.apply`) and store the state; return it."""
        ...


_REF = re.compile(r"^(?:[A-Za-z_-]*v)?(\d+)$")


def parse_version_ref(ref: str) -> int | str:
    """``"3"``, ``"v3"`` or ``"model-v3"`` give 3; a name such as ``production`` is an alias.

    Raises:
        InputError: for a number with too many digits or a name that cannot be an alias.
    """
    text = ref.strip()
    match = _REF.match(text)
    if match:
        digits = match.group(1).lstrip("0") or "0"
        if len(digits) > MAX_VERSION_DIGITS:
            raise InputError(
                f"version {_short(text)}: a version number has at most {MAX_VERSION_DIGITS}"
                " digits; see `mlci registry list` for the versions"
            )
        return int(digits)
    if not _ALIAS.match(text):
        raise InputError(
            f"version {_short(text)}: expected a version number (3, v3) or an alias"
            " (production, previous); see `mlci registry list`"
        )
    return text


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
