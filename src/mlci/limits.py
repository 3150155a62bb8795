"""The bounds mlci puts on what it reads, and the one way to read an input file.

Every file mlci parses (``mlci.yaml``, schema files, results documents, profiles,
registry metadata, event payloads) goes through `read_bounded`: only regular files
are opened (a FIFO would hang, a device such as ``/dev/zero`` never ends), and a
file over its size limit is refused before it is read whole. Limits a user may
need to raise are read from environment variables (see the README's "Limits").
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from mlci.errors import InputError

__all__ = [
    "EVENT_MAX_BYTES",
    "JSON_MAX_BYTES",
    "JSON_MAX_DEPTH",
    "JSON_MAX_INT_DIGITS",
    "JSONL_MAX_LINE_BYTES",
    "LIMITS",
    "SKOPS_MAX_BYTES",
    "SKOPS_MAX_DEPTH",
    "SKOPS_MAX_ENTRIES",
    "YAML_MAX_ALIASES",
    "YAML_MAX_ALIAS_NODES",
    "YAML_MAX_BYTES",
    "YAML_MAX_DEPTH",
    "Limit",
    "read_bounded",
]


@dataclass(frozen=True)
class Limit:
    """A bound with a default, optionally raised through an environment variable.

    Attributes:
        default: The value when the environment does not set one.
        what: What the bound applies to, for the README and messages.
        env: The environment variable that overrides it (None: fixed).
    """

    default: int
    what: str
    env: str | None = None

    @property
    def value(self) -> int:
        """The bound in force (read at each use, so a test or a job can set it)."""
        if self.env is None:
            return self.default
        raw = os.environ.get(self.env, "").strip()
        if not raw:
            return self.default
        if not raw.isdigit() or len(raw) > 15 or int(raw) < 1:
            raise InputError(
                f"{self.env}={raw[:40]!r}: expected a whole number of at least 1;"
                f" unset it to use the default {self.default}"
            )
        return int(raw)

    def hint(self) -> str:
        """How to raise the bound, for the end of an error message."""
        if self.env is None:
            return "this limit is fixed"
        return f"set {self.env} to raise the limit (now {self.value})"


MiB = 1024 * 1024

YAML_MAX_BYTES = Limit(
    4 * MiB, "size of a YAML file (mlci.yaml, schema files)", "MLCI_MAX_YAML_BYTES"
)
YAML_MAX_DEPTH = Limit(64, "nesting depth of a YAML document")
YAML_MAX_ALIASES = Limit(1000, "aliases (*name) in a YAML document")
YAML_MAX_ALIAS_NODES = Limit(100_000, "values added to a YAML document by expanding its aliases")
JSON_MAX_BYTES = Limit(
    32 * MiB,
    "size of a JSON file (results, profiles, registry metadata, event payloads)",
    "MLCI_MAX_JSON_BYTES",
)
JSON_MAX_DEPTH = Limit(64, "nesting depth of a JSON document")
JSON_MAX_INT_DIGITS = Limit(20, "digits of a whole number in a JSON document")
# GitHub caps webhook payloads at 25 MB and delivers none beyond (docs: "Webhook events
# and payloads", payload cap), so a larger event file is not GitHub's.
EVENT_MAX_BYTES = Limit(25 * MiB, "size of the event payload (GITHUB_EVENT_PATH)")
JSONL_MAX_LINE_BYTES = Limit(
    4 * MiB, "size of one line (record) of a JSON Lines data file", "MLCI_MAX_JSONL_LINE_BYTES"
)
# skops reads its archive itself (each entry whole, the schema without a depth bound):
# mlci checks these before handing a file over.
SKOPS_MAX_BYTES = Limit(
    4 * 1024 * MiB,
    "uncompressed size of a skops model file (every entry of the archive)",
    "MLCI_MAX_SKOPS_BYTES",
)
SKOPS_MAX_ENTRIES = Limit(1_000_000, "entries in a skops model file's archive")
SKOPS_MAX_DEPTH = Limit(200, "nesting depth of a skops model file's schema.json")

LIMITS: dict[str, Limit] = {
    "yaml_max_bytes": YAML_MAX_BYTES,
    "yaml_max_depth": YAML_MAX_DEPTH,
    "yaml_max_aliases": YAML_MAX_ALIASES,
    "yaml_max_alias_nodes": YAML_MAX_ALIAS_NODES,
    "json_max_bytes": JSON_MAX_BYTES,
    "json_max_depth": JSON_MAX_DEPTH,
    "json_max_int_digits": JSON_MAX_INT_DIGITS,
    "event_max_bytes": EVENT_MAX_BYTES,
    "jsonl_max_line_bytes": JSONL_MAX_LINE_BYTES,
    "skops_max_bytes": SKOPS_MAX_BYTES,
    "skops_max_entries": SKOPS_MAX_ENTRIES,
    "skops_max_depth": SKOPS_MAX_DEPTH,
}


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_bounded(path: Path, limit: Limit, *, what: str = "file") -> bytes:
    """The bytes of the regular file ``path``, refusing anything else or anything too large.

    Args:
        path: The file (a symbolic link is followed and judged by its target).
        limit: The size limit in bytes.
        what: What the file is, for messages (``config file``, ``results document``).

    Raises:
        InputError: when the file is missing, not a regular file, unreadable or too large.
    """
    try:
        info = path.stat()
    except FileNotFoundError:
        raise InputError(f"{path}: {what} not found; check the path") from None
    except OSError as exc:
        raise InputError(
            f"{path}: {what} cannot be read ({exc.strerror}); check the path"
        ) from None
    if not stat.S_ISREG(info.st_mode):
        kind = _kind(info.st_mode)
        fix = "pass the file itself" if kind == "a directory" else "pass a regular file"
        raise InputError(f"{path}: {what} is {kind}, mlci reads only regular files; {fix}")
    cap = limit.value
    if info.st_size > cap:
        raise InputError(
            f"{path}: {what} is {info.st_size} bytes, over the limit of {cap}; {limit.hint()}"
        )
    try:
        # O_NONBLOCK: should the file have been swapped for a FIFO since stat, open returns.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as fh:
            data = fh.read(cap + 1)
    except OSError as exc:
        raise InputError(
            f"{path}: {what} cannot be read ({exc.strerror}); check the path"
        ) from None
    if len(data) > cap:
        raise InputError(f"{path}: {what} is over the limit of {cap} bytes; {limit.hint()}")
    return data
