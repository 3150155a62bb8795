"""Pull requests."""

from __future__ import annotations

from typing import Any

from tests.support.fake_github.contract import (
    _EMPTY_SHA,
    COMMENT_BODY_LIMIT,
    _now,
)
from tests.support.fake_github.state import (
    ApiError,
    Identity,
    Repo,
)


class PullsMixin:
    """Pull requests."""

    def add_pull(
        self,
        *,
        number: int | None = None,
        head_sha: str = "b" * 40,
        head_ref: str = "feature",
        base_ref: str = "main",
        title: str = "A change",
        body: str | None = None,
        state: str = "open",
        login: str = "octocat",
        draft: bool = False,
        repo: str | None = None,
    ) -> dict[str, Any]:
        """Seed a pull request; returns it (the pull object, with ``number``)."""
        r = self._repo(repo)
        with self._lock:
            number = number or self._next_number(r)
            issue = self._issue_obj(
                r, number, title=title, body=body, login=login, state=state, labels=[], is_pull=True
            )
            r.issues[number] = issue
            api = f"{self.url}/repos/{r.full_name}/pulls/{number}"
            repo_obj = self._repo_obj(r)
            pull = {
                "id": self._next_id(),
                "node_id": f"PR_{number}",
                "number": number,
                "state": state,
                "title": title,
                "body": body,
                "draft": draft,
                "user": self.user(login),
                "url": api,
                "html_url": issue["html_url"],
                "diff_url": issue["html_url"] + ".diff",
                "patch_url": issue["html_url"] + ".patch",
                "issue_url": issue["url"],
                "commits_url": f"{api}/commits",
                "review_comments_url": f"{api}/comments",
                "review_comment_url": f"{self.url}/repos/{r.full_name}/pulls/comments{{/number}}",
                "comments_url": issue["comments_url"],
                "statuses_url": f"{self.url}/repos/{r.full_name}/statuses/{head_sha}",
                "head": {
                    "label": f"{r.owner}:{head_ref}",
                    "ref": head_ref,
                    "sha": head_sha,
                    "user": self.user(r.owner),
                    "repo": repo_obj,
                },
                "base": {
                    "label": f"{r.owner}:{base_ref}",
                    "ref": base_ref,
                    "sha": r.refs.get(f"heads/{base_ref}", _EMPTY_SHA),
                    "user": self.user(r.owner),
                    "repo": repo_obj,
                },
                "created_at": issue["created_at"],
                "updated_at": issue["updated_at"],
                "closed_at": None,
                "merged_at": None,
                "merge_commit_sha": None,
                "author_association": "CONTRIBUTOR",
                "labels": [],
                "locked": False,
                "merged": False,
            }
            r.pulls[number] = pull
        return pull

    # pulls

    def _op_repos_list_pull_requests_associated_with_commit(
        self, *, repo: Repo, params: dict[str, str], request: Any, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        items = [p for p in repo.pulls.values() if p["head"]["sha"] == params["commit_sha"]]
        chunk, headers = self._page(request, items)
        return 200, chunk, headers

    def _op_pulls_list(
        self, *, repo: Repo, request: Any, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        state = request.args.get("state", "open")
        head = request.args.get("head")
        base = request.args.get("base")
        items = [
            p
            for p in repo.pulls.values()
            if (state == "all" or p["state"] == state)
            and (head is None or p["head"]["label"] == head or p["head"]["ref"] == head)
            and (base is None or p["base"]["ref"] == base)
        ]
        chunk, headers = self._page(request, items)
        return 200, chunk, headers

    def _op_pulls_create(
        self, *, repo: Repo, body: Any, ident: Identity, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        self._too_long(body.get("body"), COMMENT_BODY_LIMIT, "PullRequest", "body")
        head = body["head"].split(":")[-1]
        if f"heads/{head}" not in repo.refs:
            raise ApiError(
                422,
                "Validation Failed",
                errors=[{"resource": "PullRequest", "field": "head", "code": "invalid"}],
            )
        if any(
            p["head"]["ref"] == head and p["base"]["ref"] == body["base"] and p["state"] == "open"
            for p in repo.pulls.values()
        ):
            raise ApiError(
                422,
                "Validation Failed",
                errors=[
                    {
                        "resource": "PullRequest",
                        "code": "custom",
                        "message": f"A pull request already exists for {repo.owner}:{head}.",
                    }
                ],
            )
        pull = self.add_pull(
            head_sha=repo.refs[f"heads/{head}"],
            head_ref=head,
            base_ref=body["base"],
            title=body.get("title", head),
            body=body.get("body"),
            login=ident.login,
            draft=body.get("draft", False),
            repo=repo.full_name,
        )
        return 201, pull, {"Location": pull["url"]}

    def _pull_of(self, repo: Repo, params: dict[str, str]) -> dict[str, Any]:
        pull = repo.pulls.get(int(params["pull_number"]))
        if pull is None:
            raise ApiError(404, "Not Found")
        return pull

    def _op_pulls_get(
        self, *, repo: Repo, params: dict[str, str], **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        return 200, self._pull_of(repo, params), {}

    def _op_pulls_update(
        self, *, repo: Repo, params: dict[str, str], body: Any, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        pull = self._pull_of(repo, params)
        self._too_long(body.get("body"), COMMENT_BODY_LIMIT, "PullRequest", "body")
        for key in ("title", "body", "state"):
            if key in body:
                pull[key] = body[key]
                repo.issues[pull["number"]][key] = body[key]
        if "base" in body:
            pull["base"]["ref"] = body["base"]
        pull["updated_at"] = _now()
        return 200, pull, {}
