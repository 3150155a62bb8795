"""The deploy workflow's secrets: exactly those the deploy step of mlci.yaml names, on the deploy job only.

`mlci init` reads ``deploy.webhook.secret_env``, ``${NAME}`` in ``deploy.webhook.url``,
upper-case ``$NAME``/``${NAME}`` in ``deploy.command`` (not the runner's or mlci's own
variables) and ``deploy.secrets``, and writes one ``NAME: ${{ secrets.NAME }}`` entry per
name on the deploy step of ``mlci-deploy.yml``; the validate job and every other step
see none. A name GitHub would not accept for a secret is refused with exit 2 naming the
key, and nothing is written.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mlci.cli import main
from mlci.config import load_config
from mlci.errors import InputError
from mlci.scaffold.deploy_env import deploy_secret_names
from tests.scaffold_helpers import make_project

DEPLOY = ".github/workflows/mlci-deploy.yml"

DEPLOY_SECTION = """
deploy:
  command: >-
    curl -fsS -H "Authorization: Bearer $DEPLOY_TOKEN" -F "model=@$MLCI_MODEL_PATH"
    "https://${MODEL_HOST:-models.example.com}/v1?sha=$GITHUB_SHA&run=${RUNNER_NAME}"
    && for f in $HOME/x; do echo "$f" "$$"; done
  webhook:
    url: "https://${HOOK_HOST}/deploy"
    secret_env: HOOK_SECRET
  secrets: [S3_KEY, DEPLOY_TOKEN]
"""


def init(root: Path, *args: str) -> int:
    return main(["init", "-C", str(root), *args])


def deploy_workflow(root: Path) -> dict:
    return yaml.safe_load((root / DEPLOY).read_text(encoding="utf-8"))


def deploy_step(workflow: dict) -> dict:
    steps = workflow["jobs"]["deploy"]["steps"]
    return next(s for s in steps if (s.get("with") or {}).get("command") == "deploy")


def with_deploy_section(root: Path, section: str) -> None:
    config = root / "mlci.yaml"
    config.write_text(config.read_text(encoding="utf-8") + section, encoding="utf-8")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = make_project(tmp_path / "proj")
    assert init(root, "--yes") == 0
    return root


def test_names_from_the_webhook_the_command_and_the_list_in_order(project: Path) -> None:
    with_deploy_section(project, DEPLOY_SECTION)
    names = deploy_secret_names(load_config(project / "mlci.yaml"))
    # Not GITHUB_SHA, RUNNER_NAME, MLCI_MODEL_PATH, HOME (set by the runner or mlci), nor
    # the shell variable f; DEPLOY_TOKEN once.
    assert names == ("HOOK_SECRET", "HOOK_HOST", "DEPLOY_TOKEN", "MODEL_HOST", "S3_KEY")


def test_the_deploy_step_alone_receives_the_secrets(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = deploy_workflow(project)
    assert "env" not in deploy_step(before)  # no deploy section: no secret at all
    with_deploy_section(project, DEPLOY_SECTION)
    capsys.readouterr()
    # The workflow no longer matches mlci.yaml: --check names the missing env: entry.
    assert init(project, "--check") == 1
    out = capsys.readouterr().out
    assert f"stale: {DEPLOY}" in out, out
    assert "jobs.deploy.steps." in out and ".env: missing" in out, out
    assert init(project, "--yes", "--force") == 0
    assert (
        "needs the GitHub environment 'production' with the secrets HOOK_SECRET, HOOK_HOST,"
        " DEPLOY_TOKEN, MODEL_HOST, S3_KEY (named by the deploy step in mlci.yaml)"
    ) in capsys.readouterr().out
    workflow = deploy_workflow(project)
    names = ["HOOK_SECRET", "HOOK_HOST", "DEPLOY_TOKEN", "MODEL_HOST", "S3_KEY"]
    assert deploy_step(workflow)["env"] == {n: f"${{{{ secrets.{n} }}}}" for n in names}
    text = (project / DEPLOY).read_text(encoding="utf-8")
    assert text.count("${{ secrets.") == len(names)  # nowhere else in the file
    validate = workflow["jobs"]["validate"]
    assert "environment" not in validate and "secrets." not in yaml.safe_dump(validate)
    for step in workflow["jobs"]["deploy"]["steps"]:
        if step is not deploy_step(workflow):
            assert "secrets." not in yaml.safe_dump(step), step
    for rel in (".github/workflows/mlci-pr.yml", ".github/workflows/mlci-retrain.yml"):
        assert "${{ secrets." not in (project / rel).read_text(encoding="utf-8"), rel
    # mlci.yaml was kept as the user wrote it, and the files are up to date again.
    assert "secret_env: HOOK_SECRET" in (project / "mlci.yaml").read_text(encoding="utf-8")
    capsys.readouterr()
    assert init(project, "--check") == 0, capsys.readouterr().out


def test_a_yaml_word_as_a_secret_name_stays_a_string(project: Path) -> None:
    with_deploy_section(project, "deploy:\n  secrets: [ON, 'NO', Null]\n")
    assert init(project, "--yes", "--force") == 0
    text = (project / DEPLOY).read_text(encoding="utf-8")
    assert '"ON": ${{ secrets.ON }}' in text
    env = deploy_step(deploy_workflow(project))["env"]
    assert env == {
        "ON": "${{ secrets.ON }}",
        "NO": "${{ secrets.NO }}",
        "Null": "${{ secrets.Null }}",
    }


@pytest.mark.parametrize(
    ("section", "key"),
    [
        (
            "deploy:\n  webhook:\n    url: https://h.example/x\n    secret_env: GITHUB_TOKEN\n",
            "deploy.webhook.secret_env",
        ),
        (
            "deploy:\n  webhook:\n    url: https://h.example/x\n    secret_env: github_pat\n",
            "deploy.webhook.secret_env",
        ),
        (
            'deploy:\n  webhook:\n    url: https://h.example/x\n    secret_env: "X }}\\nA: ${{ github.token"\n',
            "deploy.webhook.secret_env",
        ),
        (
            "deploy:\n  webhook:\n    url: https://h.example/x\n    secret_env: 1TOKEN\n",
            "deploy.webhook.secret_env",
        ),
        (
            "deploy:\n  webhook:\n    url: https://h.example/x\n    secret_env: 'A B'\n",
            "deploy.webhook.secret_env",
        ),
        ("deploy:\n  secrets: [OK_NAME, 'TOKEN: x']\n", "deploy.secrets[1]"),
        ("deploy:\n  secrets: [GITHUB_APP_KEY]\n", "deploy.secrets[0]"),
        ("deploy:\n  secrets: ['']\n", "deploy.secrets[0]"),
    ],
    ids=["github-token", "github-lower", "injection", "digit", "space", "colon", "github", "empty"],
)
def test_a_hostile_secret_name_is_refused_naming_the_key(
    project: Path, capsys: pytest.CaptureFixture[str], section: str, key: str
) -> None:
    before = (project / DEPLOY).read_text(encoding="utf-8")
    (project / DEPLOY).unlink()  # init would create it: nothing may be written
    with_deploy_section(project, section)
    capsys.readouterr()
    assert init(project, "--yes", "--force") == 2
    err = capsys.readouterr().err
    assert f": {key} " in err, err
    assert "mlci.yaml:" in err and "Traceback" not in err, err
    assert not (project / DEPLOY).exists()
    with pytest.raises(InputError, match=key.replace("[", r"\[")):
        deploy_secret_names(load_config(project / "mlci.yaml"))
    assert before  # the benign run wrote the file
