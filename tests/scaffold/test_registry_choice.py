"""Every command that reads the registry takes --registry, and errors say which one was tried."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlci.cli import build_parser, main
from tests.scaffold_helpers import make_project

READERS = (
    ["deploy"],
    ["rollback"],
    ["registry", "list"],
    ["registry", "show", "production"],
    ["registry", "pull", "production"],
    ["serve"],
    ["validate-model"],
    ["retrain"],
    ["monitor"],
)


@pytest.mark.parametrize("command", READERS, ids=lambda c: " ".join(c))
def test_every_registry_reader_takes_the_registry_flag(command: list[str]) -> None:
    args = build_parser().parse_args([*command, "--registry", "local"])
    assert args.registry == "local"


def test_github_registry_error_names_it_and_the_way_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_project(tmp_path / "p")
    assert main(["init", "--yes", "-C", str(root)]) == 0  # registry.backend: github
    monkeypatch.chdir(root)
    for name in ("GITHUB_REPOSITORY", "GITHUB_TOKEN", "GITHUB_ACTIONS"):
        monkeypatch.delenv(name, raising=False)
    capsys.readouterr()
    assert main(["registry", "list"]) == 2
    err = capsys.readouterr().err
    assert "(registry tried: github, from registry.backend in mlci.yaml;" in err
    assert "to use the local registry instead, pass --registry local)" in err
    assert main(["registry", "list", "--registry", "local"]) == 0


def test_comment_job_appends_to_the_history_of_the_configured_tag_prefix(tmp_path: Path) -> None:
    """registry.tag_prefix reaches the comment workflow, which reads no mlci.yaml."""
    import yaml

    root = make_project(tmp_path / "p")
    assert main(["init", "--yes", "-C", str(root)]) == 0  # registry.backend: github
    config = root / "mlci.yaml"
    text = config.read_text(encoding="utf-8")
    assert "  backend: github\n" in text
    config.write_text(
        text.replace("  backend: github\n", "  backend: github\n  tag_prefix: fraud-v\n"),
        encoding="utf-8",
    )
    assert main(["init", "--yes", "--force", "-C", str(root)]) == 0
    workflow = yaml.safe_load((root / ".github/workflows/mlci-comment.yml").read_text("utf-8"))
    steps = workflow["jobs"]["comment"]["steps"]
    report = next(s for s in steps if (s.get("with") or {}).get("command") == "report")
    assert report["with"]["registry-tag-prefix"] == "fraud-v"
