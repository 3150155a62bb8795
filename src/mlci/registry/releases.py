"""The GitHub Releases registry: one release per model version, plus one state release.

- Version ``N`` is the release tagged ``<tag_prefix><N>`` (``model-v3``). Its assets
  are the model file(s) and ``metadata.json``; its body shows the metrics and carries
  the metadata as JSON inside an HTML comment, so listing versions is one paginated
  call and needs no asset download.
- Version numbers are allocated by GitHub itself: creating a release whose tag exists
  answers 422 ``already_exists``, and the writer takes the next number. A version is
  written as a draft (``"complete": false`` in its metadata), every asset is uploaded
  to the draft, then one update publishes it with the complete metadata. That order
  is the one that works with immutable releases, where assets cannot be added to a
  published release and its tag can never be reused (docs: "Immutable releases").
  Readers skip drafts and incomplete releases, so a crash or a failed upload never
  shows a half version. Assets of 2 GiB or more are refused before anything is
  written (docs: "About releases": each file must be under 2 GiB); uploads are retried
  on 5xx answers by the client's one retry policy.
- Aliases and history live in the body of one pre-release (tag ``<prefix>registry``,
  e.g. ``model-registry``): reading ``production`` is one call, and its metadata a
  second. Model releases are created with ``make_latest: false`` so the
  repository's "latest release" stays the software's.

Two deploys writing the state at the same moment could lose one update (releases have
no compare-and-swap); the generated deploy workflow serializes deploys with a
``concurrency`` group, which is what makes this safe.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlci import jsonio
from mlci.errors import DeployError, GitHubAPIError, InputError
from mlci.github.releases import download_asset, upload_asset
from mlci.registry.base import (
    METADATA_FILE,
    ModelVersion,
    RegistryState,
    check_metadata,
    recorded_hash,
    verify_file,
    verify_files,
    with_hashes,
)

if TYPE_CHECKING:
    from mlci.config import RegistryConfig
    from mlci.github.api import GitHubClient
    from mlci.github.runtime import Runtime

__all__ = ["BODY_LIMIT", "MAX_ASSET_BYTES", "ReleasesRegistry", "github_access", "tag_stem"]

BODY_LIMIT = 120_000  # GitHub refuses release bodies over 125,000 characters
#: Each release asset must be under 2 GiB (docs: "About releases").
MAX_ASSET_BYTES = 2 * 1024**3
#: Seconds allowed for one asset download (a large model on a slow runner).
DOWNLOAD_DEADLINE = 1800.0
_MARK_OPEN = "<!-- mlci-metadata"
_MARK_CLOSE = "-->"
_BLOCK = re.compile(re.escape(_MARK_OPEN) + r"\n(.*?)\n" + re.escape(_MARK_CLOSE), re.S)
MAX_TAG_ATTEMPTS = 50


def _embed(data: Mapping[str, Any]) -> str:
    # "-->" cannot occur in JSON outside strings; inside strings escape ">" so the comment holds.
    text = jsonio.dumps(data, indent=None, sort_keys=True).replace("-->", "--\\u003e")
    return f"{_MARK_OPEN}\n{text}\n{_MARK_CLOSE}"


def _extract(body: str | None) -> dict[str, Any] | None:
    match = _BLOCK.search(body or "")
    if not match:
        return None
    try:
        data = jsonio.loads(match.group(1), source="release body")
    except InputError:
        return None
    return data if isinstance(data, dict) else None


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def tag_stem(tag_prefix: str) -> str:
    """The name the registry's own releases share: ``model`` for versions ``model-vN``.

    The state release is ``<stem>-registry`` and the experiment history
    ``<stem>-experiments``; an empty stem is ``mlci``.
    """
    return tag_prefix.rstrip("-_").removesuffix("-v").removesuffix("_v").rstrip("-_") or "mlci"


def github_access(
    config: RegistryConfig, runtime: Runtime, client: GitHubClient | None = None
) -> tuple[GitHubClient, str]:
    """The client and the ``owner/name`` the github registry and its history live in.

    The repository is ``registry.repository``, else the workflow's own; the client is
    ``client``, else one from the runtime's token.

    Raises:
        InputError: when no repository is known.
    """
    from mlci.github.api import GitHubClient

    repository = config.repository or runtime.repository
    if not repository:
        raise InputError(
            "registry: the github backend needs a repository; set registry.repository"
            " (owner/name) in mlci.yaml, or run it in GitHub Actions (GITHUB_REPOSITORY)"
        )
    return client or GitHubClient.from_runtime(runtime, log=runtime.info), repository


class ReleasesRegistry:
    """A registry kept in the GitHub Releases of a repository.

    Args:
        client: A GitHub REST client (token with ``contents: write`` to register).
        repository: ``owner/name``.
        tag_prefix: Prefix of version tags (``model-v`` gives ``model-v1``, ...).
    """

    name = "github"

    def __init__(self, client: GitHubClient, repository: str, *, tag_prefix: str = "model-v"):
        if not re.fullmatch(r"[\w.-]+/[\w.-]+", repository):
            raise InputError(
                f"registry.repository: {repository!r} is not owner/name; fix mlci.yaml"
            )
        self.client = client
        self.repository = repository
        self.tag_prefix = tag_prefix
        self.state_tag = f"{tag_stem(tag_prefix)}-registry"
        self._tag = re.compile(rf"^{re.escape(tag_prefix)}(\d+)$")

    @classmethod
    def from_config(
        cls,
        config: RegistryConfig,
        *,
        runtime: Runtime,
        client: GitHubClient | None = None,
    ) -> ReleasesRegistry:
        """The registry for ``registry.repository`` (default: ``GITHUB_REPOSITORY``).

        Raises:
            InputError: when no repository is known.
        """
        api, repository = github_access(config, runtime, client)
        return cls(api, repository, tag_prefix=config.tag_prefix)

    # -- reading -----------------------------------------------------------------------------

    def describe(self) -> str:
        """``owner/name`` (releases ``<prefix>N``)."""
        return f"{self.repository} releases {self.tag_prefix}N"

    def _base(self) -> str:
        return f"/repos/{self.repository}/releases"

    def _version_of(self, release: Mapping[str, Any]) -> ModelVersion | None:
        match = self._tag.match(str(release.get("tag_name", "")))
        if not match or release.get("draft"):
            return None
        meta = _extract(release.get("body"))
        if meta is None or meta.get("complete") is False:
            return None
        number = int(match.group(1))
        if not meta.get("truncated"):
            check_metadata(number, meta, f"release {self.tag_prefix}{number}")
        assets = release.get("assets")
        names = [a.get("name") for a in assets] if isinstance(assets, list) else []
        files = tuple(sorted(str(n) for n in names if isinstance(n, str)))
        return ModelVersion(number, meta, files, str(release.get("html_url", "")))

    def versions(self) -> list[ModelVersion]:
        """Every complete version, oldest first (one paginated listing)."""
        found = [self._version_of(r) for r in self.client.paginate(self._base())]
        return sorted((v for v in found if v is not None), key=lambda v: v.version)

    def _release(self, tag: str) -> dict[str, Any] | None:
        release = self.client.get(f"{self._base()}/tags/{tag}", missing_ok=True)
        return None if release is None else dict(release)

    def get(self, version: int) -> ModelVersion:
        """One version (one call), with its full metadata."""
        release = self._release(f"{self.tag_prefix}{version}")
        found = self._version_of(release) if release else None
        if found is None:
            raise InputError(
                f"registry {self.describe()}: no version {version} (no complete release"
                f" {self.tag_prefix}{version}); see `mlci registry list`"
            )
        if found.metadata.get("truncated"):  # the full metadata did not fit in the body
            assert release is not None
            where = f"release {self.tag_prefix}{version}"
            meta = jsonio.loads(self._asset_bytes(release, METADATA_FILE), source=where)
            meta = check_metadata(found.version, meta, where)
            found = ModelVersion(found.version, meta, found.files, found.location)
        return found

    def _asset_bytes(self, release: Mapping[str, Any], name: str) -> bytes:
        asset = next((a for a in release.get("assets", []) if a.get("name") == name), None)
        if asset is None:
            raise InputError(
                f"release {release.get('tag_name')}: asset {name} is missing; the version is"
                " damaged, register the model again"
            )
        return download_asset(
            self.client, asset, max_bytes=MAX_ASSET_BYTES, deadline=DOWNLOAD_DEADLINE
        )

    def download(self, version: int, dest: Path) -> Path:
        """Download every asset of ``version`` into ``dest`` and verify the recorded sha256.

        Raises:
            InputError: when the version is unknown or damaged, or a recorded file is
                missing or differs from its recorded sha256.
        """
        release = self._release(f"{self.tag_prefix}{version}")
        if release is None or self._version_of(release) is None:
            raise InputError(f"registry {self.describe()}: no version {version}")
        found = self.get(version)  # the full metadata, when the body holds a cut
        dest.mkdir(parents=True, exist_ok=True)
        for name in found.files:
            if Path(name).name != name:
                raise InputError(f"release {self.tag_prefix}{version}: bad asset name {name!r}")
            (dest / name).write_bytes(self._asset_bytes(release, name))
        verify_files(found, dest, f"release {self.tag_prefix}{version}")
        return dest

    def download_file(self, version: int, name: str, dest: Path) -> Path:
        """Download one asset of ``version`` into ``dest`` and verify its recorded sha256.

        Raises:
            InputError: when the version is unknown or damaged, or the asset is not
                recorded, missing or differs from its recorded sha256.
        """
        where = f"release {self.tag_prefix}{version}"
        if Path(name).name != name:
            raise InputError(f"{where}: bad asset name {name!r}")
        release = self._release(f"{self.tag_prefix}{version}")
        if release is None or self._version_of(release) is None:
            raise InputError(f"registry {self.describe()}: no version {version}")
        found = self.get(version)  # the full metadata, when the body holds a cut
        recorded_hash(found, name, where)  # before anything is downloaded
        dest.mkdir(parents=True, exist_ok=True)
        (dest / name).write_bytes(self._asset_bytes(release, name))
        verify_file(found, dest / name, name, where)
        return dest / name

    # -- writing ------------------------------------------------------------------------------

    def _body(self, number: int, meta: Mapping[str, Any]) -> str:
        metrics = meta.get("metrics") or {}
        blessing = meta.get("blessing") or {}
        lines = [
            f"Model version {number} registered by mlci.",
            "",
            f"- commit: {meta.get('git_sha') or 'unknown'}",
            f"- blessed: {'yes' if blessing.get('blessed') else 'no'}",
            *(f"- {k}: {_fmt(v)}" for k, v in sorted(metrics.items())[:30]),
            "",
        ]
        embedded = _embed(meta)
        if len(embedded) > BODY_LIMIT - 5000:
            keep = (
                "version",
                "created",
                "git_sha",
                "metrics",
                "blessing",
                "model_file",
                "onnx_file",
                "hashes",
                "format",
                "task",
                "complete",
            )
            embedded = _embed({**{k: meta.get(k) for k in keep}, "truncated": True})
        return "\n".join(lines) + "\n" + embedded + "\n"

    def _create_release(self, meta: Mapping[str, Any]) -> tuple[int, Any]:
        taken = [
            int(m.group(1))
            for r in self.client.paginate(self._base())
            if (m := self._tag.match(str(r.get("tag_name", ""))))
        ]
        number = max(taken, default=0) + 1
        for _ in range(MAX_TAG_ATTEMPTS):
            body = {
                "tag_name": f"{self.tag_prefix}{number}",
                "name": f"Model v{number}",
                "body": self._body(number, {**meta, "version": number, "complete": False}),
                "draft": True,  # assets first, then publish (immutable releases)
                "prerelease": False,
                "make_latest": "false",
            }
            if meta.get("git_sha"):
                body["target_commitish"] = str(meta["git_sha"])
            try:
                return number, self.client.post(self._base(), json=body)
            except GitHubAPIError as exc:
                if exc.status == 422 and "already_exists" in exc.message:
                    number += 1  # another writer took this number
                    continue
                raise
        raise DeployError(  # pragma: no cover - 50 concurrent writers
            f"registry {self.describe()}: could not find a free version tag; retry"
        )

    def register(self, files: Mapping[str, Path], metadata: Mapping[str, Any]) -> ModelVersion:
        """Create release ``<prefix>N`` as a draft, upload every asset, then publish it.

        Raises:
            InputError: a file name is not plain, or a file is 2 GiB or more (nothing
                was written).
            DeployError: when an asset upload fails (the draft is never listed;
                production is untouched).
        """
        for name, path in files.items():
            if Path(name).name != name or name == METADATA_FILE:
                raise InputError(f"{name}: not a plain file name for a registry version")
            size = path.stat().st_size
            if size >= MAX_ASSET_BYTES:
                raise InputError(
                    f"{path}: {size / 1024**3:.1f} GiB; GitHub release assets must be under"
                    " 2 GiB; make the model smaller (e.g. quantize it) or use another"
                    " registry.backend"
                )
        metadata = with_hashes(files, metadata)
        number, release = self._create_release(metadata)
        meta = {**metadata, "version": number}
        uploads = [(n, p.read_bytes()) for n, p in files.items()]
        uploads.append((METADATA_FILE, (jsonio.dumps(meta) + "\n").encode()))
        for name, data in uploads:
            try:
                upload_asset(self.client, release, name, data)
            except GitHubAPIError as exc:
                raise DeployError(
                    f"registry {self.describe()}: uploading {name} to release"
                    f" {self.tag_prefix}{number} failed ({exc.message}); the version is left"
                    " incomplete (never listed) and production is unchanged; re-run the deploy"
                ) from None
        # One update publishes the draft with every asset in place.
        self.client.patch(
            f"{self._base()}/{release['id']}",
            json={"body": self._body(number, meta), "draft": False, "make_latest": "false"},
        )
        return self.get(number)

    def _state_release(self) -> dict[str, Any] | None:
        return self._release(self.state_tag)

    def state(self) -> RegistryState:
        """Aliases and history from the state release (one call)."""
        release = self._state_release()
        if release is None:
            return RegistryState()
        data = _extract(release.get("body"))
        if data is None:
            raise InputError(
                f"release {self.state_tag}: its body holds no mlci state; do not edit this"
                " release by hand (restore the body from its edit history)"
            )
        return RegistryState.from_dict(data, f"release {self.state_tag}")

    def _state_body(self, state: RegistryState) -> str:
        prod = state.production
        head = (
            "Model registry state kept by mlci: aliases and deploy history. Do not edit.\n\n"
            f"- production: {f'{self.tag_prefix}{prod}' if prod else 'none'}\n"
        )
        while True:
            body = head + _embed(state.to_dict()) + "\n"
            if len(body) <= BODY_LIMIT or not state.history:
                return body
            del state.history[: max(1, len(state.history) // 10)]

    def record(self, event: Mapping[str, Any]) -> RegistryState:
        """Apply ``event`` and write the state release (created on first use)."""
        version = event.get("version")
        if isinstance(version, int):
            self.get(version)  # refuses unknown or incomplete versions
        release = self._state_release()
        state = RegistryState()
        if release is not None:
            state = RegistryState.from_dict(_extract(release.get("body")) or {}, self.state_tag)
        state.apply(event)
        body = self._state_body(state)
        if release is None:
            self.client.post(
                self._base(),
                json={
                    "tag_name": self.state_tag,
                    "name": "mlci model registry",
                    "body": body,
                    "prerelease": True,
                    "make_latest": "false",
                },
            )
        else:
            self.client.patch(f"{self._base()}/{release['id']}", json={"body": body})
        return state
