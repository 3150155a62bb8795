"""The fake GitHub server itself: GitHub's contract, state, pagination, identities, faults."""

from __future__ import annotations

import base64
import io
import time
import zipfile
from typing import Any

import jsonschema
import pytest
import requests

from tests.support.fake_github import FakeGitHub, response_schema


@pytest.fixture
def http(fake_github: FakeGitHub):
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {fake_github.token}"
    session.headers["Accept"] = "application/vnd.github+json"
    yield session
    session.close()


def _conforms(operation_id: str, response: requests.Response) -> Any:
    body = response.json()
    schema = response_schema(operation_id, response.status_code)
    assert schema is not None, (operation_id, response.status_code)
    jsonschema.Draft7Validator(schema).validate(body)
    return body


def test_unknown_path_and_method_are_404_like_github(fake_github, http):
    r = http.get(f"{fake_github.url}/repos/octo/ml-project/wiki", timeout=5)
    assert r.status_code == 404
    assert r.json()["message"] == "Not Found"
    r = http.put(f"{fake_github.url}/repos/octo/ml-project/issues/comments/1", json={}, timeout=5)
    assert r.status_code == 404
    r = http.get(f"{fake_github.url}/repos/nobody/nothing", timeout=5)
    assert r.status_code == 404


def test_request_body_is_validated_against_the_openapi_schema(fake_github, http):
    pr = fake_github.add_pull()
    url = f"{fake_github.url}/repos/octo/ml-project/issues/{pr['number']}/comments"
    r = http.post(url, json={"bdy": "typo"}, timeout=5)
    assert r.status_code == 422
    assert "body" in r.json()["message"]
    assert fake_github.violations  # the fixture would fail the test at teardown ...
    fake_github.allow_violations = True  # ... unless the test expects it, as here
    assert fake_github.comments(pr["number"]) == []


def test_comments_paginate_with_link_headers_and_conform(fake_github, http):
    pr = fake_github.add_pull()
    fake_github.add_comments(pr["number"], 250)
    url = f"{fake_github.url}/repos/octo/ml-project/issues/{pr['number']}/comments"
    r = http.get(url, params={"per_page": 500}, timeout=5)  # clamped to 100
    body = _conforms("issues/list-comments", r)
    assert len(body) == 100
    assert r.links["next"]["url"].endswith("page=2")
    assert r.links["last"]["url"].endswith("page=3")
    r3 = http.get(r.links["last"]["url"], timeout=5)
    assert len(r3.json()) == 50
    assert "next" not in r3.links and r3.links["first"]["url"].endswith("page=1")
    assert r.headers["x-ratelimit-remaining"].isdigit()
    assert r.headers["content-type"].startswith("application/json")


def test_identity_per_token_and_comment_ownership(fake_github, http):
    pr = fake_github.add_pull()
    theirs = fake_github.add_comment(pr["number"], "mine?", login="octocat")
    url = f"{fake_github.url}/repos/octo/ml-project/issues/comments/{theirs['id']}"
    r = http.patch(url, json={"body": "edited"}, timeout=5)
    assert r.status_code == 403
    created = http.post(
        f"{fake_github.url}/repos/octo/ml-project/issues/{pr['number']}/comments",
        json={"body": "hello"},
        timeout=5,
    )
    body = _conforms("issues/create-comment", created)
    assert created.status_code == 201 and created.headers["Location"] == body["url"]
    assert body["user"]["login"] == "github-actions[bot]" and body["user"]["type"] == "Bot"
    assert [c["user"]["login"] for c in fake_github.comments(pr["number"])] == [
        "octocat",
        "github-actions[bot]",
    ]


def test_read_only_fork_token_missing_and_bad_tokens(fake_github):
    pr = fake_github.add_pull()
    url = f"{fake_github.url}/repos/octo/ml-project/issues/{pr['number']}/comments"
    ro = {"Authorization": f"Bearer {fake_github.read_only_token}"}
    assert requests.get(url, headers=ro, timeout=5).status_code == 200
    r = requests.post(url, json={"body": "x"}, headers=ro, timeout=5)
    assert r.status_code == 403
    assert r.json()["message"] == "Resource not accessible by integration"
    assert r.headers["x-accepted-github-permissions"] == "issues=write; pull_requests=write"
    r = requests.post(url, json={"body": "x"}, timeout=5)
    assert (r.status_code, r.json()["message"]) == (401, "Requires authentication")
    r = requests.get(url, headers={"Authorization": "Bearer nope"}, timeout=5)
    assert (r.status_code, r.json()["message"]) == (401, "Bad credentials")
    assert all(rec.login in {None, "github-actions[bot]"} for rec in fake_github.requests)


