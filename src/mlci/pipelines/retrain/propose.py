"""The retrain pull request: the challenger and its record on ``retrain.branch``, proposed.

The body is rendered by `mlci.report.retrain`; the REST calls are `mlci.github.pulls`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlci import jsonio
from mlci.config import Config
from mlci.errors import DeployError, InputError
from mlci.github.git import MAX_BLOB_BYTES
from mlci.github.pulls import PullRequestResult, find_own_pull, open_or_update_pull_request
from mlci.github.runtime import Runtime
from mlci.model.committed import RECORD_PATH as RECORD_PATH  # re-exported: the record's one path
from mlci.model.committed import REFERENCE_PATH as REFERENCE_PATH  # the reference beside it
from mlci.paths import contained_path
from mlci.provenance import file_fingerprint, repo_toplevel
from mlci.report.retrain import pull_request_body
from mlci.results import ModelResults, RetrainResults, as_typed, to_jsonable

if TYPE_CHECKING:
    from mlci.github.api import GitHubClient

__all__ = ["PR_MARKER", "RECORD_PATH", "REFERENCE_PATH", "check_branch", "github_target", "propose"]

#: Hidden marker that identifies mlci's retrain pull request (with the report key).
PR_MARKER = "<!-- mlci-retrain:{key} -->"


def _marker(config: Config) -> str:
    return PR_MARKER.format(key=config.report.key)


def github_target(runtime: Runtime, client: GitHubClient | None) -> tuple[GitHubClient, str]:
    """A client with a token, and the repository the pull request goes to."""
    from mlci.github.api import GitHubClient

    missing = (
        "retrain.mode pull-request: no token; pass the workflow token as the action's"
        " github-token input or set GITHUB_TOKEN (permissions: contents: write,"
        " pull-requests: write)"
    )
    return GitHubClient.with_token(runtime, client, missing=missing), str(runtime.repository)


def check_branch(config: Config, target: tuple[GitHubClient, str]) -> None:
    """Fail fast, before training, when a pull request mlci did not open holds the branch."""
    find_own_pull(target[0], target[1], config.retrain.branch, _marker(config))


def propose(
    config: Config,
    runtime: Runtime,
    target: tuple[GitHubClient, str],
    *,
    model_path: Path,
    model_doc: Mapping[str, Any],
    title: str,
    draft: Mapping[str, Any],
    reference: tuple[Path, str],
) -> tuple[PullRequestResult, list[str]]:
    """Commit the challenger, its record and its drift reference; open or update the PR.

    Args:
        config: The loaded mlci.yaml.
        runtime: The Actions runtime (workspace, run URL).
        target: The client and repository (`github_target`).
        model_path: The challenger's file.
        model_doc: ``model.json`` of the comparison.
        title: The pull request's title.
        draft: ``retrain.json`` as it will read once proposed (the body renders it).
        reference: The fresh data's profile (the new version's drift reference) and its
            sha256.

    Returns:
        What GitHub did, and the repository paths committed.
    """
    gh, repo = target
    files = _files_to_commit(config, runtime, model_path, model_doc, draft, reference)
    marker = _marker(config)
    with runtime.group("pull request"):
        pr = open_or_update_pull_request(
            gh,
            repo,
            branch=config.retrain.branch,
            files=files,
            title=title,
            body=pull_request_body(
                as_typed(RetrainResults, draft, what="retrain.json"),
                as_typed(ModelResults, model_doc, what="model.json"),
                marker=marker,
            ),
            marker=marker,
            message="mlci retrain",
        )
    return pr, sorted(files)


def _files_to_commit(
    config: Config,
    runtime: Runtime,
    model_path: Path,
    model_doc: Mapping[str, Any],
    draft: Mapping[str, Any],
    reference: tuple[Path, str],
) -> dict[str, bytes]:
    """The challenger's file, its record (``.mlci/retrain.json``) and its drift reference."""
    ref_path, ref_hash = reference
    record = {
        "schema_version": 1,
        "decision": draft["decision"],
        "data": draft["provenance"]["data"],
        "reference": {"path": REFERENCE_PATH, "hash": ref_hash},
        "challenger": {
            "path": _repo_path(model_path, config, runtime),
            "hash": file_fingerprint(model_path),
            "metrics": model_doc.get("metrics"),
        },
        "champion": draft["champion"],
        "blessing": draft["blessing"],
        "run_url": runtime.run_url(),
    }
    size = model_path.stat().st_size
    if size > MAX_BLOB_BYTES:
        raise DeployError(
            f"{model_path}: the model is {size / 1e6:.0f} MB, over the"
            f" {MAX_BLOB_BYTES // 10**6} MB"
            " mlci commits through the GitHub API; use retrain.mode: deploy, or keep the model"
            " in the registry (registry.backend: github)"
        )
    return {
        _repo_path(model_path, config, runtime): model_path.read_bytes(),
        _repo_path(config.root / RECORD_PATH, config, runtime): (
            jsonio.dumps(to_jsonable(record), sort_keys=True) + "\n"
        ).encode(),
        _repo_path(config.root / REFERENCE_PATH, config, runtime): ref_path.read_bytes(),
    }


def _repo_path(path: Path, config: Config, runtime: Runtime) -> str:
    """``path`` relative to the repository root (the workspace on a runner)."""
    rel = contained_path(path, runtime.workspace, repo_toplevel(config.root), config.root)
    if rel is None:
        raise InputError(
            f"{path}: outside the repository, so the retrain cannot commit it; keep"
            " model.path inside the repository"
        )
    return rel
