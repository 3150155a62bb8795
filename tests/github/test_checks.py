"""Check runs against the fake GitHub server: batching of annotations, size limits."""

from __future__ import annotations

import pytest

from mlci.errors import GitHubAPIError
from mlci.github.api import GitHubClient
from mlci.github.checks import CheckAnnotation, create_check_run

REPO = "octo/ml-project"
SHA = "0123456789abcdef0123456789abcdef01234567"


def test_annotations_are_batched_50_per_request(fake_github):
    annotations = [
        CheckAnnotation(path="data/schema.yaml", message=f"finding {i}", start_line=i + 1)
        for i in range(120)
    ]
    with GitHubClient(fake_github.token, api_url=fake_github.url) as c:
        run = create_check_run(
            c,
            REPO,
            name="mlci",
            head_sha=SHA,
            conclusion="failure",
            title="Blocked",
            summary="## blocked",
            annotations=annotations,
            details_url="https://github.com/octo/ml-project/actions/runs/42",
        )
    assert run["conclusion"] == "failure" and run["status"] == "completed"
    assert len(fake_github.requests_to("POST", r"/check-runs$")) == 1
    patches = fake_github.requests_to("PATCH", r"/check-runs/\d+$")
    assert [len(p.json["output"]["annotations"]) for p in patches] == [50, 20]
    stored = fake_github.check_runs()[0]
    assert [a["message"] for a in stored["output"]["annotations"]] == [
        f"finding {i}" for i in range(120)
    ]
    assert stored["output"]["annotations"][7]["start_line"] == 8


def test_summary_over_the_limit_is_cut(fake_github):
    with GitHubClient(fake_github.token, api_url=fake_github.url) as c:
        create_check_run(
            c,
            REPO,
            name="mlci",
            head_sha=SHA,
            conclusion="success",
            title="ok",
            summary="s" * 100_000,
            text="t" * 70_000,
        )
    out = fake_github.check_runs()[0]["output"]
    assert len(out["summary"]) <= 65535 and len(out["text"]) <= 65535
    assert out["summary"].endswith("the full report is in the run's artifact._\n")


def test_fork_token_cannot_create_check_runs(fake_github):
    with (
        GitHubClient(fake_github.read_only_token, api_url=fake_github.url) as c,
        pytest.raises(GitHubAPIError) as info,
    ):
        create_check_run(
            c, REPO, name="mlci", head_sha=SHA, conclusion="success", title="ok", summary="s"
        )
    assert info.value.status == 403 and "checks: write" in str(info.value)
