"""A stateful fake of GitHub's REST API on loopback, held to GitHub's own OpenAPI description.

Use it through the ``fake_github`` fixture (function scope; registered for the whole suite
by ``pytest_plugins = ["tests.support.fake_github.plugin"]`` in ``tests/conftest.py``). It needs
GitHub's API description, ``tests/support/github-api/rest-subset.json``, vendored in this
repository (``tests/support/github-api/refresh.py`` rewrites it from the npm registry).

Layout: ``contract`` (the OpenAPI description, request validation, conforming
responses), ``state`` (identities, repositories, faults, errors), ``server`` (the HTTP
side: matching, authentication, permissions, pagination, rate limits), one module per
area of the API (``issues``, ``pulls``, ``checks``, ``releases``, ``git``, ``actions``),
``faults`` (fault injection) and ``plugin`` (the pytest fixtures). Each rule that makes
the fake behave like github.com names its source (a docs.github.com page or a public
issue) in a comment beside it.

Quick start::

    def test_posts(fake_github, monkeypatch):
        # GITHUB_API_URL already points at the fake (set by the fixture).
        monkeypatch.setenv("GITHUB_TOKEN", fake_github.token)      # the bot, write access
        pr = fake_github.add_pull(head_sha="abc123")               # -> {"number": 1, ...}
        fake_github.add_comment(pr["number"], "hi", login="octocat")
        ...  # run mlci
        assert [c["body"] for c in fake_github.comments(pr["number"])] == [...]

What it serves (every operation of ``rest-subset.json``; see ``operations()``): the
repository, issue and PR comments (list with ``Link`` pagination, create, get, update,
delete), check runs (create, get, update; annotations accumulate across updates as on
GitHub), pulls (list/create/get/update, pulls of a commit), releases and release assets
(list, create, latest, by tag, get, update, delete; uploads on the uploads server, see
below; downloads with ``Accept: application/octet-stream`` redirect to a blob),
git refs, contents (get and put with ``sha`` checks), workflow dispatch (recorded),
workflow runs and their artifacts (download redirects to a zip blob), issues, and
``/rate_limit``.

URLs:
    ``fake.url``            the API base (``GITHUB_API_URL``), e.g. ``http://127.0.0.1:PORT``.
    ``fake.uploads_url``    the uploads base (``{url}/uploads``); a release's
                            ``upload_url`` points there, as ``uploads.github.com`` does.
    ``fake.server_url``     what ``GITHUB_SERVER_URL`` would be (``html_url``s use it).
    Blobs (asset and artifact downloads) are served under ``{url}/_blobs/...``.

Contract (what makes it GitHub-like):
    - Unknown paths or methods answer 404 ``{"message": "Not Found", ...}`` like GitHub.
    - Every JSON request body is validated with jsonschema against the operation's
      ``requestBody`` schema (OpenAPI 3.0 ``nullable`` translated); a violation answers
      422 and is recorded in ``fake.violations``; the fixture fails the test at teardown
      if any violation happened, unless the test set ``fake.allow_violations = True``.
    - Every response body is built to conform to the operation's response schema
      (missing required fields are synthesised from the schema) and is checked against
      it; a non-conforming response is a bug in the fake and fails the test at teardown.
    - GitHub's limits: comment, issue and PR bodies over 65,536 characters, a check-run
      summary or text over 65,535, more than 50 annotations per request, a release body
      over 125,000 -> 422 ``Validation Failed`` with GitHub's ``errors`` entries.
    - Lists paginate with ``per_page`` (default 30, at most 100) and ``page``, and set
      ``Link`` with ``next``/``last``/``first``/``prev`` like GitHub.
    - Headers: ``x-ratelimit-limit/remaining/used/reset/resource``,
      ``x-github-request-id``, ``x-github-api-version-selected``, ``Location`` on 201.

Identities (one per token; ``Authorization: Bearer <token>`` or ``token <token>``):
    ``fake.token``            ``github-actions[bot]`` with write access everywhere.
    ``fake.read_only_token``  ``github-actions[bot]`` as on a pull request from a fork:
                              reads work, writes answer 403 "Resource not accessible by
                              integration" with ``x-accepted-github-permissions``.
    ``fake.other_token``      ``octocat``, a human user with write access.
    ``fake.add_token(token, login=..., type="User"|"Bot", permissions={...} | "read")``.
    No token: reads work (a public repository), writes answer 401 "Requires
    authentication". An unknown token answers 401 "Bad credentials".

Seeding state (each returns the stored GitHub-shaped dict):
    ``add_repo("owner/name")`` (``fake.repo`` = ``octo/ml-project`` exists already),
    ``add_pull(number=None, head_sha=..., head_ref=..., base_ref="main", title=...,
    body=..., state="open", login=..., repo=...)``, ``add_issue(title=..., body=...,
    labels=[...], login=...)``, ``add_comment(issue_number, body, login="octocat")``,
    ``add_comments(issue_number, n, body=..., login=...)``, ``add_release(tag, name=...,
    body=..., draft=False, prerelease=False, assets={"name": b"bytes"})``,
    ``add_ref("heads/main", sha)``, ``add_file(path, b"content", branch="main")``,
    ``add_workflow_run(run_id=None, head_sha=..., event=..., conclusion=...,
    artifacts={"name": {"file.json": b"..."}})``. Pass ``repo="owner/name"`` for another
    repository.

Contract helpers for tests: ``operations()`` (every operation of the description, with
its compiled path), ``response_schema(operation_id, status)`` (a response's JSON Schema,
e.g. to validate what a test received), ``to_json_schema`` (OpenAPI 3.0 -> JSON Schema).
``GET .../issues/{n}/comments`` honours ``since`` (by ``updated_at``), ``pulls``
``state``/``head``/``base``, ``issues`` ``state``/``labels``/``creator``, artifacts ``name``.

Reading what mlci did:
    ``comments(issue_number)``, ``check_runs()``, ``pulls()``, ``issues()``,
    ``releases()``, ``assets(release_id)``, ``refs()``, ``files(branch=None)``,
    ``dispatches()`` (each list of dicts); ``requests`` (every request as
    ``Recorded(method, path, query, login, json, status, headers)``, the token itself is
    never recorded); ``requests_to(method, path_regex)``.

Fault injection (each consumes itself after ``times`` matching requests; ``method`` and
``path`` -- a regex searched in the path -- narrow which requests it hits):
    ``fail(status, times=1, message=..., headers=...)``           any status, e.g. 502;
    ``secondary_rate_limit(retry_after=1, times=1)``               403 + ``retry-after``;
    ``primary_rate_limit(reset_in=1, times=1, status=403)``        remaining 0 + reset;
    ``too_many_requests(retry_after=1, times=1)``                  429 + ``retry-after``;
    ``hang(seconds=30, times=1)``                                  never answers in time
    (the handler waits until the test ends, so a client timeout fires);
    ``barrier(parties=2, method="POST", path="comments")``        holds requests until
    ``parties`` arrived (forces races between concurrent jobs);
    ``set_rate_limit(remaining=..., limit=5000)``                  the primary budget,
    decremented per authenticated request; at 0 the API answers 403 as GitHub does.
"""

