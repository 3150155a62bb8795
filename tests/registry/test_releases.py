from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from mlci.errors import DeployError, GitHubAPIError, InputError
from mlci.github.api import GitHubClient, RetryPolicy
from mlci.registry import make_event, resolve_version, rollback_target
from mlci.registry.releases import ReleasesRegistry

REPO = "octo/ml-project"


def _client(fake, token: str | None = None) -> GitHubClient:
    return GitHubClient(
        token or fake.token,
        api_url=fake.url,
        retry=RetryPolicy(retries=2, backoff=0.01, max_backoff=0.05, max_wait=2, jitter=0),
    )


def _files(tmp_path: Path, content: bytes = b"\x00skops-bytes") -> dict[str, Path]:
    model = tmp_path / "m.skops"
    model.write_bytes(content)
    onnx = tmp_path / "m.onnx"
    onnx.write_bytes(b"onnx" * 1000)
    return {"model.skops": model, "model.onnx": onnx}


def _meta(**extra: object) -> dict[str, object]:
    import hashlib

    return {
        "model_file": "model.skops",
        "onnx_file": "model.onnx",
        "git_sha": "a" * 40,
        "metrics": {"accuracy": 0.93},
        "blessing": {"blessed": True, "reason": "ok"},
        "hashes": {
            "model.skops": hashlib.sha256(b"\x00skops-bytes").hexdigest(),
            "model.onnx": hashlib.sha256(b"onnx" * 1000).hexdigest(),
        },
        **extra,
    }


def test_register_list_get_download(fake_github, tmp_path: Path) -> None:
    reg = ReleasesRegistry(_client(fake_github), REPO)
    v1 = reg.register(_files(tmp_path), _meta())
    v2 = reg.register(_files(tmp_path), _meta(git_sha="b" * 40))
    assert (v1.version, v2.version) == (1, 2)
    assert v1.files == ("metadata.json", "model.onnx", "model.skops")
    releases = {r["tag_name"]: r for r in fake_github.releases()}
    assert set(releases) == {"model-v1", "model-v2"}
    assert releases["model-v1"]["prerelease"] is False
    assert [v.version for v in reg.versions()] == [1, 2]
    assert reg.get(2).git_sha == "b" * 40 and "complete" not in reg.get(2).metadata
    out = reg.download(1, tmp_path / "pulled")
    assert (out / "model.skops").read_bytes() == b"\x00skops-bytes"
    assert json.loads((out / "metadata.json").read_text())["version"] == 1
    # the model release body is readable on GitHub and does not claim "latest"
    assert "- accuracy: 0.93" in releases["model-v1"]["body"]
    create = fake_github.requests_to("POST", r"/releases$")[0]
    assert create.json["make_latest"] == "false"


def test_production_alias_costs_two_calls(fake_github, tmp_path: Path) -> None:
    reg = ReleasesRegistry(_client(fake_github), REPO)
    for _ in range(3):
        reg.register(_files(tmp_path), _meta())
    reg.record(make_event("promote", 1))
    reg.record(make_event("promote", 3, previous=1))
    client = _client(fake_github)
    fresh = ReleasesRegistry(client, REPO)
    before = client.requests_made
    prod = resolve_version(fresh, "production")
    assert prod.version == 3
    assert client.requests_made - before == 2
    state = fresh.state()
    assert state.aliases == {"production": 3, "previous": 1}
    state_release = next(r for r in fake_github.releases() if r["tag_name"] == "model-registry")
    assert state_release["prerelease"] is True
    assert "- production: model-v3" in state_release["body"]
    versions = {v.version: v for v in fresh.versions()}
    assert rollback_target(state, versions) == 1


def test_versions_follow_pagination(fake_github, tmp_path: Path) -> None:
    body_reg = ReleasesRegistry(_client(fake_github), REPO)
    template = body_reg._body(0, {**_meta(), "complete": True})
    for n in range(1, 131):  # more than one page of 100
        fake_github.add_release(
            f"model-v{n}", body=template.replace('"version": 0', f'"version": {n}')
        )
    fake_github.add_release("v1.0.0", body="the software release")
    reg = ReleasesRegistry(_client(fake_github), REPO)
    assert [v.version for v in reg.versions()] == list(range(1, 131))
    assert len(fake_github.requests_to("GET", r"/releases$")) == 2
    # a new version takes the next free number after all pages
    assert reg.register(_files(tmp_path), _meta()).version == 131


