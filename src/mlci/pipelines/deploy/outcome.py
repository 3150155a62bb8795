"""What a deploy or rollback did: the outcome, ``deploy.json`` and the job summary."""

from __future__ import annotations

import contextlib
import datetime as _dt
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from mlci.errors import InputError
from mlci.registry import Registry
from mlci.report.summaries import deploy_summary
from mlci.results import (
    Finding,
    make_document,
    write_results,
)

if TYPE_CHECKING:
    import pandas as pd

    from mlci.config import Config
    from mlci.github.runtime import Runtime


__all__ = ["DeployOutcome"]

Status = Literal["deployed", "unchanged", "refused", "failed", "rolled_back"]


SAMPLE_ROWS = 2000


@dataclass
class DeployOutcome:
    """What a deploy or rollback did.

    Attributes:
        status: ``deployed``, ``unchanged`` (already in production), ``rolled_back``,
            ``refused`` (not blessed) or ``failed``.
        version: The version concerned.
        previous: The production version before, if any.
        message: One line for the terminal.
        document: The ``deploy.json`` results document written.
    """

    status: Status
    version: int | None
    previous: int | None
    message: str
    document: dict[str, Any] = field(default_factory=dict)


# -- small helpers ------------------------------------------------------------------------


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()


def _bare_hash(value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    return value.split(":", 1)[1] if value.startswith("sha256:") else value


def _read_sample(config: Config, rows: int) -> pd.DataFrame | None:
    """The first ``rows`` rows of the eval data, or None when no eval data is configured."""
    if not config.data.eval:
        return None
    from mlci.data.io import iter_frames

    path = config.resolve(config.data.eval)
    for _, frame in iter_frames(path, chunk_rows=max(rows, 1000)):
        return frame.head(rows).reset_index(drop=True)
    return None  # pragma: no cover - iter_frames raises on empty data


def _features(frame: pd.DataFrame, config: Config, names: list[str] | None) -> pd.DataFrame:
    if names:
        missing = [n for n in names if n not in frame.columns]
        if missing:
            raise InputError(
                f"{config.data.eval}: the eval data lacks the model's feature column(s)"
                f" {', '.join(map(repr, missing[:10]))}; fix data.eval or model.features"
            )
        return frame[names]
    drop = [c for c in (config.data.target, config.data.prediction, *config.data.id_columns) if c]
    return frame.drop(columns=[c for c in drop if c in frame.columns])


def _metric_changes(new: Mapping[str, Any], old: Mapping[str, Any] | None) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for name in sorted(set(new) | set(old or {})):
        after, before = new.get(name), (old or {}).get(name)
        delta = (
            after - before
            if isinstance(after, int | float) and isinstance(before, int | float)
            else None
        )
        changes[name] = {"before": before, "after": after, "delta": delta}
    return changes


def _finish(
    outcome: DeployOutcome,
    *,
    config: Config,
    results_dir: Path,
    runtime: Runtime,
    registry: Registry | None,
    findings: list[Finding],
    payload: dict[str, Any],
    provenance: dict[str, Any],
) -> DeployOutcome:
    payload = {
        "status": outcome.status,
        "version": outcome.version,
        "previous_version": outcome.previous,
        "environment": config.deploy.environment,
        "registry": {
            "backend": registry.name if registry else config.registry.backend,
            "location": registry.describe() if registry else None,
        },
        **payload,
    }
    passed = outcome.status in ("deployed", "unchanged", "rolled_back")
    document = make_document(
        "deploy", passed=passed, findings=findings, payload=payload, provenance=provenance
    )
    write_results(results_dir, document)
    outcome.document = document
    runtime.summary(
        deploy_summary(
            document,
            status=outcome.status,
            version=outcome.version,
            previous=outcome.previous,
            message=outcome.message,
        )
    )
    runtime.set_output(
        "deployed", "true" if outcome.status in ("deployed", "rolled_back") else "false"
    )
    runtime.set_output("version", "" if outcome.version is None else str(outcome.version))
    runtime.set_output("status", outcome.status)
    return outcome


@contextlib.contextmanager
def _workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="mlci-deploy-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
