"""The local registry: a directory of versions, safe with concurrent writers.

Layout::

    <root>/
      versions/v1/{model.skops, model.onnx, metadata.json}
      versions/v2/...
      state.json         aliases and history
      .lock              advisory lock held while allocating a version or changing state
      .staging/          files being copied in (never read as versions)

A version appears by renaming a complete staging directory to ``versions/v<N>``
while holding the lock, so a reader sees a version whole or not at all, and two
writers cannot take the same number. ``state.json`` is replaced atomically (write,
fsync, rename) under the same lock.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from mlci import jsonio
from mlci.errors import DeployError, InputError
from mlci.registry.base import (
    METADATA_FILE,
    ModelVersion,
    RegistryState,
    check_metadata,
    verify_file,
    verify_files,
    with_hashes,
)

__all__ = ["LocalRegistry", "locked"]

_VERSION_DIR = re.compile(r"^v(\d+)$")
LOCK_TIMEOUT_S = 120.0
STATE_FILE = "state.json"


@contextlib.contextmanager
def locked(lock_path: Path, timeout: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``lock_path`` (flock; an O_EXCL file elsewhere).

    The one lock of a registry folder: versions, state and the experiment history.

    Raises:
        DeployError: when another process holds it for more than ``timeout`` seconds.
    """
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        fcntl = None  # type: ignore[assignment]
    if fcntl is not None:
        with lock_path.open("a+") as fh:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise DeployError(
                            f"{lock_path}: registry is locked by another process for over"
                            f" {timeout:.0f} s; wait for it, or remove the lock if no mlci runs"
                        ) from None
                    time.sleep(0.01)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        return
    excl = lock_path.with_suffix(".excl")  # pragma: no cover - Windows
    deadline = time.monotonic() + timeout  # pragma: no cover
    while True:  # pragma: no cover
        try:
            fd = os.open(excl, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            break
        except FileExistsError:
            if time.monotonic() > deadline:
                raise DeployError(
                    f"{excl}: registry is locked; remove the file if no mlci process runs"
                ) from None
            time.sleep(0.01)
    try:  # pragma: no cover
        yield
    finally:  # pragma: no cover
        os.close(fd)
        excl.unlink()


class LocalRegistry:
    """A registry in a local directory (the embedded default).

    Args:
        root: The registry directory (created on first write).
    """

    name = "local"

    def __init__(self, root: Path):
        self.root = root

    def describe(self) -> str:
        """The registry directory."""
        return str(self.root)

    @property
    def _versions_dir(self) -> Path:
        return self.root / "versions"

    def _prepare(self) -> None:
        for sub in (self._versions_dir, self.root / ".staging"):
            sub.mkdir(parents=True, exist_ok=True)

    def _numbers(self) -> list[int]:
        if not self._versions_dir.is_dir():
            return []
        out = []
        for entry in self._versions_dir.iterdir():
            match = _VERSION_DIR.match(entry.name)
            if match and (entry / METADATA_FILE).is_file():
                out.append(int(match.group(1)))
        return sorted(out)

    def _read(self, number: int) -> ModelVersion:
        folder = self._versions_dir / f"v{number}"
        meta_path = folder / METADATA_FILE
        if not meta_path.exists() and not meta_path.is_symlink():
            raise InputError(f"registry {self.root}: no version {number}; see `mlci registry list`")
        metadata = check_metadata(
            number,
            jsonio.read_json(
                meta_path,
                what="registry metadata",
                fix="the version is damaged, register the model again",
            ),
            f"registry {self.root}",
        )
        files = tuple(sorted(p.name for p in folder.iterdir() if p.is_file()))
        return ModelVersion(number, metadata, files, str(folder))

    def versions(self) -> list[ModelVersion]:
        """Every version, oldest first."""
        return [self._read(n) for n in self._numbers()]

    def get(self, version: int) -> ModelVersion:
        """One version (`InputError` when it does not exist)."""
        return self._read(version)

    def register(self, files: Mapping[str, Path], metadata: Mapping[str, Any]) -> ModelVersion:
        """Copy ``files`` in, then take the next number and publish the version atomically."""
        self._prepare()
        staging = self.root / ".staging" / uuid.uuid4().hex
        staging.mkdir()
        try:
            for name, source in files.items():
                if Path(name).name != name or name == METADATA_FILE:
                    raise InputError(f"{name}: not a plain file name for a registry version")
                shutil.copyfile(source, staging / name)
            # Hash the staged copies: the record describes exactly the bytes stored.
            hashed = with_hashes({name: staging / name for name in files}, metadata)
            with locked(self.root / ".lock"):
                numbers = self._numbers()
                # Also skip numbers of damaged leftovers so a number is never reused.
                taken = [
                    int(m.group(1))
                    for e in self._versions_dir.iterdir()
                    if (m := _VERSION_DIR.match(e.name))
                ]
                number = max([*numbers, *taken, 0]) + 1
                meta = {**hashed, "version": number}
                jsonio.write_json(staging / METADATA_FILE, meta)
                staging.rename(self._versions_dir / f"v{number}")
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        return self._read(number)

    def download(self, version: int, dest: Path) -> Path:
        """Copy the files of ``version`` into ``dest`` and verify them against their sha256.

        Raises:
            InputError: when the version's metadata is damaged, or a recorded file is
                missing or differs from its recorded sha256 (``dest`` is then removed
                when this call created it).
        """
        found = self._read(version)
        where = f"registry {self.root}"
        verify_files(found, Path(found.location), where)  # before anything is written
        created = not dest.exists()
        dest.mkdir(parents=True, exist_ok=True)
        try:
            for name in found.files:
                shutil.copyfile(Path(found.location) / name, dest / name)
            # The copies are verified too, so what is used is what was checked.
            verify_files(found, dest, where)
        except BaseException:
            if created:
                shutil.rmtree(dest, ignore_errors=True)
            raise
        return dest

    def download_file(self, version: int, name: str, dest: Path) -> Path:
        """Copy one file of ``version`` into ``dest`` and verify it against its sha256.

        Raises:
            InputError: when the version's metadata is damaged, or the file is not
                recorded, missing or differs from its recorded sha256.
        """
        found = self._read(version)
        where = f"registry {self.root}"
        if Path(name).name != name:
            raise InputError(f"{where}: version {version}: bad file name {name!r}")
        verify_file(found, Path(found.location) / name, name, where)
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(found.location) / name, dest / name)
        verify_file(found, dest / name, name, where)
        return dest / name

    def _state_path(self) -> Path:
        return self.root / STATE_FILE

    def state(self) -> RegistryState:
        """Aliases and history from ``state.json`` (empty when the registry is new)."""
        path = self._state_path()
        if not path.exists() and not path.is_symlink():
            return RegistryState()
        data = jsonio.read_json(path, what="registry state", fix="restore it from a backup")
        return RegistryState.from_dict(data, str(path))

    def record(self, event: Mapping[str, Any]) -> RegistryState:
        """Apply ``event`` to the state under the lock and replace ``state.json``."""
        self._prepare()
        version = event.get("version")
        if isinstance(version, int) and version not in self._numbers():
            raise InputError(
                f"registry {self.root}: no version {version}; see `mlci registry list`"
            )
        with locked(self.root / ".lock"):
            state = self.state()
            state.apply(event)
            jsonio.write_json(self._state_path(), state.to_dict())
        return state
