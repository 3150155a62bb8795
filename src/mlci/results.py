"""The results documents: the seam between validation steps, reports and later jobs.

Each step writes one strict-JSON document (``mlci-results/data.json``,
``model.json``, ...) with a ``schema_version``, findings, a payload of its own and
provenance. `mlci report` renders from these files alone, which lets the
unprivileged PR job hand its results to the privileged comment job as an
artifact. Documents read back are untrusted: `read_results` validates them
against `RESULTS_SCHEMA` before anything uses them.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
import math
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from mlci import __version__
from mlci.errors import InputError

__all__ = [
    "DEFAULT_RESULTS_DIR",
    "MAX_SAMPLES",
    "RESULTS_SCHEMA",
    "SCHEMA_VERSION",
    "Finding",
    "Kind",
    "Severity",
    "file_fingerprint",
    "git_output",
    "git_sha",
    "has_errors",
    "make_document",
    "read_results",
    "to_jsonable",
    "write_results",
]

SCHEMA_VERSION = 1
DEFAULT_RESULTS_DIR = "mlci-results"
MAX_SAMPLES = 20

Severity = Literal["error", "warning", "info"]
Kind = Literal["data", "model", "deploy", "retrain", "monitor"]
SEVERITY_ORDER: dict[str, int] = {"error": 0, "warning": 1, "info": 2}


@dataclass
class Finding:
    """One problem (or notable fact) found by a check.

    Attributes:
        check: The stable code, e.g. ``out_of_range`` or ``gate_failed``.
        severity: ``error`` fails the step; ``warning`` and ``info`` are reported.
        message: One sentence a reviewer can act on.
        column: The data column concerned, if any.
        metric: The metric concerned, if any.
        observed: What was seen (a number, a list, a short string).
        expected: What the schema or gate expected.
        count: How many rows (or items) are affected.
        fraction: ``count`` as a share of the rows checked.
        samples: At most `MAX_SAMPLES` offending values as ``{"row": n, "value": v}``.
        file: The file behind the finding, for an annotation.
        line: The 1-based line in ``file``.
    """

    check: str
    severity: Severity
    message: str
    column: str | None = None
    metric: str | None = None
    observed: Any = None
    expected: Any = None
    count: int | None = None
    fraction: float | None = None
    samples: list[dict[str, Any]] = field(default_factory=list)
    file: str | None = None
    line: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The finding as strict-JSON-ready data (samples capped)."""
        out = to_jsonable(dataclasses.asdict(self))
        out["samples"] = out["samples"][:MAX_SAMPLES]
        return {k: v for k, v in out.items() if v is not None and v != []} | {
            "check": self.check,
            "severity": self.severity,
            "message": self.message,
        }


def has_errors(findings: Iterable[Finding]) -> bool:
    """Whether any finding has severity ``error``."""
    return any(f.severity == "error" for f in findings)


def to_jsonable(value: Any) -> Any:
    """Convert ``value`` to strict JSON data.

    NaN and infinities become None (JSON has no literal for them), numpy scalars
    and arrays become Python numbers and lists, paths and dates become strings.
    """
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(dataclasses.asdict(value))
    if isinstance(value, Path):
        return value.as_posix()
    if isinstance(value, _dt.datetime | _dt.date):
        return value.isoformat()
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item) and getattr(value, "ndim", 1) == 0:
        return to_jsonable(item())
    tolist = getattr(value, "tolist", None)  # numpy arrays
    if callable(tolist):
        return to_jsonable(tolist())
    return str(value)


def git_output(*args: str, cwd: Path | None = None) -> str | None:
    """The stripped output of ``git ARGS`` in ``cwd``, or None when git fails or is missing."""
    try:
        out = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return (out.stdout.strip() or None) if out.returncode == 0 else None


def git_sha(cwd: Path | None = None) -> str | None:
    """The commit being validated: ``GITHUB_SHA`` on Actions, else ``git rev-parse HEAD``."""
    from mlci.github.runtime import Runtime

    runtime = Runtime()
    return (
        runtime.get("MLCI_GIT_SHA")
        or runtime.get("GITHUB_SHA")
        or git_output("rev-parse", "HEAD", cwd=cwd)
    )


def file_fingerprint(path: Path) -> str:
    """``sha256:<hex>`` of a file (or of every file below a directory, in order)."""
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        if path.is_dir():
            digest.update(f.relative_to(path).as_posix().encode())
        with f.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return "sha256:" + digest.hexdigest()


def _run_url() -> str | None:
    from mlci.github.runtime import Runtime

    runtime = Runtime()
    server = runtime.get("GITHUB_SERVER_URL")
    repo = runtime.get("GITHUB_REPOSITORY")
    run = runtime.get("GITHUB_RUN_ID")
    if server and repo and run:
        return f"{server}/{repo}/actions/runs/{run}"
    return None


