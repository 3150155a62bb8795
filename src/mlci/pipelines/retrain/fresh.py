"""Fresh data for a retrain: where it comes from, whether it fits the schema, its drift."""

from __future__ import annotations

import glob
import shlex
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlci.config import Config
from mlci.errors import InputError
from mlci.paths import relative_path
from mlci.proc import run_user_command, user_env
from mlci.results import Finding

if TYPE_CHECKING:
    from mlci.data.drift import DriftReport
    from mlci.data.profile import Profile


DATA_SUFFIXES = (".csv", ".tsv", ".gz", ".parquet", ".pq", ".jsonl", ".ndjson")


# -- fresh data and the reference ------------------------------------------------------------


def _is_glob(text: str) -> bool:
    return any(ch in text for ch in "*?[")


def _data_files(directory: Path) -> list[Path]:
    return sorted(
        p for p in directory.rglob("*") if p.is_file() and p.suffix.lower() in DATA_SUFFIXES
    )


def locate_fresh_data(config: Config, *, work_dir: Path) -> tuple[list[Path], str]:
    """Find the fresh data a retrain uses.

    Args:
        config: The loaded mlci.yaml.
        work_dir: Where ``retrain.data_command`` writes its files (emptied first).

    Returns:
        The data files and how they were found (for the summary).

    Raises:
        InputError: when nothing matches, or the data command fails or writes nothing.
    """
    rc = config.retrain
    if rc.data:
        pattern = str(config.resolve(rc.data))
        if _is_glob(rc.data):
            found = sorted(
                Path(p)
                for p in glob.glob(pattern, recursive=True)  # noqa: PTH207 - absolute patterns too
                if Path(p).is_file()
            )
            if not found:
                raise InputError(
                    f"{config.where('retrain', 'data')}: retrain.data: no file matches"
                    f" {rc.data!r} (looked in {config.root}); check the glob"
                )
            return found, f"retrain.data {rc.data!r} ({len(found)} file(s))"
        path = Path(pattern)
        if not path.exists():
            raise InputError(
                f"{config.where('retrain', 'data')}: retrain.data: {rc.data!r} does not exist"
                f" (looked for {path}); check the path"
            )
        return [path], f"retrain.data {rc.data!r}"
    if rc.data_command:
        if work_dir.exists():
            shutil.rmtree(work_dir)
        work_dir.mkdir(parents=True)
        env = user_env(MLCI_RETRAIN_DATA_DIR=str(work_dir.resolve()))
        try:
            code = run_user_command(rc.data_command, cwd=config.root, env=env)
        except OSError as exc:
            raise InputError(
                f"{config.where('retrain', 'data_command')}: retrain.data_command could not"
                f" start ({exc.strerror}); check the command"
            ) from None
        if code != 0:
            raise InputError(
                f"{config.where('retrain', 'data_command')}: retrain.data_command"
                f" {shlex.quote(rc.data_command)} exited with {code}; fix the"
                " command (it must write data files into $MLCI_RETRAIN_DATA_DIR)"
            )
        found = _data_files(work_dir)
        if not found:
            raise InputError(
                f"{config.where('retrain', 'data_command')}: retrain.data_command wrote no data"
                f" file into $MLCI_RETRAIN_DATA_DIR ({work_dir}); write .csv, .parquet or"
                " .jsonl files there"
            )
        return found, f"retrain.data_command ({len(found)} file(s))"
    if config.data.current:
        path = config.existing_path("data", "current", purpose="the fresh data of a retrain")
        return [path], f"data.current {config.data.current!r} (retrain.data is not set)"
    raise InputError(
        f"{config.where('retrain')}: retrain.data, retrain.data_command and data.current are"
        " all unset; say where fresh data comes from, e.g. `retrain: {data: data/batches/*.csv}`"
    )


def schema_findings(
    reference: Profile, current: Profile, *, ignore: Sequence[str] = ()
) -> list[Finding]:
    """Columns the model's data had that are missing now, or whose type changed.

    A small check on the two profiles alone (``missing_column``, ``dtype_mismatch``;
    errors), so that a broken batch stops a retrain before anything trains on it.
    """
    out: list[Finding] = []
    for name, ref in reference.columns.items():
        if name in ignore:
            continue
        cur = current.columns.get(name)
        if cur is None:
            out.append(
                Finding(
                    "missing_column",
                    "error",
                    f"column {name!r} of the reference is missing from the fresh data",
                    column=name,
                )
            )
        elif ref.kind is not None and cur.kind is not None and ref.kind != cur.kind:
            out.append(
                Finding(
                    "dtype_mismatch",
                    "error",
                    f"column {name!r} was {ref.kind} in the reference and is {cur.kind} now",
                    column=name,
                    observed=cur.kind,
                    expected=ref.kind,
                )
            )
    return out


#: Check codes that mean the fresh data does not fit the model's schema: they stop a
#: retrain. Other findings (ranges, domains, null shares) are value drift: recorded only.
STRUCTURAL_CHECKS = frozenset(
    {"missing_column", "dtype_mismatch", "label_missing", "duplicate_key", "row_count"}
)


def check_fresh_data(
    config: Config, files: Sequence[Path], reference: Profile | None, fresh: Profile
) -> list[Finding]:
    """Check the fresh data: against ``data.schema`` when the file exists, else the reference.

    With a schema file, the data checks of ``mlci validate-data`` run on every file;
    findings of `STRUCTURAL_CHECKS` keep their severity (errors stop the retrain) and
    the value checks become warnings (value drift is recorded, not fatal: it is what
    a retrain is for). Without one, `schema_findings` compares the two profiles.
    """
    schema_path = config.resolve(config.data.schema)
    if not schema_path.is_file():
        if reference is None:
            return []
        return schema_findings(reference, fresh, ignore=config.data.drift.ignore)
    from mlci.data.checks import Checker, severity_resolver
    from mlci.data.io import iter_frames
    from mlci.data.schema import load_schema

    schema = load_schema(schema_path)
    severity = severity_resolver(config.data.checks, config.data.column_checks)
    out: list[Finding] = []
    for path in files:
        checker = Checker(
            schema,
            severity=severity,
            target=config.data.target,
            id_columns=config.data.id_columns,
            data_name=relative_path(path, config.root),
        )
        for offset, frame in iter_frames(path, chunk_rows=config.data.chunk_rows):
            checker.update(offset, frame)
        for finding in checker.finish():
            if finding.check not in STRUCTURAL_CHECKS and finding.severity == "error":
                finding.severity = "warning"
            finding.file = finding.file or relative_path(path, config.root)
            out.append(finding)
    return out


def compute_drift(config: Config, reference: Profile, current: Profile) -> DriftReport:
    """Drift of ``current`` against the reference: features, and the label as ``label``."""
    from mlci.data.drift import compare_profiles

    kinds: dict[str, Any] = {}
    if config.data.target:
        kinds[config.data.target] = "label"
    if config.data.prediction:
        kinds[config.data.prediction] = "prediction"
    ignore = set(config.data.id_columns)
    names = [n for n in reference.columns if n in current.columns and n not in ignore]
    return compare_profiles(reference, current, config.data.drift, columns=names, kinds=kinds)
