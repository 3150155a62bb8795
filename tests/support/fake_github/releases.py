"""Releases and release assets."""

from __future__ import annotations

import hashlib
from typing import Any

from tests.support.fake_github.contract import (
    _EMPTY_SHA,
    RELEASE_BODY_LIMIT,
    _now,
)
from tests.support.fake_github.state import (
    ApiError,
    Identity,
    Repo,
)


class ReleasesMixin:
    """Releases and release assets."""

    def add_release(
        self,
        tag: str,
        *,
        name: str | None = None,
        body: str | None = None,
        draft: bool = False,
        prerelease: bool = False,
        assets: dict[str, bytes] | None = None,
        repo: str | None = None,
    ) -> dict[str, Any]:
        """Seed a release with optional assets ``{name: bytes}``; returns it."""
        r = self._repo(repo)
        rel = self._new_release(
            r,
            {"tag_name": tag, "name": name, "body": body, "draft": draft, "prerelease": prerelease},
            self.user("github-actions[bot]"),
        )
        for asset_name, data in (assets or {}).items():
            self._new_asset(
                r,
                rel,
                asset_name,
                data,
                "application/octet-stream",
                None,
                self.user("github-actions[bot]"),
            )
        return self._release_view(r, rel)

    # releases and assets

    def _new_release(self, r: Repo, body: dict[str, Any], author: dict[str, Any]) -> dict[str, Any]:
        rid = self._next_id()
        api = f"{self.url}/repos/{r.full_name}/releases/{rid}"
        tag = body["tag_name"]
        rel = {
            "id": rid,
            "node_id": f"RE_{rid}",
            "tag_name": tag,
            "target_commitish": body.get("target_commitish") or "main",
            "name": body.get("name"),
            "body": body.get("body"),
            "draft": bool(body.get("draft")),
            "prerelease": bool(body.get("prerelease")),
            "author": author,
            "url": api,
            "html_url": f"{self.server_url}/{r.full_name}/releases/tag/{tag}",
            "assets_url": f"{api}/assets",
            "upload_url": f"{self.uploads_url}/repos/{r.full_name}/releases/{rid}/assets{{?name,label}}",
            "tarball_url": f"{self.url}/repos/{r.full_name}/tarball/{tag}",
            "zipball_url": f"{self.url}/repos/{r.full_name}/zipball/{tag}",
            "created_at": _now(),
            "published_at": None if body.get("draft") else _now(),
        }
        r.releases[rid] = rel
        if not rel["draft"]:
            r.refs.setdefault(f"tags/{tag}", r.refs.get("heads/main", _EMPTY_SHA))
        return rel

    def _release_view(self, r: Repo, rel: dict[str, Any]) -> dict[str, Any]:
        return dict(rel) | {
            "assets": [self._public(a) for a in r.assets.values() if a["_release"] == rel["id"]]
        }

    def _op_repos_list_releases(
        self, *, repo: Repo, request: Any, ident: Any = None, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        # "Information about published releases are available to everyone. Only users
        # with push access will receive listings for draft releases." (docs: REST
        # "List releases"); a GITHUB_TOKEN with contents: read has no push access.
        push = ident is not None and ident.permissions.get("contents") == "write"
        items = [
            self._release_view(repo, r)
            for r in sorted(repo.releases.values(), key=lambda r: -r["id"])
            if push or not r["draft"]
        ]
        chunk, headers = self._page(request, items)
        return 200, chunk, headers

    @staticmethod
    def _immutable(repo: Repo, rel: dict[str, Any]) -> bool:
        # With immutable releases on, a published release's assets and tag are frozen
        # (docs: "Immutable releases"; rubyists/linear-cli-ex#18, voidzero-dev/vite-plus#1558).
        return repo.immutable_releases and not rel["draft"]

    def _op_repos_create_release(
        self, *, repo: Repo, body: Any, ident: Identity, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        self._too_long(body.get("body"), RELEASE_BODY_LIMIT, "Release", "body")
        if any(r["tag_name"] == body["tag_name"] for r in repo.releases.values()):
            raise ApiError(
                422,
                "Validation Failed",
                errors=[{"resource": "Release", "code": "already_exists", "field": "tag_name"}],
            )
        if body["tag_name"] in repo.burned_tags:
            # The tag of a deleted immutable release can never be used again
            # (docs: "Immutable releases").
            raise ApiError(
                422,
                "Validation Failed",
                errors=[
                    {
                        "resource": "Release",
                        "code": "custom",
                        "field": "tag_name",
                        "message": "tag_name was used by an immutable release",
                    }
                ],
            )
        rel = self._new_release(repo, body, self.user(ident.login))
        if self._immutable(repo, rel):
            repo.burned_tags.add(rel["tag_name"])
        return 201, self._release_view(repo, rel), {"Location": rel["url"]}

    def _op_repos_get_latest_release(
        self, *, repo: Repo, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        published = [r for r in repo.releases.values() if not r["draft"] and not r["prerelease"]]
        if not published:
            raise ApiError(404, "Not Found")
        return 200, self._release_view(repo, max(published, key=lambda r: r["id"])), {}

    def _op_repos_get_release_by_tag(
        self, *, repo: Repo, params: dict[str, str], **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        rel = next((r for r in repo.releases.values() if r["tag_name"] == params["tag"]), None)
        if rel is None:
            raise ApiError(404, "Not Found")
        return 200, self._release_view(repo, rel), {}

    def _release_of(self, repo: Repo, params: dict[str, str]) -> dict[str, Any]:
        rel = repo.releases.get(int(params["release_id"]))
        if rel is None:
            raise ApiError(404, "Not Found")
        return rel

    def _op_repos_get_release(
        self, *, repo: Repo, params: dict[str, str], **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        return 200, self._release_view(repo, self._release_of(repo, params)), {}

    def _op_repos_update_release(
        self, *, repo: Repo, params: dict[str, str], body: Any, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        rel = self._release_of(repo, params)
        self._too_long(body.get("body"), RELEASE_BODY_LIMIT, "Release", "body")
        if self._immutable(repo, rel) and (
            body.get("draft") is True or body.get("tag_name", rel["tag_name"]) != rel["tag_name"]
        ):
            raise ApiError(422, "Cannot modify an immutable release")
        for key in ("tag_name", "target_commitish", "name", "body", "draft", "prerelease"):
            if key in body:
                rel[key] = body[key]
        if not rel["draft"] and rel["published_at"] is None:
            rel["published_at"] = _now()
            repo.refs.setdefault(f"tags/{rel['tag_name']}", repo.refs.get("heads/main", ""))
            if repo.immutable_releases:
                repo.burned_tags.add(rel["tag_name"])
        return 200, self._release_view(repo, rel), {}

    def _op_repos_delete_release(
        self, *, repo: Repo, params: dict[str, str], **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        rel = self._release_of(repo, params)
        del repo.releases[rel["id"]]
        for aid in [a["id"] for a in repo.assets.values() if a["_release"] == rel["id"]]:
            del repo.assets[aid]
        return 204, None, {}

    def _op_repos_list_release_assets(
        self, *, repo: Repo, params: dict[str, str], request: Any, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        rel = self._release_of(repo, params)
        items = [self._public(a) for a in repo.assets.values() if a["_release"] == rel["id"]]
        chunk, headers = self._page(request, items)
        return 200, chunk, headers

    def _new_asset(
        self,
        r: Repo,
        rel: dict[str, Any],
        name: str,
        data: bytes,
        ctype: str,
        label: str | None,
        uploader: dict[str, Any],
    ) -> dict[str, Any]:
        aid = self._next_id()
        key = f"{r.full_name}/releases/download/{rel['tag_name']}/{name}"
        self.blobs[key] = (data, ctype)
        asset = {
            "id": aid,
            "node_id": f"RA_{aid}",
            "name": name,
            "label": label,
            "content_type": ctype,
            "state": "uploaded",
            "size": len(data),
            "download_count": 0,
            "uploader": uploader,
            "url": f"{self.url}/repos/{r.full_name}/releases/assets/{aid}",
            "browser_download_url": f"{self.url}/_blobs/{key}",
            "created_at": _now(),
            "updated_at": _now(),
            "digest": "sha256:" + hashlib.sha256(data).hexdigest(),
            "_release": rel["id"],
            "_blob": key,
        }
        r.assets[aid] = asset
        return asset

    def _op_repos_upload_release_asset(
        self,
        *,
        repo: Repo,
        params: dict[str, str],
        request: Any,
        raw: bytes,
        ident: Identity,
        **_: Any,
    ) -> tuple[int, Any, dict[str, str]]:
        rel = self._release_of(repo, params)
        if self._immutable(repo, rel):
            raise ApiError(422, "Cannot upload assets to an immutable release")
        name = request.args["name"]
        if any(a["name"] == name and a["_release"] == rel["id"] for a in repo.assets.values()):
            raise ApiError(
                422,
                "Validation Failed",
                errors=[{"resource": "ReleaseAsset", "code": "already_exists", "field": "name"}],
            )
        ctype = request.headers.get("Content-Type", "application/octet-stream")
        asset = self._new_asset(
            repo, rel, name, raw, ctype, request.args.get("label"), self.user(ident.login)
        )
        return 201, self._public(asset), {"Location": asset["url"]}

    def _asset_of(self, repo: Repo, params: dict[str, str]) -> dict[str, Any]:
        asset = repo.assets.get(int(params["asset_id"]))
        if asset is None:
            raise ApiError(404, "Not Found")
        return asset

    def _op_repos_get_release_asset(
        self, *, repo: Repo, params: dict[str, str], request: Any, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        asset = self._asset_of(repo, params)
        if "application/octet-stream" in request.headers.get("Accept", ""):
            asset["download_count"] += 1
            return 302, None, {"Location": asset["browser_download_url"]}
        return 200, self._public(asset), {}

    def _op_repos_update_release_asset(
        self, *, repo: Repo, params: dict[str, str], body: Any, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        asset = self._asset_of(repo, params)
        for key in ("name", "label", "state"):
            if key in body:
                asset[key] = body[key]
        return 200, self._public(asset), {}

    def _op_repos_delete_release_asset(
        self, *, repo: Repo, params: dict[str, str], **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        asset = self._asset_of(repo, params)
        if self._immutable(repo, repo.releases[asset["_release"]]):
            raise ApiError(422, "Cannot delete assets of an immutable release")
        del repo.assets[asset["id"]]
        return 204, None, {}
