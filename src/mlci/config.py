"""``mlci.yaml``: one typed, frozen model of the configuration, its loader and JSON Schema.

Every section DESIGN.md names is here. `load_config` reports all problems of a
file at once, each as ``mlci.yaml:12:5: model.gates.accuracy.min: ...``; unknown
keys are errors with a did-you-mean suggestion, so a typo in CI config cannot
pass silently. `config_schema` derives the JSON Schema from the same classes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, Literal

from mlci import typedload
from mlci.errors import ConfigError, ConfigIssue
from mlci.metrics import BUILTIN_METRICS, MetricInfo, Task
from mlci.typedload import spec, suggest
from mlci.yamlio import Marked, load_file, load_with_marks

__all__ = [
    "CONFIG_FILE",
    "SCHEMA_URL",
    "CiConfig",
    "Config",
    "CustomMetric",
    "DataConfig",
    "DeployConfig",
    "DriftColumn",
    "DriftConfig",
    "Gate",
    "ModelConfig",
    "MonitorConfig",
    "RegistryConfig",
    "ReportConfig",
    "RetrainConfig",
    "config_schema",
    "find_config",
    "load_config",
    "load_config_text",
]

CONFIG_FILE = "mlci.yaml"
SCHEMA_URL = "https://raw.githubusercontent.com/mlci-dev/mlci/main/templates/mlci.schema.json"

Severity = Literal["error", "warning", "off"]
DriftMethod = Literal["auto", "ks", "chi2", "z", "wasserstein", "jensenshannon", "psi"]

CHECK_CODES = (
    "missing_column",
    "new_column",
    "dtype_mismatch",
    "null_fraction",
    "nan_or_inf",
    "out_of_range",
    "unexpected_category",
    "domain_mass",
    "duplicate_key",
    "duplicate_rows",
    "row_count",
    "label_missing",
    "new_label_class",
    "constant_column",
    "unsupported_type",
    "drift",
)


@dataclass(frozen=True)
class DriftColumn:
    """Drift settings for one column, overriding the defaults."""

    method: DriftMethod = spec("auto", "Test or distance for this column")
    threshold: float | None = spec(
        None, "Threshold for the statistic (p-value for tests, distance otherwise)", minimum=0
    )
    severity: Severity | None = spec(None, "Severity of drift in this column")


@dataclass(frozen=True)
class DriftConfig:
    """Drift detection of current data against the reference."""

    enabled: bool = spec(True, "Compute drift for every column")
    method: DriftMethod = spec("auto", "Default test; auto picks by type and sample size")
    threshold: float | None = spec(
        None, "Default threshold; each method has its own sensible default", minimum=0
    )
    share: float = spec(
        0.5, "Dataset drift when this share of columns drifted", minimum=0, maximum=1
    )
    severity: Severity = spec("warning", "Severity of a drifted column")
    dataset_severity: Severity = spec("error", "Severity of dataset-level drift")
    pre_existing: Severity = spec(
        "warning",
        "Severity of drift in a pull request that changes no data file: the drift was already"
        " on the base branch, so it does not block an unrelated change",
    )
    columns: dict[str, DriftColumn] = spec(factory=dict, doc="Per-column overrides")
    ignore: list[str] = spec(factory=list, doc="Columns left out of drift")


@dataclass(frozen=True)
class DataConfig:
    """Where the data lives and how it is checked."""

    reference: str | None = spec(None, "Reference (training) data: file, directory or profile")
    current: str | None = spec(None, "Current data to validate against the reference")
    eval: str | None = spec(None, "Holdout data the model is evaluated on")
    target: str | None = spec(None, "Label column")
    prediction: str | None = spec(None, "Column with model predictions, for prediction drift")
    id_columns: list[str] = spec(factory=list, doc="Columns that identify a row (unique keys)")
    schema: str = spec("mlci/schema.yaml", "Schema file written by `mlci schema infer`")
    checks: dict[str, Severity] = spec(
        factory=dict, doc="Severity per check code, e.g. {duplicate_rows: error}"
    )
    column_checks: dict[str, dict[str, Severity]] = spec(
        factory=dict, doc="Severity per column and check code"
    )
    drift: DriftConfig = spec(factory=DriftConfig, doc="Drift settings")
    chunk_rows: int = spec(
        250_000,
        "Rows read per chunk: bounds memory on large files",
        minimum=1000,
        maximum=10_000_000,
    )
    shards: int = spec(
        1,
        "Runners that check a folder of Parquet parts in parallel (mlci init --shards)",
        minimum=1,
        maximum=256,
    )


@dataclass(frozen=True)
class Gate:
    """A gate on one metric: value bounds and change bounds against the baseline."""

    min: float | None = spec(None, "The candidate's value must be at least this")
    max: float | None = spec(None, "The candidate's value must be at most this")
    max_drop: float | None = spec(
        None, "Largest allowed worsening versus the baseline (direction-aware)", minimum=0
    )
    min_gain: float | None = spec(
        None, "Smallest required improvement versus the baseline (direction-aware)"
    )
    relative: bool = spec(False, "Read max_drop/min_gain as (candidate - baseline) / |baseline|")
    significant: bool = spec(
        False, "Require the improvement to be outside the bootstrap confidence interval"
    )
    slices: bool = spec(False, "Apply this gate to every slice too")
    note: str | None = spec(
        None, "Where the bounds come from (e.g. a chance level), shown with the gate's result"
    )


@dataclass(frozen=True)
class CustomMetric:
    """A metric computed by a scikit-learn function (or any importable function)."""

    function: str = spec(doc="Dotted path, e.g. sklearn.metrics.matthews_corrcoef")
    higher_is_better: bool = spec(doc="Direction of improvement")
    needs_proba: bool = spec(False, "Pass predicted probabilities instead of labels")


@dataclass(frozen=True)
class Budgets:
    """Limits on the model's cost, measured with the serving runtime."""

    max_size_mb: float | None = spec(None, "Model file size", exclusive_minimum=0)
    max_latency_p50_ms: float | None = spec(None, "Single-row latency, median", exclusive_minimum=0)
    max_latency_p95_ms: float | None = spec(None, "Single-row latency, p95", exclusive_minimum=0)
    min_throughput_rows_s: float | None = spec(None, "Batch throughput", exclusive_minimum=0)
    max_memory_mb: float | None = spec(None, "Peak memory while predicting", exclusive_minimum=0)


