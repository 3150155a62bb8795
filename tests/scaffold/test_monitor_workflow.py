"""`mlci init --monitor` writes mlci-monitor.yml and the monitor section, and keeps them."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mlci.cli import main
from mlci.config import load_config
from tests.scaffold_helpers import make_project

MONITOR = ".github/workflows/mlci-monitor.yml"


def test_init_monitor_writes_the_workflow_and_keeps_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_project(tmp_path / "p")
    command = "aws s3 sync s3://bucket/mlci-logs/ data/current/"
    assert (
        main(["init", "-C", str(root), "--yes", "--monitor", "--monitor-data-command", command])
        == 0
    )
    assert f"created {MONITOR}\n" in capsys.readouterr().out
    cfg = load_config(root / "mlci.yaml")
    assert (cfg.monitor.schedule, cfg.monitor.data_command) == ("23 6 * * *", command)
    wf = yaml.safe_load((root / MONITOR).read_text(encoding="utf-8"))
    steps = wf["jobs"]["monitor"]["steps"]
    assert [s.get("run") for s in steps].index(command) < next(
        i for i, s in enumerate(steps) if (s.get("with") or {}).get("command") == "monitor"
    )
    # A rerun without --monitor keeps the workflow (it exists), and --check agrees.
    assert main(["init", "-C", str(root), "--yes"]) == 0
    assert f"unchanged {MONITOR}\n" in capsys.readouterr().out
    assert main(["init", "-C", str(root), "--check"]) == 0


def test_monitor_schedule_is_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_project(tmp_path / "p")
    assert (
        main(["init", "-C", str(root), "--yes", "--monitor", "--monitor-schedule", "hourly"]) == 2
    )
    assert "--monitor-schedule 'hourly': not a cron expression" in capsys.readouterr().err
    assert not (root / MONITOR).exists()


def _job(root: Path, rel: str, job: str) -> dict:
    return yaml.safe_load((root / rel).read_text(encoding="utf-8"))["jobs"][job]


def _edit_config(root: Path, old: str, new: str) -> None:
    path = root / "mlci.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_permissions_follow_trigger_retrain_and_check_sees_a_stale_workflow(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_project(tmp_path / "p")
    assert main(["init", "-C", str(root), "--yes", "--monitor"]) == 0
    perms = _job(root, MONITOR, "monitor")["permissions"]
    assert perms == {"contents": "read", "issues": "write"}  # no dispatch: no actions: write
    # mlci.yaml now asks the monitor to dispatch the retrain: the workflow on disk is stale,
    # and --check names the missing permission.
    _edit_config(root, "monitor:\n", "monitor:\n  trigger_retrain: true\n")
    capsys.readouterr()
    assert main(["init", "-C", str(root), "--check"]) == 1
    out = capsys.readouterr().out
    assert f"stale: {MONITOR}" in out
    assert "jobs.monitor.permissions.actions: missing" in out
    assert main(["init", "-C", str(root), "--yes", "--force"]) == 0
    perms = _job(root, MONITOR, "monitor")["permissions"]
    assert perms == {"contents": "read", "issues": "write", "actions": "write"}
    assert main(["init", "-C", str(root), "--check"]) == 0
    # and back: trigger_retrain off again, actions: write is one permission too many
    _edit_config(root, "trigger_retrain: true", "trigger_retrain: false")
    capsys.readouterr()
    assert main(["init", "-C", str(root), "--check"]) == 1
    out = capsys.readouterr().out
    assert "jobs.monitor.permissions.actions: added (mlci does not generate it)" in out


def test_data_commands_get_exactly_the_secrets_they_reference(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_project(tmp_path / "p")
    command = 'python fetch_logs.py --token "$BUCKET_TOKEN" --home "$HOME" --to ${OUT:-logs}/'
    assert (
        main(["init", "-C", str(root), "--yes", "--monitor", "--monitor-data-command", command])
        == 0
    )
    out = capsys.readouterr().out
    assert "repository secrets the data commands reference: BUCKET_TOKEN, OUT" in out
    _edit_config(
        root,
        "retrain:\n",
        'retrain:\n  data_command: \'curl -fsS -H "Authorization: Bearer ${DATA_TOKEN}"'
        ' -o "$MLCI_RETRAIN_DATA_DIR/new.csv" https://example.com/new.csv\'\n',
    )
    assert main(["init", "-C", str(root), "--yes", "--force"]) == 0
    monitor = _job(root, MONITOR, "monitor")
    with_env = {s["name"]: s["env"] for s in monitor["steps"] if "env" in s}
    assert with_env == {
        "Bring the production logs to the runner": {
            "BUCKET_TOKEN": "${{ secrets.BUCKET_TOKEN }}",
            "OUT": "${{ secrets.OUT }}",
        }
    }
    assert "secrets." not in yaml.safe_dump({k: v for k, v in monitor.items() if k != "steps"})
    retrain = _job(root, ".github/workflows/mlci-retrain.yml", "retrain")
    with_env = {s["name"]: s["env"] for s in retrain["steps"] if "env" in s}
    assert with_env == {"Retrain": {"DATA_TOKEN": "${{ secrets.DATA_TOKEN }}"}}
    # the other workflows see neither
    for name in ("mlci-pr", "mlci-comment", "mlci-deploy"):
        text = (root / f".github/workflows/{name}.yml").read_text(encoding="utf-8")
        assert "BUCKET_TOKEN" not in text and "DATA_TOKEN" not in text, name
    assert main(["init", "-C", str(root), "--check"]) == 0


def test_oidc_asks_for_id_token_on_its_job_only(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p")
    assert main(["init", "-C", str(root), "--yes", "--monitor"]) == 0
    _edit_config(root, "monitor:\n", "monitor:\n  oidc: true\n")
    assert main(["init", "-C", str(root), "--yes", "--force"]) == 0
    assert _job(root, MONITOR, "monitor")["permissions"]["id-token"] == "write"
    retrain = _job(root, ".github/workflows/mlci-retrain.yml", "retrain")
    assert "id-token" not in retrain["permissions"]
    _edit_config(root, "retrain:\n", "retrain:\n  oidc: true\n")
    assert main(["init", "-C", str(root), "--yes", "--force"]) == 0
    retrain = _job(root, ".github/workflows/mlci-retrain.yml", "retrain")
    assert retrain["permissions"]["id-token"] == "write"
    for name in ("mlci-pr", "mlci-comment", "mlci-deploy"):
        text = (root / f".github/workflows/{name}.yml").read_text(encoding="utf-8")
        assert "id-token" not in text, name


@pytest.mark.parametrize("trigger", [True, False])
def test_the_generated_permissions_are_what_github_asks_for(fake_github, trigger: bool) -> None:
    """A token with exactly the monitor job's permissions may open issues, and may dispatch
    mlci-retrain.yml only when mlci.yaml asks for it (the fake answers 403 as GitHub does)."""
    from mlci import scaffold
    from mlci.github.api import GitHubAPIError, GitHubClient
    from mlci.github.issues import create_issue
    from mlci.github.workflows import dispatch_workflow

    answers = scaffold.Answers(
        monitor="yes", monitor_trigger_retrain="true" if trigger else None, monitor_oidc="true"
    )
    wf = yaml.safe_load(scaffold.render_files(answers)[MONITOR])
    granted = wf["jobs"]["monitor"]["permissions"]
    token = fake_github.add_token(
        "monitor-job-token",
        login="github-actions[bot]",
        type="Bot",
        permissions={k.replace("-", "_"): v for k, v in granted.items() if k != "id-token"},
    )
    assert token.permissions["actions"] == ("write" if trigger else "read")
    repo = "octo/ml-project"
    with GitHubClient("monitor-job-token", api_url=fake_github.url) as client:
        create_issue(client, repo, title="drift", body="b", labels=["mlci-monitor"])
        if trigger:
            dispatch_workflow(client, repo, "mlci-retrain.yml")
        else:
            with pytest.raises(GitHubAPIError, match="actions: write"):
                dispatch_workflow(client, repo, "mlci-retrain.yml")
    assert len(fake_github.dispatches()) == int(trigger)


def test_rollback_joins_the_registry_writers_with_the_deploy_secrets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_project(tmp_path / "p")
    assert main(["init", "-C", str(root), "--yes", "--monitor", "--registry", "github"]) == 0
    job = _job(root, MONITOR, "monitor")
    assert job["concurrency"]["group"] == "mlci-monitor"
    assert job["permissions"]["contents"] == "read"
    # monitor.rollback on (and a deploy step that needs a secret): the monitor job now writes
    # the registry, so it shares mlci-deploy.yml's group, may write the releases, and its
    # monitor step alone gets the secret the deploy step names.
    _edit_config(root, "monitor:\n", "monitor:\n  rollback: true\n")
    _edit_config(
        root,
        "registry:\n",
        'deploy:\n  command: "./release.sh --token $DEPLOY_TOKEN"\n\nregistry:\n',
    )
    capsys.readouterr()
    assert main(["init", "-C", str(root), "--check"]) == 1
    assert "jobs.monitor.concurrency.group" in capsys.readouterr().out
    assert main(["init", "-C", str(root), "--yes", "--force"]) == 0
    job = _job(root, MONITOR, "monitor")
    assert job["concurrency"] == {"group": "mlci-registry", "cancel-in-progress": False}
    assert job["permissions"] == {"contents": "write", "issues": "write"}
    with_env = [s for s in job["steps"] if s.get("env")]
    assert [s["with"]["command"] for s in with_env] == ["monitor"]
    assert with_env[0]["env"] == {"DEPLOY_TOKEN": "${{ secrets.DEPLOY_TOKEN }}"}
    deploy = _job(root, ".github/workflows/mlci-deploy.yml", "deploy")
    assert deploy["concurrency"]["group"] == job["concurrency"]["group"]
    assert main(["init", "-C", str(root), "--check"]) == 0