def make_document(
    kind: Kind,
    *,
    passed: bool,
    findings: Iterable[Finding] = (),
    payload: Mapping[str, Any] | None = None,
    provenance: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A results document with the common envelope filled in.

    Args:
        kind: Which step wrote it.
        passed: Whether the step passed (no error-severity finding, gates passed).
        findings: The findings, most severe first once written.
        payload: The step's own data (metrics, drift, blessing ...).
        provenance: Extra provenance (data fingerprints, model hashes); git SHA,
            run URL, mlci version and time are added here.
    """
    ordered = sorted(findings, key=lambda f: SEVERITY_ORDER.get(f.severity, 9))
    prov: dict[str, Any] = {
        "git_sha": git_sha(),
        "run_url": _run_url(),
        "mlci_version": __version__,
        "created": _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat(),
    }
    prov.update(provenance or {})
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": kind,
        "passed": passed,
        "findings": [f.to_dict() for f in ordered],
        **to_jsonable(dict(payload or {})),
        "provenance": to_jsonable(prov),
    }


def write_results(directory: Path, document: Mapping[str, Any]) -> Path:
    """Write ``document`` as ``<directory>/<kind>.json`` (strict JSON, atomically)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{document['kind']}.json"
    text = json.dumps(to_jsonable(document), indent=2, allow_nan=False, ensure_ascii=False)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(text + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


_FINDING_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["check", "severity", "message"],
    "properties": {
        "check": {"type": "string", "maxLength": 200},
        "severity": {"enum": ["error", "warning", "info"]},
        "message": {"type": "string"},
        "column": {"type": ["string", "null"]},
        "metric": {"type": ["string", "null"]},
        "count": {"type": ["integer", "null"]},
        "fraction": {"type": ["number", "null"]},
        "samples": {"type": "array", "maxItems": MAX_SAMPLES, "items": {"type": "object"}},
        "file": {"type": ["string", "null"]},
        "line": {"type": ["integer", "null"]},
    },
}

RESULTS_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "mlci results document",
    "type": "object",
    "required": ["schema_version", "kind", "passed", "findings", "provenance"],
    "properties": {
        "schema_version": {"const": SCHEMA_VERSION},
        "kind": {"enum": ["data", "model", "deploy", "retrain", "monitor"]},
        "passed": {"type": "boolean"},
        "findings": {"type": "array", "items": _FINDING_SCHEMA},
        "provenance": {
            "type": "object",
            "properties": {
                "git_sha": {"type": ["string", "null"]},
                "run_url": {"type": ["string", "null"]},
                "mlci_version": {"type": "string"},
                "created": {"type": "string"},
            },
        },
    },
}


def _check(value: Any, schema: Mapping[str, Any], where: str) -> list[str]:
    """A small validator for `RESULTS_SCHEMA` (no jsonschema dependency at run time)."""
    errors: list[str] = []
    if "const" in schema and value != schema["const"]:
        return [f"{where}: expected {schema['const']!r}, got {value!r}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{where}: expected one of {schema['enum']}, got {value!r}"]
    types = schema.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else list(types)
        checks = {
            "object": lambda v: isinstance(v, dict),
            "array": lambda v: isinstance(v, list),
            "string": lambda v: isinstance(v, str),
            "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
            "boolean": lambda v: isinstance(v, bool),
            "null": lambda v: v is None,
        }
        if not any(checks[n](value) for n in names):
            return [f"{where}: expected {' or '.join(names)}, got {type(value).__name__}"]
    if isinstance(value, str) and len(value) > schema.get("maxLength", math.inf):
        errors.append(f"{where}: longer than {schema['maxLength']} characters")
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                errors.append(f"{where}: missing {key!r}")
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                errors.extend(_check(value[key], sub, f"{where}.{key}"))
    if isinstance(value, list):
        if len(value) > schema.get("maxItems", math.inf):
            errors.append(f"{where}: more than {schema['maxItems']} items")
        if "items" in schema:
            for i, item in enumerate(value):
                errors.extend(_check(item, schema["items"], f"{where}[{i}]"))
    return errors


def read_results(path: Path, *, max_bytes: int = 50 * 1024 * 1024) -> dict[str, Any]:
    """Read and validate one results document (which may come from an untrusted artifact).

    Raises:
        InputError: when the file is missing, too large, not strict JSON, or does
            not match `RESULTS_SCHEMA`.
    """
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise InputError(
            f"{path}: results file not found; run `mlci validate-data` or"
            " `mlci validate-model` first, or pass --results DIR"
        ) from None
    if size > max_bytes:
        raise InputError(f"{path}: results file is {size} bytes, over the {max_bytes} limit")

    def _no_constants(name: str) -> Any:
        raise ValueError(f"{name} is not valid JSON")

    try:
        data = json.loads(path.read_text(encoding="utf-8"), parse_constant=_no_constants)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(
            f"{path}: not a valid results document ({exc}); re-run the step that wrote it"
        ) from None
    errors = _check(data, RESULTS_SCHEMA, path.name)
    if errors:
        raise InputError(
            f"{path}: not a valid results document: "
            + "; ".join(errors[:5])
            + "; re-run the step that wrote it with this mlci version"
        )
    return dict(data)
