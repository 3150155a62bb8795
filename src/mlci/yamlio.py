"""Safe, bounded YAML reading and writing: the only module in mlci that imports ``yaml``.

`load_with_marks` composes the document to nodes first, so every value keeps the
line and column it came from, duplicate keys are caught (PyYAML silently keeps
the last one), and any tag outside plain YAML data (``!!python/object`` and
friends) is refused without being constructed.

Hostile input is bounded before it is composed: the file size (`read_bounded`),
the nesting depth and the number and expansion of aliases are checked on the
parser's event stream (libyaml composes recursively and crashes on very deep
nesting), and control characters such as NUL are reported by line and column.

YAML 1.1 reads some plain words as other types (``off`` and ``yes`` as booleans,
``null`` as nothing, ``2024-01-31`` as a date). Keys are always names in mlci's
files, so a key keeps the text as written. Dates stay text (none of mlci's
fields is a date, and an impossible date such as ``2024-02-30`` must not crash).
For other values `Marked.raw` keeps the text as written, so a field that expects
text reads ``severity: off`` as ``"off"``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mlci.errors import ConfigError, ConfigIssue, InputError
from mlci.limits import (
    YAML_MAX_ALIAS_NODES,
    YAML_MAX_ALIASES,
    YAML_MAX_BYTES,
    YAML_MAX_DEPTH,
    read_bounded,
)

try:  # the C loader is several times faster where libyaml is available
    _Loader: Any = yaml.CSafeLoader
    _Dumper: Any = yaml.CSafeDumper
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader
    _Dumper = yaml.SafeDumper

__all__ = ["Mark", "Marked", "dump", "format_path", "load_file", "load_with_marks"]

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
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
# Longer numbers are kept as text: a field that wants a number then says so with its
# position, instead of Python failing on a 5,000-digit integer.
_MAX_NUMBER_CHARS = 40

# Characters YAML 1.1 does not allow in a stream (tab, newlines and printable text are).
_FORBIDDEN = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

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
    starts (used for unknown-key errors); ``raw`` maps the path of a plain
    scalar that YAML read as something other than text (a boolean, null, a
    number) to the text as written. ``yaml`` is false for a JSON document
    validated the same way (messages then do not suggest YAML quoting).
    """

    value: Any
    file: str
    marks: dict[Path_, Mark]
    key_marks: dict[Path_, Mark]
    raw: dict[Path_, str] = field(default_factory=dict)
    yaml: bool = True

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


def _mark(node: yaml.Node | yaml.Event) -> Mark:
    start = node.start_mark
    return Mark(start.line + 1, start.column + 1) if start is not None else Mark(1, 1)


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


def _control_issue(text: str, file: str) -> ConfigIssue | None:
    found = _FORBIDDEN.search(text)
    if found is None:
        return None
    start = found.start()
    line = text.count("\n", 0, start) + 1
    column = start - (text.rfind("\n", 0, start) + 1) + 1
    return ConfigIssue(
        file,
        line,
        column,
        "",
        f"the control character U+{ord(found.group()):04X} is not allowed in YAML;"
        " remove it (or write it as an escape such as \\0 inside double quotes)",
    )


def _syntax_error(exc: yaml.YAMLError, file: str) -> ConfigError:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or "invalid YAML"
        if exc.context:
            problem = f"{exc.context}: {problem}"
        return ConfigError(
            [
                ConfigIssue(
                    file,
                    mark.line + 1 if mark else None,
                    mark.column + 1 if mark else None,
                    "",
                    f"invalid YAML ({problem}); fix the syntax at this position",
                )
            ]
        )
    return ConfigError([ConfigIssue(file, None, None, "", f"invalid YAML ({exc}); fix the syntax")])