from __future__ import annotations

from tests.support.fake_github.actions import ActionsMixin
from tests.support.fake_github.checks import ChecksMixin
from tests.support.fake_github.contract import (
    SPEC_PATH,
    Operation,
    conform,
    load_spec,
    operations,
    response_schema,
    to_json_schema,
)
from tests.support.fake_github.faults import FaultsMixin
from tests.support.fake_github.git import GitMixin
from tests.support.fake_github.issues import IssuesMixin
from tests.support.fake_github.pulls import PullsMixin
from tests.support.fake_github.releases import ReleasesMixin
from tests.support.fake_github.server import FakeGitHubCore
from tests.support.fake_github.state import ApiError, Fault, Identity, Recorded, Repo

__all__ = [
    "ApiError",
    "FakeGitHub",
    "Fault",
    "Identity",
    "Operation",
    "Recorded",
    "Repo",
    "SPEC_PATH",
    "conform",
    "load_spec",
    "operations",
    "response_schema",
    "to_json_schema",
]


class FakeGitHub(
    IssuesMixin,
    PullsMixin,
    ChecksMixin,
    ReleasesMixin,
    GitMixin,
    ActionsMixin,
    FaultsMixin,
    FakeGitHubCore,
):
    """The fake's state and request handling (see the module docstring for the API)."""
