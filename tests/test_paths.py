"""Paths relative to named bases: one helper for outputs, documents and commits."""

from __future__ import annotations

from pathlib import Path

from mlci.paths import contained_path, relative_path


def test_the_first_base_that_holds_the_path_wins(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "project" / "data").mkdir(parents=True)
    data = repo / "project" / "data" / "x.csv"
    assert contained_path(data, repo / "project", repo) == "data/x.csv"
    assert contained_path(data, repo, repo / "project") == "project/data/x.csv"
    assert contained_path(data, None, "", repo) == "project/data/x.csv"  # unset bases skipped
    assert contained_path(repo, repo) == "."


def test_outside_every_base(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    outside = tmp_path / "b" / "m.onnx"
    assert contained_path(outside, tmp_path / "a") is None
    assert relative_path(outside, tmp_path / "a") == outside.resolve().as_posix()


def test_links_and_dots_are_resolved_first(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert contained_path(tmp_path / "link" / "f", tmp_path / "real") == "f"
    assert contained_path(tmp_path / "real" / ".." / "other", tmp_path / "real") is None
