"""The experiment history of the github registry: one asset of one draft release.

The history is the JSON-lines file of the local registry (`mlci.registry.experiments`),
kept as the asset ``experiments.jsonl`` of a draft release tagged
``<stem>-experiments`` (``model-experiments`` beside ``model-registry`` for the tag
prefix ``model-v``). A draft, because a published release's assets are frozen when
the repository uses immutable releases (docs: "Immutable releases"), while a draft's
stay writable; drafts are listed only to tokens with push access (docs: REST
"List releases"), so readers without one see no history.

Appending is a read-modify-write of the asset. The generated workflows run registry
writers in the ``mlci-registry`` concurrency group, but the comment job (which writes
the entries of fork pull requests) cannot join it without cancelling queued comments,
so a write is also made safe on its own: the new content is uploaded under a unique
name, then the asset that was read is deleted; only one writer can delete a given
asset, so a writer whose delete answers 404 lost a race, removes its upload and starts
again from reading. The winner renames its upload to ``experiments.jsonl``. A reader
that finds no ``experiments.jsonl`` (a writer stopped between delete and rename) takes
the newest upload. Appending an entry whose id is already there does nothing, so the
validate-model step and the comment job may both try.

The installed packages of each environment are kept in the same asset, one line
``{"kind": "packages", "sha256", "packages"}`` per package hash, after the entries:
only for hashes a kept entry names, and at most `MAX_PACKAGE_BYTES` of them (the
newest environments first), so the asset stays bounded.
"""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mlci.errors import GitHubAPIError
from mlci.github.releases import download_asset, upload_asset
from mlci.registry.experiments import (
    dump_lines,
    find_entry,
    fold,
    packages_digest,
    parse_lines,
)
from mlci.registry.releases import github_access, tag_stem

if TYPE_CHECKING:
    from mlci.config import RegistryConfig
    from mlci.github.api import GitHubClient
    from mlci.github.runtime import Runtime

__all__ = ["ASSET", "ReleaseExperimentLog"]

ASSET = "experiments.jsonl"
_PENDING = "experiments-"
#: Attempts of one append against concurrent writers.
MAX_ATTEMPTS = 12
#: The history asset is refused beyond this size (it is bounded by folding well below).
MAX_ASSET_BYTES = 64 * 1024**2
#: Package lists kept in the asset, in bytes (older environments' lists are dropped).
MAX_PACKAGE_BYTES = 4 * 1024**2
_Packages = dict[str, list[str]]


def _split_packages(entries: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], _Packages]:
    """The history's entries, and its package lines as ``{sha256: packages}``."""
    kept: list[dict[str, Any]] = []
    packages: _Packages = {}
    for e in entries:
        if e.get("kind") != "packages":
            kept.append(e)
        elif isinstance(e.get("sha256"), str) and isinstance(e.get("packages"), list):
            packages[e["sha256"]] = [str(p) for p in e["packages"]]
    return kept, packages


def _package_lines(
    entries: Sequence[Mapping[str, Any]], packages: _Packages
) -> list[dict[str, Any]]:
    """The package lines to keep: those kept entries name, newest first, within the budget."""
    lines: list[dict[str, Any]] = []
    size = 0
    for e in reversed(entries):
        digest = packages_digest(e)
        if digest not in packages or any(line["sha256"] == digest for line in lines):
            continue
        size += sum(len(p) + 3 for p in packages[digest]) + 100
        if size > MAX_PACKAGE_BYTES:
            break
        lines.append({"kind": "packages", "sha256": digest, "packages": packages[digest]})
    return lines[::-1]


