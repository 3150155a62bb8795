"""With init's defaults the first merge ships: init -> PR -> merge -> PR, run locally.

Walked with `mlci run` (the workflows' own steps) on the bundled example, with its
hand-written mlci.yaml removed so that init's defaults are what is tested. Data mlci
did not make (a multiclass table with text and gaps, a regression with a date and a
target not named like one) walks the same steps and further in
tests/pipelines/test_foreign_data.py.
The first pull request has no production model: it is judged on the chance-level
value gate init wrote, the merge deploys it, and the next pull request is
compared against it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlci import scaffold
from mlci.cli import main
from mlci.config import load_config
from mlci.model.gates import bless
from tests.act.harness import REPO_ROOT, git_repo


def run(pipeline: str, repo: Path, results: str) -> int:
    return main(
        ["run", pipeline, "--config", str(repo / "mlci.yaml"), "--results", str(repo / results)]
    )


def model_doc(repo: Path, results: str) -> dict:
    return json.loads((repo / results / "model.json").read_text(encoding="utf-8"))


def production(repo: Path) -> str | None:
    state = repo / ".mlci" / "registry" / "state.json"
    if not state.is_file():
        return None
    aliases = json.loads(state.read_text(encoding="utf-8")).get("aliases", {})
    return None if aliases.get("production") is None else str(aliases["production"])


def walk(repo: Path, change: dict[str, str], capsys: pytest.CaptureFixture[str]) -> dict:
    """PR 1 (first model) -> merge (deploy) -> PR 2 (``change`` applied); the two model.json."""
    assert run("pr", repo, "pr1") == 0, capsys.readouterr()
    out = capsys.readouterr().out
    # The CLI and the report count drifted columns the same way.
    said = re.search(r"^drift: (\d+ of \d+) feature columns drifted", out, re.M)
    report = (repo / "pr1" / "report.md").read_text(encoding="utf-8")
    shown = re.search(r"(\d+ of \d+) feature columns drifted", report)
    assert said and shown and said.group(1) == shown.group(1), (out, report)
    first = model_doc(repo, "pr1")
    assert first["blessing"]["blessed"] is True, first["blessing"]
    assert production(repo) is None
    assert run("deploy", repo, "merge") == 0, capsys.readouterr()
    assert production(repo) == "1"
    for rel, text in change.items():
        (repo / rel).write_text(text, encoding="utf-8")
    code = run("pr", repo, "pr2")
    second = model_doc(repo, "pr2")
    assert second["baseline_metrics"] is not None  # judged against v1 this time
    # Provenance names the registry version, not the temporary download folder.
    baseline = second["provenance"]["model"]["baseline"]
    assert baseline["path"].startswith("local registry: v1/"), baseline
    return {"first": first, "second": second, "code": code}


@pytest.mark.slow
def test_the_example_with_inits_defaults_ships_its_first_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "example"
    shutil.copytree(
        REPO_ROOT / "examples" / "breast-cancer",
        repo,
        ignore=shutil.ignore_patterns(
            ".gitignore", "data", "mlci-results", "*.skops", ".mlci", "mlci.yaml"
        ),
    )
    subprocess.run([sys.executable, "prepare_data.py"], cwd=repo, check=True, capture_output=True)
    git_repo(repo)
    assert main(["init", "--yes", "-C", str(repo)]) == 0
    cfg = load_config(repo / "mlci.yaml")
    assert cfg.data.id_columns == ["id"]
    gate = cfg.model.gates["accuracy"]
    assert cfg.model.first == "bless-on-value-gates" and gate.min is not None
    capsys.readouterr()
    seen = walk(repo, {"params.json": json.dumps({"C": 0.0003}) + "\n"}, capsys)
    reasons = [g["reason"] for g in seen["first"]["gates"]]
    assert any("majority class" in r and "chance level" in r for r in reasons), reasons
    assert any("first model" in n for n in seen["first"]["blessing"]["notes"])
    # The over-regularized model of PR 2 is compared with production and blocked.
    assert seen["code"] == 1
    assert seen["second"]["blessing"]["blessed"] is False
    assert any(g["rule"] == "max_drop" and not g["passed"] for g in seen["second"]["gates"])


def test_without_data_init_still_lets_the_first_model_ship(tmp_path: Path) -> None:
    """No data to compute a chance level from: init writes model.first: bless, visibly."""
    a = scaffold.Answers(task="classification", train_command="python train.py")
    text = scaffold.render_config(a, None)
    assert "  first: bless\n" in text
    cfg = load_config_from(text, tmp_path)
    assert cfg.model.first == "bless" and cfg.model.gates["accuracy"].min is None
    # Only a change gate, no baseline: model.first: bless blesses the first model.
    b = bless([], gates_configured=True, allow_ungated=False, has_baseline=False, first="bless")
    assert b.blessed and "model.first: bless" in b.reason
    b = bless([], gates_configured=True, allow_ungated=False, has_baseline=False, first="block")
    assert not b.blessed and "model.first is block" in b.reason


def load_config_from(text: str, where: Path):
    path = where / "mlci.yaml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)
