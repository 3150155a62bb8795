"""Compare what `mlci init` would write with the disk, write it, and check it.

`plan` renders every file and gives each a status; `write` never replaces a
changed file without ``force``; `structure_changes` parses a file on disk and
lists every key path where its structure differs from what mlci generates, so
``mlci init --check`` reports a tampered workflow (an ``env:`` added, a step
changed) by name, not only as "text differs".
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from mlci.config import CONFIG_FILE, load_config
from mlci.errors import ConfigError, MlciError
from mlci.scaffold.answers import CONFIG_KEYS, Answers, _config_answers
from mlci.scaffold.detect import ChanceLevel, chance_for
from mlci.scaffold.render import render_files

__all__ = ["PlannedFile", "plan", "structure_changes", "write"]

Status = Literal["create", "unchanged", "update", "keep"]

#: At most this many differing key paths are listed per file.
MAX_CHANGES = 10


@dataclass(frozen=True)
class PlannedFile:
    """A file `mlci init` would write, with what is on disk now."""

    path: str
    text: str
    old: str | None
    status: Status

    def diff(self) -> str:
        """A unified diff from the file on disk to the generated text."""
        return "".join(
            difflib.unified_diff(
                (self.old or "").splitlines(keepends=True),
                self.text.splitlines(keepends=True),
                fromfile=f"{self.path} (on disk)",
                tofile=f"{self.path} (mlci init)",
            )
        )


def _path(parts: tuple[str, ...]) -> str:
    return ".".join(parts) or "(top level)"


def _compare(disk: Any, want: Any, at: tuple[str, ...], out: list[str]) -> None:
    if isinstance(disk, dict) and isinstance(want, dict):
        for key in disk:
            name = "on" if key in (True, "True") else str(key)
            if key not in want:
                out.append(f"{_path((*at, name))}: added (mlci does not generate it)")
            else:
                _compare(disk[key], want[key], (*at, name), out)
        for key in want:
            if key not in disk:
                name = "on" if key in (True, "True") else str(key)
                out.append(f"{_path((*at, name))}: missing")
    elif isinstance(disk, list) and isinstance(want, list):
        for i, (d, w) in enumerate(zip(disk, want, strict=False)):
            _compare(d, w, (*at, str(i)), out)
        if len(disk) != len(want):
            out.append(f"{_path(at)}: {len(disk)} items on disk, {len(want)} generated")
    elif disk != want:
        out.append(f"{_path(at)}: {_short(disk)} on disk, {_short(want)} generated")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def structure_changes(rel: str, disk_text: str, generated: str) -> list[str]:
    """Every key path where the YAML on disk differs from the generated YAML.

    The file on disk is parsed with mlci's safe loader; a file that does not
    parse is one change saying so.
    """
    from mlci.yamlio import load_with_marks

    try:
        disk = load_with_marks(disk_text, rel).value
    except ConfigError as exc:
        first = exc.issues[0] if exc.issues else None
        return [f"does not parse as YAML ({first})" if first else "does not parse as YAML"]
    out: list[str] = []
    _compare(disk, load_with_marks(generated, rel).value, (), out)
    if len(out) > MAX_CHANGES:
        out = [*out[:MAX_CHANGES], f"... and {len(out) - MAX_CHANGES} more"]
    return out


def plan(
    root: Path,
    answers: Answers,
    *,
    given: Mapping[str, str | None] | None = None,
    chance: ChanceLevel | None = None,
) -> list[PlannedFile]:
    """Render every file and compare it with what is on disk under ``root``.

    An existing ``mlci.yaml`` belongs to the user: it is kept (its values were
    used) unless a flag in ``given`` asks for a different config value, in which
    case it shows up as an update with its diff.
    """
    given = given or {}
    if chance is None:
        chance = chance_for(root, answers.data, answers.eval_data, answers.target, answers.task)
    files = render_files(answers, chance)
    config_path = root / CONFIG_FILE
    changes_config = False
    if config_path.is_file():
        current = _config_answers(load_config(config_path))
        changes_config = any(
            key in CONFIG_KEYS and value is not None and current.get(key) != getattr(answers, key)
            for key, value in given.items()
        )
    planned = []
    for rel, text in files.items():
        path = root / rel
        old = path.read_text(encoding="utf-8") if path.is_file() else None
        status: Status
        if old is None:
            status = "create"
        elif old == text:
            status = "unchanged"
        elif rel == CONFIG_FILE and not changes_config:
            status = "keep"
        else:
            status = "update"
        planned.append(PlannedFile(rel, text, old, status))
    return planned


def write(root: Path, planned: list[PlannedFile], *, force: bool = False) -> list[PlannedFile]:
    """Write the planned files that are new, or changed when ``force`` is set.

    Nothing is written when a changed file would be replaced without ``force``.

    Returns:
        The files written.

    Raises:
        MlciError: naming every changed file when ``force`` is not set.
    """
    conflicts = [p.path for p in planned if p.status == "update"]
    if conflicts and not force:
        raise MlciError(
            f"{', '.join(conflicts)}: changed since mlci generated it (diff above); mlci init"
            " did not overwrite anything. Rerun with --force to replace, or --dry-run to preview"
        )
    written = []
    for p in planned:
        if p.status in ("create", "update"):
            path = root / p.path
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(p.text, encoding="utf-8")
            written.append(p)
    return written