@dataclass(frozen=True)
class Slices:
    """Per-slice evaluation."""

    columns: list[str] = spec(factory=list, doc="Columns whose values define slices")
    min_size: int = spec(30, "Slices with fewer rows are skipped", minimum=1)


@dataclass(frozen=True)
class Bootstrap:
    """The paired bootstrap behind the confidence intervals of metric deltas."""

    resamples: int = spec(
        1000, "Number of resamples (0 turns the bootstrap off)", minimum=0, maximum=100_000
    )
    confidence: float = spec(0.95, "Confidence level", exclusive_minimum=0, maximum=0.999)
    seed: int = spec(0, "Random seed; every resampling is seeded", minimum=0, maximum=2**32 - 1)


@dataclass(frozen=True)
class Parity:
    """Tolerances of the ONNX export parity check."""

    max_abs_diff: float = spec(1e-4, "Largest difference of probabilities/predictions", minimum=0)
    max_label_mismatch: float = spec(0.0, "Largest share of differing labels", minimum=0, maximum=1)


@dataclass(frozen=True)
class ModelConfig:
    """The model under test and how it is judged."""

    path: str | None = spec(None, "Model file produced by the train command")
    format: Literal["auto", "onnx", "skops", "joblib", "pickle"] = spec(
        "auto", "File format; auto goes by the file extension"
    )
    train_command: str | None = spec(None, "Shell command that trains the model")
    trusted: bool = spec(
        False, "Allow joblib/pickle files, which run code when loaded: only for your own files"
    )
    trusted_types: list[str] = spec(
        factory=list,
        doc="Further types a skops file may hold, beyond standard scikit-learn pipelines",
    )
    features: list[str] | None = spec(None, "Feature columns in model input order")
    params: list[str] = spec(
        factory=list,
        doc="Parameter files of training (JSON, YAML or TOML), compared in every report",
    )
    metrics: list[str] | None = spec(None, "Metrics to compute (default: a set per task)")
    custom_metrics: dict[str, CustomMetric] = spec(factory=dict, doc="Metrics by function")
    gates: dict[str, Gate] = spec(factory=dict, doc="Gates per metric; all must pass to bless")
    allow_ungated: bool = spec(False, "Bless a model even when no gate is configured")
    first: Literal["bless-on-value-gates", "bless", "block"] = spec(
        "bless-on-value-gates",
        "The first model (no production model yet): judged on its value gates (min/max);"
        " blessed unless a gate fails (bless); or never blessed automatically (block)",
    )
    baseline: str = spec(
        "registry", "Production model: registry, none, or a model/metrics file path"
    )
    slices: Slices = spec(factory=Slices, doc="Per-slice metrics")
    budgets: Budgets = spec(factory=Budgets, doc="Size, latency and memory budgets")
    bootstrap: Bootstrap = spec(factory=Bootstrap, doc="Confidence intervals of deltas")
    parity: Parity = spec(factory=Parity, doc="ONNX export parity tolerances")
    export_onnx: bool = spec(True, "Export scikit-learn models to ONNX when registering")


