"""The sticky PR comment against the stateful fake GitHub server."""

from __future__ import annotations

import threading

import pytest

from mlci.errors import GitHubAPIError
from mlci.github.api import GitHubClient
from mlci.github.comments import (
    MAX_COMMENT_CHARS,
    find_sticky_comments,
    fit_body,
    marker,
    post_sticky_comment,
)

REPO = "octo/ml-project"


@pytest.fixture
def client(fake_github):
    c = GitHubClient(fake_github.token, api_url=fake_github.url, sleep=lambda s: None)
    yield c
    c.close()


def test_marker_key_cannot_break_out_of_the_html_comment():
    assert marker() == "<!-- mlci-report:default -->"
    assert marker("model/a b-->x") == "<!-- mlci-report:model/a-b---x -->"
    assert "-->" not in marker("-->")[:-4]


def test_no_comment_yet_creates_one_then_updates_in_place(fake_github, client):
    pr = fake_github.add_pull()
    first = post_sticky_comment(client, REPO, pr["number"], "report v1")
    assert first.action == "created"
    again = post_sticky_comment(client, REPO, pr["number"], "report v1")
    assert again.action == "unchanged" and again.comment_id == first.comment_id
    third = post_sticky_comment(client, REPO, pr["number"], "report v2")
    assert third.action == "updated" and third.comment_id == first.comment_id
    comments = fake_github.comments(pr["number"])
    assert len(comments) == 1
    assert comments[0]["body"] == f"{marker()}\nreport v2"
    assert comments[0]["user"]["login"] == "github-actions[bot]"


def test_our_comment_on_page_3_of_250_is_found_and_updated(fake_github, client):
    pr = fake_github.add_pull()
    fake_github.add_comments(pr["number"], 230, login="octocat")
    ours = fake_github.add_comment(pr["number"], f"{marker()}\nold", login="github-actions[bot]")
    fake_github.add_comments(pr["number"], 19, login="reviewer")
    assert len(fake_github.comments(pr["number"])) == 250
    result = post_sticky_comment(client, REPO, pr["number"], "new")
    assert result.action == "updated" and result.comment_id == ours["id"]
    pages = [r.query.get("page", "1") for r in fake_github.requests_to("GET", r"/comments$")]
    assert pages == ["1", "2", "3"]
    assert fake_github.requests_to("POST", r"/comments$") == []
    assert len(fake_github.comments(pr["number"])) == 250
    assert [c["body"] for c in fake_github.comments(pr["number"]) if c["id"] == ours["id"]] == [
        f"{marker()}\nnew"
    ]


def test_a_comment_by_another_user_with_our_marker_is_not_ours(fake_github, client):
    pr = fake_github.add_pull()
    impostor = fake_github.add_comment(
        pr["number"], f"{marker()}\n## ✅ mlci: blessed (not really)", login="octocat"
    )
    result = post_sticky_comment(client, REPO, pr["number"], "the real report")
    assert result.action == "created" and result.comment_id != impostor["id"]
    by_id = {c["id"]: c for c in fake_github.comments(pr["number"])}
    assert by_id[impostor["id"]]["body"] == f"{marker()}\n## ✅ mlci: blessed (not really)"
    assert fake_github.requests_to("PATCH", rf"/comments/{impostor['id']}$") == []
    assert by_id[result.comment_id]["user"]["login"] == "github-actions[bot]"
    # And the next run updates our own comment, still not theirs.
    assert post_sticky_comment(client, REPO, pr["number"], "v2").comment_id == result.comment_id


def test_a_human_token_posts_as_that_human(fake_github):
    pr = fake_github.add_pull()
    with GitHubClient(fake_github.other_token, api_url=fake_github.url) as c:
        first = post_sticky_comment(c, REPO, pr["number"], "x")  # default author: the bot
        assert first.author == "octocat"  # learnt from the answer, for a warning upstream
        second = post_sticky_comment(c, REPO, pr["number"], "y", author="octocat")
    assert second.action == "updated" and second.comment_id == first.comment_id