def test_oversized_comment_is_422(fake_github, http):
    pr = fake_github.add_pull()
    url = f"{fake_github.url}/repos/octo/ml-project/issues/{pr['number']}/comments"
    r = http.post(url, json={"body": "x" * 65537}, timeout=5)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "body"
    assert http.post(url, json={"body": "x" * 65536}, timeout=5).status_code == 201


def test_faults_are_injected_and_consumed(fake_github, http):
    url = f"{fake_github.url}/rate_limit"
    fake_github.fail(502, times=2)
    fake_github.secondary_rate_limit(retry_after=3, path="rate_limit")
    assert [http.get(url, timeout=5).status_code for _ in range(2)] == [502, 502]
    r = http.get(url, timeout=5)
    assert r.status_code == 403 and r.headers["retry-after"] == "3"
    assert "secondary rate limit" in r.json()["message"]
    _conforms("rate-limit/get", http.get(url, timeout=5))
    fake_github.too_many_requests(retry_after=2)
    r = http.get(url, timeout=5)
    assert r.status_code == 429 and r.headers["retry-after"] == "2"
    fake_github.primary_rate_limit(reset_in=5)
    r = http.get(url, timeout=5)
    assert r.status_code == 403 and r.headers["x-ratelimit-remaining"] == "0"
    assert int(r.headers["x-ratelimit-reset"]) >= int(time.time()) + 4


def test_hang_makes_the_client_time_out(fake_github, http):
    fake_github.hang(seconds=10)
    # The fake holds the answer for 10 s: a Timeout at all means the client gave up first.
    with pytest.raises(requests.Timeout):
        http.get(f"{fake_github.url}/rate_limit", timeout=0.3)
    assert http.get(f"{fake_github.url}/rate_limit", timeout=5).status_code == 200


def test_primary_budget_runs_out(fake_github, http):
    fake_github.set_rate_limit(remaining=1)
    assert http.get(f"{fake_github.url}/rate_limit", timeout=5).status_code == 200
    r = http.get(f"{fake_github.url}/rate_limit", timeout=5)
    assert r.status_code == 403 and r.headers["x-ratelimit-remaining"] == "0"


def test_check_runs_accumulate_annotations_and_enforce_limits(fake_github, http):
    base = f"{fake_github.url}/repos/octo/ml-project/check-runs"
    ann = {
        "path": "mlci.yaml",
        "start_line": 3,
        "end_line": 3,
        "annotation_level": "failure",
        "message": "gate failed",
    }
    r = http.post(
        base,
        json={
            "name": "mlci",
            "head_sha": "b" * 40,
            "status": "in_progress",
            "output": {"title": "t", "summary": "s", "annotations": [ann] * 50},
        },
        timeout=5,
    )
    run = _conforms("checks/create", r)
    r = http.patch(
        f"{base}/{run['id']}",
        json={
            "conclusion": "failure",
            "output": {"title": "t", "summary": "s", "annotations": [ann] * 7},
        },
        timeout=5,
    )
    updated = _conforms("checks/update", r)
    assert updated["status"] == "completed" and updated["output"]["annotations_count"] == 57
    assert len(fake_github.check_runs()[0]["output"]["annotations"]) == 57
    r = http.patch(f"{base}/{run['id']}", json={"output": {"summary": "x" * 65536}}, timeout=5)
    assert r.status_code == 422
    r = http.patch(
        f"{base}/{run['id']}",
        json={"output": {"summary": "s", "annotations": [ann] * 51}},
        timeout=5,
    )
    assert r.status_code == 422
    fake_github.allow_violations = True  # 51 annotations breaks the schema's maxItems