@dataclass(frozen=True)
class RegistryConfig:
    """Where model versions and their blessing are kept."""

    backend: Literal["local", "github"] = spec("local", "local directory or GitHub Releases")
    path: str = spec(".mlci/registry", "Directory of the local registry")
    repository: str | None = spec(None, "owner/name for the github backend (default: this repo)")
    tag_prefix: str = spec("model-v", "Release tag prefix for the github backend")


@dataclass(frozen=True)
class Webhook:
    """A JSON POST sent after a deploy."""

    url: str = spec(doc="Endpoint; may reference an environment variable as ${NAME}")
    secret_env: str | None = spec(
        None, "Environment variable holding the HMAC secret for the signature header"
    )
    timeout_s: float = spec(10.0, "Timeout per attempt", exclusive_minimum=0, maximum=600)
    retries: int = spec(3, "Attempts after the first", minimum=0, maximum=10)


@dataclass(frozen=True)
class DeployConfig:
    """What happens after a blessed model is registered."""

    environment: str = spec("production", "GitHub environment the deploy job is bound to")
    command: str | None = spec(None, "Command run with MLCI_MODEL_PATH, MLCI_MODEL_VERSION set")
    webhook: Webhook | None = spec(None, "Webhook notified after promotion")
    secrets: list[str] = spec(
        factory=list,
        doc="Secrets of the deploy environment the deploy step reads without deploy.command"
        " naming them (e.g. in a script it runs); mlci init passes each to the deploy job",
        max_items=100,
        examples=[["DEPLOY_TOKEN"]],
    )
    smoke_test: bool = spec(True, "Start the prediction service and compare its answers")
    smoke_rows: int = spec(20, "Eval rows sent in the smoke test", minimum=1, maximum=10_000)


@dataclass(frozen=True)
class RetrainConfig:
    """Scheduled retraining: challenger versus champion."""

    schedule: str = spec("17 3 * * 1", "Cron schedule of mlci-retrain.yml (UTC), off minute 0")
    mode: Literal["pull-request", "deploy"] = spec(
        "pull-request", "What a blessed challenger does: open a PR or deploy"
    )
    policy: Literal["always", "on-drift", "max-age"] = spec("on-drift", "When to retrain")
    max_age_days: int = spec(
        30, "Retrain when production is older (policy max-age)", minimum=1, maximum=36_500
    )
    data: str | None = spec(None, "Fresh data: a path or glob")
    data_command: str | None = spec(None, "Command that produces the fresh data")
    drift_columns: list[str] = spec(factory=list, doc="Retrain when any of these drifted")
    branch: str = spec("mlci/retrain", "Branch of the retrain pull request")
    oidc: bool = spec(
        False,
        "Give mlci-retrain.yml's job `id-token: write`, so retrain.data_command can trade"
        " GitHub's OpenID Connect token for cloud credentials instead of a stored secret",
    )


@dataclass(frozen=True)
class MonitorConfig:
    """Watching production: drift and live metrics."""

    current: str | None = spec(None, "Production data (features, optionally predictions)")
    predictions: str | None = spec(None, "Column of logged predictions")
    labels: str | None = spec(None, "Delayed labels file or column")
    open_issues: bool = spec(True, "Open one GitHub issue per problem")
    trigger_retrain: bool = spec(False, "Dispatch mlci-retrain.yml when drift is found")
    rollback: bool = spec(False, "Roll back when a live metric falls below its gate")
    schedule: str = spec("23 6 * * *", "Cron schedule of mlci-monitor.yml (UTC), off minute 0")
    data_command: str | None = spec(
        None,
        "Command that brings the production logs to monitor.current on the runner (e.g. a"
        " copy from object storage); mlci-monitor.yml and `mlci run monitor` run it first",
    )
    oidc: bool = spec(
        False,
        "Give mlci-monitor.yml's job `id-token: write`, so monitor.data_command can trade"
        " GitHub's OpenID Connect token for cloud credentials instead of a stored secret",
    )