def test_taken_tag_moves_to_the_next_number(fake_github, tmp_path: Path) -> None:
    reg = ReleasesRegistry(_client(fake_github), REPO)
    reg.register(_files(tmp_path), _meta())
    # another writer creates model-v2 between our listing and our create
    original = reg.client.paginate

    def racing(path: str, **kw: object):
        items = list(original(path, **kw))
        if not any(r["tag_name"] == "model-v2" for r in fake_github.releases()):
            fake_github.add_release("model-v2", body="racing writer")
        return iter(items)

    reg.client.paginate = racing  # type: ignore[method-assign]
    assert reg.register(_files(tmp_path), _meta()).version == 3


def test_concurrent_writers_get_distinct_numbers(fake_github, tmp_path: Path) -> None:
    got: list[int] = []
    barrier = threading.Barrier(4)
    files = _files(tmp_path)  # written once: a writer rewriting them would race the hashing

    def writer() -> None:
        reg = ReleasesRegistry(_client(fake_github), REPO)
        barrier.wait()
        got.append(reg.register(files, _meta()).version)

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(got) == [1, 2, 3, 4]


def test_asset_upload_error_leaves_an_incomplete_version_never_listed(
    fake_github, tmp_path: Path
) -> None:
    reg = ReleasesRegistry(_client(fake_github), REPO)
    reg.register(_files(tmp_path), _meta())
    reg.record(make_event("promote", 1))
    fake_github.fail(422, times=1, method="POST", path="/uploads/", message="Validation Failed")
    with pytest.raises(DeployError, match="uploading model.skops to release model-v2 failed"):
        reg.register(_files(tmp_path), _meta())
    assert [v.version for v in reg.versions()] == [1]
    assert reg.state().production == 1
    with pytest.raises(InputError, match="no version 2"):
        reg.record(make_event("promote", 2))
    # the number is not reused
    assert reg.register(_files(tmp_path), _meta()).version == 3


def test_upload_5xx_is_retried(fake_github, tmp_path: Path) -> None:
    reg = ReleasesRegistry(_client(fake_github), REPO)
    fake_github.fail(502, times=2, method="POST", path="/uploads/")
    assert reg.register(_files(tmp_path), _meta()).version == 1
    assert reg.download(1, tmp_path / "d") == tmp_path / "d"


def test_tampered_asset_is_detected(fake_github, tmp_path: Path) -> None:
    reg = ReleasesRegistry(_client(fake_github), REPO)
    reg.register(_files(tmp_path), _meta())
    key = f"{REPO}/releases/download/model-v1/model.skops"
    fake_github.blobs[key] = (b"other model bytes", fake_github.blobs[key][1])
    with pytest.raises(InputError) as info:
        reg.download(1, tmp_path / "d")
    assert str(info.value).startswith("release model-v1: version 1: model.skops has sha256 ")
    assert str(info.value).endswith(
        "the file was changed or replaced, restore it or register the model again"
    )


def test_missing_asset_is_detected(fake_github, tmp_path: Path) -> None:
    reg = ReleasesRegistry(_client(fake_github), REPO)
    reg.register(_files(tmp_path), _meta())
    repo = fake_github._repo(REPO)
    for aid in [a["id"] for a in repo.assets.values() if a["name"] == "model.onnx"]:
        del repo.assets[aid]
    with pytest.raises(InputError) as info:
        reg.download(1, tmp_path / "d")
    assert str(info.value) == (
        "release model-v1: version 1: model.onnx is missing; the version is damaged,"
        " register the model again"
    )


def test_a_file_changed_since_validation_is_not_registered(fake_github, tmp_path: Path) -> None:
    reg = ReleasesRegistry(_client(fake_github), REPO)
    with pytest.raises(InputError, match="the file changed since it was validated"):
        reg.register(_files(tmp_path), _meta(hashes={"model.skops": "0" * 64}))
    assert reg.versions() == []


def test_metadata_of_the_wrong_type_is_refused(fake_github, tmp_path: Path) -> None:
    reg = ReleasesRegistry(_client(fake_github), REPO)
    with pytest.raises(InputError) as info:
        reg.register(_files(tmp_path), _meta(metrics=["accuracy"], blessing="yes"))
    assert str(info.value) == (
        "registry: new version: metadata metrics: expected an object of metric names to numbers,"
        " got a list; blessing: expected an object with blessed: true or false, got 'yes';"
        " fix what is registered"
    )
    assert fake_github.releases() == []


def test_read_only_token_cannot_register(fake_github, tmp_path: Path) -> None:
    reg = ReleasesRegistry(_client(fake_github, fake_github.read_only_token), REPO)
    with pytest.raises(Exception, match="403"):
        reg.register(_files(tmp_path), _meta())


