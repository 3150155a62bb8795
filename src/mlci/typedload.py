"""Load plain YAML/JSON data into frozen dataclasses, and derive a JSON Schema from them.

One declaration serves three purposes: the typed model the code uses, the
validation that reports every problem with its file position, and the JSON Schema
shipped for editors. A field's constraints live in its metadata, built with
`spec()`::

    threshold: float = spec(0.5, "Share of drifted columns", minimum=0, maximum=1)

Supported field types: ``str``, ``int``, ``float``, ``int | float`` (a number kept
whole or not as written, where a report shows ``1,234`` and ``0.5`` differently),
``bool``, ``Literal[...]``, ``X | None``, ``list[X]``, ``dict[str, X]``, nested
dataclasses and ``Any`` (any value, for parts of a JSON document that are free-form).
Unknown keys are errors with a did-you-mean suggestion, unless the dataclass sets
``OPEN_KEYS = True`` (a ``ClassVar``): then they are kept out of the object and left
unchecked.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import math
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

from mlci.errors import ConfigError, ConfigIssue
from mlci.yamlio import Marked, Path_

__all__ = ["describe", "json_schema", "load", "load_collect", "spec", "suggest"]

T = TypeVar("T")

_MISSING = dataclasses.MISSING


def spec(
    default: Any = _MISSING,
    doc: str = "",
    *,
    factory: Any = _MISSING,
    minimum: float | None = None,
    maximum: float | None = None,
    exclusive_minimum: float | None = None,
    min_items: int | None = None,
    max_items: int | None = None,
    examples: list[Any] | None = None,
) -> Any:
    """A dataclass field with a description and constraints.

    Args:
        default: The default value; leave out for a required field.
        doc: One line for the JSON Schema ``description`` and the docs.
        factory: A default factory for mutable defaults (lists, dicts, dataclasses).
        minimum: The smallest allowed number.
        maximum: The largest allowed number.
        exclusive_minimum: Numbers must be greater than this.
        min_items: The smallest allowed list length.
        max_items: The largest allowed list length.
        examples: Example values for the JSON Schema.
    """
    metadata = {
        "doc": doc,
        "minimum": minimum,
        "maximum": maximum,
        "exclusive_minimum": exclusive_minimum,
        "min_items": min_items,
        "max_items": max_items,
        "examples": examples,
    }
    if factory is not _MISSING:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def suggest(word: str, candidates: typing.Iterable[str]) -> str:
    """A ``; did you mean 'x'?`` suffix, or a list of valid choices."""
    options = sorted(candidates)
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    close = close or [o for o in options if word and o.startswith(word)][:1]
    if close:
        return f"did you mean {close[0]!r}?"
    if len(options) <= 12:
        return "expected one of: " + ", ".join(options)
    return "see `mlci config schema` for the allowed keys"


def describe(value: Any) -> str:
    """A short text for ``value`` in a message (long values are cut)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, int) and value.bit_length() > 200:
        return f"a number with {len(hex(value)) * 6 // 5} or so digits"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_optional(tp: Any) -> tuple[bool, Any]:
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) != len(get_args(tp)):
            return True, args[0] if len(args) == 1 else Union[tuple(args)]  # noqa: UP007
    return False, tp


def _is_number(tp: Any) -> bool:
    """Whether ``tp`` is ``int | float``: a number kept as written."""
    return get_origin(tp) in (Union, types.UnionType) and set(get_args(tp)) == {int, float}


def _range_text(meta: dict[str, Any]) -> str:
    lo, hi, xlo = meta.get("minimum"), meta.get("maximum"), meta.get("exclusive_minimum")
    if lo is not None and hi is not None:
        return f" between {lo:g} and {hi:g}"
    if xlo is not None:
        return f" greater than {xlo:g}"
    if lo is not None:
        return f" of at least {lo:g}"
    if hi is not None:
        return f" of at most {hi:g}"
    return ""


