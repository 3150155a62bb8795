"""`mlci init` detects the target, the task, ids and dates on data it did not make, and says so."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlci import scaffold
from mlci.cli import main
from mlci.config import load_config
from tests.scaffold.shapes import penguin_repo, weather_repo


def init(root: Path, *args: str) -> int:
    return main(["init", "-C", str(root), *args])


def test_penguins_target_by_name_task_from_values_id_proposed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = penguin_repo(tmp_path / "p")
    d = scaffold.detect(root)
    # `species` is named like a target: it wins over the last column (`year`).
    assert (d.target, d.task) == ("species", "classification")
    assert d.id_columns == ("id",)
    assert d.date_columns == ()
    assert init(root, "--yes") == 0
    out = capsys.readouterr().out
    assert "mlci init: answers (and where each came from)\n" in out
    assert (
        "  target           species                  detected: column named like a target"
        " in data/train.csv\n"
    ) in out
    assert (
        "  task             classification           derived from the target: 'species' holds"
        " 3 text values (Adelie, Chinstrap, Gentoo)\n"
    ) in out
    assert "  id columns       id                       detected: unique on every row" in out
    cfg = load_config(root / "mlci.yaml")
    assert (cfg.task, cfg.data.target, cfg.data.id_columns) == ("classification", "species", ["id"])
    # The first model is judged on a value gate at chance level, which is written as such.
    gate = cfg.model.gates["accuracy"]
    assert cfg.model.first == "bless-on-value-gates"
    assert gate.min is not None and 0.3 < gate.min < 0.5 and gate.max_drop == 0.02
    assert gate.note is not None and "majority class" in gate.note and "chance level" in gate.note
    assert cfg.data.checks == {"out_of_range": "warning"}
    assert cfg.data.drift.dataset_severity == "warning"


def test_weather_without_a_target_name_refuses_to_guess_with_yes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = weather_repo(tmp_path / "w")
    d = scaffold.detect(root)
    assert d.target is None
    assert d.date_columns == ("date",)
    assert init(root, "--yes") == 2
    err = capsys.readouterr().err
    assert (
        "mlci: error: data/train.csv: no column is named like a target (target, label, labels,"
        " y, class, species, outcome, ...), and mlci will not guess one; pass --target COLUMN"
        " (candidates: precipitation, temp_max, temp_min, wind, weather)"
    ) in err
    assert not (root / "mlci.yaml").exists()


def test_target_flag_derives_the_task_and_dates_are_recognised(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = weather_repo(tmp_path / "w")
    assert init(root, "--yes", "--target", "temp_max") == 0
    out = capsys.readouterr().out
    assert "  target           temp_max                 flag\n" in out
    assert "  task             regression               derived from the target:" in out
    assert "  date columns     date                     detected: ISO dates or timestamps" in out
    cfg = load_config(root / "mlci.yaml")
    assert (cfg.task, cfg.data.target) == ("regression", "temp_max")
    assert cfg.data.drift.ignore == ["date"]
    assert cfg.model.gates["r2"].min == 0.0
    # --target on an existing config re-derives the task (a text target: classification).
    assert init(root, "--yes", "--force", "--target", "weather") == 0
    cfg = load_config(root / "mlci.yaml")
    assert (cfg.task, cfg.data.target) == ("classification", "weather")
    # An explicit --task wins over the derivation.
    assert init(root, "--yes", "--force", "--target", "wind", "--task", "regression") == 0
    assert load_config(root / "mlci.yaml").task == "regression"


def test_a_target_that_is_not_a_column_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = weather_repo(tmp_path / "w")
    assert init(root, "--yes", "--target", "temp_maxx") == 2
    assert (
        "--target 'temp_maxx': not a column of data/train.csv; its columns are date,"
        " precipitation, temp_max" in capsys.readouterr().err
    )


def test_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    import subprocess
    import sys

    root = penguin_repo(tmp_path / "p")
    done = subprocess.run(
        f"{sys.executable} -m mlci init --yes --dry-run -C {root} | head -1",
        shell=True,
        capture_output=True,
        text=True,
        check=False,
        executable="/bin/bash",
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(scaffold.__file__).parents[2])},
    )
    assert done.stdout == "mlci init: answers (and where each came from)\n"
    assert done.stderr == ""
    assert done.returncode == 0  # pipefail: the exit code of mlci, the writer


def test_the_schema_hint_runs_as_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import os
    import re
    import subprocess
    import sys

    root = penguin_repo(tmp_path / "p")
    assert init(root, "--yes") == 0
    hint = re.search(r"^then: run `([^`]+)`", capsys.readouterr().out, re.M)
    assert hint, "no schema hint"
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    done = subprocess.run(
        hint.group(1),
        shell=True,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (root / "mlci" / "schema.yaml").is_file()


def test_parameter_files_are_detected_and_written_as_model_params(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = penguin_repo(tmp_path / "p")
    (root / "src").mkdir()
    (root / "src" / "train.py").write_text("print('train')\n", encoding="utf-8")
    (root / "src" / "config.yaml").write_text("lr: 0.1\n", encoding="utf-8")
    (root / "params.toml").write_text("depth = 3\n", encoding="utf-8")
    (root / "config.yaml").write_text("x: 1\n", encoding="utf-8")  # not beside train.py
    (root / "tests").mkdir(exist_ok=True)
    (root / "tests" / "params.json").write_text("{}", encoding="utf-8")  # test fixtures
    d = scaffold.detect(root)
    assert d.params == ("params.toml", "src/config.yaml")
    assert init(root, "--yes") == 0
    out = capsys.readouterr().out
    assert "  parameter files  params.toml,src/config.yaml" in out
    cfg = load_config(root / "mlci.yaml")
    assert cfg.model.params == ["params.toml", "src/config.yaml"]
    assert "# Parameter files: the report shows" in (root / "mlci.yaml").read_text(encoding="utf-8")
    # a rerun after the user edited them keeps the user's list (read back from mlci.yaml)
    text = (root / "mlci.yaml").read_text(encoding="utf-8")
    (root / "mlci.yaml").write_text(text.replace("src/config.yaml", "params.toml2"), "utf-8")
    (root / "params.toml2").write_text("", encoding="utf-8")
    assert init(root, "--yes") == 0
    assert load_config(root / "mlci.yaml").model.params == ["params.toml", "params.toml2"]


def test_no_parameter_files_no_params_key(tmp_path: Path) -> None:
    root = penguin_repo(tmp_path / "p")
    assert scaffold.detect(root).params == ()
    assert init(root, "--yes") == 0
    assert "params:" not in (root / "mlci.yaml").read_text(encoding="utf-8")
