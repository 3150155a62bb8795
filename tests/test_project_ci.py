"""The project's own workflows and .ci/run hold to what we require of generated ones."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from tests.helpers import find_tool

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def test_there_is_a_ci_workflow() -> None:
    assert ROOT / ".github" / "workflows" / "ci.yml" in WORKFLOWS


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_shape(path: Path) -> None:
    wf = yaml.safe_load(path.read_text())
    assert wf["permissions"] == {}
    assert "pull_request_target" not in wf[True]
    for name, job in wf["jobs"].items():
        assert "timeout-minutes" in job, name
        for step in job.get("steps", []):
            uses = step.get("uses", "")
            if uses and not uses.startswith("./"):
                ref = uses.split("@", 1)[1]
                assert len(ref) == 40 and all(c in "0123456789abcdef" for c in ref), uses
            if uses.startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False
            assert "${{" not in step.get("run", ""), f"{name}: expression inside run:"


def test_pins_carry_a_version_comment() -> None:
    for path in WORKFLOWS:
        for line in path.read_text().splitlines():
            if "uses:" in line and "@" in line and "./" not in line:
                assert "# v" in line, f"{path.name}: {line.strip()}"


def test_zizmor_offline_has_no_findings() -> None:
    proc = subprocess.run(
        [find_tool("zizmor"), "--offline", "--no-progress", *map(str, WORKFLOWS)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_workflows_match_github_schema() -> None:
    proc = subprocess.run(
        [
            find_tool("check-jsonschema"),
            "--builtin-schema",
            "vendor.github-workflows",
            *map(str, WORKFLOWS),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ci_script_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    script = (ROOT / ".ci" / "run").read_text()
    test_command = next(
        line.split("#")[0].strip() for line in readme.splitlines() if "python -m pytest" in line
    )
    assert test_command in script
    assert "set -euo pipefail" in script
    for check in ("ruff check", "ruff format --check", "mypy --strict src/"):
        assert check in script