class _Loader:
    def __init__(self, marked: Marked):
        self.marked = marked
        self.issues: list[ConfigIssue] = []

    def fail(self, path: Path_, message: str, *, at_key: bool = False) -> None:
        self.issues.append(self.marked.issue(path, message, at_key=at_key))

    def convert(self, tp: Any, value: Any, path: Path_, meta: dict[str, Any]) -> Any:
        """``value`` as the type ``tp`` (`_MISSING` after recording why it is not one)."""
        if tp is Any:
            return value
        optional, inner = _is_optional(tp)
        if value is None:
            return None if optional else self._null(inner, path, meta)
        origin = get_origin(inner)
        if dataclasses.is_dataclass(inner):
            return self.dataclass(typing.cast(type, inner), value, path)
        if origin is Literal:
            return self._choice(get_args(inner), value, path)
        if origin is list:
            return self._list(get_args(inner)[0], value, path, meta)
        if origin is dict:
            return self._mapping(get_args(inner)[1], value, path)
        if inner is bool:
            if isinstance(value, bool):
                return value
            self.fail(path, f"expected true or false, got {describe(value)}")
            return _MISSING
        if inner in (int, float):
            return self._number(inner, value, path, meta)
        if _is_number(inner):
            return self._number(float, value, path, meta, keep=True)
        if inner is str:
            return self._text(value, path)
        raise TypeError(f"unsupported field type {tp!r}")  # pragma: no cover - a bug in a model

    def _null(self, tp: Any, path: Path_, meta: dict[str, Any]) -> Any:
        """A null where ``tp`` (not optional) belongs: the YAML word as a name, else a problem."""
        raw = self.marked.raw.get(path)
        if tp is str and raw and raw != "~":
            return raw  # `null` written where a name belongs: the name "null"
        self.fail(path, f"expected {_type_name(tp, meta)}, got null")
        return _MISSING

    def _choice(self, choices: tuple[Any, ...], value: Any, path: Path_) -> Any:
        """One of the ``Literal`` ``choices`` (the YAML word as written when it is one)."""
        if value in choices and type(value) is type(choices[0]):
            return value
        raw = self.marked.raw.get(path)
        if raw is not None and raw in choices:
            return raw  # YAML 1.1 read `off` as false; the field wants the word
        names = [str(c) for c in choices]
        hint = suggest(str(value), names) if isinstance(value, str) else ""
        if not hint.startswith("did you"):
            hint = "expected one of: " + ", ".join(names)
        got = describe(value)
        if raw is not None and isinstance(value, bool | None) and raw != got:
            got = f"{raw!r} (YAML reads it as {got})"
        self.fail(path, f"{got} is not allowed; {hint}")
        return _MISSING

    def _list(self, item_tp: Any, value: Any, path: Path_, meta: dict[str, Any]) -> Any:
        """A list of ``item_tp`` within the field's item bounds (bad items left out)."""
        if not isinstance(value, list):
            self.fail(path, f"expected a list, got {describe(value)}")
            return _MISSING
        min_items = meta.get("min_items")
        if min_items is not None and len(value) < min_items:
            self.fail(path, f"expected at least {min_items} item(s), got {len(value)}")
        max_items = meta.get("max_items")
        if max_items is not None and len(value) > max_items:
            self.fail(path, f"expected at most {max_items} item(s), got {len(value)}")
            return _MISSING
        items = [self.convert(item_tp, v, (*path, i), {}) for i, v in enumerate(value)]
        return [i for i in items if i is not _MISSING]

    def _mapping(self, item_tp: Any, value: Any, path: Path_) -> Any:
        """A mapping of names to ``item_tp`` (bad values left out)."""
        if not isinstance(value, dict):
            self.fail(path, f"expected a mapping, got {describe(value)}")
            return _MISSING
        out = {}
        for k, v in value.items():
            converted = self.convert(item_tp, v, (*path, k), {})
            if converted is not _MISSING:
                out[k] = converted
        return out

    def _number(
        self, tp: Any, value: Any, path: Path_, meta: dict[str, Any], *, keep: bool = False
    ) -> Any:
        """A whole number (``tp`` int) or a finite number (float) within the field's range.

        ``keep`` leaves a whole number whole (``int | float``) instead of making it a float.
        """
        noun = "a whole number" if tp is int else "a number"
        problem = _number_problem(tp, value)
        if problem:
            self.fail(path, f"expected {noun}{_range_text(meta)}, got {problem}")
            return _MISSING
        lo, hi, xlo = meta.get("minimum"), meta.get("maximum"), meta.get("exclusive_minimum")
        if (
            (lo is not None and value < lo)
            or (hi is not None and value > hi)
            or (xlo is not None and value <= xlo)
        ):
            self.fail(path, f"expected {noun}{_range_text(meta)}, got {describe(value)}")
            return _MISSING
        return float(value) if tp is float and not keep else value

    def _text(self, value: Any, path: Path_) -> Any:
        """A string (the YAML word as written when YAML 1.1 read it as something else)."""
        if isinstance(value, str):
            return value
        raw = self.marked.raw.get(path)
        if raw is not None:
            # YAML 1.1 read the word as a boolean or number (`off`, `yes`, `1e3`,
            # a version tag, a cron minute): the field wants the text as written.
            return raw
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        hint = "; quote the value to keep it as text" if self.marked.yaml else ""
        self.fail(path, f"expected a string, got {describe(value)}{hint}")
        return _MISSING

    def dataclass(self, cls: type, value: Any, path: Path_) -> Any:
        if not isinstance(value, dict):
            self.fail(path, f"expected a mapping, got {describe(value)}")
            return _MISSING
        hints = _hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
        kwargs: dict[str, Any] = {}
        removed: Mapping[str, str] = getattr(cls, "REMOVED_KEYS", {})
        for key in value:
            if key in removed:
                self.fail((*path, key), f"removed key; {removed[key]}", at_key=True)
            elif key not in fields and not getattr(cls, "OPEN_KEYS", False):
                self.fail((*path, key), f"unknown key; {suggest(str(key), fields)}", at_key=True)
        broken = False
        for name, f in fields.items():
            if name not in value:
                if f.default is _MISSING and f.default_factory is _MISSING:
                    self.fail(path, f"missing required key {name!r}")
                    broken = True
                continue
            converted = self.convert(hints[name], value[name], (*path, name), dict(f.metadata))
            if converted is _MISSING:
                broken = True
            else:
                kwargs[name] = converted
        if broken:
            return _MISSING
        return cls(**kwargs)


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    """The resolved field types of a dataclass (resolving them is slow; classes do not change)."""
    return typing.get_type_hints(cls)


