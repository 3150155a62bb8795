"""The local registry's experiment history: JSON lines, folding, lookup by id prefix."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlci.errors import InputError
from mlci.registry import experiments
from mlci.registry.experiments import ExperimentLog, find_entry, packages_digest


def _entry(number: int, verdict: str = "blessed") -> dict[str, object]:
    return {
        "id": f"{number:04d}abcd",
        "created": f"2026-01-{number:02d}T00:00:00Z",
        "verdict": verdict,
        "environment": {"packages_sha256": "ab" * 32},
    }


def test_the_oldest_entries_fold_into_the_summary_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(experiments, "MAX_ENTRIES", 3)
    log = ExperimentLog(tmp_path)
    assert log.entries() == [] and log.summary() is None
    for number in range(1, 6):
        log.append(_entry(number, "blessed" if number % 2 else "blocked"), ["a==1"])
    assert [e["id"] for e in log.entries()] == ["0003abcd", "0004abcd", "0005abcd"]
    assert log.summary() == {
        "kind": "summary",
        "folded": 2,
        "blessed": 1,
        "until": "2026-01-02T00:00:00Z",
    }
    assert log.packages("ab" * 32) == ["a==1"]
    assert log.find("0004")["id"] == "0004abcd"


def test_a_damaged_line_is_named_with_its_place(tmp_path: Path) -> None:
    log = ExperimentLog(tmp_path)
    log.append(_entry(1))
    with log.path.open("a", encoding="utf-8") as fh:
        fh.write("{not json\n")
    with pytest.raises(InputError) as info:
        log.entries()
    assert str(info.value) == (
        f"{log.path}:2: not a JSON line; the experiment history is damaged: remove the line"
    )


def test_find_entry_wants_exactly_one_match() -> None:
    entries = [_entry(1), _entry(2)]
    assert find_entry(entries, "0002", "here", "`mlci experiments`")["id"] == "0002abcd"
    with pytest.raises(InputError) as info:
        find_entry(entries, "000", "here", "`mlci experiments`")
    assert str(info.value) == (
        "here: 2 experiments with id '000'; list them with `mlci experiments`"
    )
    with pytest.raises(InputError, match="no experiment with id 'zz'"):
        find_entry(entries, "zz", "here", "`mlci experiments`")


def test_packages_digest() -> None:
    assert packages_digest(_entry(1)) == "ab" * 32
    assert packages_digest({"environment": None}) is None
    assert packages_digest({"environment": {"packages_sha256": 7}}) is None


def test_appending_waits_for_the_registry_lock(tmp_path: Path) -> None:
    import threading
    import time

    from mlci.registry.local import locked

    log = ExperimentLog(tmp_path)
    done = threading.Event()

    def append() -> None:
        log.append(_entry(1))
        done.set()

    with locked(tmp_path / ".lock"):  # as the registry holds it while registering
        writer = threading.Thread(target=append)
        writer.start()
        time.sleep(0.3)
        assert not done.is_set() and log.entries() == []
    writer.join(timeout=30)
    assert [e["id"] for e in log.entries()] == ["0001abcd"]