def _check_events(text: str, file: str) -> None:
    """Refuse deep nesting, many aliases and alias bombs before anything is composed.

    Walks the parser's events (libyaml parses iteratively) keeping, per open
    collection, how many values it holds once its aliases are expanded.
    """
    max_depth = YAML_MAX_DEPTH.value
    max_aliases = YAML_MAX_ALIASES.value
    max_added = YAML_MAX_ALIAS_NODES.value
    loader = _Loader(text)
    sizes: dict[str, int] = {}
    stack: list[tuple[str | None, int]] = []  # (anchor, expanded values so far)
    aliases = 0
    added = 0

    def fail(event: yaml.Event, message: str) -> ConfigError:
        m = _mark(event)
        return ConfigError([ConfigIssue(file, m.line, m.column, "", message)])

    def count(size: int) -> None:
        if stack:
            anchor, total = stack[-1]
            stack[-1] = (anchor, total + size)

    try:
        while True:
            event = loader.get_event()
            if isinstance(event, yaml.StreamEndEvent):
                return
            if isinstance(event, yaml.CollectionStartEvent):
                stack.append((event.anchor, 1))
                if len(stack) > max_depth:
                    raise fail(
                        event,
                        f"nested more than {max_depth} levels deep; flatten the document",
                    )
            elif isinstance(event, yaml.CollectionEndEvent):
                anchor, total = stack.pop()
                if anchor is not None:
                    sizes[anchor] = total
                count(total)
            elif isinstance(event, yaml.ScalarEvent):
                if event.anchor is not None:
                    sizes[event.anchor] = 1
                count(1)
            elif isinstance(event, yaml.AliasEvent):
                aliases += 1
                size = sizes.get(event.anchor or "", 1)
                added += size
                if aliases > max_aliases:
                    raise fail(
                        event,
                        f"more than {max_aliases} aliases (*name); write the values out",
                    )
                if added > max_added:
                    raise fail(
                        event,
                        f"the aliases expand to more than {max_added} values (an alias bomb?);"
                        " write the values out",
                    )
                count(size)
    except yaml.YAMLError as exc:
        raise _syntax_error(exc, file) from None
    finally:
        loader.dispose()


def load_with_marks(text: str, file: str) -> Marked:
    """Parse one YAML document safely, keeping positions.

    Args:
        text: The YAML text.
        file: The file name used in error messages.

    Returns:
        The document as plain dicts, lists and scalars, with positions.

    Raises:
        ConfigError: on invalid YAML, tabs, control characters, duplicate keys,
            non-data tags, nesting deeper than the limit or too many aliases.
    """
    tabs = list(_tab_issues(text, file))
    if tabs:
        raise ConfigError(tabs)
    control = _control_issue(text, file)
    if control is not None:
        raise ConfigError([control])
    _check_events(text, file)
    loader = _Loader(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.YAMLError as exc:
            raise _syntax_error(exc, file) from None
        builder = _Builder(loader, file)
        value = builder.build(node, ()) if node is not None else None
    finally:
        loader.dispose()
    if builder.issues:
        raise ConfigError(builder.issues)
    return Marked(
        value=value,
        file=file,
        marks=builder.marks,
        key_marks=builder.key_marks,
        raw=builder.raw,
    )


class _Builder:
    """Turns composed nodes into plain data, recording positions and problems."""

    def __init__(self, loader: yaml.SafeLoader, file: str):
        self.loader = loader
        self.file = file
        self.marks: dict[Path_, Mark] = {}
        self.key_marks: dict[Path_, Mark] = {}
        self.raw: dict[Path_, str] = {}
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
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        assert isinstance(node, yaml.ScalarNode)
        return self._scalar(node, path)

    def _mapping(self, node: yaml.MappingNode, path: Path_) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                self.fail(key_node, path, "merge keys (<<) are not supported; write the keys out")
                continue
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag not in _PLAIN_TAGS:
                self.fail(key_node, path, "keys must be plain strings")
                continue
            # Keys are names: `null:`, `true:`, `off:` or `2024-01-31:` mean that text.
            key = str(key_node.value)
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

    def _scalar(self, node: yaml.ScalarNode, path: Path_) -> Any:
        text = str(node.value)
        if node.tag == "tag:yaml.org,2002:str":
            return self.loader.construct_object(node)
        self.raw[path] = text
        if node.tag == _TIMESTAMP:
            return text
        if node.tag in (_INT, _FLOAT) and len(text) > _MAX_NUMBER_CHARS:
            return text
        try:
            return self.loader.construct_object(node)
        except (ValueError, OverflowError):
            return text


def load_file(path: Path, *, what: str = "YAML file") -> Marked:
    """Read and parse a YAML file safely, keeping positions.

    Args:
        path: The file; only a regular file under the size limit is read.
        what: What the file is, for messages (``config file``, ``schema file``).

    Raises:
        ConfigError: when the file is missing, not a regular file, too large,
            unreadable or invalid.
    """
    name = str(path)
    try:
        data = read_bounded(path, YAML_MAX_BYTES, what=what)
    except InputError as exc:
        message = exc.message.removeprefix(f"{name}: ")
        raise ConfigError([ConfigIssue(name, None, None, "", message)]) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError(
            [
                ConfigIssue(
                    name,
                    line,
                    column,
                    "",
                    f"not UTF-8 text (byte {exc.start}); save the file as UTF-8",
                )
            ]
        ) from None
    return load_with_marks(text.removeprefix("\ufeff"), name)


def dump(data: Any) -> str:
    """Serialize plain data to YAML, keeping key order."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
