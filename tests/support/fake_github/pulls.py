"""Pull requests."""

from __future__ import annotations

from typing import Any

from tests.support.fake_github.contract import (
    _EMPTY_SHA,
    COMMENT_BODY_LIMIT,
    _now,
)
from tests.support.fake_github.git import ACTIONS_BOT
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
        head_repo: str | None = None,
    ) -> dict[str, Any]:
        """Seed a pull request; returns it (the pull object, with ``number``).

        ``head_repo="someone/ml-project"`` makes it a pull request from that fork (the
        fork is created when missing); its head commit then exists only in the fork.
        """
        r = self._repo(repo)
        head_full = head_repo or r.full_name
        if head_full not in self.repos:
            self.add_repo(head_full, fork_of=r.full_name)
        h = self.repos[head_full]
        if head_full == r.full_name:
            self._ensure_commit(r, head_sha, parent=r.refs.get(f"heads/{base_ref}"))
            r.refs.setdefault(f"heads/{head_ref}", head_sha)
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
                    "label": f"{h.owner}:{head_ref}",
                    "ref": head_ref,
                    "sha": head_sha,
                    "user": self.user(h.owner),
                    "repo": self._repo_obj(h),
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
                "_head_repo": head_full,
            }
            r.pulls[number] = pull
        return self._public(pull)

    # pulls

    def _op_repos_list_pull_requests_associated_with_commit(
        self, *, repo: Repo, params: dict[str, str], request: Any, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        # A fork's head commit exists only in the fork until merged, so this answers []
        # for it (quarkusio/pt.quarkus.io#389, learningequality/kolibri#14719,
        # nerva-project/nerva#79).
        items = [
            self._public(p)
            for p in repo.pulls.values()
            if p["head"]["sha"] == params["commit_sha"]
            and p.get("_head_repo", repo.full_name) == repo.full_name
        ]
        chunk, headers = self._page(request, items)
        return 200, chunk, headers

    def _op_pulls_list(
        self, *, repo: Repo, request: Any, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        state = request.args.get("state", "open")
        head = request.args.get("head")
        base = request.args.get("base")
        items = [
            self._public(p)
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
        if ident.login == ACTIONS_BOT and not repo.actions_can_create_pulls:
            # "Allow GitHub Actions to create and approve pull requests" is off by default;
            # then GITHUB_TOKEN may not open a PR whatever `permissions:` say
            # (docs: "Managing GitHub Actions settings for a repository";
            # peter-evans/create-pull-request#1175 and #3979).
            raise ApiError(
                403,
                "GitHub Actions is not permitted to create or approve pull requests.",
                docs="https://docs.github.com/rest/pulls/pulls#create-a-pull-request",
            )
        base_tip = repo.refs.get(f"heads/{body['base']}")
        if base_tip is None:
            raise ApiError(
                422,
                "Validation Failed",
                errors=[{"resource": "PullRequest", "field": "base", "code": "invalid"}],
            )
        if self.ahead_by(base_tip, repo.refs[f"heads/{head}"], repo=repo.full_name) == 0:
            # docs: "Create a pull request" (REST): nothing to merge is a 422.
            raise ApiError(
                422,
                "Validation Failed",
                errors=[
                    {
                        "resource": "PullRequest",
                        "code": "custom",
                        "message": f"No commits between {body['base']} and {head}",
                    }
                ],
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
        if ident.login != ACTIONS_BOT:
            # A PR opened with GITHUB_TOKEN starts no workflow run (docs: "Triggering a
            # workflow", GITHUB_TOKEN section); one opened with another token does.
            repo.events.append(
                {"event": "pull_request", "action": "opened", "number": pull["number"]}
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
        return 200, self._public(self._pull_of(repo, params)), {}

    def _op_pulls_update(
        self, *, repo: Repo, params: dict[str, str], body: Any, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        pull = self._pull_of(repo, params)
        self._too_long(body.get("body"), COMMENT_BODY_LIMIT, "PullRequest", "body")
        if body.get("state") == "open" and pull["state"] == "closed":
            head_tip = repo.refs.get(f"heads/{pull['head']['ref']}", pull["head"]["sha"])
            pull["head"]["sha"] = head_tip
            base_tip = repo.refs.get(f"heads/{pull['base']['ref']}", head_tip)
            if self.ahead_by(base_tip, head_tip, repo=repo.full_name) == 0:
                # A PR closed because its head fell onto its base cannot be reopened
                # (isaacs/github#361, wei/pull#365).
                raise ApiError(
                    422,
                    "Validation Failed",
                    errors=[
                        {
                            "resource": "PullRequest",
                            "code": "custom",
                            "message": "state cannot be changed. The branch has no commits"
                            " ahead of the base.",
                        }
                    ],
                )
        for key in ("title", "body", "state"):
            if key in body:
                pull[key] = body[key]
                repo.issues[pull["number"]][key] = body[key]
        if "base" in body:
            pull["base"]["ref"] = body["base"]
        pull["updated_at"] = _now()
        pull["closed_at"] = _now() if pull["state"] == "closed" else None
        return 200, self._public(pull), {}
