"""mlci-pr.yml with data.shards: 3, run by act: three shard jobs, one merged verdict.

The example's current data is written as a folder of Parquet parts; `data.shards: 3` in
mlci.yaml makes `mlci init --yes` write the matrix; act runs the data-shard matrix (three jobs, each
checking its slice of the parts and uploading its partial results), then the validate
job downloads them, merges the profiles and decides. The merged data.json must equal
what one machine reading every part writes, and say that three shards ran.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from mlci.cli import main
from mlci.results import read_results
from tests.act.harness import bare_python, git_repo, run_act
from tests.e2e.test_workflows import NAME, OWNER, _git, _pr_event, prepared  # noqa: F401

pytestmark = pytest.mark.slow


def _comparable(doc: dict) -> dict:
    return {k: v for k, v in doc.items() if k not in ("provenance", "shards")}


def test_pr_workflow_checks_the_data_on_three_shards(
    prepared: Path,  # noqa: F811
    tmp_path: Path,
    wheelhouse: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(prepared, repo)
    current = pd.read_csv(repo / "data" / "current.csv")
    (repo / "data" / "current.csv").unlink()
    parts = repo / "data" / "current"
    parts.mkdir()
    bounds = [0, 30, 55, 90, 120, len(current)]  # five parts of uneven size
    for i, (lo, hi) in enumerate(zip(bounds, bounds[1:], strict=False)):
        current.iloc[lo:hi].to_parquet(parts / f"part-{i}.parquet", index=False)
    config = repo / "mlci.yaml"
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            "current: data/current.csv", "current: data/current\n  shards: 3"
        ),
        encoding="utf-8",
    )
    git_repo(repo)
    assert main(["init", "--yes", "-C", str(repo)]) == 0  # data.shards: 3 from mlci.yaml
    _git(repo, "remote", "add", "origin", f"https://github.com/{OWNER}/{NAME}.git")
    git_repo(repo)
    head = _git(repo, "rev-parse", "HEAD")

    artifacts = tmp_path / "artifacts"
    result = run_act(
        repo,
        ".github/workflows/mlci-pr.yml",
        event_name="pull_request",
        event=_pr_event(9, head),
        artifacts=artifacts,
        python=bare_python(tmp_path / "runner"),
        wheelhouse=wheelhouse,
        extra_args=["--concurrent-jobs", "1"],
        timeout=1200,
    )
    (tmp_path / "log.txt").write_text(result.log, encoding="utf-8")
    assert result.events, result.stderr
    for i in (1, 2, 3):
        shard = artifacts / f"mlci-data-shard-{i}" / f"shard-{i}-of-3"
        assert (shard / "state.json").is_file(), result.log
    assert result.outputs("data")["passed"] == "true", result.log
    assert "wrote mlci-shards/current-profile.json (3 profiles" in result.log, result.log
    assert "from 3 shards" in result.log
    merged = read_results(artifacts / "mlci-results" / "data.json")
    assert merged["shards"] == 3
    assert "checked by 3 shards" in result.summary

    monkeypatch.chdir(repo)
    main(["validate-data", "--results", str(tmp_path / "one")])
    whole = read_results(tmp_path / "one" / "data.json")
    assert whole["rows"] == len(current)
    assert _comparable(merged) == _comparable(whole)
