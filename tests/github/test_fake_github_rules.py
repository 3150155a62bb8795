"""The fake GitHub behaves like github.com where mlci's correctness depends on it.

Each test names the behaviour; the rule it checks cites its source in the fake.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
import requests

from tests.support.fake_github import FakeGitHub


def _session(token: str | None) -> requests.Session:
    session = requests.Session()
    session.headers["Accept"] = "application/vnd.github+json"
    if token:
        session.headers["Authorization"] = f"Bearer {token}"
    return session


@pytest.fixture
def bot(fake_github: FakeGitHub):
    with _session(fake_github.token) as session:
        yield session


@pytest.fixture
def human(fake_github: FakeGitHub):
    with _session(fake_github.other_token) as session:
        yield session


def _api(fake: FakeGitHub, path: str) -> str:
    return f"{fake.url}/repos/{fake.repo}{path}"


def _commit_files(fake: FakeGitHub, http: requests.Session, files: dict[str, bytes]) -> str:
    """Blobs, a tree on the tip of main, a commit on top of it (the Git Data API)."""
    main = http.get(_api(fake, "/git/ref/heads/main"), timeout=5).json()["object"]["sha"]
    base_tree = http.get(_api(fake, f"/git/commits/{main}"), timeout=5).json()["tree"]["sha"]
    entries: list[dict[str, Any]] = []
    for path, data in files.items():
        blob = http.post(
            _api(fake, "/git/blobs"),
            json={"content": base64.b64encode(data).decode(), "encoding": "base64"},
            timeout=5,
        )
        assert blob.status_code == 201, blob.text
        entries.append({"path": path, "mode": "100644", "type": "blob", "sha": blob.json()["sha"]})
    tree = http.post(
        _api(fake, "/git/trees"), json={"base_tree": base_tree, "tree": entries}, timeout=5
    )
    assert tree.status_code == 201, tree.text
    commit = http.post(
        _api(fake, "/git/commits"),
        json={"message": "retrain", "tree": tree.json()["sha"], "parents": [main]},
        timeout=5,
    )
    assert commit.status_code == 201, commit.text
    assert commit.json()["parents"][0]["sha"] == main
    return str(commit.json()["sha"])


def test_commits_pulls_is_empty_for_a_fork_head(fake_github, bot):
    own = fake_github.add_pull(head_sha="c" * 40, head_ref="own")
    fork = fake_github.add_pull(head_sha="d" * 40, head_ref="feature", head_repo="alice/ml-project")
    assert fork["head"]["label"] == "alice:feature"
    got = bot.get(_api(fake_github, f"/commits/{'c' * 40}/pulls"), timeout=5).json()
    assert [p["number"] for p in got] == [own["number"]]
    assert bot.get(_api(fake_github, f"/commits/{'d' * 40}/pulls"), timeout=5).json() == []
    listed = bot.get(
        _api(fake_github, "/pulls"), params={"head": "alice:feature"}, timeout=5
    ).json()
    assert [p["number"] for p in listed] == [fork["number"]]


def test_a_fork_workflow_run_has_no_pull_requests(fake_github):
    run = fake_github.add_workflow_run(pull_numbers=[1], head_repo="alice/ml-project")
    assert run["pull_requests"] == []
    assert run["head_repository"]["full_name"] == "alice/ml-project"


def test_anonymous_reads_of_a_private_repository_are_404(fake_github, bot):
    fake_github.settings(private=True)
    with _session(None) as anonymous:
        assert anonymous.get(_api(fake_github, "/releases"), timeout=5).status_code == 404
    assert bot.get(_api(fake_github, "/releases"), timeout=5).status_code == 200


def test_contents_and_git_data_writes_add_commits(fake_github, bot):
    main = fake_github.refs()["heads/main"]
    sha = _commit_files(fake_github, bot, {"model.skops": b"model"})
    assert fake_github.ahead_by(main, sha) == 1
    r = bot.patch(_api(fake_github, "/git/refs/heads/main"), json={"sha": sha}, timeout=5)
    assert r.status_code == 200  # a fast-forward
    r = bot.patch(_api(fake_github, "/git/refs/heads/main"), json={"sha": main}, timeout=5)
    assert r.status_code == 422  # backwards without force
    r = bot.put(
        _api(fake_github, "/contents/README.md"),
        json={"message": "docs", "content": base64.b64encode(b"hi").decode()},
        timeout=5,
    )
    commit = r.json()["commit"]["sha"]
    assert fake_github.ahead_by(sha, commit) == 1
    assert fake_github.files(branch="main") == {"model.skops": b"model", "README.md": b"hi"}
    assert r.status_code == 201
    r = bot.post(_api(fake_github, "/git/refs"), json={"ref": "refs/heads/x", "sha": "f" * 40})
    assert r.status_code == 422  # refs point at commits that exist


def test_a_pull_request_whose_head_falls_onto_its_base_is_closed(fake_github, bot, human):
    sha = _commit_files(fake_github, bot, {"model.skops": b"v1"})
    main = fake_github.refs()["heads/main"]
    bot.post(_api(fake_github, "/git/refs"), json={"ref": "refs/heads/retrain", "sha": sha})
    pr = human.post(
        _api(fake_github, "/pulls"), json={"head": "retrain", "base": "main", "title": "t"}
    ).json()
    assert pr["state"] == "open"
    r = bot.patch(
        _api(fake_github, "/git/refs/heads/retrain"), json={"sha": main, "force": True}, timeout=5
    )
    assert r.status_code == 200
    (closed,) = fake_github.pulls()
    assert closed["state"] == "closed"
    r = bot.patch(
        _api(fake_github, "/git/refs/heads/retrain"), json={"sha": sha, "force": True}, timeout=5
    )
    r = human.patch(_api(fake_github, f"/pulls/{pr['number']}"), json={"state": "open"})
    assert r.status_code == 200  # commits ahead again: reopening works
    bot.patch(_api(fake_github, "/git/refs/heads/retrain"), json={"sha": main, "force": True})
    r = human.patch(_api(fake_github, f"/pulls/{pr['number']}"), json={"state": "open"})
    assert r.status_code == 422


def test_opening_a_pull_request_with_no_commits_between_is_422(fake_github, human):
    fake_github.add_ref("heads/empty", fake_github.refs()["heads/main"])
    r = human.post(_api(fake_github, "/pulls"), json={"head": "empty", "base": "main"}, timeout=5)
    assert r.status_code == 422
    assert "No commits between main and empty" in r.text


def test_actions_may_not_create_pull_requests_by_default(fake_github, bot, human):
    sha = _commit_files(fake_github, bot, {"model.skops": b"v1"})
    bot.post(_api(fake_github, "/git/refs"), json={"ref": "refs/heads/retrain", "sha": sha})
    body = {"head": "retrain", "base": "main", "title": "Retrain"}
    r = bot.post(_api(fake_github, "/pulls"), json=body, timeout=5)
    assert r.status_code == 403
    assert r.json()["message"] == (
        "GitHub Actions is not permitted to create or approve pull requests."
    )
    fake_github.settings(actions_can_create_pulls=True)
    assert bot.post(_api(fake_github, "/pulls"), json=body, timeout=5).status_code == 201
    # ... and a PR or push made with GITHUB_TOKEN starts no workflow run.
    assert fake_github.events() == []
    fake_github.add_ref("heads/other", sha)
    r = human.post(_api(fake_github, "/pulls"), json=body | {"head": "other"}, timeout=5)
    assert r.status_code == 201
    assert [e["event"] for e in fake_github.events()] == ["pull_request"]


def test_immutable_releases_take_assets_only_as_drafts_and_burn_tags(fake_github, bot):
    fake_github.settings(immutable_releases=True)
    published = bot.post(_api(fake_github, "/releases"), json={"tag_name": "v1"}).json()
    upload = f"{fake_github.uploads_url}/repos/{fake_github.repo}/releases/{published['id']}/assets"
    r = bot.post(upload, params={"name": "model.onnx"}, data=b"x", timeout=5)
    assert r.status_code == 422
    assert r.json()["message"] == "Cannot upload assets to an immutable release"
    bot.delete(_api(fake_github, f"/releases/{published['id']}"), timeout=5)
    r = bot.post(_api(fake_github, "/releases"), json={"tag_name": "v1"}, timeout=5)
    assert r.status_code == 422  # the tag is burned
    draft = bot.post(_api(fake_github, "/releases"), json={"tag_name": "v2", "draft": True}).json()
    upload = f"{fake_github.uploads_url}/repos/{fake_github.repo}/releases/{draft['id']}/assets"
    r = bot.post(upload, params={"name": "model.onnx"}, data=b"x", timeout=5)
    assert r.status_code == 201
    r = bot.patch(_api(fake_github, f"/releases/{draft['id']}"), json={"draft": False})
    assert r.status_code == 200
    assert r.json()["assets"][0]["name"] == "model.onnx"
