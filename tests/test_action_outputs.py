"""Every output the actions declare is written by `mlci._action`, and nothing else is."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from mlci import _action

ROOT = Path(__file__).resolve().parents[1]


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _outputs_written(path: Path) -> set[str]:
    names = set()
    lines = iter(path.read_text(encoding="utf-8").splitlines())
    for line in lines:
        name, sep, delimiter = line.partition("<<")
        if sep and "=" not in name:
            names.add(name)
            for inner in lines:
                if inner == delimiter:
                    break
        else:
            names.add(line.partition("=")[0])
    return names


def test_each_output_is_the_run_steps() -> None:
    """mlci has one action (action.yml at the root); its outputs come from the run step."""
    for name, spec in _load(ROOT / "action.yml")["outputs"].items():
        assert f"steps.run.outputs.{name}" in spec["value"], name


def test_the_root_action_declares_every_output() -> None:
    declared = set(_load(ROOT / "action.yml")["outputs"])
    assert declared == {n for c in _action.COMMANDS for n in _action.outputs_of(c)}


def test_the_commands_write_only_declared_outputs() -> None:
    """Every ``set_output("name", ...)`` in the source names a declared output."""
    declared = {n for c in _action.COMMANDS for n in _action.outputs_of(c)}
    found = set()
    for source in (ROOT / "src" / "mlci").rglob("*.py"):
        found |= set(re.findall(r"set_output\(\s*\"([a-z-]+)\"", source.read_text("utf-8")))
    assert found, "no set_output calls found"
    assert found <= declared, sorted(found - declared)


@pytest.mark.parametrize("command", sorted(_action.COMMANDS))
def test_every_declared_output_is_written_even_when_the_command_fails(
    command: str, tmp_path: Path
) -> None:
    out = tmp_path / "output"
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_OUTPUT": str(out),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "GITHUB_WORKSPACE": str(tmp_path),
        "MLCI_COMMAND": command,
        "MLCI_CONFIG": "missing.yaml",
        "MLCI_WORKING_DIRECTORY": str(tmp_path),
        "PATH": "/usr/bin:/bin",
    }
    code = _action.main(env)
    assert code != 0
    assert _outputs_written(out) == set(_action.outputs_of(command))
