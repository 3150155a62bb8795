"""The results documents: the seam between validation steps, reports and later jobs.

Each step writes one strict-JSON document (``mlci-results/data.json``,
``model.json``, ...) with a ``schema_version``, findings, a payload of its own and
provenance. `mlci report` renders from these files alone, which lets the
unprivileged PR job hand its results to the privileged comment job as an
artifact.

Each kind has its typed structure here (`DataResults`, `ModelResults`,
`DeployResults`, `RetrainResults`, `MonitorResults`), the one source of its JSON
Schema (shipped as ``docs/results/<kind>.schema.json``, kept current by a test).
Documents read back are untrusted: `read_results` reads them with the strict,
bounded reader and validates them against their structure before anything uses
them; a document that does not fit is refused (`RefusedDocument`, exit 2) naming
the file and the field. The known fields are typed; fields a newer writer adds
are allowed (``OPEN_KEYS``) and left unread.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from mlci import __version__, jsonio
from mlci.errors import ConfigError, InputError
from mlci.provenance import git_sha
from mlci.typedload import spec

__all__ = [
    "DEFAULT_RESULTS_DIR",
    "DOCUMENT_TYPES",
    "MAX_SAMPLES",
    "SCHEMA_VERSION",
    "DataResults",
    "DeployResults",
    "Finding",
    "Kind",
    "ModelResults",
    "MonitorResults",
    "ProjectTestsResults",
    "RefusedDocument",
    "RetrainResults",
    "Severity",
    "read_data_results",
    "read_document",
    "read_model_results",
    "results_schemas",
    "validate_document",
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
Kind = Literal["data", "model", "deploy", "retrain", "monitor", "tests"]
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
    from mlci.github.runtime import Runtime

    prov: dict[str, Any] = {
        "git_sha": git_sha(),
        "run_url": Runtime().run_url(),
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
    """Write ``document`` as ``<directory>/<kind>.json`` (strict JSON, atomically).

    Raises:
        ValueError: when the document does not fit its kind's structure (a bug in
            the writer: exit 3, never a file the report would refuse).
    """
    data = to_jsonable(document)
    try:
        validate_document(data, source=f"{document.get('kind')}.json (being written)")
    except RefusedDocument as exc:
        raise ValueError(f"mlci wrote an invalid results document: {exc.message}") from None
    return jsonio.write_json(directory / f"{document['kind']}.json", data)


# -- the typed documents (one source: the structures, their validation and JSON Schemas) ---


@dataclass(frozen=True)
class FindingDoc:
    """One finding of a results document."""

    OPEN_KEYS: ClassVar[bool] = True

    check: str = spec(doc="Stable code, e.g. out_of_range, gate_failed")
    severity: Severity = spec(doc="error fails the step; warning and info are reported")
    message: str = spec(doc="One sentence a reviewer can act on")
    column: str | None = spec(None, "The data column concerned")
    metric: str | None = spec(None, "The metric concerned")
    observed: Any = spec(None, "What was seen")
    expected: Any = spec(None, "What the schema or gate expected")
    count: int | None = spec(None, "Rows or items affected", minimum=0)
    fraction: float | None = spec(None, "count as a share of the rows checked")
    samples: list[dict[str, Any]] = spec(
        factory=list, doc="Offending values as {row, value}", max_items=MAX_SAMPLES
    )
    file: str | None = spec(None, "File behind the finding, for an annotation")
    line: int | None = spec(None, "1-based line in file", minimum=0)


@dataclass(frozen=True)
class Provenance:
    """Where a document comes from."""

    OPEN_KEYS: ClassVar[bool] = True

    git_sha: str | None = spec(None, "The commit validated")
    run_url: str | None = spec(None, "The workflow run that wrote the document")
    mlci_version: str | None = spec(None, "The mlci version that wrote it")
    created: str | None = spec(None, "When (ISO 8601, UTC)")
    data: Any = spec(None, "Data fingerprints")
    model: Any = spec(None, "Model hashes")


@dataclass(frozen=True)
class _Envelope:
    OPEN_KEYS: ClassVar[bool] = True

    schema_version: Literal[1] = spec(doc="Results format version")
    kind: Kind = spec(doc="Which step wrote the document")
    passed: bool = spec(doc="The step's verdict")
    findings: list[FindingDoc] = spec(doc="Findings, most severe first")
    provenance: Provenance = spec(doc="git SHA, run URL, mlci version, fingerprints")
    # The validated JSON itself, for readers that pass parts through unchanged.
    raw: dict[str, Any] = field(
        default_factory=dict, metadata={"internal": True}, compare=False, repr=False
    )


@dataclass(frozen=True)
class DriftColumnDoc:
    """The drift verdict of one column."""

    OPEN_KEYS: ClassVar[bool] = True

    column: str = spec(doc="Column name")
    method: str | None = spec(None, "Test or distance used")
    statistic: float | None = spec(None, "The statistic (null when not finite)")
    p_value: float | None = spec(None, "p-value of a test")
    threshold: float | None = spec(None, "Threshold applied")
    drifted: bool = spec(False, "Whether the column drifted")
    severity: str | None = spec(None, "Severity of the drift")
    kind: str | None = spec(None, "feature, label or prediction")
    note: str | None = spec(None, "Why the column was judged this way")


@dataclass(frozen=True)
class DriftDoc:
    """Drift of current data against the reference."""

    OPEN_KEYS: ClassVar[bool] = True

    share: float | None = spec(None, "Share of drifted columns")
    share_threshold: float | None = spec(None, "Share above which the dataset drifted")
    dataset_drift: bool = spec(False, "Whether the dataset drifted")
    columns: list[DriftColumnDoc] = spec(factory=list, doc="Per-column verdicts")


@dataclass(frozen=True)
class DataResults(_Envelope):
    """data.json: what validate-data found."""

    kind: Literal["data"] = spec(doc="data")
    rows: int | None = spec(None, "Rows in the current data", minimum=0)
    columns: int | None = spec(None, "Columns in the current data", minimum=0)
    counts: dict[str, dict[str, int]] = spec(factory=dict, doc="{check: {error: n, warning: n}}")
    drift: DriftDoc | None = spec(None, "Drift, or null when drift was off")
    shards: int | None = spec(
        None, "Shards (runners) whose parts were checked and merged, or null for one", minimum=1
    )


@dataclass(frozen=True)
class GateDoc:
    """One applied gate."""

    OPEN_KEYS: ClassVar[bool] = True

    metric: str | None = spec(None, "Metric (or budget) name")
    slice: str | None = spec(None, "column=value, or null")
    rule: str | None = spec(None, "min, max, max_drop, min_gain, significant or a budget")
    threshold: Any = spec(None, "The bound (a number; true for the significant rule)")
    observed: float | None = spec(None, "The candidate's value")
    baseline: float | None = spec(None, "The baseline's value")
    change: float | None = spec(None, "The direction-aware change judged")
    passed: bool = spec(False, "Whether the gate passed")
    reason: str | None = spec(None, "One sentence")


@dataclass(frozen=True)
class BlessingDoc:
    """The blessing: whether the model may ship, and why."""

    OPEN_KEYS: ClassVar[bool] = True

    blessed: bool = spec(False, "Whether the model may be deployed")
    reason: str | None = spec(None, "Why")
    notes: list[str] = spec(factory=list, doc="Notes (first model, skipped gates ...)")
    candidate_hash: str | None = spec(None, "sha256 of the candidate model")
    baseline_hash: str | None = spec(None, "sha256 of the baseline model")
    data_fingerprint: str | None = spec(None, "Fingerprint of the eval data")
    git_sha: str | None = spec(None, "The commit blessed")


@dataclass(frozen=True)
class ModelResults(_Envelope):
    """model.json: the candidate against the baseline, and the blessing."""

    kind: Literal["model"] = spec(doc="model")
    task: str | None = spec(None, "classification or regression")
    metrics: dict[str, float | None] = spec(factory=dict, doc="The candidate's metrics")
    metric_errors: dict[str, str] = spec(factory=dict, doc="Why a metric is null")
    baseline_metrics: dict[str, float | None] | None = spec(None, "The baseline's metrics")
    deltas: dict[str, Any] = spec(factory=dict, doc="Candidate minus baseline per metric")
    higher_is_better: dict[str, bool] = spec(factory=dict, doc="Direction per metric")
    gates: list[GateDoc] = spec(factory=list, doc="Applied gates")
    blessing: BlessingDoc | None = spec(None, "The blessing")
    slices: list[Any] = spec(factory=list, doc="Per-slice metrics")
    budgets: list[Any] = spec(factory=list, doc="Size, latency and memory budgets")
    parity: Any = spec(None, "ONNX parity")
    confusion_matrix: Any = spec(None, "Labels and matrix")
    history: list[Any] | None = spec(None, "Registry versions and their metrics")
    rows: int | None = spec(None, "Eval rows", minimum=0)
    bootstrap: Any = spec(None, "Bootstrap settings")


@dataclass(frozen=True)
class DeployResults(_Envelope):
    """deploy.json: what the deploy (or rollback) did."""

    kind: Literal["deploy"] = spec(doc="deploy")
    status: str | None = spec(None, "deployed, unchanged, rolled_back, refused, failed")
    version: int | None = spec(None, "The version deployed", minimum=0)
    previous_version: int | None = spec(None, "Production before", minimum=0)
    environment: str | None = spec(None, "The GitHub environment")
    metrics: dict[str, float | None] | None = spec(None, "Metrics of the version")
    previous_metrics: dict[str, float | None] | None = spec(None, "Metrics of the previous")


@dataclass(frozen=True)
class RetrainResults(_Envelope):
    """retrain.json: the decision, the challenger and what became of it."""

    kind: Literal["retrain"] = spec(doc="retrain")
    outcome: str | None = spec(None, "skipped, not blessed, proposed ..., deployed ...")
    drift: DriftDoc | None = spec(None, "Fresh data against the reference")
    blessing: BlessingDoc | None = spec(None, "The challenger's blessing")


@dataclass(frozen=True)
class MonitorResults(_Envelope):
    """monitor.json: drift and live metrics of production."""

    kind: Literal["monitor"] = spec(doc="monitor")
    rows: int | None = spec(None, "Rows of production data checked", minimum=0)
    drift: DriftDoc | None = spec(None, "Feature drift")
    live_metrics: dict[str, float | None] | None = spec(None, "Metrics on labelled rows")
    gates: list[GateDoc] = spec(factory=list, doc="Gates applied to the live metrics")
    notes: list[str] = spec(factory=list, doc="What was skipped and why")


@dataclass(frozen=True)
class ProjectTestCounts:
    """How many tests ran and how they ended (from the JUnit XML)."""

    tests: int = spec(0, "Tests run", minimum=0)
    failures: int = spec(0, "Tests that failed", minimum=0)
    errors: int = spec(0, "Tests that errored", minimum=0)
    skipped: int = spec(0, "Tests skipped", minimum=0)


@dataclass(frozen=True)
class ProjectTestsResults(_Envelope):
    """tests.json: the project's own tests (``ci.test_command``)."""

    kind: Literal["tests"] = spec(doc="tests")
    command: str | None = spec(None, "The test command")
    exit_code: int | None = spec(None, "Its exit code (null when it timed out)")
    seconds: float | None = spec(None, "How long it ran", minimum=0)
    counts: ProjectTestCounts | None = spec(None, "Counts from the JUnit XML, when it wrote one")
    failing: list[str] = spec(factory=list, doc="Names of failing tests (capped)")
    failing_more: int = spec(0, "Failing tests beyond the names listed", minimum=0)