def load_collect(cls: type[T], marked: Marked) -> tuple[T | None, list[ConfigIssue]]:
    """Validate ``marked.value`` against ``cls``; the object (None if invalid) and the issues."""
    loader = _Loader(marked)
    result = loader.dataclass(cls, marked.value, ())
    if loader.issues or result is _MISSING:
        return None, loader.issues
    return typing.cast(T, result), []


def load(cls: type[T], marked: Marked) -> T:
    """Validate ``marked.value`` against the dataclass ``cls`` and build it.

    Raises:
        ConfigError: listing every problem, each with its position.
    """
    result, issues = load_collect(cls, marked)
    if result is None:
        raise ConfigError(issues)
    return result


# Whole numbers must fit in 64 bits: larger ones are typos, and costs are bounded anyway.
_INT_LIMIT = 2**63


def _number_problem(tp: Any, value: Any) -> str | None:
    """Why ``value`` is not a usable number for a field of type ``tp`` (None: it is)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        digits = value.lstrip("+-").replace("_", "") if isinstance(value, str) else ""
        if digits.isdigit() and len(digits) >= len(str(_INT_LIMIT)):
            # the YAML reader keeps a number too long to be one as its text
            return f"a number with {len(digits)} digits, which is out of range"
        return describe(value)
    if tp is int and not isinstance(value, int):
        return describe(value)
    if isinstance(value, int) and abs(value) >= _INT_LIMIT:
        return f"a number with {len(str(abs(value)))} digits, which is out of range"
    if isinstance(value, float) and not math.isfinite(value):
        return describe(value)
    return None


def _type_name(tp: Any, meta: dict[str, Any]) -> str:
    origin = get_origin(tp)
    if dataclasses.is_dataclass(tp) or origin is dict:
        return "a mapping"
    if origin is list:
        return "a list"
    if origin is Literal:
        return "one of: " + ", ".join(str(a) for a in get_args(tp))
    if tp is bool:
        return "true or false"
    if tp is int:
        return "a whole number" + _range_text(meta)
    if tp is float or _is_number(tp):
        return "a number" + _range_text(meta)
    return "a string"


def json_schema(cls: type, *, title: str, schema_id: str | None = None) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) equivalent to `load` for ``cls``."""
    defs: dict[str, Any] = {}
    root = _schema_for(cls, {}, defs)
    out: dict[str, Any] = {"$schema": "https://json-schema.org/draft/2020-12/schema"}
    if schema_id:
        out["$id"] = schema_id
    out["title"] = title
    out.update(defs.pop(cls.__name__))
    del root
    out["$defs"] = dict(sorted(defs.items()))
    return out


