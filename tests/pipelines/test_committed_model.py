"""A committed model whose bytes changed after its blessing is refused.

The retrain pull request commits the challenger with ``.mlci/retrain.json``; the commit
that merges it is validated and deployed as committed, never retrained. The whole loop
(serve, monitor, retrain, pull request, merge, deploy) is walked in ``test_ct_loop.py``;
this test checks the identity gate on its own: a merge whose model is not the record's
challenger is bad input, not a model to validate.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from mlci.cli import main
from mlci.errors import EXIT_USAGE
from tests.pipelines import ct_project
from tests.pipelines.ct_project import github, write_config

ct_template = ct_project.ct_template
project = ct_project.project

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
}


def _git(root: Path, *args: str) -> str:
    import os

    out = subprocess.run(
        ["git", *args], cwd=root, check=True, capture_output=True, text=True,
        env={**os.environ, **GIT_ENV},
    )  # fmt: skip
    return out.stdout.strip()


def _commit(root: Path, message: str) -> None:
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", message)


def _off_github(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("GITHUB_REPOSITORY", "GITHUB_TOKEN", "GITHUB_SERVER_URL", "GITHUB_RUN_ID"):
        monkeypatch.delenv(key, raising=False)


def _run(root: Path, pipeline: str) -> int:
    return main(["run", pipeline, "--config", str(root / "mlci.yaml"), "--results", "mlci-results"])


@pytest.fixture
def proposed(project: Path, fake_github, monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """A git project whose retrain opened the pull request; returns the files it commits."""
    monkeypatch.delenv("MLCI_GIT_SHA")  # the commits below are the lineage
    (project / ".gitignore").write_text("mlci-results/\n.mlci/registry/\n", encoding="utf-8")
    write_config(
        project,
        {"data": {"current": "data/reference.csv"}, "retrain": {"data": "data/fresh/*.csv"}},
    )
    (project / "data" / "fresh").mkdir()
    shutil.copy(project / "data" / "batch2.csv", project / "data" / "fresh" / "batch2.csv")
    _git(project, "init", "-q", "-b", "main")
    _commit(project, "the project, production v1")
    champion = (project / "model.skops").read_bytes()

    github(monkeypatch, fake_github)
    fake_github.settings(actions_can_create_pulls=True)
    assert main(["retrain", "--config", str(project / "mlci.yaml"), "--results", "rt"]) == 0
    (pr,) = fake_github.pulls()
    files = fake_github.files(branch=pr["head"]["ref"])
    assert files["model.skops"] != champion
    # The retrain ran on another machine: this checkout still holds the champion.
    (project / "model.skops").write_bytes(champion)
    shutil.rmtree(project / "rt")
    _off_github(monkeypatch)
    return {name: files[name] for name in ("model.skops", ".mlci/retrain.json")}


def _merge(root: Path, files: dict[str, bytes], message: str) -> None:
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    _commit(root, message)


@pytest.mark.slow
def test_a_committed_model_changed_after_its_blessing_is_refused(
    proposed: dict[str, bytes], project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tampered = dict(proposed, **{"model.skops": (project / "model.skops").read_bytes()})
    _merge(project, tampered, "Merge pull request #1 from mlci/retrain")
    code = main(
        ["validate-model", "--config", str(project / "mlci.yaml"), "--results", "mlci-results"]
    )
    assert code == EXIT_USAGE
    err = capsys.readouterr().err
    assert "is not the one the retrain blessed" in err and "Traceback" not in err


def test_a_changed_reference_profile_is_refused(tmp_path: Path) -> None:
    """The committed profile must be the bytes the retrain recorded, like the model."""
    from mlci.errors import InputError
    from mlci.model.committed import CommittedModel, verify_committed
    from mlci.provenance import file_fingerprint

    model = tmp_path / "model.skops"
    model.write_bytes(b"model")
    ref = tmp_path / "retrain-reference.json"
    ref.write_bytes(b'{"format": "mlci-profile/1"}')
    committed = CommittedModel(
        tmp_path / "retrain.json",
        model,
        file_fingerprint(model),
        {"blessed": True},
        None,
        ref,
        file_fingerprint(ref),
    )
    verify_committed(committed, model)
    ref.write_bytes(b'{"format": "mlci-profile/1", "rows": 1}')
    with pytest.raises(InputError, match="not the one the retrain recorded"):  # exit 2
        verify_committed(committed, model)
    ref.unlink()
    with pytest.raises(InputError, match="reference profile the retrain record names is missing"):
        verify_committed(committed, model)