def test_keys_give_one_comment_each(fake_github, client):
    pr = fake_github.add_pull()
    a = post_sticky_comment(client, REPO, pr["number"], "model a", key="model-a")
    b = post_sticky_comment(client, REPO, pr["number"], "model b", key="model-b")
    post_sticky_comment(client, REPO, pr["number"], "model a v2", key="model-a")
    assert a.comment_id != b.comment_id
    assert len(fake_github.comments(pr["number"])) == 2
    assert [c["id"] for c in find_sticky_comments(client, REPO, pr["number"], key="model-a")] == [
        a.comment_id
    ]


def test_two_concurrent_posts_end_with_one_comment(fake_github):
    pr = fake_github.add_pull()
    # Both jobs list (no comment yet), then both create: the barrier holds the two
    # creations until both arrived, so the race happens every time.
    fake_github.barrier(parties=2, method="POST", path=r"/comments$")
    results, errors = [], []

    def job(body: str) -> None:
        with GitHubClient(fake_github.token, api_url=fake_github.url) as c:
            try:
                results.append(post_sticky_comment(c, REPO, pr["number"], body))
            except GitHubAPIError as exc:  # pragma: no cover - shown if it happens
                errors.append(exc)

    threads = [threading.Thread(target=job, args=(f"report from job {i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    assert len(fake_github.requests_to("POST", r"/comments$")) == 2
    comments = fake_github.comments(pr["number"])
    assert len(comments) == 1
    assert comments[0]["body"] in {f"{marker()}\nreport from job {i}" for i in range(2)}
    assert {r.comment_id for r in results} == {comments[0]["id"]}


def test_too_long_body_is_cut_keeping_the_verdict(fake_github, client):
    pr = fake_github.add_pull()
    body = "## ❌ mlci: blocked\n\n```\n" + "x" * 100_000
    result = post_sticky_comment(client, REPO, pr["number"], body)
    posted = fake_github.comments(pr["number"])[0]["body"]
    assert result.action == "created"
    assert len(posted) <= MAX_COMMENT_CHARS
    assert posted.startswith(f"{marker()}\n## ❌ mlci: blocked")
    assert "full results are in the run's `mlci-results` artifact" in posted
    assert posted.count("```") % 2 == 0  # the open fence was closed
    assert fit_body("short") == "short"


def test_oversized_body_from_github_is_a_clear_422(fake_github, client):
    pr = fake_github.add_pull()
    with pytest.raises(GitHubAPIError) as info:
        client.post(f"/repos/{REPO}/issues/{pr['number']}/comments", json={"body": "y" * 65537})
    assert info.value.status == 422
    assert "maximum is 65536 characters" in str(info.value)


def test_read_only_fork_token_cannot_post(fake_github):
    pr = fake_github.add_pull()
    with (
        GitHubClient(fake_github.read_only_token, api_url=fake_github.url) as c,
        pytest.raises(GitHubAPIError) as info,
    ):
        post_sticky_comment(c, REPO, pr["number"], "x")
    assert info.value.status == 403
    assert "pull request from a fork" in str(info.value)
    assert fake_github.comments(pr["number"]) == []


def test_missing_token_cannot_post(fake_github):
    pr = fake_github.add_pull()
    with GitHubClient(None, api_url=fake_github.url) as c, pytest.raises(GitHubAPIError) as info:
        post_sticky_comment(c, REPO, pr["number"], "x")
    assert info.value.status == 401 and "set GITHUB_TOKEN" in str(info.value)


def test_unknown_pull_request_is_404(fake_github, client):
    with pytest.raises(GitHubAPIError) as info:
        post_sticky_comment(client, REPO, 999, "x")
    assert info.value.status == 404


class _OddClient:
    """Answers of the wrong shape: strings in a comment list, a list for an object."""

    def paginate(self, path, params=None):
        return iter(["not a comment", {"id": "x", "body": None}, 7])

    def post(self, path, json=None):
        return ["a list where an object belongs"]


def test_answers_of_the_wrong_shape_are_exit_2_naming_the_endpoint() -> None:
    from mlci.errors import GitHubAPIError
    from mlci.github.comments import post_sticky_comment

    with pytest.raises(GitHubAPIError, match=r"POST /repos/o/r/issues/3/comments: expected"):
        post_sticky_comment(_OddClient(), "o/r", 3, "hi")  # type: ignore[arg-type]