DOCUMENT_TYPES: dict[str, type[_Envelope]] = {
    "data": DataResults,
    "model": ModelResults,
    "deploy": DeployResults,
    "retrain": RetrainResults,
    "monitor": MonitorResults,
    "tests": ProjectTestsResults,
}

SCHEMA_BASE_URL = "https://raw.githubusercontent.com/mlci-dev/mlci/main/docs/results"


def results_schemas() -> dict[str, dict[str, Any]]:
    """The JSON Schema of each kind (``docs/results/<kind>.schema.json``)."""
    from mlci.typedload import json_schema

    return {
        kind: json_schema(
            cls,
            title=f"mlci results: {kind}.json",
            schema_id=f"{SCHEMA_BASE_URL}/{kind}.schema.json",
        )
        for kind, cls in DOCUMENT_TYPES.items()
    }


class RefusedDocument(InputError):
    """A results document that is not strict, bounded JSON of its kind's structure.

    Attributes:
        path: The file (or source) refused.
        problems: Each problem as ``field: what`` (the comment job quotes them).
    """

    def __init__(self, path: str, problems: list[str], fix: str):
        self.path = path
        self.problems = list(problems)
        shown = "; ".join(problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(f"{path}: {shown}{more}; {fix}", file=None)


_FIX = "re-run the step that wrote it with this mlci version"


def validate_document(data: Any, *, source: str, kind: str | None = None) -> _Envelope:
    """The typed document for ``data``, refused unless it fits its kind's structure.

    Args:
        data: The parsed JSON.
        source: The file name for messages.
        kind: The kind the caller expects (``data.json`` holds ``data``), if any.

    Raises:
        RefusedDocument: naming ``source`` and every field that does not fit.
    """
    if not isinstance(data, dict):
        got = "a list" if isinstance(data, list) else type(data).__name__
        raise RefusedDocument(source, [f"expected a results document (an object), got {got}"], _FIX)
    doc_kind = data.get("kind")
    if not isinstance(doc_kind, str) or doc_kind not in DOCUMENT_TYPES:
        raise RefusedDocument(
            source,
            [f"kind: expected one of {', '.join(DOCUMENT_TYPES)}, got {_short(doc_kind)}"],
            _FIX,
        )
    if kind is not None and doc_kind != kind:
        raise RefusedDocument(
            source,
            [f"kind: holds a {doc_kind!r} document, expected {kind!r}"],
            "do not rename results files",
        )
    try:
        typed = jsonio.validate_typed(DOCUMENT_TYPES[doc_kind], data, source=source)
        return dataclasses.replace(typed, raw=data)
    except ConfigError as exc:
        raise RefusedDocument(
            source, [f"{i.path}: {i.message}" if i.path else i.message for i in exc.issues], _FIX
        ) from None


def _short(value: Any) -> str:
    from mlci.typedload import describe

    return describe(value)


def read_results(path: Path, *, kind: str | None = None) -> dict[str, Any]:
    """Read and validate one results document (which may come from an untrusted artifact).

    Args:
        path: The document.
        kind: The kind expected (default: any).

    Returns:
        The document as validated JSON data.

    Raises:
        InputError: when the file is missing, not a regular file, over the size
            limit, or not strict JSON within the bounds.
        RefusedDocument: when it does not fit its kind's structure.
    """
    return read_document(path, kind=kind).raw


def read_document(path: Path, *, kind: str | None = None) -> _Envelope:
    """Read and validate one results document into its typed structure (see `read_results`)."""
    if not path.exists() and not path.is_symlink():
        raise InputError(
            f"{path}: results file not found; run `mlci validate-data` or"
            " `mlci validate-model` first, or pass --results DIR"
        )
    data = jsonio.read_json(path, what="results document", fix=_FIX)
    return validate_document(data, source=str(path), kind=kind)


def read_model_results(path: Path) -> ModelResults:
    """``model.json``, typed (refused unless it is a valid model document)."""
    doc = read_document(path, kind="model")
    assert isinstance(doc, ModelResults)
    return doc


def read_data_results(path: Path) -> DataResults:
    """``data.json``, typed (refused unless it is a valid data document)."""
    doc = read_document(path, kind="data")
    assert isinstance(doc, DataResults)
    return doc
