"""Paths as mlci writes them into outputs, documents and commits: relative to a named base.

Every place that shows or commits a path says which bases it is relative to, in
order (the workspace, the repository top, the project folder holding ``mlci.yaml``),
and what happens outside all of them: `contained_path` gives None (the caller
refuses or skips), `relative_path` falls back to the absolute path.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["contained_path", "relative_path"]


def contained_path(path: Path, *bases: Path | str | None) -> str | None:
    """``path`` relative to the first of ``bases`` that holds it (POSIX), or None.

    Both sides are resolved first, so links and ``..`` do not decide; an empty or None
    base is skipped (an unset ``GITHUB_WORKSPACE``). ``path`` equal to a base is ``.``.
    """
    resolved = path.resolve()
    for base in bases:
        if not base:
            continue
        root = Path(base).resolve()
        if resolved.is_relative_to(root):
            return resolved.relative_to(root).as_posix()
    return None


def relative_path(path: Path, *bases: Path | str | None) -> str:
    """``path`` relative to the first of ``bases`` that holds it, else absolute (POSIX)."""
    return contained_path(path, *bases) or path.resolve().as_posix()
