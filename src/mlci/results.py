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
the file and the field. The known fields are typed down to every sub-part (a
model document's slices, budgets, parity, features, parameters, experiments,
breakdowns and history; a retrain's decision and pull request; a monitor's
problems and issues ...); fields a newer writer adds are allowed (``OPEN_KEYS``)
and left unread. Only values that are free-form by nature stay ``Any`` (a slice's
or a class's value, a parameter's value, the provenance files of the deploy,
retrain and monitor documents, whose shape differs per kind). A document mlci
builds itself is typed with `as_typed` before a text is rendered from it in the
same run.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import math
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

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
    "as_typed",
    "read_as",
    "read_data_results",
    "experiment_rows",
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


_T = TypeVar("_T")


def as_typed(cls: type[_T], value: Mapping[str, Any], *, what: str) -> _T:
    """A document (or part of one) mlci built itself, as its typed structure.

    Texts rendered in the same run (the retrain and monitor summaries, the pull
    request body) read the typed document, exactly as the report reads a file.

    Args:
        cls: The structure, e.g. `RetrainResults` or `DriftColumnDoc`.
        value: The JSON-ready data.
        what: What it is, for the message.

    Raises:
        ValueError: when it does not fit (a bug in the writer: exit 3).
    """
    data = to_jsonable(value)
    try:
        typed = jsonio.validate_typed(cls, data, source=what)
    except ConfigError as exc:
        problems = "; ".join(str(i) for i in exc.issues[:5])
        raise ValueError(f"mlci built an invalid {what}: {problems}") from None
    if isinstance(typed, _Envelope):
        return typing.cast(_T, dataclasses.replace(typed, raw=data))
    return typed


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
class SampleDoc:
    """One offending value of a finding."""

    OPEN_KEYS: ClassVar[bool] = True

    row: int | None = spec(None, "1-based data row", minimum=0)
    value: Any = spec(None, "The value")


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
    samples: list[SampleDoc] = spec(
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
class FileDoc:
    """A data file a document names, and its fingerprint."""

    OPEN_KEYS: ClassVar[bool] = True

    path: str | None = spec(None, "The file, as shown")
    fingerprint: str | None = spec(None, "sha256 of its content")


@dataclass(frozen=True)
class DataProvenance(Provenance):
    """Provenance of data.json and model.json: the data files, by role."""

    data: dict[str, FileDoc | None] | None = spec(
        None, "Per role (current, reference, schema, eval): the file and its fingerprint"
    )


@dataclass(frozen=True)
class ModelFileDoc:
    """A model file a document names, and its hash."""

    OPEN_KEYS: ClassVar[bool] = True

    path: str | None = spec(None, "The file, or the registry version it came from")
    hash: str | None = spec(None, "sha256 of the file")
    format: str | None = spec(None, "onnx, skops, joblib, pickle, or metrics")
    version: int | None = spec(None, "The registry version, if any", minimum=0)


@dataclass(frozen=True)
class ModelFilesDoc:
    """The models model.json compared."""

    OPEN_KEYS: ClassVar[bool] = True

    candidate: ModelFileDoc | None = spec(None, "The candidate")
    baseline: ModelFileDoc | None = spec(None, "The baseline, or null without one")


@dataclass(frozen=True)
class ModelProvenance(DataProvenance):
    """Provenance of model.json: the eval data and both models."""

    model: ModelFilesDoc | None = spec(None, "The candidate and the baseline")


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
    provenance: DataProvenance = spec(doc="git SHA, run URL, mlci version, the data files")
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
class DeltaDoc:
    """Candidate minus baseline for one metric, with its paired-bootstrap interval."""

    OPEN_KEYS: ClassVar[bool] = True

    delta: float | None = spec(None, "Candidate minus baseline")
    relative: float | None = spec(None, "delta / abs(baseline); null when the baseline is 0")
    ci_low: float | None = spec(None, "Lower end of the interval of the delta")
    ci_high: float | None = spec(None, "Upper end of the interval of the delta")
    significant: bool | None = spec(None, "Whether the interval excludes 0; null: cannot tell")
    better: bool | None = spec(None, "Whether the candidate is better; null when equal")
    reason: str | None = spec(None, "Why significant is not true")


@dataclass(frozen=True)
class SliceDoc:
    """The metrics of both models on one slice of the eval rows."""

    OPEN_KEYS: ClassVar[bool] = True

    column: str = spec(doc="The slicing column")
    value: Any = spec(None, "The slice's value in that column")
    rows: int | None = spec(None, "Rows in the slice", minimum=0)
    metrics: dict[str, float | None] = spec(factory=dict, doc="The candidate's metrics")
    baseline_metrics: dict[str, float | None] | None = spec(None, "The baseline's metrics")


@dataclass(frozen=True)
class BudgetDoc:
    """One size, latency or memory budget, measured on the model as served."""

    OPEN_KEYS: ClassVar[bool] = True

    name: str = spec(doc="Budget name, e.g. latency_p95_ms")
    observed: int | float | None = spec(None, "What was measured")
    limit: int | float | None = spec(None, "The bound; null when none is configured")
    unit: str | None = spec(None, "Unit of observed and limit")
    passed: bool = spec(False, "Within the bound (true without one)")


@dataclass(frozen=True)
class ParityDoc:
    """How closely the ONNX export answers like the original."""

    OPEN_KEYS: ClassVar[bool] = True

    max_abs_diff: float | None = spec(None, "Largest absolute difference")
    label_mismatch: float | None = spec(None, "Share of rows with another label")
    passed: bool = spec(False, "Both within the tolerances")
    rows: int | None = spec(None, "Rows compared", minimum=0)


@dataclass(frozen=True)
class ConfusionMatrixDoc:
    """The candidate's confusion matrix (rows: truth, columns: prediction)."""

    OPEN_KEYS: ClassVar[bool] = True

    labels: list[Any] = spec(factory=list, doc="The labels, in matrix order")
    matrix: list[list[int]] = spec(factory=list, doc="Counts")


@dataclass(frozen=True)
class HistoryEntryDoc:
    """One registry version and the metrics it was blessed with."""

    OPEN_KEYS: ClassVar[bool] = True

    version: int = spec(doc="Registry version", minimum=0)
    metrics: dict[str, float | None] | None = spec(None, "Its metrics")


@dataclass(frozen=True)
class BootstrapDoc:
    """The bootstrap settings of the intervals."""

    OPEN_KEYS: ClassVar[bool] = True

    resamples: int = spec(0, "Resamples (0 when no bootstrap ran)", minimum=0)
    confidence: float | None = spec(None, "Level of the intervals")
    seed: int | None = spec(None, "Random seed")


@dataclass(frozen=True)
class FeaturesDoc:
    """How the candidate's features differ from production's."""

    OPEN_KEYS: ClassVar[bool] = True

    candidate: list[str] = spec(factory=list, doc="The candidate's features, in input order")
    baseline: list[str] | None = spec(None, "Production's, or null without a production model")
    added: list[str] = spec(factory=list, doc="Features only the candidate takes")
    removed: list[str] = spec(factory=list, doc="Features only production takes")
    reordered: bool = spec(False, "Whether the common features changed order")
    changed: bool = spec(False, "Whether a feature was added or removed")
    ignored: dict[str, list[str]] = spec(
        factory=dict, doc="Per model (candidate, baseline), eval columns it does not take"
    )
    baseline_lacks: list[str] = spec(
        factory=list, doc="Features production takes that the eval data lacks"
    )


@dataclass(frozen=True)
class ParamChangeDoc:
    """One parameter that differs between production and the candidate."""

    OPEN_KEYS: ClassVar[bool] = True

    key: str = spec(doc="Dotted key, e.g. train.lr")
    change: Literal["changed", "added", "removed"] = spec(doc="What changed")
    production: Any = spec(None, "Production's value")
    candidate: Any = spec(None, "The candidate's value")


@dataclass(frozen=True)
class ParamsDoc:
    """The candidate's parameters (model.params) next to production's."""

    OPEN_KEYS: ClassVar[bool] = True

    files: list[str] = spec(factory=list, doc="The parameter files")
    candidate: dict[str, Any] = spec(factory=dict, doc="The candidate's, flattened to dotted keys")
    baseline: dict[str, Any] | None = spec(None, "Production's, or null when it recorded none")
    changed: list[ParamChangeDoc] = spec(factory=list, doc="Keys that differ")


@dataclass(frozen=True)
class LockFileDoc:
    """The project's lock file."""

    OPEN_KEYS: ClassVar[bool] = True

    path: str | None = spec(None, "Path relative to the project")
    sha256: str | None = spec(None, "Its sha256")


@dataclass(frozen=True)
class EnvironmentDoc:
    """What the candidate was trained and validated with."""

    OPEN_KEYS: ClassVar[bool] = True

    python: str | None = spec(None, "Python version")
    platform: str | None = spec(None, "Platform and machine")
    packages_sha256: str | None = spec(None, "sha256 of the package list")
    lock_file: LockFileDoc | None = spec(None, "The lock file, if any")


@dataclass(frozen=True)
class ExperimentDoc:
    """What reproduces the candidate (for the experiment history)."""

    OPEN_KEYS: ClassVar[bool] = True

    train_command: str | None = spec(None, "model.train_command")
    environment: EnvironmentDoc | None = spec(None, "The environment")
    packages: list[str] = spec(factory=list, doc="name==version pins")


@dataclass(frozen=True)
class ExperimentRowDoc:
    """One earlier candidate of the experiment history, as the report lists it."""

    OPEN_KEYS: ClassVar[bool] = True

    id: str | None = spec(None, "Entry id")
    created: str | None = spec(None, "When (ISO 8601)")
    pr: int | None = spec(None, "Pull request number", minimum=0)
    branch: str | None = spec(None, "Branch")
    git_sha: str | None = spec(None, "Commit")
    verdict: str | None = spec(None, "blessed or blocked")
    metric: str | None = spec(None, "The first gated metric")
    value: int | float | None = spec(None, "Its value")


@dataclass(frozen=True)
class ClassMetricDoc:
    """One per-class metric of both models, and the interval of the delta."""

    OPEN_KEYS: ClassVar[bool] = True

    candidate: float | None = spec(None, "The candidate's value")
    baseline: float | None = spec(None, "The baseline's value")
    delta: float | None = spec(None, "Candidate minus baseline")
    ci_low: float | None = spec(None, "Lower end of the interval of the delta")
    ci_high: float | None = spec(None, "Upper end of the interval of the delta")


@dataclass(frozen=True)
class PerClassDoc:
    """Precision, recall and F1 of one class."""

    OPEN_KEYS: ClassVar[bool] = True

    label: Any = spec(None, "The class label")
    support: int | None = spec(None, "Eval rows of the class", minimum=0)
    precision: ClassMetricDoc | None = spec(None, "Precision")
    recall: ClassMetricDoc | None = spec(None, "Recall")
    f1: ClassMetricDoc | None = spec(None, "F1")


@dataclass(frozen=True)
class ConfusionDoc:
    """Both confusion matrices on one label set (rows: truth, columns: prediction)."""

    OPEN_KEYS: ClassVar[bool] = True

    labels: list[Any] = spec(factory=list, doc="The labels kept, in matrix order")
    candidate: list[list[int]] = spec(factory=list, doc="The candidate's counts")
    baseline: list[list[int]] | None = spec(None, "The baseline's, or null")
    total_labels: int | None = spec(None, "Labels seen (more than kept when capped)", minimum=0)


@dataclass(frozen=True)
class ErrorSummaryDoc:
    """MAE, RMSE and bias (mean of prediction minus truth) of a regression."""

    OPEN_KEYS: ClassVar[bool] = True

    mae: float | None = spec(None, "Mean absolute error")
    rmse: float | None = spec(None, "Root mean squared error")
    bias: float | None = spec(None, "Mean of prediction minus truth")


@dataclass(frozen=True)
class SliceErrorsDoc:
    """The error summary of both models on one slice."""

    OPEN_KEYS: ClassVar[bool] = True

    column: str = spec(doc="The slicing column")
    value: Any = spec(None, "The slice's value")
    rows: int | None = spec(None, "Rows in the slice", minimum=0)
    candidate: ErrorSummaryDoc | None = spec(None, "The candidate's errors")
    baseline: ErrorSummaryDoc | None = spec(None, "The baseline's, or null")


@dataclass(frozen=True)
class ErrorsDoc:
    """Regression errors of both models, overall and per slice."""

    OPEN_KEYS: ClassVar[bool] = True

    candidate: ErrorSummaryDoc | None = spec(None, "The candidate's errors")
    baseline: ErrorSummaryDoc | None = spec(None, "The baseline's, or null")
    slices: list[SliceErrorsDoc] = spec(factory=list, doc="Per slice")


@dataclass(frozen=True)
class ResidualCountsDoc:
    """Residual histogram counts of both models on shared bins."""

    OPEN_KEYS: ClassVar[bool] = True

    candidate: list[int] = spec(factory=list, doc="The candidate's counts")
    baseline: list[int] | None = spec(None, "The baseline's, or null")


@dataclass(frozen=True)
class ResidualsDoc:
    """A bounded sample of (actual, predicted) pairs and a residual histogram."""

    OPEN_KEYS: ClassVar[bool] = True

    actual: list[float | None] = spec(factory=list, doc="Sampled true values")
    candidate: list[float | None] = spec(factory=list, doc="The candidate's predictions")
    baseline: list[float | None] | None = spec(None, "The baseline's, or null")
    bins: list[float | None] = spec(factory=list, doc="Histogram bin edges")
    counts: ResidualCountsDoc | None = spec(None, "Histogram counts")


@dataclass(frozen=True)
class RecordReferenceDoc:
    """A committed file named by the retrain record."""

    OPEN_KEYS: ClassVar[bool] = True

    path: str | None = spec(None, "Repository path")
    hash: str | None = spec(None, "Its sha256")


@dataclass(frozen=True)
class RetrainRecordDoc:
    """The retrain record (``.mlci/retrain.json``) a pull request carries."""

    OPEN_KEYS: ClassVar[bool] = True

    record: str | None = spec(None, "The record's path")
    path: str | None = spec(None, "The retrained model's path")
    hash: str | None = spec(None, "The retrained model's sha256")
    blessing: BlessingDoc | None = spec(None, "The blessing the record carries")
    data: Any = spec(None, "The data fingerprints the record carries")
    reference: RecordReferenceDoc | None = spec(None, "The committed drift reference, or null")


@dataclass(frozen=True)
class ModelResults(_Envelope):
    """model.json: the candidate against the baseline, and the blessing."""

    kind: Literal["model"] = spec(doc="model")
    provenance: ModelProvenance = spec(doc="git SHA, run URL, mlci version, data and models")
    task: str | None = spec(None, "classification or regression")
    metrics: dict[str, float | None] = spec(factory=dict, doc="The candidate's metrics")
    metric_errors: dict[str, str] = spec(factory=dict, doc="Why a metric is null")
    baseline_metrics: dict[str, float | None] | None = spec(None, "The baseline's metrics")
    deltas: dict[str, DeltaDoc] = spec(factory=dict, doc="Candidate minus baseline per metric")
    higher_is_better: dict[str, bool] = spec(factory=dict, doc="Direction per metric")
    gates: list[GateDoc] = spec(factory=list, doc="Applied gates")
    blessing: BlessingDoc | None = spec(None, "The blessing")
    slices: list[SliceDoc] = spec(factory=list, doc="Per-slice metrics")
    budgets: list[BudgetDoc] = spec(factory=list, doc="Size, latency and memory budgets")
    parity: ParityDoc | None = spec(None, "ONNX parity, or null")
    confusion_matrix: ConfusionMatrixDoc | None = spec(None, "Labels and matrix, or null")
    history: list[HistoryEntryDoc] | None = spec(None, "Registry versions and their metrics")
    rows: int | None = spec(None, "Eval rows", minimum=0)
    bootstrap: BootstrapDoc | None = spec(None, "Bootstrap settings")
    features: FeaturesDoc | None = spec(None, "How the features changed")
    params: ParamsDoc | None = spec(None, "Parameters, or null without model.params")
    experiment: ExperimentDoc | None = spec(None, "What reproduces the candidate")
    experiments: list[ExperimentRowDoc] = spec(
        factory=list, doc="The last candidates of the experiment history, newest first"
    )
    retrain_record: RetrainRecordDoc | None = spec(None, "The retrain record carried, if any")
    per_class: list[PerClassDoc] = spec(factory=list, doc="Per-class metrics (classification)")
    confusion: ConfusionDoc | None = spec(None, "Both confusion matrices (classification)")
    errors: ErrorsDoc | None = spec(None, "Error summary (regression)")
    residuals: ResidualsDoc | None = spec(None, "Residual sample and histogram (regression)")


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
class ReferenceDoc:
    """The drift reference data was compared with."""

    OPEN_KEYS: ClassVar[bool] = True

    source: str | None = spec(None, "training data of v<N>, or data.reference")
    version: int | None = spec(None, "The registry version whose profile it is", minimum=0)
    rows: int | None = spec(None, "Rows of the reference", minimum=0)


@dataclass(frozen=True)
class VersionDoc:
    """A registry version: production, or the champion of a retrain."""

    OPEN_KEYS: ClassVar[bool] = True

    version: int = spec(doc="Registry version", minimum=0)
    created: str | None = spec(None, "When it was registered")
    metrics: dict[str, float | None] | None = spec(None, "The metrics it was blessed with")


@dataclass(frozen=True)
class FreshDataDoc:
    """The fresh data of a retrain."""

    OPEN_KEYS: ClassVar[bool] = True

    source: str | None = spec(None, "retrain.data, retrain.data_command or data.current")
    files: list[str] = spec(factory=list, doc="Files, relative to mlci.yaml")
    rows: int | None = spec(None, "Rows", minimum=0)
    columns: int | None = spec(None, "Columns", minimum=0)


@dataclass(frozen=True)
class DecisionDoc:
    """Whether to retrain, and why."""

    OPEN_KEYS: ClassVar[bool] = True

    retrain: bool = spec(False, "Whether a challenger is trained")
    reason: str | None = spec(None, "Why")
    policy: str | None = spec(None, "retrain.policy")
    age_days: float | None = spec(None, "Age of the production model in days")
    drifted_columns: list[str] = spec(factory=list, doc="Columns that drifted")


@dataclass(frozen=True)
class PullRequestDoc:
    """The pull request a retrain opened or updated."""

    OPEN_KEYS: ClassVar[bool] = True

    number: int = spec(doc="Pull request number", minimum=0)
    url: str | None = spec(None, "Its page")
    action: str | None = spec(None, "opened or updated")
    branch: str | None = spec(None, "Its branch")
    files: list[str] = spec(factory=list, doc="Repository paths committed")


@dataclass(frozen=True)
class DeployActionDoc:
    """What a deploy or a rollback started by another step did."""

    OPEN_KEYS: ClassVar[bool] = True

    status: str | None = spec(None, "deployed, rolled_back, skipped, failed ...")
    version: int | None = spec(None, "The version now in production", minimum=0)
    previous: int | None = spec(None, "Production before", minimum=0)
    message: str | None = spec(None, "One sentence")


@dataclass(frozen=True)
class ProblemDoc:
    """One problem the monitor found."""

    OPEN_KEYS: ClassVar[bool] = True

    key: str = spec(doc="data-drift, prediction-drift, label-drift or metric-<name>")
    severity: Severity = spec(doc="error or warning")
    summary: str = spec(doc="The problem in one sentence")


@dataclass(frozen=True)
class IssueActionDoc:
    """An issue the monitor opened, updated or closed."""

    OPEN_KEYS: ClassVar[bool] = True

    problem: str = spec(doc="The problem's key")
    number: int = spec(doc="Issue number", minimum=0)
    action: str = spec(doc="opened, updated or closed")
    url: str | None = spec(None, "Its page")


@dataclass(frozen=True)
class DispatchDoc:
    """The retrain workflow the monitor dispatched."""

    OPEN_KEYS: ClassVar[bool] = True

    workflow: str = spec(doc="The workflow file")
    ref: str | None = spec(None, "The ref it runs on")
    problems: list[str] = spec(factory=list, doc="The problems that called for it")


@dataclass(frozen=True)
class RetrainResults(_Envelope):
    """retrain.json: the decision, the challenger and what became of it."""

    kind: Literal["retrain"] = spec(doc="retrain")
    outcome: str | None = spec(None, "skipped, not blessed, proposed ..., deployed ...")
    mode: str | None = spec(None, "retrain.mode as used")
    policy: str | None = spec(None, "retrain.policy as used")
    dry_run: bool | None = spec(None, "Whether --dry-run was given")
    data: FreshDataDoc | None = spec(None, "The fresh data")
    drift: DriftDoc | None = spec(None, "Fresh data against the reference")
    reference: ReferenceDoc | None = spec(None, "What the fresh data was compared with")
    decision: DecisionDoc | None = spec(None, "Whether to retrain, and why")
    champion: VersionDoc | None = spec(None, "Production before the retrain, or null")
    blessing: BlessingDoc | None = spec(None, "The challenger's blessing")
    pull_request: PullRequestDoc | None = spec(None, "The pull request opened or updated")
    deploy: DeployActionDoc | None = spec(None, "What the deploy did")


@dataclass(frozen=True)
class MonitorResults(_Envelope):
    """monitor.json: drift and live metrics of production."""

    kind: Literal["monitor"] = spec(doc="monitor")
    rows: int | None = spec(None, "Rows of production data checked", minimum=0)
    drift: DriftDoc | None = spec(None, "Feature drift")
    reference: ReferenceDoc | None = spec(None, "What the data was compared with")
    prediction_drift: DriftColumnDoc | None = spec(None, "Drift of the predictions, or null")
    label_drift: DriftColumnDoc | None = spec(None, "Drift of the labels, or null")
    labels: str | None = spec(None, "Where the delayed labels came from, or why none")
    live_metrics: dict[str, float | None] | None = spec(None, "Metrics on labelled rows")
    metric_errors: dict[str, str] = spec(factory=dict, doc="Why a live metric is null")
    baseline_metrics: dict[str, float | None] | None = spec(
        None, "The metrics production was blessed with"
    )
    gates: list[GateDoc] = spec(factory=list, doc="Gates applied to the live metrics")
    production: VersionDoc | None = spec(None, "The production version, or null")
    problems: list[ProblemDoc] = spec(factory=list, doc="What is wrong")
    issues: list[IssueActionDoc] = spec(factory=list, doc="Issues opened, updated or closed")
    retrain_dispatch: DispatchDoc | None = spec(None, "The retrain workflow dispatched")
    rollback: DeployActionDoc | None = spec(None, "The rollback on a failed live gate")
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


def experiment_rows(rows: Iterable[Mapping[str, Any]]) -> list[ExperimentRowDoc]:
    """The "Recent experiments" rows of a model document, typed.

    A row that does not fit its structure is left out: the history they come from is
    read, not trusted.
    """
    out = []
    for row in rows:
        try:
            out.append(jsonio.validate_typed(ExperimentRowDoc, dict(row), source="experiments"))
        except ConfigError:
            continue
    return out


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


_D = TypeVar("_D", bound=_Envelope)


def read_as(cls: type[_D], path: Path) -> _D:
    """One results document of the kind of ``cls``, typed (see `read_results`).

    Raises:
        InputError: as `read_results`.
        RefusedDocument: when it is not a valid document of that kind.
    """
    kind = next(k for k, c in DOCUMENT_TYPES.items() if c is cls)
    doc = read_document(path, kind=kind)
    assert isinstance(doc, cls)
    return doc


def read_model_results(path: Path) -> ModelResults:
    """``model.json``, typed (refused unless it is a valid model document)."""
    return read_as(ModelResults, path)


def read_data_results(path: Path) -> DataResults:
    """``data.json``, typed (refused unless it is a valid data document)."""
    return read_as(DataResults, path)
