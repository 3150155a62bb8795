"""Release assets: upload one to a release, download one's bytes.

An asset is uploaded to the release's ``upload_url`` (on ``uploads.github.com`` for
github.com), a hypermedia URI template whose ``{?name,label}`` part is dropped and
given as parameters (docs: REST "Upload a release asset"); its bytes are downloaded
from the asset's API ``url`` with ``Accept: application/octet-stream`` (docs: REST
"Get a release asset").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mlci import jsonio
from mlci.errors import GitHubAPIError
from mlci.http import DEFAULT_DEADLINE

if TYPE_CHECKING:
    from mlci.github.api import GitHubClient

__all__ = ["download_asset", "upload_asset"]


def upload_asset(
    client: GitHubClient, release: Mapping[str, Any], name: str, data: bytes
) -> dict[str, Any]:
    """Upload ``data`` as the asset ``name`` of ``release``; GitHub's asset object."""
    url = str(release["upload_url"]).split("{", 1)[0]
    answer = client.request(
        "POST",
        url,
        params={"name": name},
        data=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    asset = jsonio.loads(
        answer.content,
        source=f"POST {url} (status {answer.status_code})",
        fix="check GITHUB_API_URL points at the GitHub API",
    )
    if not isinstance(asset, dict):
        raise GitHubAPIError(f"POST {url}: the answer is not a release asset object")
    return asset


def download_asset(
    client: GitHubClient,
    asset: Mapping[str, Any],
    *,
    max_bytes: int,
    deadline: float = DEFAULT_DEADLINE,
) -> bytes:
    """The bytes of ``asset`` (at most ``max_bytes``, read within ``deadline`` seconds)."""
    answer = client.request(
        "GET",
        str(asset["url"]),
        headers={"Accept": "application/octet-stream"},
        max_bytes=max_bytes,
        deadline=deadline,
    )
    return bytes(answer.content)
