"""The bounds on inputs, and the README that states them."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlci.errors import InputError
from mlci.limits import (
    EVENT_MAX_BYTES,
    JSON_MAX_BYTES,
    JSONL_MAX_LINE_BYTES,
    LIMITS,
    SKOPS_MAX_BYTES,
    SKOPS_MAX_DEPTH,
    SKOPS_MAX_ENTRIES,
    YAML_MAX_BYTES,
    read_bounded,
)

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_states_how_to_raise_every_raisable_limit() -> None:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Limits on what mlci reads", 1)[1].split("\n## ", 1)[0]
    for limit in LIMITS.values():
        if limit.env:
            assert f"`{limit.env}`" in section, limit.env
    assert "4 MiB" in section and YAML_MAX_BYTES.default == 4 * 1024 * 1024
    assert "32 MiB" in section and JSON_MAX_BYTES.default == 32 * 1024 * 1024
    assert "25 MiB" in section and EVENT_MAX_BYTES.default == 25 * 1024 * 1024
    assert "| one line (record) of a JSON Lines data file | 4 MiB" in section
    assert JSONL_MAX_LINE_BYTES.default == 4 * 1024 * 1024
    assert "4 GiB in all, 1,000,000 entries" in section and "200 levels" in section
    assert SKOPS_MAX_BYTES.default == 4 * 1024**3 and SKOPS_MAX_ENTRIES.default == 1_000_000
    assert SKOPS_MAX_DEPTH.default == 200


def test_read_bounded_reads_a_small_regular_file(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    path.write_bytes(b"{}")
    assert read_bounded(path, JSON_MAX_BYTES) == b"{}"


@pytest.mark.parametrize("value", ["0", "-1", "1e6", "lots", "9" * 40])
def test_bad_limit_values_in_the_environment_are_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    path = tmp_path / "f.json"
    path.write_bytes(b"{}")
    monkeypatch.setenv("MLCI_MAX_JSON_BYTES", value)
    with pytest.raises(InputError) as info:
        read_bounded(path, JSON_MAX_BYTES)
    assert str(info.value).startswith("MLCI_MAX_JSON_BYTES=")
    assert "expected a whole number of at least 1; unset it to use the default" in str(info.value)
