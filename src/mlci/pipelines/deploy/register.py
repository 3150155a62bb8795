"""Registration: the blessed file by hash, its lineage, and the version for this commit."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlci import __version__
from mlci.errors import DeployError, InputError
from mlci.pipelines.deploy.outcome import _bare_hash, _features, _now
from mlci.provenance import file_fingerprint
from mlci.registry import (
    ModelVersion,
    Registry,
    RegistryState,
)
from mlci.results import (
    ModelFileDoc,
    ModelResults,
    read_data_results,
    to_jsonable,
)

if TYPE_CHECKING:
    import pandas as pd

    from mlci.config import Config
    from mlci.github.runtime import Runtime
    from mlci.model.load import LoadedModel


__all__: list[str] = []

# -- deploy -------------------------------------------------------------------------------------


def _candidate(doc: ModelResults) -> ModelFileDoc:
    """The candidate model ``model.json`` names in its provenance (empty when none)."""
    models = doc.provenance.model
    return (models.candidate if models is not None else None) or ModelFileDoc()


def _model_path(config: Config, model: Path | None, doc: ModelResults) -> Path:
    if model is not None:
        return model
    if config.model.path:
        return config.resolve(config.model.path)
    path = _candidate(doc).path
    if path:
        return config.resolve(path)
    raise InputError(
        "mlci deploy: no model file given; pass --model PATH or set model.path in mlci.yaml"
    )


def _expected_hash(doc: ModelResults) -> str | None:
    value = doc.blessing.candidate_hash if doc.blessing is not None else None
    return _bare_hash(value or _candidate(doc).hash)


def _reference_file(config: Config, given: Path | None) -> Path | None:
    """The retrain's reference profile to register with the version, or None.

    ``given`` (a retrain in deploy mode), else the profile a retrain pull request committed
    (its sha256 checked against the record). A damaged profile is refused (exit 2).
    """
    from mlci.data.profile import load_profile
    from mlci.model.committed import carried_model, verify_reference

    if given is None:
        committed = carried_model(config)
        if committed is None or committed.reference is None:
            return None
        verify_reference(committed)
        given = committed.reference
    load_profile(given)  # a profile the monitor can read, before it is registered
    return given


def _data_lineage(
    doc: Mapping[str, Any], results_dir: Path, reference: Path | None
) -> dict[str, Any]:
    from mlci.registry.reference import REFERENCE_FILE

    lineage: dict[str, Any] = {"fingerprints": (doc.get("provenance") or {}).get("data")}
    if reference is not None:
        # The drift reference of this version (`mlci.registry.reference`).
        lineage["reference"] = {"file": REFERENCE_FILE, "source": "retrain fresh data"}
    data_json = results_dir / "data.json"
    if data_json.is_file():
        data_doc = read_data_results(data_json)
        lineage["profile"] = {
            "rows": data_doc.rows,
            "columns": data_doc.columns,
            "passed": data_doc.passed,
            "drift_share": data_doc.drift.share if data_doc.drift else None,
        }
        lineage["fingerprints"] = lineage["fingerprints"] or data_doc.provenance.data
    return lineage


def _production_holds(
    config: Config,
    runtime: Runtime,
    production: ModelVersion | None,
    sha: str | None,
    model_hash: str,
) -> str | None:
    """Why production stays as it is, or None to go on deploying.

    - The blessed model is byte for byte the production model (same sha256): a push that
      changed only the README registers and deploys nothing.
    - This commit is an ancestor of production's commit: a re-run of an older deploy
      ("Re-run jobs" keeps the original GITHUB_SHA), or older runs finishing after newer
      ones (a concurrency group does not keep order); production is newer.
    """
    if production is None:
        return None
    if _bare_hash(production.model_hash) == model_hash:
        return (
            f"production is v{production.version}, the same model (sha256 {model_hash[:12]});"
            " nothing registered or deployed"
        )
    prod_sha = production.git_sha
    if not sha or not prod_sha or sha == prod_sha:
        return None
    from mlci.github.git import is_ancestor

    if is_ancestor(sha, prod_sha, cwd=config.root, runtime=runtime):
        return (
            f"production is newer: v{production.version} comes from commit {prod_sha[:12]},"
            f" which already contains this commit {sha[:12]} (a re-run of an older deploy);"
            " nothing registered or deployed"
        )
    return None


def _register(
    config: Config,
    reg: Registry,
    *,
    model_path: Path,
    model_hash: str,
    doc: Mapping[str, Any],
    results_dir: Path,
    sample: pd.DataFrame | None,
    sha: str | None,
    runtime: Runtime,
    work: Path,
    reference: Path | None = None,
) -> tuple[ModelVersion, dict[str, Any]]:
    """Export ONNX where possible, then register the files with their metadata.

    ``reference`` is the profile of the data a retrain in deploy mode trained on; a
    retrain pull request's committed profile is found by itself (`_reference_file`).
    """
    from mlci.model.load import load_configured
    from mlci.registry.reference import REFERENCE_FILE

    loaded = load_configured(model_path, config.model)
    model_file = "model" + model_path.suffix.lower()
    files = {model_file: model_path}
    features = _features(sample, config, loaded.feature_names) if sample is not None else None
    onnx_info, onnx_file = _export(config, loaded, features, work)
    if onnx_file is not None:
        files["model.onnx"] = onnx_file
    reference = _reference_file(config, reference)
    if reference is not None:
        files[REFERENCE_FILE] = reference
    hashes = {name: sha256 for name, sha256 in ((n, _file_hash(p)) for n, p in files.items())}
    if hashes[model_file] != model_hash:  # pragma: no cover - the file changed under us
        raise DeployError(f"{model_path}: the file changed while deploying; re-run the deploy")
    blessing = doc.get("blessing") or {}
    metadata = {
        "created": _now(),
        "git_sha": sha,
        "pr": (doc.get("provenance") or {}).get("pr") or blessing.get("pr") or _merged_pr(runtime),
        "run_url": runtime.run_url(),
        "task": doc.get("task") or config.task,
        "model_file": model_file,
        "onnx_file": "model.onnx" if "model.onnx" in files else None,
        "format": loaded.format,
        "source_path": str(model_path),
        "features": loaded.feature_names,
        "classes": loaded.classes,
        "input_schema": _input_schema(features, loaded, onnx_file),
        "metrics": dict(doc.get("metrics") or {}),
        "params": (doc.get("params") or {}).get("candidate"),
        "baseline_metrics": doc.get("baseline_metrics"),
        "blessing": dict(blessing),
        "gates": doc.get("gates") or [],
        "data": _data_lineage(doc, results_dir, reference),
        "retrain_record": doc.get("retrain_record"),
        "onnx": {k: v for k, v in onnx_info.items() if k != "finding"},
        "hashes": hashes,
        "mlci_version": __version__,
    }
    return reg.register(files, to_jsonable(metadata)), onnx_info


def _input_schema(
    features: pd.DataFrame | None, loaded: LoadedModel, onnx_file: Path | None
) -> dict[str, Any] | None:
    """The served model's input schema, each column probed for nulls on the model served.

    The service runs the ONNX export when there is one, and an export may refuse a
    missing value the scikit-learn model imputes (an integer input, for one), so the
    probe asks the file that answers requests.
    """
    from mlci.model.load import load_model
    from mlci.serve.payload import schema_from_frame

    if features is None:
        return None
    served = load_model(onnx_file) if onnx_file is not None else loaded
    return schema_from_frame(features, model=served).to_dict()


def _export(
    config: Config, loaded: LoadedModel, features: pd.DataFrame | None, work: Path
) -> tuple[dict[str, Any], Path | None]:
    """The ONNX export of ``loaded`` when it passes parity: what happened, and the file."""
    from mlci.model.load import SklearnModel

    onnx_info: dict[str, Any] = {"exported": False}
    if loaded.format == "onnx":
        onnx_info = {"exported": False, "reason": "the model is ONNX already"}
    elif not config.model.export_onnx:
        onnx_info["reason"] = "model.export_onnx is false"
    elif features is None:
        onnx_info["reason"] = "no eval data to check the export's parity on"
    elif isinstance(loaded, SklearnModel):
        from mlci.model.onnx import export_onnx

        tol = config.model.parity
        result = export_onnx(
            loaded,
            features,
            work / "model.onnx",
            max_abs_diff=tol.max_abs_diff,
            max_label_mismatch=tol.max_label_mismatch,
        )
        if result.passed and result.output is not None:
            return {
                "exported": True,
                "precision": result.precision,
                "parity": result.parity.to_payload() if result.parity else None,
            }, result.output
        reason = "; ".join(f.message for f in result.findings) or "parity failed"
        return {
            "exported": False,
            "reason": reason,
            "finding": {
                "check": "onnx_export",
                "severity": "warning",
                "message": f"ONNX export skipped, the original file is served: {reason}",
            },
        }, None
    return onnx_info, None


_PR_IN_MESSAGE = re.compile(r"^Merge pull request #(\d+)\b|\(#(\d+)\)\s*$", re.M)


def _merged_pr(runtime: Runtime) -> int | None:
    """The pull request a push to the default branch merged, from the commit message.

    GitHub writes "Merge pull request #12 from ..." for merge commits and "Title (#12)"
    for squash merges; anything else gives None.
    """
    from mlci.github.event import read_event

    head = read_event(runtime).get("head_commit")
    message = head.get("message") if isinstance(head, dict) else None
    match = _PR_IN_MESSAGE.search(message) if isinstance(message, str) else None
    return int(match.group(1) or match.group(2)) if match else None


def _true_previous(state: RegistryState, seen: int | None) -> int | None:
    """The version production held when the event applied (another deploy may have moved it)."""
    last = state.history[-1] if state.history else {}
    previous = last.get("from", seen)
    return previous if isinstance(previous, int) or previous is None else seen


def _file_hash(path: Path) -> str:
    return _bare_hash(file_fingerprint(path)) or ""
