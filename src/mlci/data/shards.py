"""Partial results of one shard of a folder of Parquet parts, and reading them back.

`validate-data --shard I/N` checks a contiguous run of the sorted parts and writes
``shard-I-of-N/``: ``state.json`` (the checker's counters, capped samples and the
columns of each chunk it read), ``hashes.npz`` (the row and key hashes the duplicate
checks need, 8 bytes a row) and, with drift, ``profile.json``. The merge step folds
the shards in order into one checker, so its findings are those of one machine.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlci.errors import InputError

if TYPE_CHECKING:
    import numpy as np

    from mlci.data.checks import Checker
    from mlci.data.profile import Profile

__all__ = ["read_shards", "shard_profiles", "write_shard"]

STATE_VERSION = 1
_FIX = "rerun the shard jobs of this workflow run (their artifacts must come from one run)"


def write_shard(
    directory: Path, shard: tuple[int, int], checker: Checker, profile: Profile | None
) -> None:
    """Write a shard's partial state (and profile, when drift is on) to ``directory``."""
    import numpy as np

    from mlci import jsonio
    from mlci.data.profile import write_profile

    doc, arrays = checker.state()
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / "hashes.npz").open("wb") as fh:
        np.savez(fh, allow_pickle=False, **arrays)
    if profile is not None:
        write_profile(profile, directory / "profile.json")
    jsonio.write_json(
        directory / "state.json",
        {"version": STATE_VERSION, "index": shard[0], "count": shard[1], **doc},
        indent=None,
    )


def _shard_dirs(paths: list[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if (path / "state.json").is_file():
            found.append(path)
        elif path.is_dir():
            found += sorted(
                (p.parent for p in path.rglob("shard-*-of-*/state.json")),
                key=lambda d: int(d.name.split("-")[1]) if d.name.split("-")[1].isdigit() else 0,
            )
        else:
            raise InputError(f"{path}: no such folder of shard results; {_FIX}")
    return found


def read_shards(
    paths: list[Path], *, keys: list[str]
) -> tuple[int, list[tuple[dict[str, Any], Mapping[str, np.ndarray]]]]:
    """The shards' states in shard order, after checking that every shard is there once.

    Args:
        paths: Shard folders, or folders holding them (as downloaded artifacts are).
        keys: The key columns the merging checker tracks (the shards must agree).

    Returns:
        The number of shards and each shard's ``(state, hashes)``.

    Raises:
        InputError: when a shard is missing, repeated or from another split, or a
            state file is damaged.
    """
    import numpy as np

    from mlci import jsonio

    dirs = _shard_dirs(paths)
    if not dirs:
        raise InputError(f"{', '.join(map(str, paths))}: no shard results found; {_FIX}")
    by_index: dict[int, tuple[dict[str, Any], Mapping[str, np.ndarray]]] = {}
    counts: set[int] = set()
    for d in dirs:
        doc = jsonio.read_json(d / "state.json", what="shard state", fix=_FIX)
        if (
            not isinstance(doc, dict)
            or doc.get("version") != STATE_VERSION
            or not isinstance(doc.get("index"), int)
            or not isinstance(doc.get("count"), int)
            or not isinstance(doc.get("chunks"), list)
            or not isinstance(doc.get("columns"), dict)
            or not isinstance(doc.get("rows"), int)
        ):
            raise InputError(f"{d / 'state.json'}: not a shard state of this mlci version; {_FIX}")
        if doc.get("keys") != keys:
            raise InputError(
                f"{d / 'state.json'}: the shard tracked keys {doc.get('keys')} but the schema"
                f" and config give {keys}; {_FIX}"
            )
        if doc["index"] in by_index:
            raise InputError(f"{d}: shard {doc['index']} appears twice; {_FIX}")
        try:
            with np.load(d / "hashes.npz", allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
        except (OSError, ValueError) as exc:
            raise InputError(f"{d / 'hashes.npz'}: unreadable ({exc}); {_FIX}") from None
        counts.add(doc["count"])
        by_index[doc["index"]] = (doc, arrays)
    if len(counts) != 1:
        raise InputError(f"shard results of different splits ({sorted(counts)} shards); {_FIX}")
    count = counts.pop()
    missing = [i for i in range(1, count + 1) if i not in by_index]
    if missing or len(by_index) != count:
        raise InputError(
            f"shard(s) {', '.join(map(str, missing)) or '?'} of {count} missing from"
            f" {', '.join(map(str, paths))}; {_FIX}"
        )
    return count, [by_index[i] for i in range(1, count + 1)]


def shard_profiles(paths: list[Path]) -> list[Path]:
    """The profiles the shards wrote, in shard order (for the merged current profile)."""
    files = [d / "profile.json" for d in _shard_dirs(paths)]
    missing = [f for f in files if not f.is_file()]
    if missing:
        raise InputError(f"{missing[0]}: shard profile missing (drift needs one); {_FIX}")
    return files
