"""The experiment history: every validated candidate, kept with the local registry.

Each ``validate-model`` run appends one entry (commit, branch and pull request,
parameters, metrics with their intervals, data fingerprints, model sha256, the
verdict, the time, and what reproduces it: train command, Python, and a hash of
the installed packages, whose list is kept once per hash) to
``<registry>/experiments.jsonl``. Appends take the registry's lock; the file is
bounded: beyond `MAX_ENTRIES` the oldest entries are folded into one summary line.
A blocked candidate leaves a trace as much as a blessed one, so a reviewer sees
that the same change was tried before.
"""

from __future__ import annotations

import functools
import hashlib
import platform
import re
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlci import jsonio
from mlci.errors import InputError, MlciError
from mlci.registry.local import locked
from mlci.results import to_jsonable

__all__ = [
    "EXPERIMENTS_FILE",
    "MAX_ENTRIES",
    "ExperimentLog",
    "best_first",
    "dump_lines",
    "environment",
    "find_entry",
    "fold",
    "make_entry",
    "packages_digest",
    "parse_lines",
    "recent",
    "recorded_environment",
]

EXPERIMENTS_FILE = "experiments.jsonl"
PACKAGES_DIR = "experiments-packages"
#: Entries kept one by one; older ones are folded into the summary line.
MAX_ENTRIES = 500
#: Package pins kept per list (one environment); a longer list is not kept.
MAX_PACKAGES = 5000
_PIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}==[A-Za-z0-9][A-Za-z0-9._+!-]{0,99}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_LOCK_FILES = ("poetry.lock", "uv.lock", "Pipfile.lock", "requirements.lock", "pdm.lock")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def installed_packages() -> list[str]:
    """``name==version`` of every installed distribution, sorted (what pip freeze lists)."""
    return list(_installed_packages())


@functools.cache
def _installed_packages() -> tuple[str, ...]:
    """The package list, read once per process (a process does not change its packages).

    Each distribution's metadata file is parsed once: ``Distribution.metadata`` parses it
    again on every access, and ``Distribution.version`` is one more access.
    """
    from importlib.metadata import distributions

    seen = {}
    for dist in distributions():
        meta = dist.metadata
        name = meta["Name"] if "Name" in meta else None
        if name:
            seen[name.lower()] = f"{name}=={meta['Version']}"
    return tuple(seen[k] for k in sorted(seen))


