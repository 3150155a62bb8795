"""The committed model of a retrain pull request, and its identity check.

A retrain pull request commits the challenger and its record (``.mlci/retrain.json``:
decision, data fingerprints, the challenger's path, sha256 and metrics, the blessing),
with the profile of the fresh data it trained on (``.mlci/retrain-reference.json``, its
sha256 in the record): registered with the version, it becomes production's drift
reference (`mlci.registry.reference`).
A commit *carries* that model when it changes the record against its first parent: the
retrain pull request's merge commit does, and so does the pull request's own merge
ref. Such a commit is validated and deployed as committed, never retrained: retraining
would overwrite what the reviewers approved.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlci.errors import InputError
from mlci.paths import contained_path

if TYPE_CHECKING:
    from mlci.config import Config

__all__ = [
    "RECORD_PATH",
    "REFERENCE_PATH",
    "CommittedModel",
    "carried_model",
    "verify_committed",
    "verify_reference",
]

#: Where the retrain record is committed, relative to the directory of mlci.yaml.
RECORD_PATH = ".mlci/retrain.json"
#: Where the profile of the retrain's fresh data is committed, beside the record.
REFERENCE_PATH = ".mlci/retrain-reference.json"


@dataclass(frozen=True)
class CommittedModel:
    """A model committed with its retrain record.

    Attributes:
        record: The record file.
        path: The committed model file.
        sha256: The challenger's fingerprint in the record (``sha256:<hex>``).
        blessing: The blessing the record carries.
        data: The data fingerprints the record carries.
        reference: The committed profile of the fresh data, when the record names one.
        reference_sha256: Its fingerprint in the record (``sha256:<hex>``).
    """

    record: Path
    path: Path
    sha256: str
    blessing: Mapping[str, Any]
    data: Any
    reference: Path | None = None
    reference_sha256: str | None = None

    def lineage(self) -> dict[str, Any]:
        """What the record says, for ``model.json`` and the registry's lineage."""
        return {
            "record": RECORD_PATH,
            "path": str(self.path),
            "hash": self.sha256,
            "blessing": dict(self.blessing),
            "data": self.data,
            "reference": (
                {"path": REFERENCE_PATH, "hash": self.reference_sha256}
                if self.reference is not None
                else None
            ),
        }


def _changed_in_head(root: Path, record: Path) -> bool:
    from mlci.proc import git

    if git("rev-parse", "-q", "--verify", "HEAD^1", cwd=root) is None:
        return False
    top = git("rev-parse", "--show-toplevel", cwd=root)
    if top is None:
        return False
    rel = contained_path(record, top)
    if rel is None:
        return False
    names = git("diff", "--name-only", "HEAD^1", "HEAD", "--", rel, cwd=root)
    return bool(names)


def carried_model(config: Config) -> CommittedModel | None:
    """The committed model when the checked-out commit changes the retrain record, else None.

    Raises:
        InputError: when the record is not valid JSON or names no challenger.
    """
    from mlci import jsonio

    record = config.root / RECORD_PATH
    if not record.is_file() or not _changed_in_head(config.root, record):
        return None
    fix = "let mlci retrain write it again (close the pull request and rerun the retrain)"
    doc = jsonio.read_json(record, what="retrain record", fix=fix)
    challenger = doc.get("challenger") if isinstance(doc, Mapping) else None
    if not (
        isinstance(challenger, Mapping)
        and isinstance(challenger.get("path"), str)
        and isinstance(challenger.get("hash"), str)
    ):
        raise InputError(f"{record}: challenger.path or challenger.hash missing; {fix}")
    blessing = doc.get("blessing")
    reference = doc.get("reference")
    if reference is not None and not (
        isinstance(reference, Mapping)
        and reference.get("path") == REFERENCE_PATH
        and isinstance(reference.get("hash"), str)
    ):
        raise InputError(
            f"{record}: reference must be {{path: {REFERENCE_PATH}, hash: sha256:...}}; {fix}"
        )
    return CommittedModel(
        record,
        config.root / challenger["path"],
        challenger["hash"],
        blessing if isinstance(blessing, Mapping) else {},
        doc.get("data"),
        config.root / REFERENCE_PATH if reference is not None else None,
        reference["hash"] if reference is not None else None,
    )


def verify_committed(committed: CommittedModel, model: Path) -> None:
    """Insist that ``model`` (and the reference profile) are what the retrain committed.

    Raises:
        InputError: when ``model`` is another file, or its sha256 or the committed
            reference profile's is not the record's.
    """
    from mlci.provenance import file_fingerprint

    if model.resolve() != committed.path.resolve():
        raise InputError(
            f"{committed.record}: the retrain record commits {committed.path}, but the model"
            f" validated is {model}; set model.path to the committed file"
        )
    if not model.is_file():
        raise InputError(f"{model}: the committed model is missing; rerun the retrain")
    actual = file_fingerprint(model)
    if actual != committed.sha256:
        raise InputError(
            f"{model}: its sha256 ({actual}) is not the one the retrain blessed"
            f" ({committed.sha256}); the model changed after its blessing (a train step or"
            " a later commit overwrote it): do not retrain in this run, or rerun the retrain"
        )
    verify_reference(committed)


def verify_reference(committed: CommittedModel) -> None:
    """Insist that the committed reference profile is the one the record names, by sha256.

    Raises:
        InputError: when the profile is missing or changed since the retrain wrote it.
    """
    from mlci.provenance import file_fingerprint

    ref = committed.reference
    if ref is None:
        return
    if not ref.is_file():
        raise InputError(
            f"{ref}: the reference profile the retrain record names is missing; restore it"
            " from the retrain pull request, or rerun the retrain"
        )
    actual = file_fingerprint(ref)
    if actual != committed.reference_sha256:
        raise InputError(
            f"{ref}: its sha256 ({actual}) is not the one the retrain recorded"
            f" ({committed.reference_sha256}); the profile changed after the retrain: restore"
            " it from the retrain pull request, or rerun the retrain"
        )
