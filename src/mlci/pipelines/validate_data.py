"""`mlci validate-data`: check current data against the schema and the reference, write data.json.

One pass over the current data runs the schema checks and builds its profile;
drift compares that profile with the reference profile (computed from the
reference data, or read from a stored profile so the reference is never re-read).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from mlci.config import Config, DataConfig
from mlci.errors import InputError, MlciError
from mlci.github.runtime import Annotation, Runtime
from mlci.provenance import file_fingerprint
from mlci.report.summaries import data_summary
from mlci.results import (
    DEFAULT_RESULTS_DIR,
    Finding,
    has_errors,
    make_document,
    write_results,
)

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
    from mlci.data.checks import Checker, severity_resolver
    from mlci.data.drift import compare_profiles, drift_findings
    from mlci.data.io import detect_format, iter_frames
    from mlci.data.profile import Profiler, is_profile_file, load_profile, profile_path
    from mlci.data.schema import infer_schema, load_schema, schema_kinds

    cfg = config.data if config else DataConfig()

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
    ref_path = reference_profile or reference or resolve(cfg.reference)
    schema_path = schema or resolve(cfg.schema)
    drift_on = drift and cfg.drift.enabled
    notes: list[Finding] = []

    data_schema = None
    if schema is not None or (schema_path is not None and schema_path.exists()):
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
        if reference_profile is not None or is_profile_file(ref_path):
            ref_profile = load_profile(ref_path)
        else:
            kinds = schema_kinds(data_schema) if data_schema else None
            ref_profile = profile_path(
                ref_path, chunk_rows=cfg.chunk_rows, kinds=kinds, track_unique=data_schema is None
            )
    if data_schema is None:
        assert ref_profile is not None
        data_schema = infer_schema(ref_profile, target=cfg.target, id_columns=cfg.id_columns)
        notes.append(
            Finding(
                "schema_inferred",
                "info",
                f"no schema file at {schema_path}; the data was checked against a schema inferred"
                " from the reference. Write one with `mlci schema infer` and commit it",
                file=str(schema_path),
            )
        )

    severity = severity_resolver(cfg.checks, cfg.column_checks)
    data_name = current_path.name
    checker = Checker(
        data_schema,
        severity=severity,
        target=cfg.target,
        id_columns=cfg.id_columns,
        data_name=data_name,
    )
    kinds = dict(ref_profile.kinds()) if ref_profile else {}
    kinds.update(schema_kinds(data_schema))
    profiler = Profiler(kinds) if drift_on and ref_profile is not None else None
    cur_profile = None
    columns: list[str] = []
    shard_count: int | None = None
    if shards_from is not None:
        from mlci.data.shards import read_shards

        shard_count, states = read_shards(shards_from, keys=list(checker._key_hashes))
        for doc, arrays in states:
            if not columns and doc["chunks"]:
                columns = list(doc["chunks"][0]["names"])
                _check_overlap(data_schema.columns, columns, current_path, schema_path)
            checker.absorb(doc, arrays)
        if profiler is not None:
            cur_profile = _merged_profile(current_profile, shards_from)
    else:
        frames = iter_frames(current_path, chunk_rows=cfg.chunk_rows, shard=shard)
        for offset, frame in frames:
            if not columns:
                columns = [str(c) for c in frame.columns]
                _check_overlap(data_schema.columns, columns, current_path, schema_path)
            converted = checker.update(offset, frame)
            if profiler is not None:
                profiler.update(offset, frame, converted)
        if profiler is not None:
            cur_profile = profiler.finish()
    if shard is not None:
        from mlci.data.shards import write_shard

        out = (results_dir or Path(DEFAULT_RESULTS_DIR)) / f"shard-{shard[0]}-of-{shard[1]}"
        write_shard(out, shard, checker, cur_profile)
        rt.info(
            f"validate-data: shard {shard[0]}/{shard[1]} of {current_path}: {checker.rows} rows;"
            f" partial results in {out} (the merge job gives the verdict)"
        )
        return {"kind": "data-shard", "passed": True, "rows": checker.rows, "path": str(out)}
    findings = checker.finish()
    rows = checker.rows

    drift_payload: dict[str, Any] | None = None
    if cur_profile is not None and ref_profile is not None:
        keys = set(cfg.id_columns) | {n for n, c in data_schema.columns.items() if c.unique}
        kinds_of: dict[str, Any] = {}
        if cfg.target:
            kinds_of[cfg.target] = "label"
        if cfg.prediction:
            kinds_of[cfg.prediction] = "prediction"
        names = [n for n in ref_profile.columns if n in cur_profile.columns and n not in keys]
        report = compare_profiles(
            ref_profile, cur_profile, cfg.drift, columns=names, kinds=kinds_of
        )
        findings += drift_findings(
            report, cfg.drift, checks=cfg.checks, column_checks=cfg.column_checks
        )
        drift_payload = report.to_dict()

    if any(f.check == "drift" and f.severity == "error" for f in findings):
        findings = _pre_existing_drift(
            findings, cfg.drift.pre_existing, [p for p in (current_path, ref_path) if p], rt
        )
    findings = notes + findings
    for f in findings:
        if f.file is None and f.check != "schema_inferred":
            f.file = rt.workspace_path(current_path)
    passed = not has_errors(findings)
    counts: dict[str, dict[str, int]] = {}
    for f in findings:
        counts.setdefault(f.check, {"error": 0, "warning": 0})
        if f.severity in ("error", "warning"):
            counts[f.check][f.severity] += 1
    provenance: dict[str, Any] = {
        "data": {
            "current": {
                "path": rt.workspace_path(current_path),
                "fingerprint": file_fingerprint(current_path) if current_path.exists() else None,
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
    document = make_document(
        "data",
        passed=passed,
        findings=findings,
        payload={
            "rows": rows,
            "columns": len(columns),
            "counts": counts,
            "drift": drift_payload,
            "shards": shard_count,
        },
        provenance=provenance,
    )
    out_dir = results_dir or Path(DEFAULT_RESULTS_DIR)
    written = write_results(out_dir, document)
    _report(rt, document, data_name=str(current_path), written=written)
    if rt.on_actions:
        rt.set_output("passed", "true" if passed else "false")
        rt.set_output("results-path", rt.workspace_path(written))
    return document


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
    paths = []
    for p in data:
        try:
            paths.append(p.resolve().relative_to(Path(top).resolve()).as_posix())
        except ValueError:
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
        rt.summary(data_summary(document, verdict))
