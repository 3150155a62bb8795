"""Release assets on the fake GitHub: upload to the templated upload_url, download the bytes."""

from __future__ import annotations

import pytest

from mlci.errors import GitHubAPIError
from mlci.github.api import GitHubClient
from mlci.github.releases import download_asset, upload_asset


def test_an_uploaded_asset_downloads_byte_for_byte(fake_github) -> None:  # type: ignore[no-untyped-def]
    with GitHubClient(fake_github.token, api_url=fake_github.url) as client:
        release = client.post(
            f"/repos/{fake_github.repo}/releases",
            json={"tag_name": "model-v1", "draft": True},
        )
        assert "{" in release["upload_url"]  # a URI template, as on github.com
        data = bytes(range(256)) * 10
        asset = upload_asset(client, release, "model.onnx", data)
        assert asset["name"] == "model.onnx"
        assert download_asset(client, asset, max_bytes=len(data)) == data
        with pytest.raises(GitHubAPIError):
            download_asset(client, asset, max_bytes=len(data) - 1)
