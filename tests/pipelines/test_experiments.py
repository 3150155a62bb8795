"""Every candidate is remembered: the experiment history, `mlci experiments`, the report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlci.cli import main
from mlci.model.load import load_model
from mlci.report.render import Report, render_markdown
from tests.model.models import Models, models
from tests.pipelines.test_validate_model import _project, _run

__all__ = ["models"]


def test_three_prs_in_the_history_and_the_report(
    models: Models,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = _project(
        tmp_path, models.binary, extra="  params: [params.json]\n  train_command: python train.py\n"
    )
    good, worse = str(root / "good.skops"), str(root / "worse.skops")
    runs = [("7", worse, good, 1), ("8", good, worse, 0), ("9", good, good, 0)]
    for pr, model, baseline, expected in runs:
        (root / "params.json").write_text(json.dumps({"C": 1.0, "pr": int(pr)}), encoding="utf-8")
        monkeypatch.setenv("GITHUB_REF", f"refs/pull/{pr}/merge")
        code, doc = _run(root, "--model", model, "--baseline", baseline)
        assert code == expected
    capsys.readouterr()

    # the report of the third run shows the two candidates before it, newest first
    recent = doc["experiments"]
    assert [(e["pr"], e["verdict"]) for e in recent] == [(8, "blessed"), (7, "blocked")]
    text = render_markdown(Report.from_json(model=doc))
    section = text[text.index("<summary>Recent experiments (2 before this one)") :]
    assert "| PR 8" in section and "✅ blessed" in section and "❌ blocked" in section

    config = ["--config", str(root / "mlci.yaml")]
    assert main(["experiments", *config]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:6] == ["id", "when", "commit", "pr/branch", "verdict", "accuracy"]
    # best first by the first gated metric: the two runs of the good model, then the blocked one
    # (the two good runs tie and keep their order)
    assert [line.split()[4] for line in table[1:4]] == ["#8", "#9", "#7"]
    assert "3 experiment(s), best first by accuracy" in table[-1]

    assert main(["experiments", *config, "--json", "--pr", "7"]) == 0
    entries = json.loads(capsys.readouterr().out)
    assert len(entries) == 1
    blocked = entries[0]
    assert blocked["verdict"] == "blocked" and blocked["params"] == {"C": 1.0, "pr": 7}
    assert blocked["model_sha256"] == load_model(root / "worse.skops").sha256
    assert blocked["data"]["eval"].startswith("sha256:")
    assert blocked["intervals"]["accuracy"][0] < 0

    assert main(["experiments", *config, "--last", "1", "--json"]) == 0
    assert [e["pr"] for e in json.loads(capsys.readouterr().out)] == [9]

    assert main(["experiments", "show", blocked["id"][:6], *config]) == 0
    shown = capsys.readouterr().out
    assert f"experiment {blocked['id']}: blocked" in shown
    assert "train command:  python train.py" in shown
    assert "  pr = 7" in shown and "packages:       sha256 " in shown
    assert main(["experiments", "show", blocked["id"], "--packages", *config]) == 0
    packages = capsys.readouterr().out.splitlines()
    assert any(p.lower().startswith("scikit-learn==") for p in packages)

    assert main(["experiments", "show", "zzz", *config]) == 2
    assert "no experiment with id 'zzz'" in capsys.readouterr().err


def test_history_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlci.registry import experiments

    monkeypatch.setattr(experiments, "MAX_ENTRIES", 3)
    log = experiments.ExperimentLog(tmp_path)
    for i in range(5):
        log.append({"id": f"e{i}", "verdict": "blessed" if i % 2 else "blocked"})
    assert [e["id"] for e in log.entries()] == ["e2", "e3", "e4"]
    assert log.summary() == {"kind": "summary", "folded": 2, "blessed": 1, "until": None}
