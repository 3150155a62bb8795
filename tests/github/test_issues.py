"""Issues and workflow dispatches against the fake GitHub server."""

from __future__ import annotations

from mlci.github.api import GitHubClient
from mlci.github.issues import close_issue, create_issue, open_issues, update_issue
from mlci.github.pulls import open_pull_of_commit
from mlci.github.workflows import dispatch_workflow

REPO = "octo/ml-project"


def test_open_issues_by_label_leave_pull_requests_and_other_labels_out(fake_github):
    fake_github.add_issue(title="ours", labels=["mlci-monitor"])
    fake_github.add_issue(title="someone else's", labels=["bug"])
    fake_github.add_issue(title="closed", labels=["mlci-monitor"], state="closed")
    fake_github.add_pull(title="a pull request")
    with GitHubClient(fake_github.token, api_url=fake_github.url) as c:
        found = list(open_issues(c, REPO, label="mlci-monitor"))
    assert [i["title"] for i in found] == ["ours"]


def test_create_update_and_close_with_a_comment(fake_github):
    with GitHubClient(fake_github.token, api_url=fake_github.url) as c:
        ref = create_issue(c, REPO, title="t", body="b", labels=["mlci-monitor"])
        update_issue(c, REPO, ref.number, title="t2", body="b2")
        close_issue(c, REPO, ref.number, comment="gone")
    (issue,) = fake_github.issues()
    assert issue["number"] == ref.number and ref.url == issue["html_url"]
    assert (issue["title"], issue["body"], issue["state"]) == ("t2", "b2", "closed")
    close = fake_github.requests_to("PATCH", rf"/issues/{ref.number}$")[-1]
    assert close.json == {"state": "closed", "state_reason": "completed"}
    comments = fake_github.requests_to("POST", rf"/issues/{ref.number}/comments$")
    assert [r.json["body"] for r in comments] == ["gone"]


def test_dispatch_goes_to_the_default_branch(fake_github):
    with GitHubClient(fake_github.token, api_url=fake_github.url) as c:
        ref = dispatch_workflow(c, REPO, "mlci-retrain.yml")
    assert [(d["workflow_id"], d["ref"]) for d in fake_github.dispatches()] == [
        ("mlci-retrain.yml", ref)
    ]


def test_open_pull_of_commit(fake_github):
    pull = fake_github.add_pull(head_sha="c" * 40)
    with GitHubClient(fake_github.token, api_url=fake_github.url) as c:
        assert open_pull_of_commit(c, REPO, "c" * 40) == pull["number"]
        assert open_pull_of_commit(c, REPO, "d" * 40) is None
