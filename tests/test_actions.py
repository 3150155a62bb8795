"""mlci's composite actions: their definitions, their run step, and real runs under act."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlci import _action, _release
from mlci.cli import build_parser, main
from mlci.github.runtime import Runtime
from mlci.results import make_document, read_results, write_results
from tests.act.harness import REPO_ROOT, ActResult, git_repo, run_act
from tests.conftest import GitHubEnv
from tests.scaffold_helpers import make_project
from tests.support import webhooks

ACTIONS = {
    "mlci": REPO_ROOT / "action.yml",
    **{p.parent.name: p for p in sorted((REPO_ROOT / "actions").glob("*/action.yml"))},
}
SUB_ACTIONS = ("validate-data", "validate-model", "report", "deploy", "retrain", "monitor")
MLCI = f"{_release.OWNER}/{_release.REPOSITORY}"
CHECKOUT = "actions/checkout@{} # {}".format(*_release.THIRD_PARTY["actions/checkout"])


def available_commands() -> set[str]:
    """The commands this mlci has, as `mlci --help` lists them."""
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return set(sub.choices)  # type: ignore[attr-defined]


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


# -- the definitions -----------------------------------------------------------------------------


def test_the_actions_are_all_there() -> None:
    assert set(ACTIONS) == {"mlci", *SUB_ACTIONS}


@pytest.mark.parametrize("name", list(ACTIONS))
def test_action_definition(name: str) -> None:
    action = load(ACTIONS[name])
    assert action["description"] and action["runs"]["using"] == "composite"
    for key, spec in {**action["inputs"], **action["outputs"]}.items():
        assert spec.get("description"), (name, key)
        assert re.fullmatch(r"[a-z][a-z-]*", key), key
    outputs = set(action["outputs"])
    assert {"passed", "exit-code", "results-path", "report-path"} <= outputs
    if name in ("mlci", "validate-model", "deploy", "retrain"):
        assert "blessed" in outputs
    if name == "mlci":
        assert action["branding"] == {"icon": "check-circle", "color": "green"}
        assert action["inputs"]["command"]["required"] is True
    steps = action["runs"]["steps"]
    assert [s["id"] for s in steps] == ["install", "run"]
    for step in steps:
        assert "${{" not in step["run"], (name, step["run"])
        assert step["shell"] == "bash"
    source = "$GITHUB_ACTION_PATH" if name == "mlci" else "$GITHUB_ACTION_PATH/../.."
    assert steps[0]["run"].endswith(f'/install.sh" "{source}"')
    # every input reaches the scripts, and only through env:
    used = {m for v in steps[1]["env"].values() for m in re.findall(r"inputs\.([a-z-]+)", str(v))}
    used |= {m for v in steps[0]["env"].values() for m in re.findall(r"inputs\.([a-z-]+)", str(v))}
    assert used == set(action["inputs"]), name
    if name != "mlci":
        assert steps[1]["env"]["MLCI_COMMAND"] == name


def test_install_script_is_strict_bash() -> None:
    script = REPO_ROOT / "actions" / "_shared" / "install.sh"
    text = script.read_text(encoding="utf-8")
    assert text.startswith("#!/usr/bin/env bash\n") and "set -euo pipefail" in text
    assert subprocess.run(["bash", "-n", str(script)], check=False).returncode == 0


# -- the run step (python -m mlci._action) ---------------------------------------------------------


def outputs(gh: GitHubEnv) -> dict[str, str]:
    return dict(line.split("=", 1) for line in gh.outputs().splitlines() if "=" in line)


def run_step(gh: GitHubEnv, monkeypatch: pytest.MonkeyPatch, **env: str) -> int:
    monkeypatch.chdir(gh.workspace)
    return _action.main({**dict(__import__("os").environ), **env})


MODEL_PAYLOAD = {
    "task": "classification",
    "metrics": {"accuracy": 0.95},
    "baseline_metrics": None,
    "deltas": {},
    "higher_is_better": {"accuracy": True},
    "gates": [],
    "blessing": {"blessed": True, "reason": "first model", "notes": ["no baseline"]},
    "slices": [],
    "budgets": [],
    "parity": None,
    "confusion_matrix": None,
}


VALID = (REPO_ROOT / "examples" / "breast-cancer" / "mlci.yaml").read_text(encoding="utf-8")


def test_run_step_config_check_passes(
    gh_env: GitHubEnv, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    (gh_env.workspace / "mlci.yaml").write_text(VALID, encoding="utf-8")
    assert run_step(gh_env, monkeypatch, MLCI_COMMAND="config-check") == 0
    assert outputs(gh_env) == {
        "passed": "true",
        "exit-code": "0",
        "results-path": "mlci-results",
        "report-path": "",
    }
    assert gh_env.summary_text().startswith(
        "### ✅ mlci config-check: passed\n\n`mlci config check mlci.yaml` exited with 0.\n"
    )
    assert "mlci.yaml: ok (classification, registry local)" in capsys.readouterr().out


def test_run_step_writes_outputs_on_error(
    gh_env: GitHubEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    sub = gh_env.workspace / "proj"
    sub.mkdir()
    (sub / "conf.yaml").write_text("version: 1\ntask: clustering\n", encoding="utf-8")
    code = run_step(
        gh_env,
        monkeypatch,
        MLCI_COMMAND="config-check",
        MLCI_CONFIG="conf.yaml",
        MLCI_WORKING_DIRECTORY="proj",
        MLCI_RESULTS="out",
    )
    assert code == 2
    assert outputs(gh_env) == {
        "passed": "false",
        "exit-code": "2",
        "results-path": "proj/out",
        "report-path": "",
    }
    summary = gh_env.summary_text()
    assert summary.startswith("### ❌ mlci config-check: error (exit 2)\n")
    assert "conf.yaml:2:7: task:" in summary


def test_run_step_unknown_and_missing_commands(
    gh_env: GitHubEnv, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    assert run_step(gh_env, monkeypatch, MLCI_COMMAND="frobnicate") == 2
    assert outputs(gh_env)["passed"] == "false"
    assert "::error::input command: unknown command 'frobnicate'; use one of validate-data," in (
        capsys.readouterr().out
    )
    monkeypatch.setitem(_action.COMMANDS, "later", ("not-yet-a-command",))
    gh_env.output.unlink()
    assert run_step(gh_env, monkeypatch, MLCI_COMMAND="later") == 2
    assert outputs(gh_env)["exit-code"] == "2"
    assert "has no `mlci not-yet-a-command` command yet; pin a newer mlci release" in (
        gh_env.summary_text()
    )


def test_run_step_gate_failure_respects_fail_on_gate(
    gh_env: GitHubEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = gh_env.workspace / "mlci-results"
    payload = {**MODEL_PAYLOAD, "blessing": {"blessed": False, "reason": "accuracy < 0.9"}}
    doc = make_document("model", passed=False, payload=payload)
    write_results(results, doc)
    (results / "report.md").write_text("# report\n", encoding="utf-8")
    # The gate verdict comes from the command's exit code; stand in a command that exits 1.
    monkeypatch.setattr(_action, "_run", lambda argv, cwd, rt: (1, ["gate failed"]))
    monkeypatch.setattr(_action, "build_argv", lambda command, env: ["validate-model"])
    assert run_step(gh_env, monkeypatch, MLCI_COMMAND="validate-model") == 1
    got = outputs(gh_env)
    assert got["passed"] == "false" and got["blessed"] == "false"
    assert got["report-path"] == "mlci-results/report.md"
    gh_env.output.unlink()
    assert (
        run_step(gh_env, monkeypatch, MLCI_COMMAND="validate-model", MLCI_FAIL_ON_GATE="false") == 0
    )
    assert outputs(gh_env)["passed"] == "false"


def test_blessed_reads_the_results_as_untrusted_data(tmp_path: Path) -> None:
    assert _action._blessed(tmp_path) == "false"  # no file
    (tmp_path / "model.json").write_text('{"blessing": {"blessed": true}}', encoding="utf-8")
    assert _action._blessed(tmp_path) == "false"  # not a valid results document
    write_results(tmp_path, make_document("model", passed=True, payload=MODEL_PAYLOAD))
    assert _action._blessed(tmp_path) == "true"


def test_build_argv_uses_only_the_options_a_command_has() -> None:
    assert _action.build_argv("config-check", {"MLCI_CONFIG": "a/mlci.yaml"}) == [
        "config",
        "check",
        "a/mlci.yaml",
    ]
    commands = available_commands()
    for name in SUB_ACTIONS:
        if name not in commands:
            with pytest.raises(Exception, match="has no `mlci"):
                _action.build_argv(name, {})
            continue
        argv = _action.build_argv(
            name, {"MLCI_RESULTS": "r", "MLCI_POST": "true", "MLCI_PR_NUMBER": "7"}
        )
        assert argv[0] == name
        assert "${{" not in " ".join(argv)


def test_relative_paths() -> None:
    rt = Runtime({"GITHUB_WORKSPACE": "/w"})
    assert rt.workspace_path(Path("/w/a/b")) == "a/b"
    assert rt.workspace_path(Path("/tmp/x")) == "/tmp/x"
    assert rt.workspace_path(Path("/w")) == "."


# -- real runs under act -------------------------------------------------------------------------


def _check_workflow(command: str) -> str:
    return f"""name: check