def environment(project_root: Path) -> tuple[dict[str, Any], list[str]]:
    """What the candidate was trained and validated with, and the package list.

    Returns:
        ``({"python", "platform", "packages_sha256", "lock_file"}, packages)``;
        ``lock_file`` is ``{"path", "sha256"}`` of the project's lock file, if any.
    """
    packages = installed_packages()
    digest = hashlib.sha256("\n".join(packages).encode()).hexdigest()
    lock = None
    for name in _LOCK_FILES:
        path = project_root / name
        if path.is_file():
            lock = {"path": name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
            break
    env = {
        "python": platform.python_version(),
        "platform": f"{sys.platform}-{platform.machine()}",
        "packages_sha256": digest,
        "lock_file": lock,
    }
    return env, packages


def recorded_environment(
    doc: Mapping[str, Any],
) -> tuple[dict[str, Any], list[str], str | None]:
    """The environment, package list and train command a ``model.json`` carries.

    validate-model records them under ``experiment`` so that the comment job, which
    runs none of the pull request's code, can write a fork's entry from the artifact.
    The artifact is untrusted: only well-formed values are kept, and a package list
    only when every line is a plain ``name==version`` pin (no pip options) and its
    hash is the one recorded.

    Returns:
        ``(environment, packages, train_command)``; empty when nothing usable was recorded.
    """
    exp = doc.get("experiment")
    if not isinstance(exp, Mapping):
        return {}, [], None
    raw = exp.get("environment")
    raw = raw if isinstance(raw, Mapping) else {}
    env: dict[str, Any] = {}
    for key in ("python", "platform"):
        value = raw.get(key)
        if isinstance(value, str) and 0 < len(value) <= 100:
            env[key] = value
    lock = raw.get("lock_file")
    if (
        isinstance(lock, Mapping)
        and isinstance(lock.get("path"), str)
        and 0 < len(lock["path"]) <= 200
        and isinstance(lock.get("sha256"), str)
        and _SHA256.fullmatch(lock["sha256"])
    ):
        env["lock_file"] = {"path": lock["path"], "sha256": lock["sha256"]}
    packages = exp.get("packages")
    pins = (
        list(packages)
        if isinstance(packages, list)
        and len(packages) <= MAX_PACKAGES
        and all(isinstance(p, str) and _PIN.fullmatch(p) for p in packages)
        else []
    )
    digest = hashlib.sha256("\n".join(pins).encode()).hexdigest() if pins else None
    if pins and raw.get("packages_sha256") == digest:
        env["packages_sha256"] = digest
    else:
        pins = []
    command = exp.get("train_command")
    train = command if isinstance(command, str) and 0 < len(command) <= 1000 else None
    return env, pins, train


def make_entry(
    doc: Mapping[str, Any],
    *,
    branch: str | None,
    pr: int | None,
    train_command: str | None,
    env: Mapping[str, Any],
) -> dict[str, Any]:
    """One history entry from a ``model.json`` document."""
    blessing = doc.get("blessing") or {}
    prov = doc.get("provenance") or {}
    model_hash = str(blessing.get("candidate_hash") or "")
    created = str(prov.get("created") or _now())
    params = doc.get("params") if isinstance(doc.get("params"), Mapping) else {}
    # What makes two runs the same experiment: appending one twice (the PR job and the
    # comment job) keeps one entry, two runs in the same second stay two. Not the commit:
    # the PR job sees the merge commit, the comment job the pull request's head commit.
    same = jsonio.dumps(
        to_jsonable([created, model_hash, pr, blessing.get("baseline_hash"), params]),
        indent=None,
        sort_keys=True,
    )
    ident = hashlib.sha256(same.encode()).hexdigest()
    deltas = doc.get("deltas") or {}
    intervals = {
        name: [d.get("ci_low"), d.get("ci_high")]
        for name, d in deltas.items()
        if isinstance(d, Mapping) and d.get("ci_low") is not None
    }
    gated = [g.get("metric") for g in doc.get("gates") or [] if isinstance(g, Mapping)]
    return {
        "id": ident[:10],
        "created": created,
        "git_sha": prov.get("git_sha"),
        "branch": branch,
        "pr": pr,
        "verdict": "blessed" if blessing.get("blessed") is True else "blocked",
        "reason": blessing.get("reason"),
        "params": dict((params or {}).get("candidate") or {}),
        "metrics": dict(doc.get("metrics") or {}),
        "intervals": intervals,
        "gated": [g for g in dict.fromkeys(gated) if g in (doc.get("metrics") or {})],
        "data": {
            role: (v or {}).get("fingerprint") if isinstance(v, Mapping) else None
            for role, v in (prov.get("data") or {}).items()
        },
        "model_sha256": model_hash,
        "baseline_sha256": blessing.get("baseline_hash"),
        "train_command": train_command,
        "environment": dict(env),
    }


def fold(
    summary: Mapping[str, Any] | None,
    entries: Sequence[Mapping[str, Any]],
    entry: Mapping[str, Any],
) -> tuple[dict[str, Any] | None, list[Mapping[str, Any]]]:
    """The history after appending ``entry``: the oldest beyond `MAX_ENTRIES` folded.

    Args:
        summary: The summary line of entries folded so far, if any.
        entries: The entries kept one by one, oldest first.
        entry: The new entry.

    Returns:
        ``(summary, entries)`` with ``entry`` last and at most `MAX_ENTRIES` entries.
    """
    every = [*entries, entry]
    if len(every) <= MAX_ENTRIES:
        return (dict(summary) if summary else None), every
    old = summary or {"kind": "summary", "folded": 0, "blessed": 0}
    drop = every[: len(every) - MAX_ENTRIES]
    folded = {
        "kind": "summary",
        "folded": int(old.get("folded", 0)) + len(drop),
        "blessed": int(old.get("blessed", 0))
        + sum(1 for e in drop if e.get("verdict") == "blessed"),
        "until": drop[-1].get("created"),
    }
    return folded, every[len(drop) :]


def packages_digest(entry: Mapping[str, Any]) -> str | None:
    """The hash of the package list ``entry``'s environment names, if it names one."""
    digest = (entry.get("environment") or {}).get("packages_sha256")
    return digest if isinstance(digest, str) else None


def find_entry(
    entries: Sequence[Mapping[str, Any]], ident: str, where: str, list_hint: str
) -> dict[str, Any]:
    """The one entry whose id starts with ``ident``.

    Args:
        entries: The history's entries.
        ident: An experiment id or a prefix of one.
        where: The history's place, for the message.
        list_hint: The command that lists the history.

    Raises:
        InputError: when none or several match.
    """
    hits = [e for e in entries if str(e.get("id", "")).startswith(ident)]
    if len(hits) != 1:
        what = "no experiment" if not hits else f"{len(hits)} experiments"
        raise InputError(f"{where}: {what} with id {ident!r}; list them with {list_hint}")
    return dict(hits[0])


def dump_lines(summary: Mapping[str, Any] | None, entries: Sequence[Mapping[str, Any]]) -> str:
    """The history as JSON lines: the summary line first (if any), then the entries."""
    items = ([summary] if summary else []) + list(entries)
    return "".join(jsonio.dumps(to_jsonable(dict(i)), indent=None) + "\n" for i in items)


def parse_lines(text: str, where: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """``(summary, entries)`` from the history's JSON lines.

    Raises:
        InputError: when a line is not JSON.
    """
    summary = None
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = jsonio.loads(line, source=f"{where}:{number}")
        except MlciError:
            raise InputError(
                f"{where}:{number}: not a JSON line; the experiment history is"
                " damaged: remove the line"
            ) from None
        if isinstance(entry, dict) and entry.get("kind") == "summary":
            summary = entry
        elif isinstance(entry, dict):
            out.append(entry)
    return summary, out


class ExperimentLog:
    """The history file of one local registry.

    Args:
        root: The registry directory.
    """

    def __init__(self, root: Path):
        self.root = root
        self.path = root / EXPERIMENTS_FILE

    def _read(self) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        if not self.path.is_file():
            return None, []
        return parse_lines(self.path.read_text(encoding="utf-8"), str(self.path))

    def entries(self) -> list[dict[str, Any]]:
        """Every entry, oldest first (the summary line of folded entries excluded)."""
        return self._read()[1]

    def summary(self) -> dict[str, Any] | None:
        """The line that counts folded (oldest) entries, if any were folded."""
        try:
            return self._read()[0]
        except InputError:
            return None

    def append(self, entry: Mapping[str, Any], packages: Sequence[str] = ()) -> None:
        """Add ``entry`` (and its package list, once per hash); fold the oldest beyond the cap."""
        with locked(self.root / ".lock"):
            digest = packages_digest(entry)
            if digest and packages:
                folder = self.root / PACKAGES_DIR
                folder.mkdir(parents=True, exist_ok=True)
                target = folder / f"{digest}.txt"
                if not target.exists():
                    target.write_text("\n".join(packages) + "\n", encoding="utf-8")
            line = jsonio.dumps(to_jsonable(dict(entry)), indent=None)
            entries = self.entries()
            if len(entries) < MAX_ENTRIES:
                with self.path.open("a", encoding="utf-8") as fh:
                    fh.write(line + "\n")
                return
            summary, keep = fold(self.summary(), entries, entry)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(dump_lines(summary, keep), encoding="utf-8")
            tmp.replace(self.path)

    def packages(self, digest: str) -> list[str] | None:
        """The package list recorded under ``digest``, if kept."""
        path = self.root / PACKAGES_DIR / f"{digest}.txt"
        if not path.is_file() or not all(c in "0123456789abcdef" for c in digest):
            return None
        return path.read_text(encoding="utf-8").splitlines()

    def find(self, ident: str) -> dict[str, Any]:
        """The entry whose id starts with ``ident``.

        Raises:
            InputError: when none or several match.
        """
        return find_entry(self.entries(), ident, str(self.path), "`mlci experiments`")


def recent(entries: Sequence[Mapping[str, Any]], count: int = 5) -> list[dict[str, Any]]:
    """The last ``count`` entries, newest first, as the report's "Recent experiments" rows."""
    out = []
    for e in reversed(entries[-count:] if count > 0 else []):
        gated = [m for m in e.get("gated") or [] if isinstance(m, str)]
        metric = gated[0] if gated else None
        out.append(
            {
                "id": e.get("id"),
                "created": e.get("created"),
                "pr": e.get("pr"),
                "branch": e.get("branch"),
                "git_sha": e.get("git_sha"),
                "verdict": e.get("verdict"),
                "metric": metric,
                "value": (e.get("metrics") or {}).get(metric) if metric else None,
            }
        )
    return out


def best_first(
    entries: Sequence[Mapping[str, Any]], higher_is_better: Mapping[str, bool]
) -> tuple[str | None, list[Mapping[str, Any]]]:
    """Entries sorted by the first gated metric (best first), and that metric's name."""
    metric = next(
        (m for e in reversed(entries) for m in e.get("gated") or [] if m in higher_is_better),
        None,
    )
    if metric is None:
        return None, list(reversed(entries))
    sign = -1.0 if higher_is_better[metric] else 1.0

    def key(e: Mapping[str, Any]) -> tuple[int, float]:
        value = (e.get("metrics") or {}).get(metric)
        if not isinstance(value, int | float):
            return (1, 0.0)
        return (0, sign * float(value))

    return metric, sorted(entries, key=key)
