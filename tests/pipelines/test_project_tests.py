"""`mlci test` (ci.test_command): a failing unit test fails the check, first in the report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlci.cli import main
from tests.helpers import build_file_tree

TESTS = """\
import pytest


def test_passes():
    assert 1 + 1 == 2


@pytest.mark.parametrize("x", [1], ids=["<b>@octocat|x</b>"])
def test_fails(x):
    assert x == 2, "features.json lost a column"


@pytest.mark.skip(reason="not today")
def test_skipped():
    pass
"""
CONFIG = """\
version: 1
task: classification
ci:
  test_command: "python -m pytest -q -p no:cacheprovider --junitxml=out/junit.xml tests"
"""


def project(root: Path, tests: str = TESTS) -> Path:
    build_file_tree(root, {"mlci.yaml": CONFIG, "tests/test_unit.py": tests})
    return root


def test_a_failing_test_fails_the_check_and_leads_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(tmp_path / "p")
    results = root / "results"
    assert main(["test", "--config", str(root / "mlci.yaml"), "--results", str(results)]) == 1
    doc = json.loads((results / "tests.json").read_text(encoding="utf-8"))
    assert doc["kind"] == "tests" and doc["passed"] is False and doc["exit_code"] == 1
    assert doc["counts"] == {"tests": 3, "failures": 1, "errors": 0, "skipped": 1}
    assert doc["failing"] == ["tests.test_unit::test_fails[<b>@octocat|x</b>]"]
    capsys.readouterr()
    assert main(["report", "--results", str(results)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("## ❌ mlci: tests failed — 1 of 3 test(s) failed\n")
    assert "**Failing tests, gates and checks**" in out
    assert "Project tests failed: 3 run, 1 failed, 0 errors, 1 skipped." in out
    # The name comes from the project's code: escaped, no HTML, no mention, no table break.
    line = next(ln for ln in out.splitlines() if "test" in ln and "octocat" in ln)
    assert "<b>" not in line and "@octocat" not in line and "|x" not in line.replace("\\|", "")


@pytest.mark.slow
def test_passing_tests_and_a_command_without_junit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(tmp_path / "p", "def test_ok():\n    assert True\n")
    results = root / "results"
    assert main(["test", "--config", str(root / "mlci.yaml"), "--results", str(results)]) == 0
    assert json.loads((results / "tests.json").read_text())["counts"]["tests"] == 1
    text = (root / "mlci.yaml").read_text().replace(" --junitxml=out/junit.xml", "")
    (root / "mlci.yaml").write_text(text.replace("True", "False"))
    (root / "tests/test_unit.py").write_text("def test_no():\n    assert False\n")
    assert main(["test", "--config", str(root / "mlci.yaml"), "--results", str(results)]) == 1
    doc = json.loads((results / "tests.json").read_text())
    assert doc["counts"] is None
    assert doc["findings"][0]["message"] == (
        "the test command exited with code 1; its output is in the job log"
    )


def test_no_test_command_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    build_file_tree(tmp_path, {"mlci.yaml": "version: 1\ntask: regression\n"})
    assert main(["test", "--config", str(tmp_path / "mlci.yaml")]) == 2
    assert "ci.test_command is not set; add e.g." in capsys.readouterr().err


@pytest.mark.slow
def test_mlci_run_pr_runs_the_tests_before_training_and_blocks_on_a_failure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import datetime as dt

    from tests.scaffold.shapes import WEATHER_TRAIN, weather

    root = tmp_path / "w"
    build_file_tree(
        root,
        {
            "data/train.csv": weather(200),
            "data/eval.csv": weather(80, seed=1, start=dt.date(2012, 10, 27)),
            "features.json": json.dumps(["precipitation", "temp_min", "wind"]),
            "train.py": WEATHER_TRAIN,
            "tests/test_features.py": (
                "import json\n\n\ndef test_features_are_kept():\n"
                "    assert 'wind' not in json.load(open('features.json'))\n"
            ),
        },
    )
    from tests.act.harness import git_repo

    git_repo(root)
    assert main(["init", "--yes", "-C", str(root), "--target", "temp_max"]) == 0
    out = capsys.readouterr().out
    assert "  test command     python -m pytest -q --junitxml=mlci-results/junit.xml" in out
    code = main(["run", "pr", "--config", str(root / "mlci.yaml")])
    out = capsys.readouterr().out
    assert code == 1
    assert out.index("] test: mlci test") < out.index("] train: python train.py")
    report = (root / "mlci-results" / "report.md").read_text(encoding="utf-8")
    assert report.startswith("## ❌ mlci: tests failed — 1 of 1 test(s) failed\n")
    assert "test\\_features\\_are\\_kept" in report
