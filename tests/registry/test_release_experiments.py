"""The github registry's experiment history: one draft release asset on the fake GitHub."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from mlci.cli import main
from mlci.github.api import GitHubClient, RetryPolicy
from mlci.registry import experiments
from mlci.registry.release_experiments import ASSET, ReleaseExperimentLog
from tests.model.models import Models, models
from tests.pipelines.test_validate_model import _project, _run
from tests.report.documents import write_case
from tests.support import webhooks

__all__ = ["models"]


def _client(fake) -> GitHubClient:  # type: ignore[no-untyped-def]
    return GitHubClient(
        fake.token,
        api_url=fake.url,
        retry=RetryPolicy(retries=2, backoff=0.01, max_backoff=0.05, max_wait=2, jitter=0),
    )


def _log(fake) -> ReleaseExperimentLog:  # type: ignore[no-untyped-def]
    return ReleaseExperimentLog(_client(fake), fake.repo)


def test_three_pr_runs_in_the_github_history(
    models: Models,
    tmp_path: Path,
    fake_github,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    extra = (
        f"  params: [params.json]\nregistry:\n  backend: github\n  repository: {fake_github.repo}\n"
    )
    root = _project(tmp_path, models.binary, extra=extra)
    monkeypatch.setenv("GITHUB_TOKEN", fake_github.token)
    good, worse = str(root / "good.skops"), str(root / "worse.skops")
    for pr, model, baseline, expected in [
        ("7", worse, good, 1),
        ("8", good, worse, 0),
        ("9", good, good, 0),
    ]:
        (root / "params.json").write_text(json.dumps({"C": 1.0, "pr": int(pr)}), encoding="utf-8")
        monkeypatch.setenv("GITHUB_REF", f"refs/pull/{pr}/merge")
        code, doc = _run(root, "--model", model, "--baseline", baseline)
        assert code == expected
    # the third run's report shows the two before it, read from the release asset
    assert [(e["pr"], e["verdict"]) for e in doc["experiments"]] == [(8, "blessed"), (7, "blocked")]
    capsys.readouterr()

    # one draft release, one asset, whatever the number of runs
    (release,) = [r for r in fake_github.releases() if r["tag_name"] == "model-experiments"]
    assert release["draft"] is True
    assert [a["name"] for a in release["assets"]] == [ASSET]

    config = ["--config", str(root / "mlci.yaml")]
    assert main(["experiments", *config]) == 0
    table = capsys.readouterr().out.splitlines()
    assert [line.split()[4] for line in table[1:4]] == ["#8", "#9", "#7"]
    assert "3 experiment(s), best first by accuracy" in table[-1]
    assert main(["experiments", *config, "--registry", "github", "--json", "--pr", "7"]) == 0
    (blocked,) = json.loads(capsys.readouterr().out)
    assert blocked["verdict"] == "blocked" and blocked["params"] == {"C": 1.0, "pr": 7}
    assert main(["experiments", "show", blocked["id"][:6], *config]) == 0
    assert f"experiment {blocked['id']}: blocked" in capsys.readouterr().out


def test_a_fork_entry_is_written_by_the_comment_job(
    tmp_path: Path,
    gh_env,  # type: ignore[no-untyped-def]
    fake_github,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", fake_github.token)
    fork = fake_github.add_pull(head_sha="c" * 40, head_ref="feature", head_repo="alice/ml-project")
    event = webhooks.workflow_run_completed(
        fake_github, run_id=902, head_sha="c" * 40, head_repo="alice/ml-project"
    )
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event), encoding="utf-8")
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(path))
    results = write_case(tmp_path / "results", "blocked")
    argv = ["report", "--results", str(results), "--post", "-q"]
    assert main(argv) == 0  # the local registry: no entry, no release
    assert fake_github.releases() == []
    argv += ["--registry-tag-prefix", "model-v"]
    assert main(argv) == 0
    (entry,) = _log(fake_github).entries()
    assert entry["pr"] == fork["number"] and entry["branch"] == "feature"
    assert entry["verdict"] == "blocked" and entry["git_sha"] == "c" * 40  # the event's head
    # a re-run of the comment job adds nothing
    assert main(argv) == 0
    assert len(_log(fake_github).entries()) == 1


def test_history_is_bounded_and_folded(fake_github, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(experiments, "MAX_ENTRIES", 3)
    log = _log(fake_github)
    for i in range(5):
        assert log.append({"id": f"e{i}", "verdict": "blessed" if i % 2 else "blocked"})
    assert not log.append({"id": "e4"})
    assert [e["id"] for e in log.entries()] == ["e2", "e3", "e4"]
    assert log.summary() == {"kind": "summary", "folded": 2, "blessed": 1, "until": None}


def test_concurrent_writers_lose_no_entry(fake_github) -> None:  # type: ignore[no-untyped-def]
    _log(fake_github).append({"id": "first"})
    errors: list[BaseException] = []

    def write(name: str) -> None:
        log = _log(fake_github)
        try:
            for i in range(4):
                log.append({"id": f"{name}{i}"})
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in ("a", "b", "c")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    ids = [e["id"] for e in _log(fake_github).entries()]
    assert sorted(ids) == sorted(["first", *(f"{n}{i}" for n in "abc" for i in range(4))])
    (release,) = [r for r in fake_github.releases() if r["tag_name"] == "model-experiments"]
    assert [a["name"] for a in release["assets"]] == [ASSET]


def test_three_pr_runs_recorded_by_the_comment_job(
    models: Models,
    tmp_path: Path,
    gh_env,  # type: ignore[no-untyped-def]
    fake_github,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The generated workflows' way: blocked, blessed, unchanged.

    The pull request's job (``contents: read``) can neither see nor write the draft
    release; the comment job (``contents: write``) appends each entry from the artifact
    with its package list and shows the history in the comment. A pull request's job
    that does have a write token records its entry itself, and the comment job adds no
    second one.
    """
    extra = (
        "  params: [params.json]\n  train_command: python train.py\n"
        f"registry:\n  backend: github\n  repository: {fake_github.repo}\n"
    )
    root = _project(tmp_path, models.binary, extra=extra)
    good, worse = str(root / "good.skops"), str(root / "worse.skops")
    runs = [
        (7, worse, good, 1, fake_github.read_only_token),
        (8, good, worse, 0, fake_github.read_only_token),
        (9, good, good, 0, fake_github.token),  # a PR job given a write token
    ]
    for number, model, baseline, expected, token in runs:
        head = str(number) * 40
        fake_github.add_pull(number=number, head_sha=head, head_ref=f"change-{number}")
        # the pull request's job
        (root / "params.json").write_text(json.dumps({"C": 1.0, "pr": number}), "utf-8")
        pull_event = {"pull_request": {"number": number, "head": {"sha": head}}}
        (tmp_path / "event.json").write_text(json.dumps(pull_event), encoding="utf-8")
        monkeypatch.setenv("GITHUB_EVENT_PATH", str(tmp_path / "event.json"))
        monkeypatch.setenv("GITHUB_TOKEN", token)
        monkeypatch.setenv("GITHUB_REF", f"refs/pull/{number}/merge")
        code, doc = _run(root, "--model", model, "--baseline", baseline)
        assert code == expected
        recorded = len(_log(fake_github).entries())
        # only the job with a write token records its entry itself
        assert recorded == (number - 6 if number == 9 else number - 7)
        # the comment job, from the artifact
        event = webhooks.workflow_run_completed(
            fake_github, run_id=900 + number, head_sha=head, head_branch=f"change-{number}"
        )
        (tmp_path / "event.json").write_text(json.dumps(event), encoding="utf-8")
        monkeypatch.setenv("GITHUB_EVENT_PATH", str(tmp_path / "event.json"))
        monkeypatch.setenv("GITHUB_TOKEN", fake_github.token)
        monkeypatch.setenv("GITHUB_REF", "refs/heads/main")
        argv = ["report", "--results", str(root / "out"), "--post", "-q"]
        assert main([*argv, "--registry-tag-prefix", "model-v"]) == 0
        assert len(_log(fake_github).entries()) == number - 6
    capsys.readouterr()

    entries = _log(fake_github).entries()
    assert [(e["pr"], e["verdict"]) for e in entries] == [
        (7, "blocked"),
        (8, "blessed"),
        (9, "blessed"),
    ]
    # the comment job's entries carry the head commit and branch from the event, and so
    # does the entry the pull request's job recorded (not the merge commit it checked out)
    assert entries[0]["git_sha"] == "7" * 40 and entries[0]["branch"] == "change-7"
    assert entries[2]["git_sha"] == "9" * 40
    assert entries[0]["train_command"] == "python train.py"
    # the third comment shows the two before it, read from the history by the comment job
    # (the pull request's job saw none: the draft is invisible to a read-only token)
    (comment,) = fake_github.comments(9)
    section = comment["body"][comment["body"].index("Recent experiments (2 before this one)") :]
    assert "| PR 8" in section and "| PR 7" in section and "❌ blocked" in section
    (first,) = fake_github.comments(7)
    assert "Recent experiments" not in first["body"]

    config = ["--config", str(root / "mlci.yaml")]
    assert main(["experiments", *config]) == 0
    table = capsys.readouterr().out.splitlines()
    assert [line.split()[4] for line in table[1:4]] == ["#8", "#9", "#7"]
    # what reproduces the fork-style entry, package versions included (one list, kept once)
    blocked = entries[0]
    assert main(["experiments", "show", blocked["id"][:6], *config]) == 0
    shown = capsys.readouterr().out
    assert f"experiment {blocked['id']}: blocked" in shown and "  pr = 7" in shown
    assert "--packages)  # " in shown
    assert main(["experiments", "show", blocked["id"], "--packages", *config]) == 0
    packages = capsys.readouterr().out.splitlines()
    assert any(p.lower().startswith("scikit-learn==") for p in packages)
    (release,) = [r for r in fake_github.releases() if r["tag_name"] == "model-experiments"]
    (asset,) = fake_github.assets(release["id"])
    lines = asset["data"].decode().splitlines()
    assert [json.loads(line).get("kind") for line in lines].count("packages") == 1