on: push
permissions: {{}}
jobs:
  check:
    runs-on: ubuntu-latest
    timeout-minutes: 5
    steps:
      - uses: {CHECKOUT}
        with:
          persist-credentials: false
      - id: mlci
        uses: {MLCI}@{_release.COMMIT}
        with:
          command: {command}
"""


def _assert_act_ran(result: ActResult) -> None:
    assert result.events, result.stderr
    assert result.job_result() is not None, result.log


@pytest.mark.parametrize("valid", [True, False], ids=["valid", "invalid"])
def test_root_action_runs_config_check_under_act(tmp_path: Path, valid: bool) -> None:
    config = VALID if valid else VALID.replace("task: classification", "task: clustering")
    repo = git_repo(
        tmp_path / "repo",
        {".github/workflows/check.yml": _check_workflow("config-check"), "mlci.yaml": config},
    )
    result = run_act(repo, ".github/workflows/check.yml", event_name="push")
    _assert_act_ran(result)
    assert "not installing it again" in result.log  # the test venv's mlci is on PATH
    out = result.outputs("mlci")
    if valid:
        assert result.job_result() == "success", result.log
        # The root action declares every command's outputs; config-check sets its own.
        assert out == {n: "" for c in _action.COMMANDS for n in _action.outputs_of(c)} | {
            "passed": "true",
            "exit-code": "0",
            "results-path": "mlci-results",
            "report-path": "",
        }
        assert result.summary.startswith("### ✅ mlci config-check: passed\n")
        assert "<pre>mlci.yaml: ok (classification, registry local)</pre>" in result.summary
    else:
        assert result.job_result() == "failure"
        assert out["passed"] == "false" and out["exit-code"] == "2", out
        assert out["results-path"] == "mlci-results"
        assert result.summary.startswith("### ❌ mlci config-check: error (exit 2)\n")
        assert "mlci.yaml:5:7: task:" in result.summary


@pytest.fixture(scope="module")
def initialised(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = make_project(tmp_path_factory.mktemp("act") / "repo")
    assert main(["init", "--yes", "-C", str(repo)]) == 0
    return git_repo(repo)


@pytest.fixture(scope="module")
def example_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled example as a user's repository: data prepared, `mlci init --yes` run."""
    repo = tmp_path_factory.mktemp("example") / "repo"
    shutil.copytree(
        REPO_ROOT / "examples" / "breast-cancer",
        repo,
        ignore=shutil.ignore_patterns(".gitignore", "data", "mlci-results", "*.skops", ".mlci"),
    )
    subprocess.run([sys.executable, "prepare_data.py"], cwd=repo, check=True, capture_output=True)
    git_repo(repo)
    assert main(["init", "--yes", "-C", str(repo)]) == 0
    return git_repo(repo)