@dataclass(frozen=True)
class CiConfig:
    """The project's own tests, run in the pull-request check before training."""

    test_command: str | None = spec(
        None, "Command that runs the project's tests (e.g. python -m pytest); off when unset"
    )
    junit: str | None = spec(
        None,
        "JUnit XML file the test command writes, for counts and failing test names in the"
        " report (default: the path of a --junitxml= option in the command)",
    )
    timeout_minutes: int = spec(30, "The tests are stopped after this long", minimum=1)


@dataclass(frozen=True)
class ServeConfig:
    """The prediction service (`mlci serve`)."""

    log_dir: str | None = spec(
        None, "Folder of rolling Parquet files logging every prediction (off when unset)"
    )
    log_max_file_mb: int = spec(
        64, "Start a new log file past this size (MiB)", minimum=1, maximum=4096
    )
    log_max_file_minutes: int = spec(
        60, "Start a new log file past this age (minutes)", minimum=1, maximum=10_080
    )


@dataclass(frozen=True)
class ReportConfig:
    """The PR comment, job summary and HTML report."""

    title: str = spec("mlci report", "Heading of the comment")
    key: str = spec("default", "Distinguishes several reports on one pull request")

    #: Keys that were never read, and what decides instead (a config error says so).
    REMOVED_KEYS: ClassVar[dict[str, str]] = {
        "html": "mlci report always writes report.html beside report.md; delete the key",
        "check_run": "the check run is chosen where the report is posted (mlci report"
        " --check-run / --no-check-run; --post creates one unless --no-check-run); delete"
        " the key",
    }


@dataclass(frozen=True)
class Config:
    """mlci.yaml: continuous integration, delivery and training for one model."""

    version: Literal[1] = spec(doc="Config format version")
    task: Task = spec(doc="classification or regression")
    data: DataConfig = spec(factory=DataConfig, doc="Data locations and checks")
    model: ModelConfig = spec(factory=ModelConfig, doc="Model, metrics and gates")
    registry: RegistryConfig = spec(factory=RegistryConfig, doc="Model registry")
    deploy: DeployConfig = spec(factory=DeployConfig, doc="Continuous delivery")
    retrain: RetrainConfig = spec(factory=RetrainConfig, doc="Continuous training")
    monitor: MonitorConfig = spec(factory=MonitorConfig, doc="Production monitoring")
    ci: CiConfig = spec(factory=CiConfig, doc="The project's own tests in the PR check")
    serve: ServeConfig = spec(factory=ServeConfig, doc="Prediction service")
    report: ReportConfig = spec(factory=ReportConfig, doc="Reports")
    root: Path = field(default=Path(), metadata={"internal": True})
    source: Marked | None = field(default=None, metadata={"internal": True}, compare=False)

    def resolve(self, relative: str) -> Path:
        """A path from the config, relative to the directory holding mlci.yaml."""
        return (self.root / relative) if not Path(relative).is_absolute() else Path(relative)

    def where(self, *path: str | int) -> str:
        """``mlci.yaml:12:5`` for the key at ``path``, to point errors at the config."""
        if self.source is None:
            return CONFIG_FILE
        mark = self.source.mark(path)
        return f"{self.source.file}:{mark.line}:{mark.column}" if mark else self.source.file

    def existing_path(self, *path: str, purpose: str = "") -> Path:
        """The file or directory named at ``path`` (e.g. ``"data", "eval"``), which must exist.

        Raises:
            ConfigError: when the key is unset or the path does not exist, located at
                the key in mlci.yaml.
        """
        value: Any = self
        for part in path:
            value = getattr(value, part)
        dotted = ".".join(path)
        file = self.source.file if self.source else CONFIG_FILE
        mark = None
        if self.source:
            # An unset key has no mark: point at its nearest parent key instead.
            mark = self.source.marks.get(path)
            parent: tuple[str | int, ...] = path
            while mark is None and parent:
                parent = parent[:-1]
                mark = self.source.key_marks.get(parent)
        line, column = (mark.line, mark.column) if mark else (None, None)
        need = f" ({purpose})" if purpose else ""
        if not value:
            message = (
                f"not set, but this command needs it{need}; add it to mlci.yaml"
                " or pass it as an option"
            )
            raise ConfigError([ConfigIssue(file, line, column, dotted, message)])
        resolved = self.resolve(str(value))
        if not resolved.exists() and not _matches_parts(resolved):
            message = (
                f"{value!r} does not exist (looked for {resolved}); check the path,"
                " or create the file first"
            )
            raise ConfigError([ConfigIssue(file, line, column, dotted, message)])
        return resolved


