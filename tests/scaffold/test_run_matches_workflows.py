"""`mlci run PIPELINE` runs the steps of the generated workflow, in the same order."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mlci import scaffold
from mlci.config import load_config
from mlci.github.runtime import Runtime
from mlci.pipelines.run import _steps

#: What each mlci action or run step of a workflow is, as a step of `mlci run`.
ACTION_STEP = {
    "validate-data": "validate data",
    "validate-model": "validate model",
    "deploy": "deploy",
    "report": "report",
    "retrain": "retrain",
    "monitor": "monitor",
    "test": "test",
}
#: Which workflows make up each local pipeline (the comment job posts the PR's report).
PIPELINE_WORKFLOWS = {
    "pr": ("mlci-pr.yml", "mlci-comment.yml"),
    "deploy": ("mlci-deploy.yml",),
    "retrain": ("mlci-retrain.yml",),
    "monitor": ("mlci-monitor.yml",),
}
DATA_COMMAND = "aws s3 sync s3://bucket/logs/ logs/"


def workflow_steps(text: str, train_command: str) -> list[str]:
    steps = []
    for job in yaml.safe_load(text)["jobs"].values():
        for step in job["steps"]:
            uses = str(step.get("uses", ""))
            if uses.startswith("mlci-dev/mlci@"):  # mlci's action, one command per step
                steps.append(ACTION_STEP[step["with"]["command"]])
            elif step.get("run") == train_command:
                steps.append("train")
            elif step.get("run") == DATA_COMMAND:
                steps.append("bring production data")
    return steps


@pytest.mark.parametrize("pipeline", sorted(PIPELINE_WORKFLOWS))
@pytest.mark.parametrize("registry", ["local", "github"])
def test_each_pipeline_is_its_workflow(tmp_path: Path, pipeline: str, registry: str) -> None:
    answers = scaffold.Answers(
        data="data/train.csv",
        current="data/current.csv",
        eval_data="data/eval.csv",
        target="target",
        model="model.skops",
        train_command="python train.py",
        test_command="python -m pytest",
        registry=registry,  # type: ignore[arg-type]
        monitor="yes",
        monitor_data_command=DATA_COMMAND,
    )
    files = scaffold.render_files(answers)
    (tmp_path / "mlci.yaml").write_text(files["mlci.yaml"], encoding="utf-8")
    cfg = load_config(tmp_path / "mlci.yaml")
    local = [
        s.name
        for s in _steps(pipeline, cfg, tmp_path / "mlci.yaml", tmp_path / "r", Runtime())  # type: ignore[arg-type]
        if s.name != "check config" and not s.skip
    ]
    on_github = [
        step
        for name in PIPELINE_WORKFLOWS[pipeline]
        for step in workflow_steps(files[f".github/workflows/{name}"], "python train.py")
    ]
    assert local == on_github
