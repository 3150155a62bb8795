"""The committed model of a retrain pull request, and its identity check.

A retrain pull request commits the challenger and its record (``.mlci/retrain.json``:
decision, data fingerprints, the challenger's path, sha256 and metrics, the blessing).
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

if TYPE_CHECKING:
    from mlci.config import Config

__all__ = ["RECORD_PATH", "CommittedModel", "carried_model", "verify_committed"]

#: Where the retrain record is committed, relative to the directory of mlci.yaml.
RECORD_PATH = ".mlci/retrain.json"


@dataclass(frozen=True)
class CommittedModel:
    """A model committed with its retrain record.

    Attributes:
        record: The record file.
        path: The committed model file.
        sha256: The challenger's fingerprint in the record (``sha256:<hex>``).
        blessing: The blessing the record carries.
        data: The data fingerprints the record carries.
    """

    record: Path
    path: Path
    sha256: str
    blessing: Mapping[str, Any]
    data: Any

    def lineage(self) -> dict[str, Any]:
        """What the record says, for ``model.json`` and the registry's lineage."""
        return {
            "record": RECORD_PATH,
            "path": str(self.path),
            "hash": self.sha256,
            "blessing": dict(self.blessing),
            "data": self.data,
        }


def _changed_in_head(root: Path, record: Path) -> bool:
    from mlci.proc import git

    if git("rev-parse", "-q", "--verify", "HEAD^1", cwd=root) is None:
        return False
    top = git("rev-parse", "--show-toplevel", cwd=root)
    if top is None:
        return False
    rel = record.resolve().relative_to(Path(top).resolve()).as_posix()
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
    return CommittedModel(
        record,
        config.root / challenger["path"],
        challenger["hash"],
        blessing if isinstance(blessing, Mapping) else {},
        doc.get("data"),
    )


def verify_committed(committed: CommittedModel, model: Path) -> None:
    """Insist that ``model`` is the committed challenger, byte for byte.

    Raises:
        InputError: when ``model`` is another file or its sha256 is not the record's.
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
