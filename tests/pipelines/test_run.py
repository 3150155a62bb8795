"""`mlci run` and `mlci demo`: the pipelines run locally with the workflow's own commands."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlci.cli import main
from tests.helpers import build_file_tree


@pytest.fixture(scope="module")
def half_finished_demo(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[int, str, str, Path]:
    """A demo whose first deploy fails its smoke test; (exit, stdout, stderr, directory)."""
    import contextlib
    import io

    from mlci.pipelines.deploy import promote

    directory = tmp_path_factory.mktemp("half") / "project"
    real = promote._smoke_test

    def failing(*args: object, **kwargs: object) -> dict[str, object]:
        result = real(*args, **kwargs)  # type: ignore[arg-type]
        return {**result, "passed": False, "problems": ["/health answered 503"]}

    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(promote, "_smoke_test", failing)
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
def test_force_replaces_only_the_demos_files(
    half_finished_demo: tuple[int, str, str, Path],
) -> None:
    """What --force clears before the demo plays again (the newcomer test plays it whole)."""
    from mlci.pipelines.demo import _copy_example

    _, _, _, directory = half_finished_demo
    assert (directory / ".mlci" / "registry").is_dir() and (directory / "mlci-results").is_dir()
    (directory / "train.py").write_text("edited", encoding="utf-8")
    _copy_example(directory, force=True)
    assert (directory / "notes.txt").read_text(encoding="utf-8") == "mine"
    for gone in (".mlci", "mlci-results", "data", "mlci", "model.skops"):
        assert not (directory / gone).exists(), gone
    assert (directory / "train.py").read_text(encoding="utf-8") != "edited"
    assert (directory / "mlci.yaml").is_file() and (directory / "prepare_data.py").is_file()


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
