"""`mlci validate-data`: check current data against the schema and the reference, write data.json.

One pass over the current data runs the schema checks and builds its profile;
drift compares that profile with the reference profile (computed from the
reference data, or read from a stored profile so the reference is never re-read).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlci.config import Config, DataConfig
from mlci.data.io import is_glob
from mlci.errors import InputError, MlciError
from mlci.github.runtime import Annotation, Runtime
from mlci.paths import contained_path
from mlci.provenance import file_fingerprint
from mlci.report.summaries import data_summary
from mlci.results import (
    DEFAULT_RESULTS_DIR,
    DataResults,
    Finding,
    as_typed,
    has_errors,
    make_document,
    write_results,
)

if TYPE_CHECKING:
    from mlci.data.checks import Checker
    from mlci.data.profile import Profile
    from mlci.data.schema import DataSchema

__all__ = ["validate_data"]


def validate_data(
    config: Config | None,
    *,
    current: Path | None = None,
    reference: Path | None = None,
    reference_profile: Path | None = None,
    schema: Path | None = None,
    drift: bool = True,
    results_dir: Path | None = None,
    runtime: Runtime | None = None,
    shard: tuple[int, int] | None = None,
    shards_from: list[Path] | None = None,
    current_profile: Path | None = None,
) -> dict[str, Any]:
    """Validate the current data; write ``<results_dir>/data.json``.

    Args:
        config: The loaded mlci.yaml, or None to use defaults (flags then say everything).
        current: The data to validate (default: ``data.current``).
        reference: Reference data or profile (default: ``data.reference``).
        reference_profile: A stored reference profile (wins over ``reference``).
        schema: The schema file (default: ``data.schema``).
        drift: Whether to compute drift (also needs ``data.drift.enabled``).
        results_dir: Where to write data.json (default: ``mlci-results``).
        runtime: The Actions runtime (default: the environment's).
        shard: ``(index, count)``: check only that shard of a folder of Parquet parts
            and write its partial state to ``<results_dir>/shard-I-of-N/`` (state,
            key hashes and, with drift, the shard's profile); no verdict.
        shards_from: Folders written by every shard: fold them, in shard order, into
            the one verdict (the same findings as one machine reading every part).
        current_profile: With ``shards_from``: the merged profile of the current data
            (`mlci profile merge`); default: merge the shards' profiles.

    Returns:
        The ``data.json`` document; ``passed`` is false when a finding has error severity.
        A shard returns a short summary of its part instead (``passed`` true).

    Raises:
        InputError: for missing or unusable data, schema or profile files.
    """
    rt = runtime or Runtime()
    try:
        return _validate(
            config,
            rt,
            current=current,
            reference=reference,
            reference_profile=reference_profile,
            schema=schema,
            drift=drift,
            results_dir=results_dir,
            shard=shard,
            shards_from=shards_from,
            current_profile=current_profile,
        )
    except MlciError:
        if rt.on_actions:
            rt.set_output("passed", "false")
            rt.set_output("results-path", "")
        raise


@dataclass(frozen=True)
class _Paths:
    """The files one validation reads."""

    current: Path
    reference: Path | None
    schema: Path | None


@dataclass
class _Read:
    """What one pass over the current data gave: the checker, the columns, the profile."""

    checker: Checker
    columns: list[str] = field(default_factory=list)
    profile: Profile | None = None
    shard_count: int | None = None


def _validate(
    config: Config | None,
    rt: Runtime,
    *,
    current: Path | None,
    reference: Path | None,
    reference_profile: Path | None,
    schema: Path | None,
    drift: bool,
    results_dir: Path | None,
    shard: tuple[int, int] | None,
    shards_from: list[Path] | None,
    current_profile: Path | None,
) -> dict[str, Any]:
    cfg = config.data if config else DataConfig()
    paths = _paths(config, cfg, current, reference_profile or reference, schema, shards_from)
    drift_on = drift and cfg.drift.enabled
    data_schema, ref_profile, notes = _schema_and_reference(
        cfg,
        paths,
        schema_given=schema is not None,
        stored_profile=reference_profile is not None,
        drift_on=drift_on,
    )
    # After the schema and the reference, whose errors then cost no hashing.
    fingerprint = _fingerprint_ahead(paths.current) if shard is None else None
    read = _read_current(
        cfg, paths, data_schema, ref_profile, drift_on, shard, shards_from, current_profile
    )
    if shard is not None:
        return _write_shard(rt, read, paths, shard, results_dir)
    findings = read.checker.finish()
    drift_payload = None
    if read.profile is not None and ref_profile is not None:
        drift_findings, drift_payload = _drift(cfg, data_schema, ref_profile, read.profile)
        findings += drift_findings
    if any(f.check == "drift" and f.severity == "error" for f in findings):
        findings = _pre_existing_drift(
            findings,
            cfg.drift.pre_existing,
            [p for p in (paths.current, paths.reference) if p],
            rt,
        )
    findings = notes + findings
    for f in findings:
        if f.file is None and f.check != "schema_inferred":
            f.file = rt.workspace_path(paths.current)
    passed = not has_errors(findings)
    document = make_document(
        "data",
        passed=passed,
        findings=findings,
        payload={
            "rows": read.checker.rows,
            "columns": len(read.columns),
            "counts": _counts(findings),
            "drift": drift_payload,
            "shards": read.shard_count,
        },
        provenance=_provenance(rt, paths, fingerprint),
    )
    written = write_results(results_dir or Path(DEFAULT_RESULTS_DIR), document)
    _report(rt, document, data_name=str(paths.current), written=written)
    if rt.on_actions:
        rt.set_output("passed", "true" if passed else "false")
        rt.set_output("results-path", rt.workspace_path(written))
    return document


def _paths(
    config: Config | None,
    cfg: DataConfig,
    current: Path | None,
    reference: Path | None,
    schema: Path | None,
    shards_from: list[Path] | None,
) -> _Paths:
    """The current data, the reference and the schema: the flags, else mlci.yaml."""
    from mlci.data.io import detect_format

    def resolve(value: str | None) -> Path | None:
        if value is None:
            return None
        return config.resolve(value) if config else Path(value)

    current_path = current or resolve(cfg.current)
    if current_path is None:
        raise InputError(
            "validate-data: no current data to validate; pass --current PATH or set"
            " data.current in mlci.yaml"
        )
    if shards_from is None:
        detect_format(current_path)
    return _Paths(current_path, reference or resolve(cfg.reference), schema or resolve(cfg.schema))


def _schema_and_reference(
    cfg: DataConfig, paths: _Paths, *, schema_given: bool, stored_profile: bool, drift_on: bool
) -> tuple[DataSchema, Profile | None, list[Finding]]:
    """The schema (the file, else inferred from the reference) and the reference profile.

    Returns:
        The schema, the reference profile (when drift or inference needs it) and a note
        when the schema was inferred.
    """
    from mlci.data.profile import is_profile_file, load_profile, profile_path
    from mlci.data.schema import infer_schema, load_schema, schema_kinds

    schema_path, ref_path = paths.schema, paths.reference
    data_schema = None
    if schema_given or (schema_path is not None and schema_path.exists()):
        assert schema_path is not None
        data_schema = load_schema(schema_path)
    elif ref_path is None:
        raise InputError(
            f"{schema_path}: schema file not found and no reference to infer one from;"
            " run `mlci schema infer REFERENCE -o mlci/schema.yaml`, or pass --schema or"
            " --reference"
        )
    ref_profile = None
    if ref_path is not None and (drift_on or data_schema is None):
        if stored_profile or is_profile_file(ref_path):
            ref_profile = load_profile(ref_path)
        else:
            kinds = schema_kinds(data_schema) if data_schema else None
            ref_profile = profile_path(
                ref_path, chunk_rows=cfg.chunk_rows, kinds=kinds, track_unique=data_schema is None
            )
    if data_schema is not None:
        return data_schema, ref_profile, []
    assert ref_profile is not None
    note = Finding(
        "schema_inferred",
        "info",
        f"no schema file at {schema_path}; the data was checked against a schema inferred"
        " from the reference. Write one with `mlci schema infer` and commit it",
        file=str(schema_path),
    )
    inferred = infer_schema(ref_profile, target=cfg.target, id_columns=cfg.id_columns)
    return inferred, ref_profile, [note]


def _read_current(
    cfg: DataConfig,
    paths: _Paths,
    data_schema: DataSchema,
    ref_profile: Profile | None,
    drift_on: bool,
    shard: tuple[int, int] | None,
    shards_from: list[Path] | None,
    current_profile: Path | None,
) -> _Read:
    """One pass over the current data (or the shards' states): the checks and the profile."""
    from mlci.data.checks import Checker, severity_resolver
    from mlci.data.io import iter_frames
    from mlci.data.profile import Profiler
    from mlci.data.schema import schema_kinds

    read = _Read(
        Checker(
            data_schema,
            severity=severity_resolver(cfg.checks, cfg.column_checks),
            target=cfg.target,
            id_columns=cfg.id_columns,
            data_name=paths.current.name,
        )
    )
    kinds = dict(ref_profile.kinds()) if ref_profile else {}
    kinds.update(schema_kinds(data_schema))
    profiler = Profiler(kinds) if drift_on and ref_profile is not None else None
    if shards_from is not None:
        _absorb_shards(read, paths, data_schema, shards_from)
        if profiler is not None:
            read.profile = _merged_profile(current_profile, shards_from)
        return read
    if shard is None:
        _index_keys(read.checker, paths.current, cfg.chunk_rows)
    frames = iter_frames(
        paths.current,
        chunk_rows=cfg.chunk_rows,
        shard=shard,
        read_ahead=True,
        text_as_categories=True,
    )
    for offset, frame in frames:
        if not read.columns:
            read.columns = [str(c) for c in frame.columns]
            _check_overlap(data_schema.columns, read.columns, paths.current, paths.schema)
        converted = read.checker.update(offset, frame)
        if profiler is not None:
            profiler.update(offset, frame, converted)
    if profiler is not None:
        read.profile = profiler.finish()
    return read


def _index_keys(checker: Checker, current: Path, chunk_rows: int) -> None:
    """Hash the keys of Parquet data first, so only rows with a repeated key are hashed.

    Reading one key column of a Parquet file costs a few milliseconds per million rows;
    hashing every row costs a large part of the checks (see `Checker.index_keys`).
    Other formats would be parsed twice, so their rows are hashed as they come.
    """
    from mlci.data.io import detect_format, iter_frames

    keys = checker.key_columns()
    if not keys or detect_format(current) not in ("parquet", "parquet-dir"):
        return
    frames = iter_frames(current, chunk_rows=chunk_rows, columns=keys, text_as_categories=True)
    try:
        checker.index_keys(frames)
    except InputError:
        return  # the full read reports what is wrong with the data (or rows are hashed)


def _absorb_shards(
    read: _Read, paths: _Paths, data_schema: DataSchema, shards_from: list[Path]
) -> None:
    """Fold every shard's partial state into the checker, in shard order."""
    from mlci.data.shards import read_shards

    checker = read.checker
    read.shard_count, states = read_shards(shards_from, keys=list(checker._key_hashes))
    for doc, arrays in states:
        if not read.columns and doc["chunks"]:
            read.columns = list(doc["chunks"][0]["names"])
            _check_overlap(data_schema.columns, read.columns, paths.current, paths.schema)
        checker.absorb(doc, arrays)


def _write_shard(
    rt: Runtime, read: _Read, paths: _Paths, shard: tuple[int, int], results_dir: Path | None
) -> dict[str, Any]:
    """A shard's partial state for the merge job, which gives the verdict."""
    from mlci.data.shards import write_shard

    out = (results_dir or Path(DEFAULT_RESULTS_DIR)) / f"shard-{shard[0]}-of-{shard[1]}"
    write_shard(out, shard, read.checker, read.profile)
    rt.info(
        f"validate-data: shard {shard[0]}/{shard[1]} of {paths.current}: {read.checker.rows}"
        f" rows; partial results in {out} (the merge job gives the verdict)"
    )
    return {"kind": "data-shard", "passed": True, "rows": read.checker.rows, "path": str(out)}


def _drift(
    cfg: DataConfig, data_schema: DataSchema, ref_profile: Profile, cur_profile: Profile
) -> tuple[list[Finding], dict[str, Any]]:
    """Drift from the reference (keys left out) and the one drift rule's findings."""
    from mlci.data.drift import compare_profiles, drift_findings

    keys = set(cfg.id_columns) | {n for n, c in data_schema.columns.items() if c.unique}
    kinds_of: dict[str, Any] = {}
    if cfg.target:
        kinds_of[cfg.target] = "label"
    if cfg.prediction:
        kinds_of[cfg.prediction] = "prediction"
    names = [n for n in ref_profile.columns if n in cur_profile.columns and n not in keys]
    report = compare_profiles(ref_profile, cur_profile, cfg.drift, columns=names, kinds=kinds_of)
    findings = drift_findings(report, cfg.drift, checks=cfg.checks, column_checks=cfg.column_checks)
    return findings, report.to_dict()


def _counts(findings: list[Finding]) -> dict[str, dict[str, int]]:
    """Errors and warnings per check."""
    counts: dict[str, dict[str, int]] = {}
    for f in findings:
        counts.setdefault(f.check, {"error": 0, "warning": 0})
        if f.severity in ("error", "warning"):
            counts[f.check][f.severity] += 1
    return counts


def _fingerprint_ahead(current: Path) -> Callable[[], str | None]:
    """The fingerprint of the current data, hashed on a second thread meanwhile.

    hashlib releases the GIL while it hashes, so the hash of a large file overlaps
    the checks instead of following them. Returns a function giving the fingerprint
    (None when there is no such file), raising what hashing raised.
    """
    from concurrent.futures import ThreadPoolExecutor

    if not (current.exists() or is_glob(current)):
        return lambda: None
    pool = ThreadPoolExecutor(1, thread_name_prefix="mlci-fingerprint")
    future = pool.submit(file_fingerprint, current)
    pool.shutdown(wait=False)
    return future.result


def _provenance(
    rt: Runtime, paths: _Paths, fingerprint: Callable[[], str | None] | None = None
) -> dict[str, Any]:
    """The files validated, workspace-relative, with their fingerprints."""
    current, ref_path, schema_path = paths.current, paths.reference, paths.schema
    if fingerprint is None:
        fingerprint = _fingerprint_ahead(current)
    return {
        "data": {
            "current": {
                "path": rt.workspace_path(current),
                "fingerprint": fingerprint(),
            },
            "reference": None
            if ref_path is None
            else {"path": rt.workspace_path(ref_path), "fingerprint": file_fingerprint(ref_path)},
            "schema": None
            if schema_path is None or not schema_path.exists()
            else {
                "path": rt.workspace_path(schema_path),
                "fingerprint": file_fingerprint(schema_path),
            },
        }
    }


def _merged_profile(current_profile: Path | None, shards_from: list[Path]) -> Any:
    """The current data's profile: the merged one given, else the shards' merged here."""
    from mlci.data.profile import load_profile, merge_profiles
    from mlci.data.shards import shard_profiles

    if current_profile is not None:
        return load_profile(current_profile)
    return merge_profiles(load_profile(p) for p in shard_profiles(shards_from))


def _check_overlap(
    schema_columns: dict[str, Any], columns: list[str], data: Path, schema: Path | None
) -> None:
    if not schema_columns or set(schema_columns) & set(columns):
        return

    def show(names: list[str]) -> str:
        head = ", ".join(repr(n) for n in names[:6])
        return head + (f" and {len(names) - 6} more" if len(names) > 6 else "")

    raise InputError(
        f"{data}: none of its columns ({show(columns)}) is in the schema {schema}"
        f" ({show(list(schema_columns))}); check that the data and the schema belong"
        " together, or re-infer the schema with `mlci schema infer`"
    )


def pull_request_changes(cwd: Path) -> list[str] | None:
    """The files a pull request changes, when HEAD is GitHub's merge commit for it.

    A ``pull_request`` run checks out ``refs/pull/N/merge``, whose first parent is the
    base branch (mlci-pr.yml fetches two commits deep for this). None when that is
    not what HEAD is (a local run, a shallow clone of one commit).
    """
    from mlci.proc import git

    if git("rev-parse", "--verify", "--quiet", "HEAD^2", cwd=cwd) is None:
        return None
    if git("rev-parse", "--verify", "--quiet", "HEAD^1", cwd=cwd) is None:
        return None
    out = git("diff", "--name-only", "HEAD^1", "HEAD", cwd=cwd)
    return out.splitlines() if out else []


def _pre_existing_drift(
    findings: list[Finding], severity: str, data: list[Path], rt: Runtime
) -> list[Finding]:
    """Drift findings at ``data.drift.pre_existing`` when the pull request changes no data.

    Drift of data the pull request does not touch was already on the base branch:
    blocking an unrelated change for it helps nobody (the retrain and monitor
    workflows are where it is acted on).
    """
    from mlci.proc import git

    if rt.event_name not in ("pull_request",) or severity == "error":
        return findings
    cwd = data[0] if data[0].is_dir() else data[0].parent
    changed = pull_request_changes(cwd)
    top = git("rev-parse", "--show-toplevel", cwd=cwd)
    if changed is None or top is None:
        return findings
    found = [contained_path(p, top) for p in data]
    paths = [p for p in found if p is not None]
    if len(paths) != len(found):
        return findings  # data outside the repository: cannot tell
    if any(c == p or c.startswith(p.rstrip("/") + "/") for c in changed for p in paths):
        return findings
    note = (
        " (this pull request changes no data file, so the drift was already on the base"
        " branch; data.drift.pre_existing sets its severity here)"
    )
    out = []
    for f in findings:
        if f.check == "drift" and f.severity == "error":
            if severity == "off":
                continue
            f.severity = severity  # type: ignore[assignment]
            f.message += note
        out.append(f)
    return out


def _report(rt: Runtime, document: dict[str, Any], *, data_name: str, written: Path) -> None:
    findings = document["findings"]
    drift = document.get("drift")
    sharded = f" from {document['shards']} shards" if document.get("shards") else ""
    rt.info(
        f"validate-data: {data_name}: {document['rows']} rows, {document['columns']} columns"
        + sharded
    )
    for f in findings:
        where = f"{f['column']}: " if f.get("column") else ""
        rt.info(f"  {f['severity']:<8} {f['check']:<20} {where}{f['message']}")
    if drift is not None:
        tested = [c for c in drift["columns"] if c["method"] != "none" and c["kind"] == "feature"]
        drifted = sum(c["drifted"] for c in tested)
        rt.info(
            f"drift: {drifted} of {len(tested)} feature columns drifted ({drift['share']:.0%};"
            f" dataset drift at {drift['share_threshold']:.0%})"
        )
    tally = Counter(f["severity"] for f in findings)
    verdict = "passed" if document["passed"] else "FAILED"
    rt.info(
        f"{verdict}: {tally['error']} error(s), {tally['warning']} warning(s); results in {written}"
    )
    for f in findings:
        if f["severity"] in ("error", "warning"):
            rt.annotate(
                Annotation(
                    f["severity"],
                    f["message"],
                    file=f.get("file"),
                    title=f"mlci data: {f['check']}",
                )
            )
    if rt.on_actions:
        rt.flush_annotations()
        rt.summary(data_summary(as_typed(DataResults, document, what="data.json"), verdict))