class ReleaseExperimentLog:
    """The experiment history kept as one asset of the github registry.

    Args:
        client: A GitHub REST client (push access to write, and to read drafts).
        repository: ``owner/name``.
        tag_prefix: The registry's version tag prefix (``model-v``).
    """

    def __init__(self, client: GitHubClient, repository: str, *, tag_prefix: str = "model-v"):
        self.client = client
        self.repository = repository
        self.tag = f"{tag_stem(tag_prefix)}-experiments"
        self.path = f"{repository} draft release {self.tag}, asset {ASSET}"

    @classmethod
    def from_config(
        cls,
        config: RegistryConfig,
        *,
        runtime: Runtime,
        client: GitHubClient | None = None,
    ) -> ReleaseExperimentLog:
        """The history of the github registry ``config`` names (see `github_access`).

        Raises:
            InputError: when no repository is known.
        """
        api, repository = github_access(config, runtime, client)
        return cls(api, repository, tag_prefix=config.tag_prefix)

    def _base(self) -> str:
        return f"/repos/{self.repository}/releases"

    def _release(self) -> dict[str, Any] | None:
        # Drafts cannot be fetched by tag (a draft has no tag yet): one paginated listing.
        for release in self.client.paginate(self._base()):
            if release.get("tag_name") == self.tag and release.get("draft"):
                return dict(release)
        return None

    @staticmethod
    def _current(release: Mapping[str, Any]) -> Mapping[str, Any] | None:
        assets = [a for a in release.get("assets") or [] if isinstance(a, Mapping)]
        main = next((a for a in assets if a.get("name") == ASSET), None)
        if main is not None:
            return main
        pending = [a for a in assets if str(a.get("name", "")).startswith(_PENDING)]
        return max(pending, key=lambda a: int(a.get("id") or 0), default=None)

    def _read(
        self, release: Mapping[str, Any] | None
    ) -> tuple[Mapping[str, Any] | None, dict[str, Any] | None, list[dict[str, Any]], _Packages]:
        asset = self._current(release) if release else None
        if asset is None:
            return None, None, [], {}
        data = download_asset(self.client, asset, max_bytes=MAX_ASSET_BYTES)
        text = data.decode("utf-8", errors="replace")
        summary, lines = parse_lines(text, self.path)
        return asset, summary, *_split_packages(lines)

    def _latest(
        self, create: bool = False
    ) -> tuple[
        dict[str, Any] | None,
        Mapping[str, Any] | None,
        dict[str, Any] | None,
        list[dict[str, Any]],
        _Packages,
    ]:
        """The release and its history, read again when a writer replaced the asset meanwhile."""
        for _ in range(MAX_ATTEMPTS):
            release = self._release()
            if release is None and create:
                release = self._create()
            try:
                return (release, *self._read(release))
            except GitHubAPIError as exc:
                if exc.status != 404:  # 404: the asset listed was replaced since
                    raise
        raise GitHubAPIError(f"{self.path}: the history kept changing while read; retry")

    def entries(self) -> list[dict[str, Any]]:
        """Every entry, oldest first (the summary of folded entries excluded)."""
        return self._latest()[3]

    def summary(self) -> dict[str, Any] | None:
        """The line that counts folded (oldest) entries, if any were folded."""
        return self._latest()[2]

    def packages(self, digest: str) -> list[str] | None:
        """The package list recorded under ``digest``, if kept."""
        return self._latest()[4].get(digest)

    def find(self, ident: str) -> dict[str, Any]:
        """The entry whose id starts with ``ident``.

        Raises:
            InputError: when none or several match.
        """
        return find_entry(self.entries(), ident, self.path, "`mlci experiments --registry github`")

    def _create(self) -> dict[str, Any]:
        try:
            created = self.client.post(
                self._base(),
                json={
                    "tag_name": self.tag,
                    "name": "mlci experiment history",
                    "body": "Every candidate mlci validated (asset experiments.jsonl). Do not"
                    " edit; `mlci experiments --registry github` lists it.",
                    "draft": True,
                    "prerelease": True,
                    "make_latest": "false",
                },
            )
        except GitHubAPIError as exc:
            if exc.status == 422 and "already_exists" in exc.message:
                found = self._release()
                if found is not None:
                    return found
            raise
        return dict(created)

    def append(self, entry: Mapping[str, Any], packages: Sequence[str] = ()) -> bool:
        """Add ``entry`` unless its id is there; fold the oldest beyond the cap.

        Args:
            entry: The entry (`mlci.registry.experiments.make_entry`).
            packages: Its environment's ``name==version`` list, kept once per hash.

        Returns:
            Whether the entry was added (False: an entry with its id was there).

        Raises:
            GitHubAPIError: GitHub refused (no push access: a fork's token).
        """
        digest = packages_digest(entry)
        for attempt in range(MAX_ATTEMPTS):
            if attempt:  # lost a race: wait a random while so the writers spread out
                time.sleep(random.uniform(0, 0.2 * attempt))
            release, asset, summary, entries, kept = self._latest(create=True)
            assert release is not None
            if any(e.get("id") == entry.get("id") for e in entries):
                return False
            if isinstance(digest, str) and packages and digest not in kept:
                kept = {**kept, digest: list(packages)}
            folded, keep = fold(summary, entries, entry)
            data = dump_lines(folded, [*keep, *_package_lines(keep, kept)]).encode("utf-8")
            if asset is None:
                try:
                    upload_asset(self.client, release, ASSET, data)
                except GitHubAPIError as exc:
                    if exc.status == 422:  # another writer created it first
                        continue
                    raise
                return True
            mine = upload_asset(
                self.client, release, f"{_PENDING}{secrets.token_hex(8)}.jsonl", data
            )
            try:
                self.client.request("DELETE", f"{self._base()}/assets/{asset['id']}")
            except GitHubAPIError as exc:
                if exc.status != 404:
                    raise
                # Another writer replaced the asset read above: drop ours, read again.
                self.client.request("DELETE", f"{self._base()}/assets/{mine['id']}")
                continue
            try:
                self.client.patch(f"{self._base()}/assets/{mine['id']}", json={"name": ASSET})
            except GitHubAPIError as exc:
                # 404: another writer read our upload as the current history and replaced
                # it with its own, which holds our entry.
                if exc.status != 404:
                    raise
            return True
        raise GitHubAPIError(
            f"{self.path}: {MAX_ATTEMPTS} concurrent writers replaced the history while this"
            " one appended; re-run the job"
        )
