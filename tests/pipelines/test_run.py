"""`mlci run` and `mlci demo`: the pipelines run locally with the workflow's own commands."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mlci.cli import main
from tests.helpers import build_file_tree


@pytest.fixture(scope="module")
def demo(half_finished_demo: tuple[int, str, str, Path]) -> tuple[int, str, Path]:
    """Play `mlci demo` once; the tests read what it printed and left behind.

    It plays with ``--force`` in the directory of a demo that stopped half way (the
    first model's smoke test failed), which also holds a file of the user's.
    """
    directory = half_finished_demo[3]
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["demo", "--dir", str(directory), "--force"])
    return code, out.getvalue(), directory


@pytest.fixture(scope="module")
def half_finished_demo(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[int, str, str, Path]:
    """A demo whose first deploy fails its smoke test; (exit, stdout, stderr, directory)."""
    import contextlib
    import io

    from mlci.pipelines import deploy

    directory = tmp_path_factory.mktemp("half") / "project"
    real = deploy._smoke_test

    def failing(*args: object, **kwargs: object) -> dict[str, object]:
        result = real(*args, **kwargs)  # type: ignore[arg-type]
        return {**result, "passed": False, "problems": ["/health answered 503"]}

    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(deploy, "_smoke_test", failing)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["demo", "--dir", str(directory)])
    (directory / "notes.txt").write_text("mine", encoding="utf-8")
    return code, out.getvalue(), err.getvalue(), directory


@pytest.mark.slow
def test_demo_says_which_step_failed_and_how_to_play_again(
    half_finished_demo: tuple[int, str, str, Path], capsys
) -> None:
    code, out, err, directory = half_finished_demo
    assert code == 1, out + err
    said = out + err
    assert "blessed: all 2 gate(s) passed" in said
    assert "registered v1 in local registry" in said
    assert (
        "the first model: it was blessed and registered as v1, but its smoke test failed:"
        " smoke test failed: /health answered 503; the demo stops here;"
        f" `mlci demo --dir {directory} --force` plays it again from the start"
    ) in said
    assert "was not blessed" not in said
    # Without --force the half-finished directory is refused, with the command to run.
    assert main(["demo", "--dir", str(directory)]) == 2
    assert (
        f"pass --force to play it again there (`mlci demo --dir {directory} --force`"
        in capsys.readouterr().err
    )


@pytest.mark.slow
def test_demo_plays_again_with_force_and_keeps_other_files(
    demo: tuple[int, str, Path],
) -> None:
    code, out, directory = demo
    assert code == 0, out
    assert (directory / "notes.txt").read_text(encoding="utf-8") == "mine"
    # The story ran from v1 again: the half-finished demo's registry was replaced.
    versions = directory / ".mlci" / "registry" / "versions"
    assert sorted(p.name for p in versions.iterdir()) == ["v1", "v2"]


@pytest.mark.slow
def test_demo_plays_the_story(demo: tuple[int, str, Path]) -> None:
    code, out, directory = demo
    assert code == 0, out
    assert "mlci deploy: v1 is now production" in out
    summary = out[out.rindex("summary\n") :]
    assert "pull request #1: weaker regularization (C 0.002 -> 1.0): blessed\n" in summary
    assert (
        "pull request #2: a new data source and an over-regularized model (C 0.0003): blocked\n"
        in summary
    )
    assert "unexpected" not in summary
    assert "mlci deploy: v2 is now production" in out
    # Each pull request step shows its progress and duration.
    assert re.search(r"\[2/5\] validate data: ok in \d+\.\d s", out)
    assert re.search(r"\[4/5\] validate model: failed a gate in \d+\.\d s", out)


@pytest.mark.slow
def test_demo_leaves_results_and_reports(demo: tuple[int, str, Path]) -> None:
    _, out, directory = demo
    for number, verdict in ((1, True), (2, False)):
        results = directory / f"mlci-results-pr{number}"
        model = json.loads((results / "model.json").read_text())
        assert model["blessing"]["blessed"] is verdict
        data = json.loads((results / "data.json").read_text())
        assert data["passed"] is verdict
        assert (results / "report.md").read_text().startswith("## ")
        html = (results / "report.html").read_text()
        assert html.lstrip().lower().startswith("<!doctype html>")
        assert f"full report: {results / 'report.html'}" in out
    data2 = json.loads((directory / "mlci-results-pr2" / "data.json").read_text())
    codes = {(f["check"], f.get("column")) for f in data2["findings"]}
    assert ("null_fraction", "mean_smoothness") in codes
    assert ("drift", "mean_texture") in codes


def test_demo_refuses_a_non_empty_directory(tmp_path: Path, capsys) -> None:
    build_file_tree(tmp_path, {"notes.txt": "mine"})
    assert main(["demo", "--dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        f"mlci: error: {tmp_path}: the directory exists and is not empty; the demo never"
        " writes into existing files: pass --force to play it again there (`mlci demo --dir"
        f" {tmp_path} --force` replaces only the demo's own files), or --dir NEW_DIR\n"
    )
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_run_stops_when_the_train_command_fails(tmp_path: Path, capsys) -> None:
    build_file_tree(
        tmp_path,
        {
            "mlci.yaml": "version: 1\ntask: classification\nmodel:\n"
            "  train_command: python -c 'raise SystemExit(4)'\n",
        },
    )
    code = main(["run", "pr", "--config", str(tmp_path / "mlci.yaml")])
    captured = capsys.readouterr()
    assert code == 2
    assert "[2/5] validate data: skipped (no data.current or data.reference in mlci.yaml)" in (
        captured.out
    )
    assert "[3/5] train: python -c 'raise SystemExit(4)'" in captured.out
    assert captured.err.startswith(
        "mlci: error: model.train_command \"python -c 'raise SystemExit(4)'\" failed with exit"
        " code 4 after "
    )
    assert "[4/5]" not in captured.out


def test_run_needs_a_config(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["run", "pr"]) == 2
    assert "mlci.yaml: config file not found; run `mlci init`" in capsys.readouterr().err


def test_run_rejects_an_unknown_pipeline(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["run", "nightly"])
    assert info.value.code == 2
    assert "invalid choice: 'nightly'" in capsys.readouterr().err
