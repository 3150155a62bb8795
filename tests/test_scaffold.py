"""`mlci init`: detection, answers, rendering, never clobbering, and the proof the output is clean."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlci import __version__, _release, scaffold
from mlci.cli import main
from mlci.config import load_config
from tests.act.harness import REPO_ROOT, VENV_BIN, git_repo
from tests.scaffold_helpers import COMBINATIONS, combo_id, make_project

GOLDEN = Path(__file__).parent / "golden" / "workflows"
SHA_PIN = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40} # v\d[\w.+-]*$")


def tool(name: str) -> str:
    """A linter from the test virtualenv; missing is a failure, not a skip."""
    path = VENV_BIN / name
    assert path.is_file(), f"{name} is not installed in {VENV_BIN}; pip install {name}"
    return str(path)


def init(root: Path, *args: str) -> int:
    return main(["init", "-C", str(root), *args])


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "proj")


def read_all(root: Path) -> dict[str, str]:
    return {
        rel: (root / rel).read_text(encoding="utf-8")
        for rel in ("mlci.yaml", *scaffold.WORKFLOWS)
        if (root / rel).exists()
    }


# -- detection -------------------------------------------------------------------------------


def test_detect_finds_branch_data_columns_target_train_and_python(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p")
    (root / "requirements.txt").write_text("scikit-learn\n", encoding="utf-8")
    (root / "models").mkdir()
    (root / "models" / "model.skops").write_bytes(b"x")
    (root / "models" / "old.pkl").write_bytes(b"x")
    (root / ".python-version").write_text("3.12.4\n", encoding="utf-8")
    subprocess.run(["git", "checkout", "-q", "-b", "trunk"], cwd=root, check=True)
    d = scaffold.detect(root)
    assert d.default_branch == "trunk"
    assert d.data_files == ("data/current.csv", "data/eval.csv", "data/train.csv")
    assert (d.reference, d.eval_data, d.current) == (
        "data/train.csv",
        "data/eval.csv",
        "data/current.csv",
    )
    assert d.columns[0] == "mean_radius" and d.columns[-1] == "target" and len(d.columns) == 31
    assert (d.target, d.task) == ("target", "classification")
    assert d.model == "models/model.skops"
    assert d.train_command == "python train.py"
    assert d.install_command == "python -m pip install -r requirements.txt"
    assert d.python == "3.12"


def test_detect_regression_and_python_floor(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", task="regression", train=False)
    (root / "pyproject.toml").write_text('[project]\nrequires-python = ">=3.9"\n', encoding="utf-8")
    d = scaffold.detect(root)
    assert (d.task, d.target, d.train_command) == ("regression", "target", None)
    assert d.python == "3.11"  # mlci itself needs 3.11


def test_detect_empty_repository(tmp_path: Path) -> None:
    root = git_repo(tmp_path / "empty")
    d = scaffold.detect(root)
    assert (d.reference, d.target, d.model, d.train_command) == (None, None, None, None)
    assert d.default_branch == "main"


def test_init_outside_git_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert init(tmp_path, "--yes") == 2
    err = capsys.readouterr().err
    assert "not inside a git repository; run `git init`" in err
    assert not (tmp_path / "mlci.yaml").exists()


# -- writing, idempotence, refusing --------------------------------------------------------------


def test_init_writes_config_and_workflows_and_is_idempotent(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert init(project, "--yes") == 0
    out = capsys.readouterr().out
    for rel in ("mlci.yaml", *scaffold.WORKFLOWS):
        assert f"created {rel}\n" in out
    cfg = load_config(project / "mlci.yaml")
    assert (cfg.task, cfg.data.reference, cfg.data.eval, cfg.data.target) == (
        "classification",
        "data/train.csv",
        "data/eval.csv",
        "target",
    )
    assert cfg.model.train_command == "python train.py"
    assert cfg.data.current == "data/current.csv"
    assert main(["config", "check", str(project / "mlci.yaml")]) == 0
    before = {p: (project / p).stat().st_mtime_ns for p in read_all(project)}
    first = read_all(project)
    capsys.readouterr()
    assert init(project, "--yes") == 0
    out = capsys.readouterr().out
    assert out.count("unchanged ") == 5 and "next:" not in out
    assert read_all(project) == first
    assert {p: (project / p).stat().st_mtime_ns for p in first} == before
    assert init(project, "--check") == 0
    assert "all files are up to date" in capsys.readouterr().out


def test_without_current_data_pull_requests_check_the_reference(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p")
    (root / "data" / "current.csv").unlink()
    assert init(root, "--yes") == 0
    cfg = load_config(root / "mlci.yaml")
    assert (cfg.data.reference, cfg.data.current) == ("data/train.csv", "data/train.csv")


def test_init_refuses_to_overwrite_a_changed_workflow(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert init(project, "--yes") == 0
    pr = project / ".github/workflows/mlci-pr.yml"
    edited = pr.read_text(encoding="utf-8").replace("timeout-minutes: 60", "timeout-minutes: 5")
    pr.write_text(edited, encoding="utf-8")
    (project / ".github/workflows/mlci-comment.yml").unlink()
    capsys.readouterr()
    assert init(project, "--yes") == 2
    captured = capsys.readouterr()
    assert "--- .github/workflows/mlci-pr.yml (on disk)" in captured.out
    assert "-    timeout-minutes: 5\n+    timeout-minutes: 60\n" in captured.out
    assert (
        "mlci: error: .github/workflows/mlci-pr.yml: changed since mlci generated it (diff above);"
        " mlci init did not overwrite anything. Rerun with --force to replace, or --dry-run to"
        " preview"
    ) in captured.err
    assert pr.read_text(encoding="utf-8") == edited
    assert not (project / ".github/workflows/mlci-comment.yml").exists()  # nothing written

    assert init(project, "--check") == 1
    out = capsys.readouterr().out
    assert "stale: .github/workflows/mlci-pr.yml\n" in out
    assert "missing: .github/workflows/mlci-comment.yml\n" in out
    assert "2 file(s) differ from what mlci" in out

    assert init(project, "--dry-run") == 0
    out = capsys.readouterr().out
    assert "would replace .github/workflows/mlci-pr.yml (changed on disk: needs --force):" in out
    assert "would create .github/workflows/mlci-comment.yml:\n# Generated by mlci" in out
    assert "would keep mlci.yaml" not in out and "unchanged mlci.yaml" in out
    assert pr.read_text(encoding="utf-8") == edited

    assert init(project, "--force") == 0
    out = capsys.readouterr().out
    assert "replaced .github/workflows/mlci-pr.yml" in out
    assert "created .github/workflows/mlci-comment.yml" in out
    assert "timeout-minutes: 60" in pr.read_text(encoding="utf-8")
    assert init(project, "--check") == 0


def test_dry_run_writes_nothing(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert init(project, "--dry-run") == 0
    out = capsys.readouterr().out
    assert "would create mlci.yaml:\n# yaml-language-server" in out
    assert "would create .github/workflows/mlci-retrain.yml:" in out
    assert read_all(project) == {}


def test_existing_config_is_the_source_of_answers(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert init(project, "--yes") == 0
    cfg_path = project / "mlci.yaml"
    text = cfg_path.read_text(encoding="utf-8")
    text = text.replace('schedule: "17 3 * * 1"', 'schedule: "15 4 * * *"')
    text = text.replace("      max_drop: 0.02\n", "      max_drop: 0.02\n      max: 0.99\n")
    cfg_path.write_text(text, encoding="utf-8")
    capsys.readouterr()
    # The user's edits to mlci.yaml are theirs: kept, and its schedule reaches the workflow.
    assert init(project, "--yes") == 2  # the retrain workflow now differs ...
    assert init(project, "--yes", "--force") == 0
    out = capsys.readouterr().out
    assert "kept mlci.yaml (exists; its values were used)" in out
    assert cfg_path.read_text(encoding="utf-8") == text
    retrain = yaml.safe_load((project / ".github/workflows/mlci-retrain.yml").read_text())
    assert retrain[True]["schedule"] == [{"cron": "15 4 * * *"}]
    # A flag that contradicts mlci.yaml is a change to it: refused, with its diff.
    assert init(project, "--yes", "--registry", "local") == 2
    captured = capsys.readouterr()
    assert "-  backend: github\n+  backend: local\n" in captured.out
    # (the comment workflow too: with the github registry it may write the history)
    assert (
        "mlci: error: mlci.yaml, .github/workflows/mlci-comment.yml,"
        " .github/workflows/mlci-deploy.yml: changed since" in captured.err
    )
    assert cfg_path.read_text(encoding="utf-8") == text


def test_invalid_existing_config_is_reported(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "mlci.yaml").write_text("version: 1\ntask: clustering\n", encoding="utf-8")
    assert init(project, "--yes") == 2
    assert "mlci.yaml:2:7: task:" in capsys.readouterr().err


def test_workflow_options_are_recorded_and_reused(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ("--python", "3.12", "--runs-on", "self-hosted, gpu", "--default-branch", "trunk")
    assert init(project, "--yes", *args) == 0
    pr_text = (project / ".github/workflows/mlci-pr.yml").read_text(encoding="utf-8")
    assert pr_text.startswith(
        "# Generated by mlci 0.1.0 with `mlci init --python 3.12 --default-branch trunk"
        " --runs-on self-hosted,gpu`.\n"
    )
    pr = yaml.safe_load(pr_text)
    assert pr["jobs"]["validate"]["runs-on"] == ["self-hosted", "gpu"]
    assert pr[True]["pull_request"]["branches"] == ["trunk"]
    steps = pr["jobs"]["validate"]["steps"]
    assert steps[1]["with"]["python-version"] == "3.12"
    capsys.readouterr()
    assert init(project, "--check") == 0  # no flags needed: the header holds them


def test_action_ref_override(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sha = "0123456789abcdef0123456789abcdef01234567"
    assert init(project, "--yes", "--action-ref", f"me/mlci-fork@{sha}#v9.9.9") == 0
    text = (project / ".github/workflows/mlci-pr.yml").read_text(encoding="utf-8")
    assert f"uses: me/mlci-fork@{sha} # v9.9.9\n" in text
    assert _release.COMMIT not in text
    assert init(project, "--yes", "--force", "--action-ref", sha) == 0
    text = (project / ".github/workflows/mlci-pr.yml").read_text(encoding="utf-8")
    assert f"uses: mlci-dev/mlci@{sha} # v{__version__}\n" in text
    capsys.readouterr()
    assert init(project, "--yes", "--force", "--action-ref", "me/mlci@v1") == 2
    assert (
        "--action-ref 'me/mlci@v1': expected [OWNER/REPO@]SHA[#TAG] with a full 40-character"
        in (capsys.readouterr().err)
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--train-command", "python train.py --seed ${{ github.run_id }}"), "contains '${{'"),
        (("--python", "3.9"), "--python '3.9': expected a version such as 3.12, at least 3.11"),
        (("--runs-on", "ubuntu latest"), "--runs-on 'ubuntu latest': expected runner labels"),
        (("--retrain-schedule", "weekly"), "--retrain-schedule 'weekly': not a cron expression"),
        (("--default-branch", "a b"), "--default-branch 'a b': not a branch name"),
    ],
)
def test_bad_answers_are_usage_errors(
    project: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    assert init(project, "--yes", *args) == 2
    assert message in capsys.readouterr().err
    assert read_all(project) == {}


def test_prompts_on_a_terminal(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    replies = iter(
        [
            *("", "mean_radius", "", "", "-", "-", "model.onnx", "", ""),
            *("nonsense", "local", "", "deploy"),
        ]
    )
    asked: list[str] = []

    def fake_input(prompt: str) -> str:
        asked.append(prompt)
        return next(replies, "")

    monkeypatch.setattr("builtins.input", fake_input)
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True, raising=False)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    assert init(project, "--python", "3.12") == 0
    assert asked[0].startswith(
        "Reference (training) data file (found: data/current.csv, data/eval.csv, data/train.csv)"
    )
    # The target is asked before the task, and the task's default follows from it.
    assert asked[1].startswith("Target column (columns: mean_radius, mean_texture")
    assert asked[1].endswith(" [target]: ")
    assert asked[2] == "Task (classification/regression) [regression]: "
    assert asked[4].startswith("Current data file, checked against the reference")
    assert asked[8].startswith("Command that runs the project's tests before training")
    assert (
        asked[9] == "Model registry (github/local) [github]: " == asked[10]
    )  # 'nonsense' re-asked
    assert not any(a.startswith("Python version") for a in asked)  # given as a flag
    cfg = load_config(project / "mlci.yaml")
    assert (cfg.data.target, cfg.data.eval, cfg.model.path) == ("mean_radius", None, "model.onnx")
    assert cfg.task == "regression"
    assert cfg.data.current is None  # '-' means none
    assert (cfg.registry.backend, cfg.retrain.mode) == ("local", "deploy")
    out = capsys.readouterr().out
    assert "choose one of: github, local" in out
    assert "  target           mean_radius              you\n" in out


def test_init_imports_no_heavy_library(project: Path) -> None:
    code = (
        "import sys; from mlci.cli import main; rc = main(['init', '--yes', '-C', sys.argv[1]]);"
        "heavy = [m for m in ('pandas', 'sklearn', 'onnxruntime', 'pyarrow', 'numpy', 'scipy')"
        " if m in sys.modules]; print(rc, heavy)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(project)], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip().endswith("0 []"), done.stdout + done.stderr


# -- the generated workflows ---------------------------------------------------------------------


def _monitor_data_command(combo: dict[str, object]) -> str | None:
    if not combo["train"]:
        return None
    if combo["registry"] == "local":
        return 'python fetch_logs.py --token "$BUCKET_TOKEN" --to logs/'
    return "aws s3 sync s3://bucket/logs/ logs/"


def _step_secrets(job: dict[str, Any]) -> dict[str, dict[str, str]]:
    """``{step name: its env}`` for each step of ``job`` whose env reads a secret."""
    out = {}
    for step in job["steps"]:
        env = step.get("env") or {}
        if "secrets." in yaml.safe_dump(env):
            out[step["name"]] = env
    return out


def render_combo(root: Path, combo: dict[str, object]) -> dict[str, str]:
    a = scaffold.Answers(
        task=combo["task"],  # type: ignore[arg-type]
        data="data/train.csv",
        eval_data="data/eval.csv",
        target="target",
        model="model.skops" if combo["train"] else None,
        train_command="python train.py" if combo["train"] else None,
        registry=combo["registry"],  # type: ignore[arg-type]
        retrain_mode=combo["retrain_mode"],  # type: ignore[arg-type]
        # The monitor workflow rides along with half the combinations.
        monitor="yes" if combo["train"] else None,
        monitor_data_command=_monitor_data_command(combo),
        # What mlci.yaml says shapes the monitor and retrain jobs: the monitor dispatches the
        # retrain (`actions: write`) with pull-request retrains; local-registry projects
        # fetch data with a stored secret, github-registry ones through OpenID Connect.
        monitor_trigger_retrain="true" if combo["retrain_mode"] == "pull-request" else None,
        monitor_oidc="true" if combo["registry"] == "github" else None,
        retrain_oidc="true" if combo["registry"] == "github" else None,
        # The monitor rolls production back (monitor.rollback) with a quarter of them.
        monitor_rollback=(
            "true" if combo["registry"] == "github" and combo["retrain_mode"] == "deploy" else None
        ),
        retrain_secrets="DATA_TOKEN" if combo["registry"] == "local" else None,
        # Data checked on three runners with half the combinations (data.shards).
        shards="3" if combo["registry"] == "github" else None,
        # Deploy secrets (as mlci.yaml's deploy step would name them) with the other half;
        # ON is a YAML 1.1 boolean unless quoted.
        deploy_secrets=None if combo["train"] else "HOOK_SECRET,ON,DEPLOY_TOKEN",
    )
    chance = (
        scaffold.ChanceLevel("accuracy", 0.6275, "majority class share (chance level)")
        if combo["task"] == "classification"
        else scaffold.ChanceLevel("r2", 0.0, "R² of always predicting the mean (chance level)")
    )
    files = scaffold.render_files(a, chance)
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return files


@pytest.fixture(scope="module")
def all_combinations(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, tuple[Path, dict[str, str]]]:
    base = tmp_path_factory.mktemp("combos")
    return {
        combo_id(c): (base / combo_id(c), render_combo(base / combo_id(c), c)) for c in COMBINATIONS
    }


def _runs(workflow: dict[str, object]) -> list[str]:
    jobs = workflow["jobs"]
    assert isinstance(jobs, dict)
    return [s["run"] for job in jobs.values() for s in job["steps"] if "run" in s]


@pytest.mark.parametrize("combo", COMBINATIONS, ids=combo_id)
def test_workflow_shape(all_combinations: dict, combo: dict[str, object]) -> None:
    root, files = all_combinations[combo_id(combo)]
    assert load_config(root / "mlci.yaml").task == combo["task"]
    wfs = {Path(rel).stem: yaml.safe_load(files[rel]) for rel in scaffold.WORKFLOWS}
    for name, wf in wfs.items():
        text = files[f".github/workflows/{name}.yml"]
        assert "[[" not in text and "[%" not in text and "#]" not in text
        assert wf["permissions"] == {}, name
        assert "pull_request_target" not in wf[True]
        for job_id, job in wf["jobs"].items():
            assert isinstance(job["timeout-minutes"], int), (name, job_id)
            assert job["concurrency"]["group"], (name, job_id)
            assert job["permissions"], (name, job_id)
            for step in job["steps"]:
                if "uses" in step:
                    line = next(ln for ln in text.splitlines() if f"uses: {step['uses']}" in ln)
                    assert SHA_PIN.match(line.split("uses: ", 1)[1]), line
                if "run" in step:
                    assert "${{" not in step["run"], (name, step)
                if str(step.get("uses", "")).startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] is False
                if str(step.get("uses", "")).startswith("actions/setup-python@"):
                    assert "cache" not in step.get("with", {})
        # Every permission line carries a comment saying why.
        for line in text.splitlines():
            if re.match(r"^      [a-z-]+: (read|write)", line):
                assert "  # " in line, line
    pr, comment, deploy, retrain = (
        wfs[n] for n in ("mlci-pr", "mlci-comment", "mlci-deploy", "mlci-retrain")
    )
    # pull request: read-only, no secrets, uploads only the results directory
    assert list(pr[True]) == ["pull_request"]
    job = pr["jobs"]["validate"]
    assert job["permissions"] == {"contents": "read"}
    assert "secrets." not in yaml.safe_dump(pr)
    upload = next(s for s in job["steps"] if "upload-artifact" in s.get("uses", ""))
    assert upload["with"]["path"] == "mlci-results/" and upload["if"] == "always()"
    if combo["registry"] == "github":  # data.shards: 3
        assert load_config(root / "mlci.yaml").data.shards == 3
        shard_job = pr["jobs"]["data-shard"]
        assert shard_job["strategy"]["matrix"]["shard"] == [1, 2, 3]
        assert shard_job["permissions"] == {"contents": "read"}
        assert "${{ matrix.shard }}" in shard_job["concurrency"]["group"]
        assert job["needs"] == "data-shard"
        runs = [s["run"] for s in shard_job["steps"] if "run" in s]
        assert any('--shard "$SHARD/3"' in r for r in runs)
        data_step = next(s for s in job["steps"] if s.get("id") == "data")
        assert "--merge-shards" in data_step["run"]
        assert any("mlci profile merge" in s.get("run", "") for s in job["steps"])
    else:
        assert list(pr["jobs"]) == ["validate"]
        assert load_config(root / "mlci.yaml").data.shards == 1
    names = [s.get("id") for s in job["steps"]]
    assert names.index("data") < names.index("model")
    has_train = any(s.get("run") == "python train.py" for s in job["steps"])
    assert has_train is bool(combo["train"])
    # comment: workflow_run of the PR workflow, checks out nothing, PR number from the event
    assert comment[True]["workflow_run"] == {"workflows": [pr["name"]], "types": ["completed"]}
    cjob = comment["jobs"]["comment"]
    comment_perms = {"actions": "read", "checks": "write", "pull-requests": "write"}
    if combo["registry"] == "github":  # the PR's entry in the experiment history
        comment_perms["contents"] = "write"
    assert cjob["permissions"] == comment_perms
    assert not any("checkout" in s.get("uses", "") for s in cjob["steps"])
    report = next(s for s in cjob["steps"] if (s.get("with") or {}).get("command") == "report")
    # The pull request comes from the event, matched on the head commit (forks included).
    assert "pr-number" not in report["with"]
    download = next(s for s in cjob["steps"] if "download-artifact" in s.get("uses", ""))
    assert download["continue-on-error"] is True  # no artifact: mlci says the checks stopped
    assert report["with"]["head-sha"] == "${{ github.event.workflow_run.head_sha }}"
    # the history the comment job appends to: the github registry's (none for local)
    prefix = "model-v" if combo["registry"] == "github" else None
    assert report["with"].get("registry-tag-prefix") == prefix
    assert "workflow_run" in cjob["concurrency"]["group"]
    # deploy: push to the default branch; only the deploy job is bound to an environment,
    # runs when the validate job blessed the model, and sees the deploy secrets; no caches
    assert deploy[True] == {"push": {"branches": ["main"]}}
    assert list(deploy["jobs"]) == ["validate", "deploy"]
    vjob, djob = deploy["jobs"]["validate"], deploy["jobs"]["deploy"]
    assert "environment" not in vjob and "secrets." not in yaml.safe_dump(vjob)
    assert vjob["outputs"] == {"blessed": "${{ steps.model.outputs.blessed }}"}
    assert djob["environment"] == "production"
    assert djob["needs"] == "validate"
    assert djob["if"] == "needs.validate.outputs.blessed == 'true'"
    assert djob["concurrency"] == {"group": "mlci-registry", "cancel-in-progress": False}
    assert "mlci-registry" not in yaml.safe_dump(vjob)
    want = "write" if combo["registry"] == "github" else "read"
    assert djob["permissions"] == {"contents": want}
    assert vjob["permissions"] == {"contents": want}  # github: the experiment history
    deploy_step = next(s for s in djob["steps"] if (s.get("with") or {}).get("command") == "deploy")
    names = [] if combo["train"] else ["HOOK_SECRET", "ON", "DEPLOY_TOKEN"]
    assert deploy_step.get("env", {}) == {n: f"${{{{ secrets.{n} }}}}" for n in names}
    for step in djob["steps"]:  # no other step of the deploy job sees a secret
        assert step is deploy_step or "secrets." not in yaml.safe_dump(step)
    # The handover: results, the blessed model and the eval data, only when blessed.
    handover = next(
        s for s in vjob["steps"] if (s.get("with") or {}).get("name") == "mlci-blessed-model"
    )
    assert handover["if"] == "steps.model.outputs.blessed == 'true'"
    paths = ["mlci-results/", "model.skops", "data/eval.csv"] if combo["train"] else None
    assert handover["with"]["path"].splitlines() == (paths or ["mlci-results/", "data/eval.csv"])
    download = next(s for s in djob["steps"] if "download-artifact" in s.get("uses", ""))
    assert download["with"] == {"name": "mlci-blessed-model", "path": "."}
    names = [s.get("name") for s in djob["steps"]]
    assert names.index(download["name"]) < names.index(deploy_step["name"])
    assert "cache" not in files[".github/workflows/mlci-deploy.yml"].replace("no caches", "")
    # retrain: schedule from the config and workflow_dispatch
    assert retrain[True]["schedule"] == [{"cron": "17 3 * * 1"}]  # off minute 0
    assert "workflow_dispatch" in retrain[True]
    rjob = retrain["jobs"]["retrain"]
    retrain_step = next(s for s in rjob["steps"] if s.get("name") == "Retrain")
    oidc = {"id-token": "write"} if combo["registry"] == "github" else {}
    # retrain.data_command's secret reaches the retrain step (where the command runs) only
    token = {"DATA_TOKEN": "${{ secrets.DATA_TOKEN }}"} if combo["registry"] == "local" else {}
    if combo["retrain_mode"] == "deploy":
        assert rjob["environment"] == "production"
        assert rjob["permissions"] == {"contents": want, **oidc}
        # It deploys too: the same secrets as the deploy step of mlci-deploy.yml.
        assert retrain_step.get("env", {}) == {**deploy_step.get("env", {}), **token}
    else:
        assert "environment" not in rjob
        assert rjob["permissions"] == {"contents": "write", "pull-requests": "write", **oidc}
        assert retrain_step.get("env", {}) == token
    assert _step_secrets(rjob) == (
        {"Retrain": retrain_step["env"]} if "env" in retrain_step else {}
    )
    # monitor: on a schedule off minute 0, reads code, writes issues, nothing more
    monitor_rel = ".github/workflows/mlci-monitor.yml"
    assert (monitor_rel in files) is bool(combo["train"])
    if monitor_rel in files:
        monitor = yaml.safe_load(files[monitor_rel])
        cron = monitor[True]["schedule"][0]["cron"]
        assert cron == "23 6 * * *" and not cron.startswith("0 ")
        mjob = monitor["jobs"]["monitor"]
        # what mlci.yaml asks for, nothing more: dispatch the retrain, OpenID Connect
        dispatch = {"actions": "write"} if combo["retrain_mode"] == "pull-request" else {}
        # monitor.rollback writes the registry: contents: write, the registry writers' group
        rollback = combo["registry"] == "github" and combo["retrain_mode"] == "deploy"
        contents = "write" if rollback else "read"
        assert mjob["permissions"] == {"contents": contents, "issues": "write", **dispatch, **oidc}
        group = "mlci-registry" if rollback else "mlci-monitor"
        assert mjob["concurrency"] == {"group": group, "cancel-in-progress": False}
        assert "environment" not in mjob
        runs = [s.get("run") for s in mjob["steps"]]
        assert _monitor_data_command(combo) in runs
        assert any((s.get("with") or {}).get("command") == "monitor" for s in mjob["steps"])
        # the data step alone gets the secret its command references
        token = {"BUCKET_TOKEN": "${{ secrets.BUCKET_TOKEN }}"}
        step = "Bring the production logs to the runner"
        want_env = {step: token} if combo["registry"] == "local" else {}
        assert _step_secrets(mjob) == want_env
        assert "secrets." not in yaml.safe_dump({k: v for k, v in mjob.items() if k != "steps"})
        wfs["mlci-monitor"] = monitor
    # Jobs bound to no environment see only the secrets a data command of mlci.yaml
    # references, in the env of the step that runs it.
    for name, wf in wfs.items():
        for job_id, job in wf["jobs"].items():
            if "environment" not in job and (name, job_id) not in (
                ("mlci-monitor", "monitor"),
                ("mlci-retrain", "retrain"),
            ):
                assert "secrets." not in yaml.safe_dump(job), name


def test_zizmor_finds_nothing_in_any_combination_or_action(all_combinations: dict) -> None:
    dirs = [str(root / ".github" / "workflows") for root, _ in all_combinations.values()]
    actions = [
        str(REPO_ROOT / "action.yml"),
        *map(str, sorted((REPO_ROOT / "actions").glob("*/action.yml"))),
    ]
    done = subprocess.run(
        [
            tool("zizmor"),
            "--offline",
            "--no-progress",
            "--format",
            "plain",
            "--color",
            "never",
            *dirs,
            *actions,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No findings to report" in done.stdout
    # The one suppression (dangerous-triggers on workflow_run) is per combination, and documented.
    # Findings below the default persona are "suppressed": the auditor persona's
    # secrets-outside-env on a data command's repository secret (README, monitoring).
    assert re.search(rf"\({len(all_combinations)} ignored(, \d+ suppressed)?\)", done.stdout)
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert "dangerous-triggers" in readme


def test_workflows_and_actions_match_githubs_schemas(all_combinations: dict) -> None:
    files = [
        str(root / rel)
        for root, rendered in all_combinations.values()
        for rel in rendered
        if rel.startswith(".github/")
    ]
    assert any(f.endswith("mlci-monitor.yml") for f in files)
    done = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *files],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    actions = [
        str(REPO_ROOT / "action.yml"),
        *map(str, sorted((REPO_ROOT / "actions").glob("*/action.yml"))),
    ]
    done = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-actions", *actions],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_golden_workflows(tmp_path: Path) -> None:
    """The exact text for one combination (refresh with MLCI_UPDATE_GOLDEN=1 and review the diff)."""
    files = render_combo(tmp_path, COMBINATIONS[0])
    update = os.environ.get("MLCI_UPDATE_GOLDEN") == "1"
    assert set(files) == {"mlci.yaml", *scaffold.WORKFLOWS, scaffold.MONITOR_WORKFLOW}
    for rel in files:
        golden = GOLDEN / Path(rel).name
        if update:
            golden.parent.mkdir(parents=True, exist_ok=True)
            golden.write_text(files[rel], encoding="utf-8")
        assert golden.is_file(), f"missing {golden}; run with MLCI_UPDATE_GOLDEN=1"
        assert files[rel] == golden.read_text(encoding="utf-8"), rel


def test_release_data_matches_the_package() -> None:
    assert _release.VERSION == __version__
    assert re.fullmatch(r"[0-9a-f]{40}", _release.COMMIT)
    for name, (sha, tag) in _release.THIRD_PARTY.items():
        assert re.fullmatch(r"[0-9a-f]{40}", sha), name
        assert re.fullmatch(r"v\d+\.\d+\.\d+", tag), name
    assert set(_release.THIRD_PARTY) == {
        "actions/checkout",
        "actions/setup-python",
        "actions/upload-artifact",
        "actions/download-artifact",
    }


def test_every_template_renders_with_the_minimal_answers() -> None:
    files = scaffold.render_files(scaffold.Answers())
    assert set(files) == {"mlci.yaml", *scaffold.WORKFLOWS}
    assert load_config_text_ok(files["mlci.yaml"])


def load_config_text_ok(text: str) -> bool:
    from mlci.config import load_config_text

    return load_config_text(text).version == 1


def test_init_shards_writes_the_matrix_and_reads_it_back(project: Path, capsys) -> None:
    assert init(project, "--yes", "--shards", "3") == 0
    assert load_config(project / "mlci.yaml").data.shards == 3
    pr = yaml.safe_load((project / ".github/workflows/mlci-pr.yml").read_text())
    assert pr["jobs"]["data-shard"]["strategy"]["matrix"]["shard"] == [1, 2, 3]
    # A second init keeps the answer from mlci.yaml.
    assert init(project, "--yes", "--force") == 0
    pr = yaml.safe_load((project / ".github/workflows/mlci-pr.yml").read_text())
    assert "data-shard" in pr["jobs"]
    capsys.readouterr()
    assert init(project, "--yes", "--force", "--shards", "0") == 2
    err = capsys.readouterr().err
    assert "whole number of runners" in err and "Traceback" not in err
