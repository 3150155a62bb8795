"""mlci's composite actions: their definitions, their run step, and real runs under act."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mlci import _action, _release
from mlci.cli import build_parser
from mlci.github.runtime import Runtime
from mlci.results import make_document, write_results
from tests.act.harness import REPO_ROOT
from tests.conftest import GitHubEnv

ACTIONS = {"mlci": REPO_ROOT / "action.yml"}
#: The commands besides config-check that the action runs.
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


def test_the_root_action_is_the_only_action() -> None:
    """One action per repository, at the root: what the Marketplace lists (#15)."""
    found = sorted(
        p.relative_to(REPO_ROOT).as_posix()
        for pattern in ("**/action.yml", "**/action.yaml")
        for p in REPO_ROOT.glob(pattern)
        if not p.relative_to(REPO_ROOT).as_posix().startswith(("tests/", ".", "build/"))
    )
    assert found == ["action.yml"]
    choices = load(ACTIONS["mlci"])["inputs"]["command"]["description"]
    for command in (*SUB_ACTIONS, "config-check"):
        assert command in choices and command in _action.COMMANDS


@pytest.mark.parametrize("name", list(ACTIONS))
def test_action_definition(name: str) -> None:
    action = load(ACTIONS[name])
    assert action["description"] and action["runs"]["using"] == "composite"
    for key, spec in {**action["inputs"], **action["outputs"]}.items():
        assert spec.get("description"), (name, key)
        assert re.fullmatch(r"[a-z][a-z-]*", key), key
    outputs = set(action["outputs"])
    assert {"passed", "exit-code", "results-path", "report-path"} <= outputs
    assert "blessed" in outputs
    assert action["branding"] == {"icon": "check-circle", "color": "green"}
    assert action["inputs"]["command"]["required"] is True
    steps = action["runs"]["steps"]
    assert [s["id"] for s in steps] == ["install", "run"]
    for step in steps:
        assert "${{" not in step["run"], (name, step["run"])
        assert step["shell"] == "bash"
    assert steps[0]["run"] == (
        'bash "$GITHUB_ACTION_PATH/scripts/install-mlci.sh" "$GITHUB_ACTION_PATH"'
    )
    # every input reaches the scripts, and only through env:
    used = {m for v in steps[1]["env"].values() for m in re.findall(r"inputs\.([a-z-]+)", str(v))}
    used |= {m for v in steps[0]["env"].values() for m in re.findall(r"inputs\.([a-z-]+)", str(v))}
    assert used == set(action["inputs"]), name


def test_install_script_is_strict_bash() -> None:
    script = REPO_ROOT / "scripts" / "install-mlci.sh"
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
    # the comment job's registry (an empty input records no experiment)
    env = {"MLCI_POST": "true", "MLCI_REGISTRY_TAG_PREFIX": "model-v"}
    assert _action.build_argv("report", env)[-2:] == ["--registry-tag-prefix", "model-v"]
    env["MLCI_REGISTRY_TAG_PREFIX"] = ""
    assert "--registry-tag-prefix" not in _action.build_argv("report", env)


def test_relative_paths() -> None:
    rt = Runtime({"GITHUB_WORKSPACE": "/w"})
    assert rt.workspace_path(Path("/w/a/b")) == "a/b"
    assert rt.workspace_path(Path("/tmp/x")) == "/tmp/x"
    assert rt.workspace_path(Path("/w")) == "."


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
