"""`mlci init --monitor` writes mlci-monitor.yml and the monitor section, and keeps them."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mlci.cli import main
from mlci.config import load_config
from tests.scaffold_helpers import make_project

MONITOR = ".github/workflows/mlci-monitor.yml"


def test_init_monitor_writes_the_workflow_and_keeps_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_project(tmp_path / "p")
    command = "aws s3 sync s3://bucket/mlci-logs/ data/current/"
    assert (
        main(["init", "-C", str(root), "--yes", "--monitor", "--monitor-data-command", command])
        == 0
    )
    assert f"created {MONITOR}\n" in capsys.readouterr().out
    cfg = load_config(root / "mlci.yaml")
    assert (cfg.monitor.schedule, cfg.monitor.data_command) == ("23 6 * * *", command)
    wf = yaml.safe_load((root / MONITOR).read_text(encoding="utf-8"))
    steps = wf["jobs"]["monitor"]["steps"]
    assert [s.get("run") for s in steps].index(command) < next(
        i for i, s in enumerate(steps) if (s.get("with") or {}).get("command") == "monitor"
    )
    # A rerun without --monitor keeps the workflow (it exists), and --check agrees.
    assert main(["init", "-C", str(root), "--yes"]) == 0
    assert f"unchanged {MONITOR}\n" in capsys.readouterr().out
    assert main(["init", "-C", str(root), "--check"]) == 0


def test_monitor_schedule_is_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_project(tmp_path / "p")
    assert (
        main(["init", "-C", str(root), "--yes", "--monitor", "--monitor-schedule", "hourly"]) == 2
    )
    assert "--monitor-schedule 'hourly': not a cron expression" in capsys.readouterr().err
    assert not (root / MONITOR).exists()
