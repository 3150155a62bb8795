"""Provenance: which commit, which run and which bytes a result describes.

The git SHA (``MLCI_GIT_SHA``, else ``GITHUB_SHA`` on Actions, else ``git rev-parse
HEAD``) and file fingerprints (``sha256:<hex>``) are computed here only; the run URL
is `mlci.github.runtime.Runtime.run_url`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from mlci.proc import git

__all__ = ["file_fingerprint", "git_sha", "repo_toplevel"]


def git_sha(cwd: Path | None = None) -> str | None:
    """The commit being validated: ``GITHUB_SHA`` on Actions, else ``git rev-parse HEAD``."""
    from mlci.github.runtime import Runtime

    runtime = Runtime()
    return runtime.get("MLCI_GIT_SHA") or runtime.sha or git("rev-parse", "HEAD", cwd=cwd)


def repo_toplevel(cwd: Path) -> str | None:
    """The top folder of the git repository holding ``cwd``, or None outside one."""
    return git("rev-parse", "--show-toplevel", cwd=cwd)


def file_fingerprint(path: Path) -> str:
    """``sha256:<hex>`` of a file (or of every file of a directory or a glob, in order)."""
    from mlci.data.io import data_files, is_glob, parts_root

    digest = hashlib.sha256()
    many = path.is_dir() or is_glob(path)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file())
    else:
        files = data_files(path)
    root = parts_root(path)
    for f in files:
        if many:
            digest.update(f.relative_to(root).as_posix().encode())
        with f.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return "sha256:" + digest.hexdigest()
