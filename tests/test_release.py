"""The release data: the recorded action commit exists and has what the workflows use;
the root action meets the Marketplace's rules; the release workflow publishes safely."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from mlci import __version__, _release

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = sorted((ROOT / "templates" / "workflows").glob("mlci-*.yml.j2"))
FIX = (
    "land the action change on main first, then record that commit of main in"
    " src/mlci/_release.py COMMIT (a commit cannot name itself; see RELEASING.md)"
)


def used_actions() -> dict[str, tuple[set[str], set[str]]]:
    """``{action path: (inputs passed, outputs read)}`` over every workflow template.

    Read from the templates' text, so every branch of their conditionals counts.
    """
    used: dict[str, tuple[set[str], set[str]]] = {}
    for template in TEMPLATES:
        lines = template.read_text(encoding="utf-8").splitlines()
        step_ids: dict[str, str] = {}
        for i, line in enumerate(lines):
            m = re.match(r"^(\s*)(?:- )?uses: \[\[ mlci(?:\.\w+|_root) \]\]", line)
            if not m:
                continue
            path = "action.yml"  # every mlci.NAME of the template context is the root action
            inputs, outputs = used.setdefault(path, (set(), set()))
            # the step's id (above or below) and its with: keys (below)
            j = i
            while j > 0 and not lines[j].lstrip().startswith("- "):
                j -= 1
            k = i + 1
            while (
                k < len(lines)
                and not lines[k].lstrip().startswith("- ")
                and (lines[k].startswith(" " * 8) or lines[k].startswith("[%"))
            ):
                k += 1
            step = lines[j:k]
            for s in step:
                if m_id := re.match(r"^\s*(?:- )?id: ([\w-]+)", s):
                    step_ids[m_id.group(1)] = path
            in_with = False
            for s in step:
                if re.match(r"^\s+with:\s*$", s):
                    in_with = True
                    continue
                if in_with and (key := re.match(r"^\s{10}([a-z][a-z-]*):", s)):
                    inputs.add(key.group(1))
        text = "\n".join(lines)
        for step_id, output in re.findall(r"steps\.([\w-]+)\.outputs\.([\w-]+)", text):
            if step_id in step_ids:
                used[step_ids[step_id]][1].add(output)
    return used


def test_the_templates_use_mlci_actions() -> None:
    used = used_actions()
    assert set(used) == {"action.yml"}, used
    inputs, outputs = used["action.yml"]
    assert {"command", "config", "results"} <= inputs and "passed" in outputs


def _git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)


def test_the_recorded_commit_has_every_action_input_and_output_the_workflows_use() -> None:
    """``uses: OWNER/mlci@COMMIT`` must resolve on GitHub: the commit must hold the
    action, with each input the generated workflows pass and each output they
    read (an undeclared input is a warning and ignored; an undeclared output is empty)."""
    if _git("rev-parse", "--is-inside-work-tree").returncode != 0:
        pytest.skip("not a git checkout (an sdist): the recorded commit cannot be read")
    commit = _release.COMMIT
    assert re.fullmatch(r"[0-9a-f]{40}", commit), commit
    exists = _git("cat-file", "-e", f"{commit}^{{commit}}")
    assert exists.returncode == 0, (
        f"_release.COMMIT {commit} is not a commit of this repository (a shallow clone?"
        " fetch the history: git fetch --unshallow)"
    )
    assert _git("merge-base", "--is-ancestor", commit, "HEAD").returncode == 0, (
        f"_release.COMMIT {commit} is not on this branch's history"
    )
    problems = []
    for path, (inputs, outputs) in sorted(used_actions().items()):
        shown = _git("show", f"{commit}:{path}")
        if shown.returncode != 0:
            problems.append(f"{path} does not exist at {commit[:12]}")
            continue
        action = yaml.safe_load(shown.stdout)
        missing_in = sorted(inputs - set(action.get("inputs") or {}))
        missing_out = sorted(outputs - set(action.get("outputs") or {}))
        if missing_in:
            problems.append(f"{path} at {commit[:12]} has no input(s) {', '.join(missing_in)}")
        if missing_out:
            problems.append(f"{path} at {commit[:12]} has no output(s) {', '.join(missing_out)}")
    assert not problems, "; ".join(problems) + f"; {FIX}"


def test_release_data() -> None:
    assert _release.VERSION == __version__
    assert isinstance(_release.TAGGED, bool)
    for name, (sha, tag) in _release.THIRD_PARTY.items():
        assert re.fullmatch(r"[0-9a-f]{40}", sha) and tag.startswith("v"), name


# -- the Marketplace (github-behaviour #15) ---------------------------------------------------

#: Feather icon names GitHub accepts for branding.icon (those we might use), and the colours.
BRANDING_COLORS = {
    "white",
    "black",
    "yellow",
    "blue",
    "green",
    "orange",
    "red",
    "purple",
    "gray-dark",
}


def test_root_action_meets_the_marketplace_rules() -> None:
    """docs: "Publishing actions in GitHub Marketplace": action.yml at the root, with a
    name, a description under 125 characters and branding (icon and colour)."""
    action = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
    assert action["name"] and len(action["name"]) <= 100
    description = " ".join(action["description"].split())
    assert 0 < len(description) < 125, (len(description), description)
    assert action["branding"]["icon"] and action["branding"]["color"] in BRANDING_COLORS
    assert action["inputs"]["command"]["required"] is True


def test_readme_shows_the_root_action_used_directly() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert re.search(r"uses: mlci-dev/mlci@v1\n\s+with:\n\s+command: ", readme)
    assert re.search(r"uses: mlci-dev/mlci@[0-9a-f]{40}", readme)


# -- the release workflow ----------------------------------------------------------------------


def test_release_workflow_publishes_with_trusted_publishing_and_moves_the_major_tag() -> None:
    path = ROOT / ".github" / "workflows" / "release.yml"
    wf = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert wf[True] == {"push": {"tags": ["v*"]}}
    assert wf["permissions"] == {}
    jobs = wf["jobs"]
    assert set(jobs) == {"build", "publish", "major-tag"}
    assert jobs["publish"]["needs"] == "build" and jobs["major-tag"]["needs"] == "publish"
    # only the publish job may mint an OIDC token, and it holds no other permission
    assert jobs["publish"]["permissions"] == {"id-token": "write"}
    assert all(
        "id-token" not in (j.get("permissions") or {}) for n, j in jobs.items() if n != "publish"
    )
    publish = [
        s for s in jobs["publish"]["steps"] if "pypa/gh-action-pypi-publish" in s.get("uses", "")
    ]
    assert len(publish) == 1 and "password" not in (publish[0].get("with") or {})
    build = "\n".join(s.get("run", "") for s in jobs["build"]["steps"])
    assert "bash .ci/run" in build and "python -m build" in build and ".ci/check-release" in build
    assert "$major" in jobs["major-tag"]["steps"][0]["run"]
    assert (ROOT / "RELEASING.md").is_file()


def test_check_release_refuses_a_tag_that_does_not_match(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(ROOT / ".ci" / "check-release"), "v999.0.0"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "pyproject.toml says version" in done.stderr and "the tag says 999.0.0" in done.stderr


def test_init_says_it_pins_a_pre_release_commit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlci.cli import main
    from tests.scaffold_helpers import make_project

    note = f"mlci-dev/mlci@{_release.COMMIT[:12]}, a pre-release commit"
    repo = make_project(tmp_path / "repo")
    monkeypatch.setattr(_release, "TAGGED", False)
    assert main(["init", "--yes", "-C", str(repo)]) == 0
    assert note in capsys.readouterr().out
    assert f"uses: mlci-dev/mlci@{_release.COMMIT} # v" in (
        repo / ".github" / "workflows" / "mlci-pr.yml"
    ).read_text(encoding="utf-8")
    monkeypatch.setattr(_release, "TAGGED", True)
    assert main(["init", "--yes", "--force", "-C", str(repo)]) == 0
    assert "pre-release" not in capsys.readouterr().out