def test_releases_assets_upload_and_download(fake_github, http):
    base = f"{fake_github.url}/repos/octo/ml-project/releases"
    rel = _conforms(
        "repos/create-release", http.post(base, json={"tag_name": "model-v1"}, timeout=5)
    )
    assert http.post(base, json={"tag_name": "model-v1"}, timeout=5).status_code == 422
    upload = rel["upload_url"].split("{")[0]
    assert upload.startswith(fake_github.uploads_url)
    # The uploads endpoint lives on the uploads server only, as on GitHub.
    assert (
        http.post(
            f"{base}/{rel['id']}/assets", params={"name": "m.onnx"}, data=b"x", timeout=5
        ).status_code
        == 404
    )
    r = http.post(
        upload,
        params={"name": "m.onnx"},
        data=b"\x00model",
        headers={"Content-Type": "application/octet-stream"},
        timeout=5,
    )
    asset = _conforms("repos/upload-release-asset", r)
    assert r.status_code == 201 and asset["size"] == 6
    r = http.get(
        f"{base}/assets/{asset['id']}", headers={"Accept": "application/octet-stream"}, timeout=5
    )
    assert r.content == b"\x00model" and r.history[0].status_code == 302
    latest = _conforms("repos/get-latest-release", http.get(f"{base}/latest", timeout=5))
    assert latest["assets"][0]["name"] == "m.onnx"
    _conforms("repos/get-release-by-tag", http.get(f"{base}/tags/model-v1", timeout=5))
    listed = _conforms("repos/list-releases", http.get(base, timeout=5))
    assert [x["tag_name"] for x in listed] == ["model-v1"]
    _conforms("repos/list-release-assets", http.get(f"{base}/{rel['id']}/assets", timeout=5))
    assert fake_github.assets(rel["id"])[0]["data"] == b"\x00model"
    assert http.delete(f"{base}/{rel['id']}", timeout=5).status_code == 204
    assert fake_github.releases() == []


def test_refs_contents_pulls_issues_dispatch_artifacts(fake_github, http):
    repo = f"{fake_github.url}/repos/octo/ml-project"
    ref = _conforms("git/get-ref", http.get(f"{repo}/git/ref/heads/main", timeout=5))
    r = http.post(
        f"{repo}/git/refs",
        json={"ref": "refs/heads/retrain", "sha": ref["object"]["sha"]},
        timeout=5,
    )
    _conforms("git/create-ref", r)
    content = base64.b64encode(b"version: 1\n").decode()
    r = http.put(
        f"{repo}/contents/conf/mlci.yaml",
        json={"message": "add", "content": content, "branch": "retrain"},
        timeout=5,
    )
    assert r.status_code == 201
    _conforms("repos/create-or-update-file-contents", r)
    got = http.get(f"{repo}/contents/conf/mlci.yaml", params={"ref": "retrain"}, timeout=5)
    assert base64.b64decode(got.json()["content"]) == b"version: 1\n"
    r = http.put(
        f"{repo}/contents/conf/mlci.yaml",
        json={"message": "edit", "content": content, "branch": "retrain", "sha": "0" * 40},
        timeout=5,
    )
    assert r.status_code == 409
    fake_github.settings(actions_can_create_pulls=True)
    pr = _conforms(
        "pulls/create",
        http.post(
            f"{repo}/pulls", json={"head": "retrain", "base": "main", "title": "Retrain"}, timeout=5
        ),
    )
    assert pr["user"]["login"] == "github-actions[bot]"
    assert (
        http.post(f"{repo}/pulls", json={"head": "retrain", "base": "main"}, timeout=5).status_code
        == 422
    )
    _conforms("pulls/list", http.get(f"{repo}/pulls", timeout=5))
    _conforms("pulls/get", http.get(f"{repo}/pulls/{pr['number']}", timeout=5))
    _conforms(
        "repos/list-pull-requests-associated-with-commit",
        http.get(f"{repo}/commits/{pr['head']['sha']}/pulls", timeout=5),
    )
    issue = _conforms(
        "issues/create",
        http.post(f"{repo}/issues", json={"title": "Drift", "labels": ["mlci-monitor"]}, timeout=5),
    )
    listed = _conforms(
        "issues/list-for-repo",
        http.get(f"{repo}/issues", params={"labels": "mlci-monitor"}, timeout=5),
    )
    assert [i["number"] for i in listed] == [issue["number"]]
    _conforms(
        "issues/update",
        http.patch(f"{repo}/issues/{issue['number']}", json={"state": "closed"}, timeout=5),
    )
    assert (
        http.post(
            f"{repo}/actions/workflows/mlci-retrain.yml/dispatches",
            json={"ref": "main", "inputs": {"reason": "drift"}},
            timeout=5,
        ).status_code
        == 204
    )
    assert fake_github.dispatches() == [
        {"workflow_id": "mlci-retrain.yml", "ref": "main", "inputs": {"reason": "drift"}}
    ]
    run = fake_github.add_workflow_run(artifacts={"mlci-results": {"model.json": b"{}"}})
    _conforms("actions/get-workflow-run", http.get(f"{repo}/actions/runs/{run['id']}", timeout=5))
    arts = _conforms(
        "actions/list-workflow-run-artifacts",
        http.get(f"{repo}/actions/runs/{run['id']}/artifacts", timeout=5),
    )
    zipped = http.get(arts["artifacts"][0]["archive_download_url"], timeout=5)
    assert zipfile.ZipFile(io.BytesIO(zipped.content)).read("model.json") == b"{}"
    _conforms("repos/get", http.get(repo, timeout=5))
