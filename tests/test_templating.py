"""The one Jinja environment and the template lookup (checkout, editable install, wheel)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from mlci.config import load_config_text
from mlci.errors import TemplateError
from mlci.templating import environment, render, templates_dir

ROOT = Path(__file__).resolve().parents[1]

CONTEXT = {
    "schema_url": "https://example.invalid/mlci.schema.json",
    "task": "classification",
    "reference": "data/train.csv",
    "current": None,
    "eval_data": "data/eval.csv",
    "target": "label",
    "id_columns": ["id"],
    "date_columns": [],
    "model_path": "model.skops",
    "train_command": "python train.py",
    "test_command": "python -m pytest",
    "shards": 4,
    "gates": {"accuracy": {"min": 0.8}},
    "first": "bless-on-value-gates",
    "registry": "local",
    "retrain_schedule": "0 3 * * 1",
    "retrain_mode": "pull-request",
    "monitor": True,
    "monitor_schedule": "23 6 * * *",
    "monitor_data_command": None,
    "monitor_trigger_retrain": True,
    "monitor_oidc": False,
    "retrain_oidc": True,
    "params": [],
    "deploy_environment": "production",
}


def test_checkout_finds_the_top_level_templates() -> None:
    assert templates_dir() == ROOT / "templates"


def test_github_expressions_pass_through() -> None:
    template = environment().from_string("run: echo ${{ github.sha }} [[ name ]]\n")
    assert template.render(name="x") == "run: echo ${{ github.sha }} x\n"


def test_missing_variable_fails_loudly() -> None:
    context = dict(CONTEXT)
    del context["task"]
    with pytest.raises(TemplateError, match="'task' is undefined"):
        render("mlci.yaml.j2", context)


def test_missing_template() -> None:
    with pytest.raises(TemplateError, match="template 'nope.j2' not found"):
        render("nope.j2", {})


def test_config_template_renders_a_valid_config() -> None:
    cfg = load_config_text(render("mlci.yaml.j2", CONTEXT))
    assert cfg.model.gates["accuracy"].min == 0.8
    assert cfg.data.current is None
    assert cfg.ci.test_command == "python -m pytest"
    assert cfg.data.shards == 4
    assert cfg.monitor.schedule == "23 6 * * *"
    assert cfg.monitor.trigger_retrain is True
    assert cfg.retrain.oidc is True and cfg.monitor.oidc is False


@pytest.mark.slow
def test_wheel_ships_templates_and_renders_from_an_installed_copy(
    tmp_path: Path, wheel_env: Path
) -> None:
    # The wheel installed with its dependencies into an environment that sees nothing
    # else (the newcomer's, tests/conftest.py): the templates come from site-packages.
    py = wheel_env / "bin" / "python"
    env_dir = wheel_env
    code = (
        "import mlci.templating as t, pathlib, sys\n"
        "d = t.templates_dir()\n"
        "assert 'site-packages' in str(d), d\n"
        f"sys.stdout.write(t.render('mlci.yaml.j2', {CONTEXT!r}))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run(
        [str(py), "-c", code], check=True, capture_output=True, text=True, cwd=tmp_path, env=env
    ).stdout
    assert out == render("mlci.yaml.j2", CONTEXT)
    version = subprocess.run(
        [str(env_dir / "bin" / "mlci"), "--version"],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    ).stdout
    assert version.startswith("mlci ")
