"""The project's parameter files (``model.params``): read, flatten, compare.

Parameter files are JSON, YAML or TOML (by extension). Nested keys are flattened
with dots (``train.lr``), lists keep their index (``layers.0``); with several
files each key starts with the file's name (``params.yaml:train.lr``) so keys of
different files never collide. `params_diff` lists what changed between the
production model's parameters and the candidate's, hiding unchanged keys.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mlci.errors import ConfigError, InputError

__all__ = ["MAX_PARAMS", "flatten", "params_diff", "read_params"]

#: Flattened keys kept per run (a parameter file is not a data set).
MAX_PARAMS = 2000
_SCALAR = (str, int, float, bool, type(None))


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """``{"train": {"lr": 0.1}}`` as ``{"train.lr": 0.1}``; scalars stay as they are."""
    out: dict[str, Any] = {}
    if isinstance(value, Mapping):
        if not value and prefix:
            out[prefix] = {}
        for key, sub in value.items():
            out.update(flatten(sub, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(value, list | tuple):
        if not value and prefix:
            out[prefix] = []
        for i, sub in enumerate(value):
            out.update(flatten(sub, f"{prefix}.{i}" if prefix else str(i)))
    elif isinstance(value, float) and not math.isfinite(value):
        out[prefix] = str(value)  # results are strict JSON: no NaN or Infinity literals
    elif isinstance(value, _SCALAR):
        out[prefix] = value
    else:  # dates and times from YAML or TOML
        out[prefix] = str(value)
    return out


def _load(path: Path) -> Any:
    suffix = path.suffix.lower()
    if suffix == ".json":
        from mlci.jsonio import read_json

        return read_json(path, what="parameter file")
    if suffix in (".yaml", ".yml"):
        from mlci.yamlio import load_file

        try:
            return load_file(path, what="parameter file").value
        except ConfigError as exc:
            raise InputError(f"model.params: {exc}") from None
    if suffix == ".toml":
        import tomllib

        try:
            with path.open("rb") as fh:
                return tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"{path}: not valid TOML ({exc}); fix the parameter file") from None
    raise InputError(
        f"{path}: unknown parameter file type {suffix or '(no extension)'!r}; model.params"
        " takes .json, .yaml, .yml or .toml files"
    )


def read_params(paths: Sequence[Path], names: Sequence[str] | None = None) -> dict[str, Any]:
    """The flattened parameters of ``paths``.

    Args:
        paths: The parameter files, in the order of ``model.params``.
        names: How each file is named in keys when there are several (default: the
            file name).

    Raises:
        InputError: for a missing or invalid file.
    """
    out: dict[str, Any] = {}
    for i, path in enumerate(paths):
        if not path.is_file():
            raise InputError(
                f"{path}: parameter file not found; fix model.params in mlci.yaml or create it"
            )
        flat = flatten(_load(path))
        if len(paths) > 1:
            name = names[i] if names is not None else path.name
            flat = {f"{name}:{k}": v for k, v in flat.items()}
        out.update(flat)
        if len(out) > MAX_PARAMS:
            raise InputError(
                f"{path}: more than {MAX_PARAMS} parameters; model.params should name the"
                " parameter files of training, not data"
            )
    return out


def params_diff(
    candidate: Mapping[str, Any], baseline: Mapping[str, Any] | None
) -> list[dict[str, Any]]:
    """The parameters that differ: ``[{"key", "production", "candidate", "change"}]``.

    ``change`` is ``changed``, ``added`` (only the candidate has it) or ``removed``.
    Without baseline parameters every candidate key is listed as ``added``.
    """
    base = baseline or {}
    out = []
    for key in list(candidate) + [k for k in base if k not in candidate]:
        if key in candidate and key in base:
            if candidate[key] == base[key] and type(candidate[key]) is type(base[key]):
                continue
            change = "changed"
        else:
            change = "added" if key in candidate else "removed"
        out.append(
            {
                "key": key,
                "production": base.get(key),
                "candidate": candidate.get(key),
                "change": change,
            }
        )
    return out
