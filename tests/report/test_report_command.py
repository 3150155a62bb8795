"""`mlci report`: local rendering, posting to the fake GitHub, errors, and no heavy imports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from mlci.cli import main
from tests.report.documents import SHA, write_case
from tests.support import webhooks

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "report"


def test_local_report_prints_the_comment_and_writes_the_artifact(tmp_path, capsys):
    results = write_case(tmp_path / "results", "blocked")
    out_dir = tmp_path / "artifact"
    assert main(["report", "--results", str(results), "--output-dir", str(out_dir)]) == 0
    captured = capsys.readouterr()
    golden = (GOLDEN / "blocked.md").read_text(encoding="utf-8")
    assert captured.out == golden
    assert (out_dir / "report.md").read_text(encoding="utf-8") == golden
    assert (out_dir / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert captured.err == (
        f"mlci: report (blocked) written to {out_dir / 'report.md'} and {out_dir / 'report.html'}\n"
    )


def test_missing_results_is_exit_2_without_traceback(tmp_path, capsys):
    assert main(["report", "--results", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"mlci: error: {tmp_path}: no data.json or model.json;")
    assert "Traceback" not in err


def test_report_does_not_import_pandas_sklearn_or_numpy(tmp_path):
    results = write_case(tmp_path, "blessed")
    code = (
        "import sys\n"
        "from mlci.cli import main\n"
        f"rc = main(['report', '--results', {str(results)!r}, '-q'])\n"
        "heavy = sorted(m for m in ('pandas', 'sklearn', 'numpy', 'scipy', 'pyarrow',"
        " 'onnxruntime') if m in sys.modules)\n"
        "print(rc, heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "0 []"


def _event(tmp_path: Path, payload: dict, monkeypatch) -> None:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(payload), encoding="utf-8")
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(path))


def test_post_on_a_pull_request_event(tmp_path, gh_env, fake_github, monkeypatch, capsys):
    pr = fake_github.add_pull(head_sha=SHA)
    fake_github.add_comments(pr["number"], 3, login="octocat")
    _event(tmp_path, {"pull_request": {"number": pr["number"], "head": {"sha": SHA}}}, monkeypatch)
    monkeypatch.setenv("GITHUB_TOKEN", fake_github.token)
    results = write_case(tmp_path / "results", "data-error")
    argv = ["report", "--results", str(results), "--post", "--check-run"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    ours = [c for c in fake_github.comments(pr["number"]) if c["user"]["login"] != "octocat"]
    assert len(ours) == 1
    assert ours[0]["body"].startswith("<!-- mlci-report:default -->\n## ❌ mlci: data errors")
    assert f"mlci: created comment {ours[0]['html_url']}" in out
    (run,) = fake_github.check_runs()
    assert run["head_sha"] == SHA and run["conclusion"] == "failure" and run["name"] == "mlci"
    assert run["details_url"] == "https://github.com/octo/ml-project/actions/runs/42"
    assert [
        (a["path"], a["start_line"], a["annotation_level"]) for a in run["output"]["annotations"]
    ] == [("data/schema.yaml", 12, "failure"), ("data/schema.yaml", 40, "failure")]
    assert run["output"]["summary"].startswith("## ❌ mlci: data errors")
    assert gh_env.summary_text().startswith("## ❌ mlci: data errors")
    assert "state=data_errors\n" in gh_env.outputs()
    assert f"report-path={results / 'report.md'}\n" in gh_env.outputs()  # outside the workspace
    assert f"comment-url={ours[0]['html_url']}\n" in gh_env.outputs()
    # A second run updates the same comment.
    assert main(argv) == 0
    assert "mlci: unchanged comment" in capsys.readouterr().out
    assert len(fake_github.comments(pr["number"])) == 4


def test_post_from_workflow_run_same_repo_and_fork(tmp_path, gh_env, fake_github, monkeypatch):
    pr = fake_github.add_pull(head_sha=SHA)
    monkeypatch.setenv("GITHUB_TOKEN", fake_github.token)
    results = write_case(tmp_path / "results", "blessed")
    event = webhooks.workflow_run_completed(
        fake_github, run_id=901, head_sha=SHA, pull_numbers=[pr["number"]]
    )
    _event(tmp_path, event, monkeypatch)
    assert main(["report", "--results", str(results), "--post", "-q"]) == 0
    # A fork's workflow_run lists no pull requests and commits/{sha}/pulls answers []:
    # the open pull requests of the fork's owner and branch, matched on the head commit.
    fork = fake_github.add_pull(head_sha="c" * 40, head_ref="feature", head_repo="alice/ml-project")
    fake_github.add_pull(head_sha="d" * 40, head_ref="feature", head_repo="bob/ml-project")
    event = webhooks.workflow_run_completed(
        fake_github, run_id=902, head_sha="c" * 40, head_repo="alice/ml-project"
    )
    _event(tmp_path, event, monkeypatch)
    assert main(["report", "--results", str(results), "--post", "-q"]) == 0
    assert len(fake_github.comments(pr["number"])) == 1
    (comment,) = fake_github.comments(fork["number"])
    (listed,) = fake_github.requests_to("GET", r"/pulls$")
    assert listed.query["head"] == "alice:feature"
    assert not fake_github.requests_to("GET", r"/commits/")
    # The comment and the check show the pull request's head and this repository's run,
    # whatever the artifact's provenance says.
    assert "`ccccccc`" in comment["body"] and SHA[:7] not in comment["body"]
    run_url = f"https://github.com/{fake_github.repo}/actions/runs/902"  # GITHUB_SERVER_URL
    assert run_url in comment["body"]
    assert [r["head_sha"] for r in fake_github.check_runs()] == [SHA, "c" * 40]
    assert fake_github.check_runs()[1]["details_url"] == run_url


def test_pull_requests_0_counts_only_when_its_head_is_the_run(
    tmp_path, gh_env, fake_github, monkeypatch, capsys
):
    stale = fake_github.add_pull(head_sha=SHA)
    monkeypatch.setenv("GITHUB_TOKEN", fake_github.token)
    results = write_case(tmp_path / "results", "blessed")
    event = webhooks.workflow_run_completed(
        fake_github, run_id=903, head_sha="e" * 40, pull_numbers=[stale["number"]]
    )
    event["workflow_run"]["pull_requests"][0]["head"]["sha"] = SHA  # pushed to since
    _event(tmp_path, event, monkeypatch)
    assert main(["report", "--results", str(results), "--post", "-q"]) == 2
    assert "no open pull request" in capsys.readouterr().err
    assert fake_github.comments(stale["number"]) == []


def test_no_artifact_comments_that_the_checks_did_not_finish(
    tmp_path, gh_env, fake_github, monkeypatch
):
    fork = fake_github.add_pull(head_sha="c" * 40, head_repo="alice/ml-project")
    monkeypatch.setenv("GITHUB_TOKEN", fake_github.token)
    event = webhooks.workflow_run_completed(
        fake_github,
        run_id=904,
        head_sha="c" * 40,
        head_repo="alice/ml-project",
        conclusion="failure",
    )
    _event(tmp_path, event, monkeypatch)
    missing = tmp_path / "not-downloaded"
    assert main(["report", "--results", str(missing), "--post", "-q"]) == 0
    (comment,) = fake_github.comments(fork["number"])
    assert "did not run to the end" in comment["body"]
    assert f"https://github.com/{fake_github.repo}/actions/runs/904" in comment["body"]
    assert "state=incomplete\n" in gh_env.outputs()


def test_a_hostile_artifact_gets_bounded_work(tmp_path, gh_env, fake_github, monkeypatch):
    pr = fake_github.add_pull(head_sha=SHA)
    monkeypatch.setenv("GITHUB_TOKEN", fake_github.token)
    results = write_case(tmp_path / "results", "data-error")
    doc = json.loads((results / "data.json").read_text())
    finding = next(f for f in doc["findings"] if f.get("file"))
    doc["findings"] = [
        finding | {"line": i + 1, "severity": "warning" if i % 2 else "error"} for i in range(5000)
    ]
    doc["provenance"]["run_url"] = "https://evil.example/phish"
    (results / "data.json").write_text(json.dumps(doc))
    event = webhooks.workflow_run_completed(
        fake_github, run_id=905, head_sha=SHA, pull_numbers=[pr["number"]]
    )
    _event(tmp_path, event, monkeypatch)
    assert main(["report", "--results", str(results), "--post", "-q"]) == 0
    (run,) = fake_github.check_runs()
    assert len(run["output"]["annotations"]) == 50
    assert {a["annotation_level"] for a in run["output"]["annotations"]} == {"failure"}
    assert not fake_github.requests_to("PATCH", r"/check-runs/")
    assert len(fake_github.requests) <= 6
    (comment,) = fake_github.comments(pr["number"])
    assert "evil.example" not in comment["body"] + (run["details_url"] or "")


def test_report_path_output_is_workspace_relative(tmp_path, gh_env):
    results = write_case(gh_env.workspace / "mlci-results", "blessed")
    assert main(["report", "--results", str(results), "-q"]) == 0
    assert "report-path=mlci-results/report.md\n" in gh_env.outputs()
    assert gh_env.summary_text().startswith("## ✅ mlci: blessed")


def test_post_without_a_token(tmp_path, gh_env, fake_github, capsys):
    results = write_case(tmp_path, "blessed")
    assert main(["report", "--results", str(results), "--post", "--pr", "1"]) == 2
    err = capsys.readouterr().err
    assert "mlci: error: mlci report: no GitHub token to post with; set GITHUB_TOKEN" in err
    assert fake_github.requests == []


def test_post_with_a_fork_token_explains(tmp_path, gh_env, fake_github, monkeypatch, capsys):
    pr = fake_github.add_pull()
    monkeypatch.setenv("GITHUB_TOKEN", fake_github.read_only_token)
    results = write_case(tmp_path, "blessed")
    assert main(["report", "--results", str(results), "--post", "--pr", str(pr["number"])]) == 2
    captured = capsys.readouterr()
    assert "403" in captured.err and "pull request from a fork" in captured.err
    assert "pull-requests: write" in captured.err
    assert fake_github.read_only_token not in captured.err + captured.out
    assert "::error title=mlci::POST" in captured.out  # the annotation on Actions


def test_post_needs_a_pull_request(tmp_path, gh_env, fake_github, monkeypatch, capsys):
    monkeypatch.setenv("GITHUB_TOKEN", fake_github.token)
    results = write_case(tmp_path, "blessed")
    assert main(["report", "--results", str(results), "--post"]) == 2
    assert "pass --pr NUMBER" in capsys.readouterr().err


def test_a_tampered_artifact_is_refused_and_the_pull_request_is_told_why(
    tmp_path, gh_env, fake_github, monkeypatch, capsys
):
    fork = fake_github.add_pull(head_sha="d" * 40, head_repo="alice/ml-project")
    monkeypatch.setenv("GITHUB_TOKEN", fake_github.token)
    event = webhooks.workflow_run_completed(
        fake_github, run_id=905, head_sha="d" * 40, head_repo="alice/ml-project"
    )
    _event(tmp_path, event, monkeypatch)
    results = tmp_path / "results"
    results.mkdir()
    (results / "data.json").write_text(
        json.dumps(
            {
                "schema_version": 1,
                "kind": "data",
                "passed": True,
                "provenance": {},
                "findings": [{"check": "x", "severity": "error", "message": "m", "metric": ["@x"]}],
            }
        )
    )
    assert main(["report", "--results", str(results), "--post", "-q"]) == 2
    err = capsys.readouterr().err
    assert "data.json: findings[0].metric: expected a string, got a list" in err
    (comment,) = fake_github.comments(fork["number"])
    assert comment["body"].count("## mlci: the results were refused") == 1
    # Escaped like every text from an artifact (the one escaper).
    assert "- findings\\[0\\].metric: expected a string, got a list" in comment["body"]
    assert f"https://github.com/{fake_github.repo}/actions/runs/905" in comment["body"]
    assert "state=refused\n" in gh_env.outputs()