def test_a_forged_package_list_is_not_kept(
    tmp_path: Path,
    gh_env,  # type: ignore[no-untyped-def]
    fake_github,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A fork's artifact cannot slip pip options into the package list others install."""
    import hashlib

    monkeypatch.setenv("GITHUB_TOKEN", fake_github.token)
    fake_github.add_pull(head_sha="c" * 40, head_ref="feature", head_repo="alice/ml-project")
    event = webhooks.workflow_run_completed(
        fake_github, run_id=903, head_sha="c" * 40, head_repo="alice/ml-project"
    )
    (tmp_path / "event.json").write_text(json.dumps(event), encoding="utf-8")
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(tmp_path / "event.json"))
    results = write_case(tmp_path / "results", "blocked")
    doc = json.loads((results / "model.json").read_text(encoding="utf-8"))
    forged = ["numpy==2.0", "--index-url https://evil.example/simple"]
    doc["experiment"] = {
        "train_command": "python train.py",
        "environment": {
            "python": "3.12.1",
            "packages_sha256": hashlib.sha256("\n".join(forged).encode()).hexdigest(),
        },
        "packages": forged,
    }
    (results / "model.json").write_text(json.dumps(doc), encoding="utf-8")
    argv = ["report", "--results", str(results), "--post", "-q"]
    assert main([*argv, "--registry-tag-prefix", "ml-v"]) == 0
    (entry,) = ReleaseExperimentLog(
        _client(fake_github), fake_github.repo, tag_prefix="ml-v"
    ).entries()
    assert entry["environment"] == {"python": "3.12.1"}  # no package hash, so no list
    assert entry["train_command"] == "python train.py"
    (release,) = fake_github.releases()  # the history of the tag prefix given
    assert release["tag_name"] == "ml-experiments"
    (asset,) = fake_github.assets(release["id"])
    assert b"evil" not in asset["data"]