def test_missing_repository_is_a_clear_error() -> None:
    from mlci.config import RegistryConfig
    from mlci.github.runtime import Runtime

    with pytest.raises(InputError, match="the github backend needs a repository"):
        ReleasesRegistry.from_config(RegistryConfig(backend="github"), runtime=Runtime(env={}))


def test_large_metadata_is_read_from_the_asset(fake_github, tmp_path: Path) -> None:
    reg = ReleasesRegistry(_client(fake_github), REPO)
    features = [f"feature_{i:06d}" for i in range(12_000)]  # ~200 kB of JSON
    v1 = reg.register(_files(tmp_path), _meta(features=features))
    release = next(r for r in fake_github.releases() if r["tag_name"] == "model-v1")
    assert len(release["body"]) < 125_000 and '"truncated": true' in release["body"]
    assert v1.metadata["features"] == features  # get() read metadata.json from the asset
    assert reg.versions()[0].metrics == {"accuracy": 0.93}  # the listing keeps the essentials


def test_long_history_is_trimmed_to_fit_the_release_body(fake_github, tmp_path: Path) -> None:
    from mlci.registry.base import RegistryState

    reg = ReleasesRegistry(_client(fake_github), REPO)
    state = RegistryState(
        {"production": 1}, [make_event("promote", 1, note="x" * 200) for _ in range(500)]
    )
    body = reg._state_body(state)
    assert len(body) <= 120_000 and 0 < len(state.history) < 500
    assert state.history[-1]["event"] == "promote"


def test_register_works_with_immutable_releases(fake_github, tmp_path: Path) -> None:
    fake_github.settings(immutable_releases=True)
    reg = ReleasesRegistry(_client(fake_github), REPO)
    v1 = reg.register(_files(tmp_path), _meta())
    assert v1.files == ("metadata.json", "model.onnx", "model.skops")
    # Created as a draft, every asset uploaded, then published in one update.
    (create,) = fake_github.requests_to("POST", r"/releases$")
    assert create.json["draft"] is True
    uploads = [r for r in fake_github.requests if r.path.endswith("/assets")]
    (publish,) = fake_github.requests_to("PATCH", r"/releases/\d+$")
    assert publish.json["draft"] is False
    assert fake_github.requests.index(publish) > max(fake_github.requests.index(u) for u in uploads)
    (release,) = fake_github.releases()
    assert release["draft"] is False and len(release["assets"]) == 3
    assert reg.get(1).git_sha == "a" * 40


def test_an_asset_of_2_gib_is_refused_before_anything_is_written(
    fake_github, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlci.registry.releases

    monkeypatch.setattr(mlci.registry.releases, "MAX_ASSET_BYTES", 100)
    reg = ReleasesRegistry(_client(fake_github), REPO)
    with pytest.raises(InputError, match="under 2 GiB"):
        reg.register(_files(tmp_path), _meta())
    assert [r for r in fake_github.requests if r.method != "GET"] == []


def test_a_private_repository_needs_the_token_for_every_read(fake_github, tmp_path: Path) -> None:
    ReleasesRegistry(_client(fake_github), REPO).register(_files(tmp_path), _meta())
    fake_github.settings(private=True)
    anonymous = GitHubClient(None, api_url=fake_github.url, retry=RetryPolicy(retries=0))
    with pytest.raises(GitHubAPIError, match="404"):
        ReleasesRegistry(anonymous, REPO).versions()
    assert [v.version for v in ReleasesRegistry(_client(fake_github), REPO).versions()] == [1]


def test_the_action_sends_the_token_for_every_command() -> None:
    """validate-data and validate-model read the registry too: mlci's one action passes
    the job token (or the input github-token) to every command."""
    import yaml

    root = Path(__file__).resolve().parents[2]
    action = yaml.safe_load((root / "action.yml").read_text(encoding="utf-8"))
    assert action["inputs"]["github-token"]["default"] == "${{ github.token }}"
    run = next(s for s in action["runs"]["steps"] if s.get("id") == "run")
    assert run["env"]["GITHUB_TOKEN"] == "${{ inputs.github-token }}"


def test_the_action_sends_the_job_token_to_every_command() -> None:
    """Registry reads (validate-data, validate-model, ...) are authenticated by default."""
    import yaml

    root = Path(__file__).resolve().parents[2]
    action = yaml.safe_load((root / "action.yml").read_text(encoding="utf-8"))
    assert action["inputs"]["github-token"]["default"] == "${{ github.token }}"
    run = next(s for s in action["runs"]["steps"] if s.get("id") == "run")
    assert run["env"]["GITHUB_TOKEN"] == "${{ inputs.github-token }}"