@pytest.fixture(scope="module")
def pr_run(example_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[ActResult, Path]:
    """One act run of the generated mlci-pr.yml on the example (shared by the tests below)."""
    artifacts = tmp_path_factory.mktemp("pr-artifacts")
    event = {
        "number": 7,
        "pull_request": {
            "number": 7,
            "head": {"sha": "0" * 40, "ref": "feature"},
            "base": {"ref": "main"},
        },
    }
    result = run_act(
        example_repo,
        ".github/workflows/mlci-pr.yml",
        event_name="pull_request",
        event=event,
        artifacts=artifacts,
    )
    return result, artifacts


def test_generated_pr_workflow_runs_under_act(pr_run: tuple[ActResult, Path]) -> None:
    """mlci-pr.yml as generated, on a pull_request event; grows as the commands land."""
    result, artifacts = pr_run
    _assert_act_ran(result)
    assert "not installing it again" in result.log
    commands = available_commands()
    data = result.outputs("data")
    assert data["results-path"] == "mlci-results"
    if "validate-data" not in commands:
        # The action installs (skipped), runs, and reports the missing command on every
        # channel: outputs, summary, annotation, failed job.
        assert data == {
            "passed": "false",
            "exit-code": "2",
            "results-path": "mlci-results",
            "report-path": "",
        }
        assert "has no `mlci validate-data` command yet" in result.summary
        assert result.job_result() == "failure"
        return
    assert data["passed"] == "true" and data["exit-code"] == "0", result.log
    uploaded = artifacts / "mlci-results"
    assert read_results(uploaded / "data.json")["passed"] is True
    assert result.step_result("model") is not None
    if "validate-model" not in commands:
        assert "has no `mlci validate-model` command yet" in result.summary
        assert result.job_result() == "failure"
        return
    model = result.outputs("model")
    assert model["passed"] == "true" and model["blessed"] == "true", result.log
    assert read_results(uploaded / "model.json")["blessing"]["blessed"] is True
    assert result.job_result() == "success", result.log
    assert set(p.name for p in uploaded.iterdir()) <= {
        "data.json",
        "model.json",
        "report.md",
        "report.html",
    }


@pytest.mark.slow
@pytest.mark.parametrize("command", SUB_ACTIONS)
def test_each_action_runs_under_act(initialised: Path, tmp_path: Path, command: str) -> None:
    if command not in available_commands():
        pytest.skip(f"`mlci {command}` is not in `mlci --help` yet")
    workflow = (
        _check_workflow(command)
        .replace(f"uses: {MLCI}@", f"uses: {MLCI}/actions/{command}@")
        .replace(
            f"command: {command}",
            'fail-on-gate: "false"' if command.startswith("validate") else "working-directory: .",
        )
    )
    repo = git_repo(initialised, {".github/workflows/check.yml": workflow})
    result = run_act(
        repo, ".github/workflows/check.yml", event_name="push", artifacts=tmp_path / "artifacts"
    )
    _assert_act_ran(result)
    out = result.outputs("mlci")
    assert out["exit-code"] in ("0", "1", "2") and out["results-path"] == "mlci-results", result.log
    assert result.summary, result.log


def test_generated_comment_workflow_runs_under_act(
    example_repo: Path, pr_run: tuple[ActResult, Path], fake_github: Any
) -> None:
    """A fork's PR: no PR number in the payload, commits/{sha}/pulls answers [].

    The comment job finds it among the open pull requests of the fork's owner and branch
    (matched on the head commit), checks out nothing, downloads the PR run's artifact and
    posts one sticky comment through the fake GitHub API.
    """
    _, artifacts = pr_run
    head_sha = "1" * 40
    pull = fake_github.add_pull(head_sha=head_sha, head_repo="fork/ml-project")
    event = webhooks.workflow_run_completed(
        fake_github, run_id=99, head_sha=head_sha, head_repo="fork/ml-project"
    )
    result = run_act(
        example_repo,
        ".github/workflows/mlci-comment.yml",
        event_name="workflow_run",
        event=event,
        artifacts=artifacts,
        env={"GITHUB_API_URL": fake_github.url, "GITHUB_REPOSITORY": fake_github.repo},
        secrets={"GITHUB_TOKEN": fake_github.token},
    )
    _assert_act_ran(result)
    assert "download-artifact stand-in: mlci-results (run 99)" in result.log
    assert "checkout stand-in" not in result.log
    if "report" not in available_commands():
        assert "has no `mlci report` command yet" in result.summary, result.log
        assert result.job_result() == "failure"
        return
    if not (artifacts / "mlci-results" / "model.json").exists():
        pytest.skip("the PR run produced no model.json yet (validate-model missing)")
    assert result.job_result() == "success", result.log
    comments = fake_github.comments(pull["number"])
    assert len(comments) == 1, result.log
    assert comments[0]["user"]["login"] == "github-actions[bot]"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("workflow", "event_name", "command"),
    [("mlci-deploy.yml", "push", "deploy"), ("mlci-retrain.yml", "workflow_dispatch", "retrain")],
)
def test_generated_deploy_and_retrain_workflows_run_under_act(
    example_repo: Path, tmp_path: Path, workflow: str, event_name: str, command: str
) -> None:
    """The push-to-main deploy (local registry) and a manual retrain, as generated."""
    if command not in available_commands():
        pytest.skip(f"`mlci {command}` is not in `mlci --help` yet")
    result = run_act(
        example_repo,
        f".github/workflows/{workflow}",
        event_name=event_name,
        event={},
        artifacts=tmp_path / "artifacts",
    )
    _assert_act_ran(result)
    assert result.job_result() == "success", result.log
    if command == "deploy":
        assert result.outputs("model")["blessed"] == "true"
        assert "## mlci deploy: model v1 is in production" in result.summary
        assert (tmp_path / "artifacts" / "mlci-deploy-results" / "model.json").is_file()
    else:
        assert "## mlci retrain:" in result.summary
        assert (tmp_path / "artifacts" / "mlci-retrain-results").is_dir()


@pytest.mark.slow
def test_action_installs_mlci_into_runner_temp(tmp_path: Path) -> None:
    """Without mlci on PATH the action builds a venv under $RUNNER_TEMP and pip-installs itself."""
    repo = git_repo(
        tmp_path / "repo",
        {".github/workflows/check.yml": _check_workflow("config-check"), "mlci.yaml": VALID},
    )
    result = run_act(
        repo, ".github/workflows/check.yml", event_name="push", mlci_on_path=False, timeout=900
    )
    _assert_act_ran(result)
    assert "Installing mlci 0.1.0 from" in result.log, result.log
    python = result.outputs("mlci", "install")["python"]
    assert re.search(r"/mlci-0\.1\.0/bin/python$", python), python
    assert result.job_result() == "success", result.log
    assert result.outputs("mlci")["passed"] == "true"


def test_run_step_module_is_runnable() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mlci._action"],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", "MLCI_COMMAND": "frobnicate"},
    )
    assert done.returncode == 2
    assert "error: input command: unknown command 'frobnicate'" in done.stdout
