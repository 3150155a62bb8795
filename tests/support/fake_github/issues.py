"""Issues and issue comments (PR conversation comments are issue comments)."""

from __future__ import annotations

from typing import Any

from tests.support.fake_github.contract import (
    COMMENT_BODY_LIMIT,
    _now,
)
from tests.support.fake_github.state import (
    ApiError,
    Identity,
    Repo,
)


class IssuesMixin:
    """Issues and issue comments (PR conversation comments are issue comments)."""

    def _issue_obj(
        self,
        repo: Repo,
        number: int,
        *,
        title: str,
        body: str | None,
        login: str,
        state: str,
        labels: list[str],
        is_pull: bool,
    ) -> dict[str, Any]:
        api = f"{self.url}/repos/{repo.full_name}/issues/{number}"
        obj: dict[str, Any] = {
            "id": self._next_id(),
            "node_id": f"I_{number}",
            "number": number,
            "title": title,
            "body": body,
            "state": state,
            "user": self.user(login),
            "labels": [
                {
                    "id": self._next_id(),
                    "name": n,
                    "color": "ededed",
                    "default": False,
                    "node_id": f"L_{n}",
                    "url": f"{api}/labels/{n}",
                    "description": None,
                }
                for n in labels
            ],
            "url": api,
            "repository_url": f"{self.url}/repos/{repo.full_name}",
            "labels_url": f"{api}/labels{{/name}}",
            "comments_url": f"{api}/comments",
            "events_url": f"{api}/events",
            "html_url": f"{self.server_url}/{repo.full_name}/"
            f"{'pull' if is_pull else 'issues'}/{number}",
            "comments": 0,
            "created_at": _now(),
            "updated_at": _now(),
            "closed_at": None,
            "author_association": "CONTRIBUTOR",
            "assignee": None,
            "assignees": [],
            "milestone": None,
            "locked": False,
        }
        if is_pull:
            obj["pull_request"] = {
                "url": f"{self.url}/repos/{repo.full_name}/pulls/{number}",
                "html_url": obj["html_url"],
                "diff_url": obj["html_url"] + ".diff",
                "patch_url": obj["html_url"] + ".patch",
            }
        return obj

    def _next_number(self, repo: Repo) -> int:
        return max(repo.issues, default=0) + 1

    def add_issue(
        self,
        *,
        title: str = "An issue",
        body: str | None = None,
        labels: list[str] | None = None,
        login: str = "octocat",
        state: str = "open",
        repo: str | None = None,
    ) -> dict[str, Any]:
        """Seed an issue; returns it (``number`` is assigned)."""
        r = self._repo(repo)
        with self._lock:
            number = self._next_number(r)
            obj = self._issue_obj(
                r,
                number,
                title=title,
                body=body,
                login=login,
                state=state,
                labels=labels or [],
                is_pull=False,
            )
            r.issues[number] = obj
        return obj

    def add_comment(
        self, issue_number: int, body: str, *, login: str = "octocat", repo: str | None = None
    ) -> dict[str, Any]:
        """Seed a comment on an issue or PR (which must exist); returns it."""
        r = self._repo(repo)
        if issue_number not in r.issues:
            raise KeyError(f"no issue or pull #{issue_number} in {r.full_name}; add_pull first")
        return self._new_comment(r, issue_number, body, self.user(login))

    def add_comments(
        self,
        issue_number: int,
        n: int,
        *,
        body: str = "a comment",
        login: str = "octocat",
        repo: str | None = None,
    ) -> list[dict[str, Any]]:
        """Seed ``n`` comments (``body`` gets ``#i`` appended); returns them."""
        return [
            self.add_comment(issue_number, f"{body} #{i}", login=login, repo=repo) for i in range(n)
        ]

    def _new_comment(self, r: Repo, number: int, body: str, user: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            cid = self._next_id()
            issue_url = f"{self.url}/repos/{r.full_name}/issues/{number}"
            comment = {
                "id": cid,
                "node_id": f"IC_{cid}",
                "url": f"{self.url}/repos/{r.full_name}/issues/comments/{cid}",
                "html_url": f"{r.issues[number]['html_url']}#issuecomment-{cid}",
                "issue_url": issue_url,
                "body": body,
                "user": user,
                "created_at": _now(),
                "updated_at": _now(),
                "author_association": "NONE" if user["type"] == "Bot" else "CONTRIBUTOR",
                "_issue": number,
            }
            r.comments[cid] = comment
            r.issues[number]["comments"] += 1
        return comment

    def _issue_of(
        self, repo: Repo, params: dict[str, str], key: str = "issue_number"
    ) -> dict[str, Any]:
        issue = repo.issues.get(int(params[key]))
        if issue is None:
            raise ApiError(404, "Not Found")
        return issue

    def _op_issues_list_comments(
        self, *, repo: Repo, params: dict[str, str], request: Any, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        issue = self._issue_of(repo, params)
        since = request.args.get("since", "")
        items = [
            self._public(c)
            for c in sorted(repo.comments.values(), key=lambda c: c["id"])
            if c["_issue"] == issue["number"] and c["updated_at"] >= since
        ]
        chunk, headers = self._page(request, items)
        return 200, chunk, headers

    @staticmethod
    def _too_long(value: Any, limit: int, resource: str, name: str) -> None:
        if isinstance(value, str) and len(value) > limit:
            raise ApiError(
                422,
                "Validation Failed",
                errors=[
                    {
                        "resource": resource,
                        "code": "custom",
                        "field": name,
                        "message": f"{name} is too long (maximum is {limit} characters)",
                    }
                ],
                docs="https://docs.github.com/rest",
            )

    def _op_issues_create_comment(
        self, *, repo: Repo, params: dict[str, str], body: Any, ident: Identity, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        issue = self._issue_of(repo, params)
        self._too_long(body["body"], COMMENT_BODY_LIMIT, "IssueComment", "body")
        if issue.get("locked"):
            raise ApiError(403, "Unable to create comment because issue is locked.")
        c = self._new_comment(repo, issue["number"], body["body"], self.user(ident.login))
        return 201, self._public(c), {"Location": c["url"]}

    def _comment_of(self, repo: Repo, params: dict[str, str]) -> dict[str, Any]:
        c = repo.comments.get(int(params["comment_id"]))
        if c is None:
            raise ApiError(404, "Not Found")
        return c

    def _op_issues_get_comment(
        self, *, repo: Repo, params: dict[str, str], **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        return 200, self._public(self._comment_of(repo, params)), {}

    def _op_issues_update_comment(
        self, *, repo: Repo, params: dict[str, str], body: Any, ident: Identity, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        c = self._comment_of(repo, params)
        self._too_long(body["body"], COMMENT_BODY_LIMIT, "IssueComment", "body")
        if c["user"]["login"] != ident.login:
            # Only the author (or a maintainer, which the fake's tokens are not) may edit.
            raise ApiError(
                403,
                "Resource not accessible by integration"
                if ident.type == "Bot"
                else "Must have admin rights to Repository.",
            )
        c["body"] = body["body"]
        c["updated_at"] = _now()
        return 200, self._public(c), {}

    def _op_issues_delete_comment(
        self, *, repo: Repo, params: dict[str, str], ident: Identity, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        c = self._comment_of(repo, params)
        if c["user"]["login"] != ident.login:
            raise ApiError(403, "Resource not accessible by integration")
        del repo.comments[c["id"]]
        repo.issues[c["_issue"]]["comments"] -= 1
        return 204, None, {}

    # issues

    def _op_issues_list_for_repo(
        self, *, repo: Repo, request: Any, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        state = request.args.get("state", "open")
        labels = [x for x in request.args.get("labels", "").split(",") if x]
        creator = request.args.get("creator")
        items = [
            i
            for i in sorted(repo.issues.values(), key=lambda i: -i["number"])
            if (state == "all" or i["state"] == state)
            and all(lb in {x["name"] for x in i["labels"]} for lb in labels)
            and (creator is None or i["user"]["login"] == creator)
        ]
        chunk, headers = self._page(request, items)
        return 200, chunk, headers

    def _op_issues_create(
        self, *, repo: Repo, body: Any, ident: Identity, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        self._too_long(body.get("body"), COMMENT_BODY_LIMIT, "Issue", "body")
        labels = [
            lb if isinstance(lb, str) else lb.get("name", "") for lb in body.get("labels", [])
        ]
        issue = self.add_issue(
            title=str(body["title"]),
            body=body.get("body"),
            labels=labels,
            login=ident.login,
            repo=repo.full_name,
        )
        return 201, issue, {"Location": issue["url"]}

    def _op_issues_get(
        self, *, repo: Repo, params: dict[str, str], **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        return 200, self._issue_of(repo, params), {}

    def _op_issues_update(
        self, *, repo: Repo, params: dict[str, str], body: Any, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        issue = self._issue_of(repo, params)
        self._too_long(body.get("body"), COMMENT_BODY_LIMIT, "Issue", "body")
        for key in ("title", "body", "state"):
            if key in body:
                issue[key] = body[key]
        if "labels" in body:
            issue["labels"] = [
                {
                    "id": self._next_id(),
                    "name": lb if isinstance(lb, str) else lb["name"],
                    "color": "ededed",
                    "default": False,
                    "node_id": "L",
                    "url": "",
                    "description": None,
                }
                for lb in body["labels"]
            ]
        issue["closed_at"] = _now() if issue["state"] == "closed" else None
        issue["updated_at"] = _now()
        return 200, issue, {}