def test_the_history_finds_its_repository_like_the_registry(fake_github) -> None:  # type: ignore[no-untyped-def]
    from mlci.config import RegistryConfig
    from mlci.errors import InputError
    from mlci.github.runtime import Runtime

    config = RegistryConfig(backend="github", tag_prefix="clf-v")
    with pytest.raises(InputError, match="the github backend needs a repository"):
        ReleaseExperimentLog.from_config(config, runtime=Runtime(env={}))
    runtime = Runtime(env={"GITHUB_REPOSITORY": fake_github.repo})
    log = ReleaseExperimentLog.from_config(config, runtime=runtime, client=_client(fake_github))
    assert (log.repository, log.tag) == (fake_github.repo, "clf-experiments")


def test_package_lists_are_bounded(fake_github, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """One list per hash, only for kept entries, newest environments first within the budget."""
    from mlci.registry import release_experiments

    monkeypatch.setattr(experiments, "MAX_ENTRIES", 3)
    log = _log(fake_github)

    def env(digest: str) -> dict[str, dict[str, str]]:
        return {"environment": {"packages_sha256": digest}}

    for i, digest in enumerate(["a", "a", "b", "c", "c"]):
        assert log.append({"id": f"e{i}", **env(digest)}, [f"pkg{digest}==1.0"])
    # e0 and e1 (hash a) were folded: their list went with them; b and c are kept once each
    assert log.packages("a") is None
    assert log.packages("b") == ["pkgb==1.0"] and log.packages("c") == ["pkgc==1.0"]
    (release,) = fake_github.releases()
    (asset,) = fake_github.assets(release["id"])
    kinds = [json.loads(line).get("kind") for line in asset["data"].decode().splitlines()]
    assert kinds == ["summary", None, None, None, "packages", "packages"]
    # beyond the byte budget the oldest environments' lists are dropped first
    monkeypatch.setattr(release_experiments, "MAX_PACKAGE_BYTES", 150)
    assert log.append({"id": "e5", **env("d")}, ["pkgd==1.0"])
    assert log.packages("d") == ["pkgd==1.0"] and log.packages("b") is None
