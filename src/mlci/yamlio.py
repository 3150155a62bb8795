"""Safe YAML reading and writing: the only module in mlci that imports ``yaml``.

`load_with_marks` composes the document to nodes first, so every value keeps the
line and column it came from, duplicate keys are caught (PyYAML silently keeps
the last one), and any tag outside plain YAML data (``!!python/object`` and
friends) is refused without being constructed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mlci.errors import ConfigError, ConfigIssue

try:  # the C loader is several times faster where libyaml is available
    _Loader: Any = yaml.CSafeLoader
    _Dumper: Any = yaml.CSafeDumper
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader
    _Dumper = yaml.SafeDumper

__all__ = ["Mark", "Marked", "dump", "load_file", "load_text", "load_with_marks"]

_PLAIN_TAGS = {
    "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:seq",
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:timestamp",
}

Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Mark:
    """A 1-based position in a file."""

    line: int
    column: int


@dataclass
class Marked:
    """A loaded YAML document and the position of every key and value in it.

    ``marks`` maps a path such as ``("model", "gates", "accuracy", "min")`` to
    where that value starts; ``key_marks`` maps the same path to where its key
    starts (used for unknown-key errors).
    """

    value: Any
    file: str
    marks: dict[Path_, Mark]
    key_marks: dict[Path_, Mark]

    def mark(self, path: Path_) -> Mark | None:
        """The position of the value at ``path``, or of its nearest parent."""
        while True:
            if path in self.marks:
                return self.marks[path]
            if not path:
                return None
            path = path[:-1]

    def issue(self, path: Path_, message: str, *, at_key: bool = False) -> ConfigIssue:
        """A `ConfigIssue` located at ``path`` (its key when ``at_key``)."""
        mark = self.key_marks.get(path) if at_key else None
        mark = mark or self.mark(path)
        return ConfigIssue(
            file=self.file,
            line=mark.line if mark else None,
            column=mark.column if mark else None,
            path=format_path(path),
            message=message,
        )


def format_path(path: Path_) -> str:
    """Render ``("data", "checks", 2, "threshold")`` as ``data.checks[2].threshold``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _mark(node: yaml.Node) -> Mark:
    return Mark(node.start_mark.line + 1, node.start_mark.column + 1)


def _tab_issues(text: str, file: str) -> Iterator[ConfigIssue]:
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.lstrip(" ")
        if stripped.startswith("\t"):
            yield ConfigIssue(
                file,
                number,
                len(line) - len(stripped) + 1,
                "",
                "a tab is used for indentation; YAML allows only spaces, replace the tab"
                " with spaces",
            )


def load_with_marks(text: str, file: str) -> Marked:
    """Parse one YAML document safely, keeping positions.

    Args:
        text: The YAML text.
        file: The file name used in error messages.

    Returns:
        The document as plain dicts, lists and scalars, with positions.

    Raises:
        ConfigError: on invalid YAML, tabs, duplicate keys or non-data tags.
    """
    tabs = list(_tab_issues(text, file))
    if tabs:
        raise ConfigError(tabs)
    loader = _Loader(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            problem = exc.problem or "invalid YAML"
            if exc.context:
                problem = f"{exc.context}: {problem}"
            raise ConfigError(
                [
                    ConfigIssue(
                        file,
                        mark.line + 1 if mark else None,
                        mark.column + 1 if mark else None,
                        "",
                        f"invalid YAML ({problem}); fix the syntax at this position",
                    )
                ]
            ) from None
        except yaml.YAMLError as exc:
            raise ConfigError(
                [ConfigIssue(file, None, None, "", f"invalid YAML ({exc}); fix the syntax")]
            ) from None
        builder = _Builder(loader, file)
        value = builder.build(node, ()) if node is not None else None
    finally:
        loader.dispose()
    if builder.issues:
        raise ConfigError(builder.issues)
    return Marked(value=value, file=file, marks=builder.marks, key_marks=builder.key_marks)


class _Builder:
    """Turns composed nodes into plain data, recording positions and problems."""

    def __init__(self, loader: yaml.SafeLoader, file: str):
        self.loader = loader
        self.file = file
        self.marks: dict[Path_, Mark] = {}
        self.key_marks: dict[Path_, Mark] = {}
        self.issues: list[ConfigIssue] = []

    def fail(self, node: yaml.Node, path: Path_, message: str) -> None:
        m = _mark(node)
        self.issues.append(ConfigIssue(self.file, m.line, m.column, format_path(path), message))

    def build(self, node: yaml.Node, path: Path_) -> Any:
        self.marks[path] = _mark(node)
        if node.tag not in _PLAIN_TAGS:
            self.fail(
                node,
                path,
                f"the YAML tag {node.tag!r} is not allowed; mlci reads plain data only,"
                " remove the tag",
            )
            return None
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    self.fail(
                        key_node, path, "merge keys (<<) are not supported; write the keys out"
                    )
                    continue
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag not in _PLAIN_TAGS:
                    self.fail(key_node, path, "keys must be plain strings")
                    continue
                key = self.loader.construct_object(key_node)
                key = key if isinstance(key, str) else str(key)
                child = (*path, key)
                if key in out:
                    first = self.key_marks[child]
                    self.fail(
                        key_node,
                        child,
                        f"duplicate key (first defined on line {first.line}); keep only one",
                    )
                    continue
                self.key_marks[child] = _mark(key_node)
                out[key] = self.build(value_node, child)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return self.loader.construct_object(node)


def load_text(text: str, file: str = "<string>") -> Any:
    """Parse YAML text safely (no positions kept)."""
    return load_with_marks(text, file).value


def load_file(path: Path) -> Marked:
    """Read and parse a YAML file safely, keeping positions.

    Raises:
        ConfigError: when the file is missing, unreadable or invalid.
    """
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            [ConfigIssue(name, None, None, "", "file not found; check the path")]
        ) from None
    except IsADirectoryError:
        raise ConfigError(
            [ConfigIssue(name, None, None, "", "is a directory; pass the YAML file itself")]
        ) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            [
                ConfigIssue(
                    name,
                    None,
                    None,
                    "",
                    f"not UTF-8 text (byte {exc.start}); save the file as UTF-8",
                )
            ]
        ) from None
    except OSError as exc:
        raise ConfigError(
            [ConfigIssue(name, None, None, "", f"cannot be read ({exc.strerror})")]
        ) from None
    return load_with_marks(text, name)


def dump(data: Any) -> str:
    """Serialize plain data to YAML, keeping key order."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