_CRON_FIELD = re.compile(r"^[\d*/,\-A-Za-z]+$")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _semantic_issues(raw: dict[str, Any], marked: Marked) -> list[ConfigIssue]:
    """Checks that span fields: metric names per task, bounded metric ranges, codes, cron.

    They run on the raw document, so they report even when other parts of the
    file are broken.
    """
    retrain = _mapping(raw.get("retrain"))
    monitor = _mapping(raw.get("monitor"))
    issues = _metric_issues(raw, marked) + _check_code_issues(_mapping(raw.get("data")), marked)
    issues += _cron_issues(
        retrain.get("schedule"),
        ("retrain", "schedule"),
        "'17 3 * * 1' (03:17 UTC every Monday)",
        marked,
    )
    issues += _cron_issues(
        monitor.get("schedule"),
        ("monitor", "schedule"),
        "'23 6 * * *' (06:23 UTC every day)",
        marked,
    )
    if retrain.get("data") and retrain.get("data_command"):
        issues.append(
            marked.issue(
                ("retrain", "data_command"),
                "set either retrain.data or retrain.data_command, not both",
            )
        )
    return issues


def _metric_issues(raw: dict[str, Any], marked: Marked) -> list[ConfigIssue]:
    """Metric and gate names unknown for the task, and gate bounds outside a metric's range."""
    issues: list[ConfigIssue] = []
    task = raw.get("task") if raw.get("task") in ("classification", "regression") else None
    model = _mapping(raw.get("model"))
    custom = set(_mapping(model.get("custom_metrics")))
    tasks = (task,) if task else ("classification", "regression")
    known = {n for n, m in BUILTIN_METRICS.items() if m.task in tasks} | custom
    other_task = {n for n, m in BUILTIN_METRICS.items() if m.task not in tasks}

    def unknown_metric(name: str, path: tuple[str | int, ...], at_key: bool) -> None:
        if name in other_task:
            msg = (
                f"{name!r} is a {BUILTIN_METRICS[name].task} metric but task is {task!r};"
                " use a metric of this task or change `task`"
            )
        else:
            msg = (
                f"unknown metric {name!r}; {suggest(name, known)}"
                " (declare other metrics under model.custom_metrics)"
            )
        issues.append(marked.issue(path, msg, at_key=at_key))

    metrics = model.get("metrics")
    for i, name in enumerate(metrics if isinstance(metrics, list) else []):
        if isinstance(name, str) and name not in known:
            unknown_metric(name, ("model", "metrics", i), False)
    for name, gate in _mapping(model.get("gates")).items():
        path: tuple[str | int, ...] = ("model", "gates", name)
        if name not in known:
            unknown_metric(name, path, True)
            continue
        issues += _gate_bound_issues(path, _mapping(gate), BUILTIN_METRICS.get(name), marked)
    return issues


def _gate_bound_issues(
    path: tuple[str | int, ...], gate: dict[str, Any], info: MetricInfo | None, marked: Marked
) -> list[ConfigIssue]:
    """A gate's ``min``/``max`` outside its metric's range, or ``min`` above ``max``."""
    if info is None or (info.lower is None and info.upper is None):
        return []
    issues: list[ConfigIssue] = []
    lo = info.lower if info.lower is not None else float("-inf")
    hi = info.upper if info.upper is not None else float("inf")
    for bound in ("min", "max"):
        value = gate.get(bound)
        if value is None or (_number(value) and lo <= value <= hi):
            continue
        if info.lower is not None and info.upper is not None:
            rng = f"between {info.lower:g} and {info.upper:g}"
        elif info.lower is not None:
            rng = f"of at least {info.lower:g}"
        else:
            rng = f"of at most {info.upper:g}"
        got = typedload.describe(value)
        issues.append(marked.issue((*path, bound), f"expected a number {rng}, got {got}"))
    lo_v, hi_v = gate.get("min"), gate.get("max")
    if isinstance(lo_v, int | float) and isinstance(hi_v, int | float) and lo_v > hi_v:
        issues.append(marked.issue((*path, "max"), "max is smaller than min; swap them"))
    return issues


