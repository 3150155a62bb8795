"""GitHubClient against the fake GitHub server: retries, rate limits, errors, pagination."""

from __future__ import annotations

import socket

import pytest
import requests

from mlci.errors import GitHubAPIError, InputError
from mlci.github.api import DEFAULT_TIMEOUT, GitHubClient, RetryPolicy
from mlci.github.runtime import Runtime

REPO = "octo/ml-project"


class Sleeps(list):
    """Records the waits instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps():
    return Sleeps()


@pytest.fixture
def client(fake_github, sleeps):
    logs: list[str] = []
    c = GitHubClient(fake_github.token, api_url=fake_github.url, sleep=sleeps, log=logs.append)
    c.logs = logs  # type: ignore[attr-defined]
    yield c
    c.close()


def test_from_runtime_reads_api_url_and_token_from_the_environment(fake_github, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", fake_github.token)
    with GitHubClient.from_runtime(Runtime()) as c:
        assert c.api_url == fake_github.url and c.has_token
        assert c.get("/rate_limit")["resources"]["core"]["limit"] == 5000
    assert fake_github.requests[-1].login == "github-actions[bot]"
    assert DEFAULT_TIMEOUT == (10.0, 30.0)


def test_explicit_token_wins_over_the_environment(fake_github, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", fake_github.token)
    with GitHubClient.from_runtime(Runtime(), token=fake_github.other_token) as c:
        c.get("/rate_limit")
    assert fake_github.requests[-1].login == "octocat"


def test_with_token_refuses_a_step_without_a_token_before_any_request(fake_github, monkeypatch):
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    with pytest.raises(InputError) as err:
        GitHubClient.with_token(Runtime(), None, missing="mlci x: no token; set GITHUB_TOKEN")
    assert err.value.message == "mlci x: no token; set GITHUB_TOKEN"
    assert fake_github.requests == []


def test_with_token_takes_an_explicit_token_first(fake_github, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", fake_github.token)
    with GitHubClient.with_token(
        Runtime(), None, token=fake_github.other_token, missing="unused"
    ) as c:
        c.get("/rate_limit")
    assert fake_github.requests[-1].login == "octocat"


def test_secondary_rate_limit_waits_retry_after_then_succeeds(fake_github, client, sleeps):
    fake_github.secondary_rate_limit(retry_after=7)
    assert client.get(f"/repos/{REPO}")["full_name"] == REPO
    assert sleeps == [7.0]
    assert len(fake_github.requests) == 2
    assert "403; retrying in 7.0s" in client.logs[0]


def test_502_twice_then_success_backs_off_exponentially_with_jitter(fake_github, client, sleeps):
    fake_github.fail(502, times=2)
    assert client.get(f"/repos/{REPO}")["name"] == "ml-project"
    assert len(sleeps) == 2
    # backoff 1 s then 2 s, each with up to 50% jitter
    assert 0.5 <= sleeps[0] <= 1.0 and 1.0 <= sleeps[1] <= 2.0
    assert [r.status for r in fake_github.requests] == [502, 502, 200]


def test_429_and_primary_rate_limit_are_waited_out(fake_github, client, sleeps):
    fake_github.too_many_requests(retry_after=2)
    fake_github.primary_rate_limit(reset_in=5)
    client.get("/rate_limit")
    assert sleeps[0] == 2.0
    assert 4.0 <= sleeps[1] <= 7.0  # until x-ratelimit-reset, plus a second


def test_total_waiting_is_capped(fake_github, sleeps):
    fake_github.secondary_rate_limit(retry_after=3600)
    c = GitHubClient(fake_github.token, api_url=fake_github.url, sleep=sleeps)
    with pytest.raises(GitHubAPIError) as info:
        c.get("/rate_limit")
    assert sleeps == []
    assert info.value.status == 403
    assert "secondary rate limit" in str(info.value)
    assert "cap on waiting" in str(info.value)


def test_5xx_retries_are_bounded(fake_github, sleeps):
    fake_github.fail(503, times=10)
    c = GitHubClient(
        fake_github.token, api_url=fake_github.url, sleep=sleeps, retry=RetryPolicy(retries=2)
    )
    with pytest.raises(GitHubAPIError) as info:
        c.get("/rate_limit")
    assert len(fake_github.requests) == 3 and len(sleeps) == 2
    assert info.value.status == 503 and info.value.method == "GET"
    assert info.value.url == f"{fake_github.url}/rate_limit"
    assert "githubstatus" in str(info.value)


def test_server_never_answering_times_out_with_a_clear_error(fake_github, sleeps):
    fake_github.hang(seconds=20, times=5)
    c = GitHubClient(
        fake_github.token,
        api_url=fake_github.url,
        timeout=(2, 0.3),
        sleep=sleeps,
        retry=RetryPolicy(retries=1),
    )
    # The fake holds each answer for 20 s: an error at all means the client gave up first.
    with pytest.raises(GitHubAPIError) as info:
        c.get("/rate_limit")
    assert "did not answer within 0.3s (after 2 attempt(s))" in str(info.value)
    assert len(sleeps) == 1


def test_a_post_that_timed_out_is_not_repeated(fake_github, sleeps):
    pr = fake_github.add_pull()
    fake_github.hang(seconds=20, times=5)
    c = GitHubClient(fake_github.token, api_url=fake_github.url, timeout=(2, 0.3), sleep=sleeps)
    with pytest.raises(GitHubAPIError, match="did not answer"):
        c.post(f"/repos/{REPO}/issues/{pr['number']}/comments", json={"body": "x"})
    assert sleeps == [] and len(fake_github.requests) == 1


def test_connection_errors_are_retried_then_explained(sleeps):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    c = GitHubClient(
        "t0ken-value",
        api_url=f"http://127.0.0.1:{port}",
        sleep=sleeps,
        retry=RetryPolicy(retries=2),
    )
    with pytest.raises(GitHubAPIError) as info:
        c.get("/rate_limit")
    assert len(sleeps) == 2
    assert "cannot connect to the GitHub API" in str(info.value)
    assert f"GITHUB_API_URL (http://127.0.0.1:{port})" in str(info.value)


def test_missing_token_names_the_fix(fake_github):
    pr = fake_github.add_pull()
    c = GitHubClient(None, api_url=fake_github.url)
    assert c.get(f"/repos/{REPO}/issues/{pr['number']}/comments") == []  # public reads work
    with pytest.raises(GitHubAPIError) as info:
        c.post(f"/repos/{REPO}/issues/{pr['number']}/comments", json={"body": "x"})
    assert info.value.status == 401
    assert "Requires authentication" in str(info.value)
    assert "no token was given; set GITHUB_TOKEN" in str(info.value)


def test_bad_token_is_401_and_never_shown(fake_github):
    secret = "ghp_" + "S3cr3t" * 6
    c = GitHubClient(secret, api_url=fake_github.url)
    with pytest.raises(GitHubAPIError) as info:
        c.get(f"/repos/{REPO}")
    assert info.value.status == 401
    assert "the token was rejected" in str(info.value)
    assert secret not in str(info.value) and "S3cr3t" not in repr(info.value)


def test_read_only_fork_token_explains_permissions_and_forks(fake_github):
    pr = fake_github.add_pull()
    c = GitHubClient(fake_github.read_only_token, api_url=fake_github.url)
    with pytest.raises(GitHubAPIError) as info:
        c.post(f"/repos/{REPO}/issues/{pr['number']}/comments", json={"body": "x"})
    text = str(info.value)
    assert info.value.status == 403
    assert text.startswith(
        f"POST {fake_github.url}/repos/{REPO}/issues/{pr['number']}/comments: 403 FORBIDDEN:"
        " Resource not accessible by integration"
    )
    assert "issues: write, pull-requests: write" in text
    assert "fork" in text and "workflow_run" in text
    assert fake_github.read_only_token not in text


def test_404_and_422_messages(fake_github, client):
    with pytest.raises(GitHubAPIError) as info:
        client.get("/repos/octo/nope/issues/1/comments")
    assert info.value.status == 404 and "check the repository (GITHUB_REPOSITORY)" in str(
        info.value
    )
    pr = fake_github.add_pull()
    with pytest.raises(GitHubAPIError) as info:
        client.post(f"/repos/{REPO}/issues/{pr['number']}/comments", json={"body": "x" * 70000})
    assert info.value.status == 422
    assert "body is too long (maximum is 65536 characters)" in str(info.value)


def test_paginate_follows_link_headers(fake_github, client):
    pr = fake_github.add_pull()
    fake_github.add_comments(pr["number"], 250)
    items = list(client.paginate(f"/repos/{REPO}/issues/{pr['number']}/comments"))
    assert len(items) == 250 and len({c["id"] for c in items}) == 250
    lists = fake_github.requests_to("GET", r"/comments$")
    assert [r.query.get("page", "1") for r in lists] == ["1", "2", "3"]
    assert all(r.query["per_page"] == "100" for r in lists)


def test_paginate_wrapped_lists(fake_github, client):
    run = fake_github.add_workflow_run(artifacts={"a": {"f": b"1"}, "b": {"f": b"2"}})
    arts = list(
        client.paginate(f"/repos/{REPO}/actions/runs/{run['id']}/artifacts", key="artifacts")
    )
    assert sorted(a["name"] for a in arts) == ["a", "b"]


def test_token_is_sent_only_to_the_api_origin(fake_github, sleeps):
    seen: list[dict[str, str]] = []

    class Recording(requests.Session):
        def request(self, method, url, **kwargs):  # type: ignore[override]
            seen.append(dict(kwargs.get("headers") or {}))
            return super().request(method, url, **kwargs)

    session = Recording()
    c = GitHubClient(
        fake_github.token,
        api_url=fake_github.url,
        session=session,
        sleep=sleeps,
        retry=RetryPolicy(retries=0),
    )
    c.get("/rate_limit")
    with pytest.raises(GitHubAPIError):
        c.get("http://127.0.0.2:9/elsewhere")  # a Link or URL to another host
    assert seen[0]["Authorization"] == f"Bearer {fake_github.token}"
    assert "Authorization" not in seen[1]
    assert "Authorization" not in session.headers  # the injected session is left clean
    c.close()
    session.close()


def test_get_with_missing_ok_gives_none_for_404_only(fake_github, client):
    assert client.get(f"/repos/{REPO}/releases/tags/model-v404", missing_ok=True) is None
    with pytest.raises(GitHubAPIError) as info:
        client.get(f"/repos/{REPO}/releases/tags/model-v404")
    assert info.value.status == 404
    fake_github.fail(502, times=10)
    with pytest.raises(GitHubAPIError) as info:
        client.get(f"/repos/{REPO}/releases/tags/model-v404", missing_ok=True)
    assert info.value.status == 502


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ('{"id": NaN}', "NaN is not valid JSON"),
        ('{"id": 1e400}', "out of the range of a float"),
        ("[" * 100 + "]" * 100, "nested more than 64 levels deep"),
        ("<html>not json</html>", "not valid JSON"),
    ],
)
def test_an_answer_that_is_not_strict_json_is_refused_naming_the_endpoint(
    httpserver, sleeps, body, says
):
    httpserver.expect_request("/rate_limit").respond_with_data(
        body, content_type="application/json"
    )
    c = GitHubClient("t0ken-value", api_url=httpserver.url_for("").rstrip("/"), sleep=sleeps)
    with pytest.raises(GitHubAPIError) as info:
        c.get("/rate_limit")
    message = str(info.value)
    assert message.startswith(f"GET {httpserver.url_for('/rate_limit')} (status 200)"), message
    assert says in message and "check GITHUB_API_URL points at the GitHub API" in message
    c.close()