def _schema_for(tp: Any, meta: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    if tp is Any:
        return {}
    optional, tp = _is_optional(tp)
    origin = get_origin(tp)
    out: dict[str, Any]
    if dataclasses.is_dataclass(tp):
        cls = typing.cast(type, tp)
        if cls.__name__ not in defs:
            defs[cls.__name__] = {}  # placeholder against recursion
            hints = typing.get_type_hints(cls)
            props: dict[str, Any] = {}
            required = []
            for f in dataclasses.fields(cls):
                if f.metadata.get("internal"):
                    continue
                sub = _schema_for(hints[f.name], dict(f.metadata), defs)
                if f.metadata.get("doc"):
                    sub = {"description": f.metadata["doc"], **sub}
                if f.default is not _MISSING and f.default is not None:
                    default = f.default
                    sub["default"] = default
                if f.metadata.get("examples"):
                    sub["examples"] = f.metadata["examples"]
                props[f.name] = sub
                if f.default is _MISSING and f.default_factory is _MISSING:
                    required.append(f.name)
            body: dict[str, Any] = {"type": "object"}
            if cls.__doc__:
                body["description"] = cls.__doc__.strip().splitlines()[0]
            body["properties"] = props
            if required:
                body["required"] = required
            body["additionalProperties"] = bool(getattr(cls, "OPEN_KEYS", False))
            defs[cls.__name__] = body
        out = {"$ref": f"#/$defs/{cls.__name__}"}
    elif origin is Literal:
        out = {"enum": list(get_args(tp))}
    elif origin is list:
        out = {"type": "array", "items": _schema_for(get_args(tp)[0], {}, defs)}
        if meta.get("min_items") is not None:
            out["minItems"] = meta["min_items"]
        if meta.get("max_items") is not None:
            out["maxItems"] = meta["max_items"]
    elif origin is dict:
        out = {"type": "object", "additionalProperties": _schema_for(get_args(tp)[1], {}, defs)}
    elif tp is bool:
        out = {"type": "boolean"}
    elif tp in (int, float) or _is_number(tp):
        out = {"type": "integer" if tp is int else "number"}
        for key, name in (
            ("minimum", "minimum"),
            ("maximum", "maximum"),
            ("exclusive_minimum", "exclusiveMinimum"),
        ):
            if meta.get(key) is not None:
                out[name] = meta[key]
    elif tp is str:
        out = {"type": "string"}
    else:  # pragma: no cover - a bug in a model
        raise TypeError(f"unsupported field type {tp!r}")
    if optional:
        out = {"anyOf": [out, {"type": "null"}]}
    return out