def _check_code_issues(data: dict[str, Any], marked: Marked) -> list[ConfigIssue]:
    """Unknown check codes under ``data.checks`` and ``data.column_checks.<column>``."""
    places: list[tuple[tuple[str | int, ...], Any]] = [(("data", "checks"), data.get("checks"))]
    places += [
        (("data", "column_checks", column), checks)
        for column, checks in _mapping(data.get("column_checks")).items()
    ]
    return [
        marked.issue(
            (*path, code),
            f"unknown check {code!r}; {suggest(str(code), CHECK_CODES)}",
            at_key=True,
        )
        for path, checks in places
        for code in _mapping(checks)
        if code not in CHECK_CODES
    ]


def _cron_issues(
    schedule: object, path: tuple[str | int, ...], example: str, marked: Marked
) -> list[ConfigIssue]:
    """A schedule that is not a five-field cron expression (``example`` shows one)."""
    if not isinstance(schedule, str):
        return []
    parts = schedule.split()
    if len(parts) == 5 and all(_CRON_FIELD.match(f) for f in parts):
        return []
    return [
        marked.issue(
            path, f"{schedule!r} is not a cron expression with 5 fields; write e.g. {example}"
        )
    ]


def _from_marked(marked: Marked, root: Path) -> Config:
    if marked.value is None:
        raise ConfigError(
            [
                ConfigIssue(
                    marked.file,
                    None,
                    None,
                    "",
                    "the file is empty; run `mlci init` or start from `version: 1` and `task:`",
                )
            ]
        )
    if not isinstance(marked.value, dict):
        kind = "a list" if isinstance(marked.value, list) else "a single value"
        m = marked.mark(())
        raise ConfigError(
            [
                ConfigIssue(
                    marked.file,
                    m.line if m else None,
                    m.column if m else None,
                    "",
                    f"the top level is {kind}; mlci.yaml must be a mapping of keys"
                    " such as `version:` and `task:`",
                )
            ]
        )
    cfg, issues = typedload.load_collect(Config, marked)
    semantic = _semantic_issues(marked.value, marked)
    # A semantic message on a path is more specific than the structural one.
    specific = {i.path for i in semantic}
    issues = [i for i in issues if i.path not in specific] + semantic
    if issues or cfg is None:
        issues.sort(key=lambda i: (i.line or 0, i.column or 0))
        raise ConfigError(issues)
    return replace(cfg, root=root, source=marked)


def load_config(path: Path) -> Config:
    """Read and validate an ``mlci.yaml``.

    Raises:
        ConfigError: with every problem in the file, each with line and column.
    """
    return _from_marked(load_file(path), path.parent)


def load_config_text(text: str, file: str = CONFIG_FILE, root: Path | None = None) -> Config:
    """Validate config text (used by tests and `mlci init`)."""
    return _from_marked(load_with_marks(text, file), root or Path())


def _matches_parts(path: Path) -> bool:
    """Whether ``path`` is a glob that matches at least one Parquet part."""
    from mlci.data.io import data_files, is_glob

    return is_glob(path) and bool(data_files(path))


def find_config(path: Path | None) -> Path:
    """The config file to use: ``path`` when given, else ``./mlci.yaml``.

    Raises:
        ConfigError: when the file does not exist, with how to create one.
    """
    candidate = path if path is not None else Path(CONFIG_FILE)
    if candidate.is_dir():
        candidate = candidate / CONFIG_FILE
    if not candidate.exists():
        raise ConfigError(
            [
                ConfigIssue(
                    str(candidate),
                    None,
                    None,
                    "",
                    "config file not found; run `mlci init` to create it, or pass --config PATH",
                )
            ]
        )
    return candidate


def config_schema() -> dict[str, Any]:
    """The JSON Schema of mlci.yaml, generated from `Config`."""
    return typedload.json_schema(Config, title="mlci.yaml", schema_id=SCHEMA_URL)
