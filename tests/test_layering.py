"""The layering of src/mlci, checked on the syntax tree of every module.

- A part (data, model, report, github, registry, serve, scaffold) never imports a
  pipeline or the CLI, and never the Actions runtime (github's own modules aside):
  parts take values and return values; pipelines own the environment.
- Only proc.py starts processes (imports subprocess).
- Only http.py and github/api.py speak HTTP (import requests): every call goes through
  the one retry policy and its bounds.
- Only __main__ and _action import the CLI: commands call each other as functions.
- Only github/runtime.py reads ``GITHUB_*`` variables (everything else asks the
  `Runtime` for the fact by name: ``runtime.repository``, ``runtime.sha`` ...).
- Imports under ``if TYPE_CHECKING:`` are for types only and do not count.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "mlci"
PARTS = ("data", "model", "report", "github", "registry", "serve", "scaffold")


def _modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if "__pycache__" not in p.parts)


def _name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(path: Path, name: str | None = None) -> set[str]:
    """Every module ``path`` (module ``name``) imports at run time (absolute names)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    name = name or _name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _github_reads(path: Path) -> list[str]:
    """``GITHUB_*`` names read with ``.get(...)``, ``getenv(...)`` or ``[...]``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        key: ast.AST | None = None
        if isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("get", "getenv", "pop", "setdefault"):
                key = node.args[0]
        elif isinstance(node, ast.Subscript):
            key = node.slice
        if isinstance(key, ast.Constant) and str(key.value).startswith("GITHUB_"):
            found.append(str(key.value))
    return found


def _hits(imports: set[str], prefix: str) -> list[str]:
    return sorted(i for i in imports if i == prefix or i.startswith(prefix + "."))


MODULES = _modules()


def test_the_tree_is_found() -> None:
    names = {_name(p) for p in MODULES}
    assert {"mlci.cli", "mlci.proc", "mlci.pipelines.run", "mlci.data.drift"} <= names


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_layering(path: Path) -> None:
    name = _name(path)
    imports = _imports(path)
    part = name.split(".")[1] if name.count(".") >= 1 else ""
    problems = []
    if part in PARTS:
        for forbidden in ("mlci.pipelines", "mlci.cli"):
            problems += [f"a part imports {i}" for i in _hits(imports, forbidden)]
        if part != "github":
            problems += [f"a part imports {i}" for i in _hits(imports, "mlci.github.runtime")]
    if name != "mlci.proc":
        problems += [
            f"imports {i} (only mlci.proc starts processes)" for i in _hits(imports, "subprocess")
        ]
    if name not in ("mlci.http", "mlci.github.api"):
        problems += [
            f"imports {i} (only mlci.http and mlci.github.api speak HTTP)"
            for i in _hits(imports, "requests")
        ]
    if name not in ("mlci.__main__", "mlci._action", "mlci.cli"):
        problems += [
            f"imports {i} (nothing but __main__ and _action imports the CLI)"
            for i in _hits(imports, "mlci.cli")
        ]
    if name != "mlci.github.runtime":
        problems += [f"reads {v} (ask the Runtime)" for v in _github_reads(path)]
    assert not problems, f"{name}: " + "; ".join(problems)


def test_the_checker_sees_what_it_must(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from typing import TYPE_CHECKING\n"
        "import subprocess\n"
        "from requests import post\n"
        "from ..pipelines import run\n"
        "if TYPE_CHECKING:\n    from mlci.cli import main\n"
        "def f():\n    from mlci.github.runtime import Runtime\n"
        "import os\nos.environ.get('GITHUB_SHA')\nos.environ['GITHUB_REF']\n",
        encoding="utf-8",
    )
    imports = _imports(probe, "mlci.data.probe")
    assert "subprocess" in imports and "mlci.pipelines.run" in imports
    assert _hits(imports, "requests") == ["requests", "requests.post"]
    assert "mlci.github.runtime.Runtime" in imports  # imports inside functions count
    assert not _hits(imports, "mlci.cli")  # type-only imports do not
    assert _github_reads(probe) == ["GITHUB_SHA", "GITHUB_REF"]
