"""Helpers shared by the tests."""

from __future__ import annotations

from pathlib import Path


def build_file_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    """Write ``{relative path: content}`` below ``root`` and return ``root``."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def find_tool(name: str) -> str:
    """The path of a command-line tool the tests use (act, zizmor, check-jsonschema).

    Looks beside the running interpreter first (the test virtual environment, even
    when it is not activated), then on PATH. A missing tool fails the test: these
    are test dependencies, installed by ``pip install -e '.[test]'``.
    """
    import os
    import shutil
    import sys

    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    path = shutil.which(name, path=search)
    assert path, f"{name} is not installed; run `pip install -e '.[test]'`"
    return path
