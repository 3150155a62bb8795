"""The bounds on inputs, and the README that states them."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlci.errors import InputError
from mlci.limits import JSON_MAX_BYTES, LIMITS, YAML_MAX_BYTES, read_bounded

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_states_how_to_raise_every_raisable_limit() -> None:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Limits on what mlci reads", 1)[1].split("\n## ", 1)[0]
    for limit in LIMITS.values():
        if limit.env:
            assert f"`{limit.env}`" in section, limit.env
    assert "4 MiB" in section and YAML_MAX_BYTES.default == 4 * 1024 * 1024
    assert "32 MiB" in section and JSON_MAX_BYTES.default == 32 * 1024 * 1024


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
