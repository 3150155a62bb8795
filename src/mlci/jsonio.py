"""Strict, bounded JSON: the one reader and the one writer of JSON files in mlci.

Reading (`read_json`, `loads`): only regular files under the size limit, nesting
no deeper than the depth limit, no ``NaN``/``Infinity`` literals, floats that
stay finite (``1e400`` is refused, not read as infinity) and whole numbers of a
bounded number of digits. `read_typed` then validates the document against a
typed structure (the same dataclasses that give its JSON Schema) before any field
is used. Every failure is an `InputError` or a `ConfigError` (exit 2) naming the
file and, for a document that does not fit its structure, the field.

Writing (`dumps`, `write_json`): strict JSON (``allow_nan=False``), and files are
replaced atomically (write a temporary file, fsync, rename), so a reader sees the
old document or the new one, never half of one.
"""

from __future__ import annotations

import json
import math
import os
import re
import uuid
from pathlib import Path
from typing import Any, TypeVar

from mlci.errors import ConfigError, ConfigIssue, InputError
from mlci.limits import JSON_MAX_BYTES, JSON_MAX_DEPTH, JSON_MAX_INT_DIGITS, Limit, read_bounded

__all__ = ["dumps", "loads", "read_json", "read_typed", "validate_typed", "write_json"]

T = TypeVar("T")


class _Refused(ValueError):
    """A value the strict parser does not accept (raised from a parse hook)."""


def _no_constant(name: str) -> Any:
    raise _Refused(f"{name} is not valid JSON; write null (with a reason) instead")


def _parse_int(text: str) -> int:
    if len(text) < 16:  # the common case, well inside the bound
        return int(text)
    digits = len(text.lstrip("-"))
    cap = JSON_MAX_INT_DIGITS.value
    if digits > cap:
        raise _Refused(f"a whole number with {digits} digits is out of range (at most {cap})")
    return int(text)


def _parse_float(text: str) -> float:
    if len(text) > 400:
        raise _Refused(f"a number written with {len(text)} characters is out of range")
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"the number {text[:40]} is out of the range of a float")
    return value


# One decoder for every call (json.loads with hooks builds a new one each time).
_DECODER = json.JSONDecoder(
    parse_constant=_no_constant, parse_int=_parse_int, parse_float=_parse_float
)


def _depth_ok(value: Any, cap: int) -> bool:
    """Whether ``value`` nests at most ``cap`` levels (iteratively: no recursion limit)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > cap:
            return False
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return True


_FIX = "fix or regenerate the file"


def loads(
    text: str | bytes,
    *,
    source: str = "<json>",
    fix: str = _FIX,
    line: int | None = None,
    max_depth: int | None = None,
    what: str = "JSON",
) -> Any:
    """Parse strict JSON text with mlci's bounds.

    Args:
        text: The JSON text (bytes are decoded as UTF-8).
        source: The file or endpoint, for messages.
        fix: How to fix the file, for the end of messages.
        line: The line of ``source`` the text starts on (one record of a JSON Lines
            file); messages then say ``source:line``.
        max_depth: Nesting allowed (default: the JSON depth limit).
        what: What the text should be, for messages (``not valid JSON Lines``).

    Raises:
        InputError: naming ``source`` and the line and column when they are known.
    """
    where = source if line is None else f"{source}:{line}"
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(
                f"{where}: not UTF-8 text (byte {exc.start}), JSON must be UTF-8; {fix}"
            ) from None
    cap = JSON_MAX_DEPTH.value if max_depth is None else max_depth
    try:
        if text.startswith("\ufeff"):
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
        value = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        # One record of a JSON Lines file is one line: its column is the decoder's.
        at = f"{exc.lineno if line is None else line}:{exc.colno}"
        raise InputError(f"{source}:{at}: not valid {what} ({exc.msg}); {fix}") from None
    except _Refused as exc:
        raise InputError(f"{where}: {exc}; {fix}") from None
    except RecursionError:
        raise InputError(
            f"{where}: nested more than {cap} levels deep, deeper than mlci reads; {fix}"
        ) from None
    except ValueError as exc:  # e.g. a number Python cannot represent
        raise InputError(f"{where}: not valid {what} ({exc}); {fix}") from None
    # A document cannot nest deeper than it has brackets: most need no walk at all.
    if text.count("[") + text.count("{") > cap and not _depth_ok(value, cap):
        raise InputError(
            f"{where}: nested more than {cap} levels deep, deeper than mlci reads; {fix}"
        )
    if _SURROGATE_ESCAPE.search(text) and not _encodable(value):
        raise InputError(
            f"{where}: a \\u escape names half of a surrogate pair, which is no character"
            f" (text must be valid Unicode); {fix}"
        )
    return value


# ``\ud800``-``\udfff``: valid only as a pair; alone, no UTF-8 text can hold it.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _encodable(value: Any) -> bool:
    """Whether every text of ``value`` (keys included) can be written as UTF-8."""
    try:
        json.dumps(value, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def read_json(
    path: Path, *, what: str = "JSON file", limit: Limit = JSON_MAX_BYTES, fix: str = _FIX
) -> Any:
    """Read a JSON file strictly: a regular file under ``limit`` bytes, parsed by `loads`.

    ``fix`` ends the messages about the content (how to repair or regenerate it).

    Raises:
        InputError: when the file is missing, not a regular file, too large or not
            strict JSON within the bounds.
    """
    return loads(read_bounded(path, limit, what=what), source=str(path), fix=fix)


def validate_typed(cls: type[T], value: Any, *, source: str) -> T:
    """Check ``value`` against the dataclass ``cls`` (see `mlci.typedload`) and build it.

    Raises:
        ConfigError: listing every field that does not fit, as ``source: field: problem``.
    """
    from mlci import typedload
    from mlci.yamlio import Marked

    marked = Marked(value=value, file=source, marks={}, key_marks={}, yaml=False)
    if not isinstance(value, dict):
        kind = "a list" if isinstance(value, list) else typedload.describe(value)
        raise ConfigError(
            [ConfigIssue(source, None, None, "", f"expected a JSON object, got {kind}")]
        )
    return typedload.load(cls, marked)


def read_typed(cls: type[T], path: Path, *, what: str = "JSON file") -> T:
    """Read ``path`` strictly and validate it against ``cls`` before any field is used."""
    return validate_typed(cls, read_json(path, what=what), source=str(path))


def dumps(data: Any, *, indent: int | None = 2, sort_keys: bool = False) -> str:
    """Strict JSON text (no NaN or infinities: a bug upstream if there are any)."""
    return json.dumps(data, indent=indent, sort_keys=sort_keys, allow_nan=False, ensure_ascii=False)


def write_json(path: Path, data: Any, *, indent: int | None = 2, sort_keys: bool = False) -> Path:
    """Write ``data`` as strict JSON to ``path`` atomically (old or new, never a mix).

    Returns:
        ``path``.
    """
    text = dumps(data, indent=indent, sort_keys=sort_keys) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path
