"""Saved profiles are validated against their structure before any field is read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mlci.data.profile import load_profile, profile_path, write_profile
from mlci.data.profile_doc import profile_schema
from mlci.errors import InputError
from tests.data.conftest import mixed_frame, write


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("profile")
    frame = mixed_frame(300, 2)
    frame.loc[3, "score"] = np.inf
    out = write_profile(profile_path(write(frame, tmp / "d.parquet")), tmp / "p.json")
    data: dict[str, Any] = json.loads(out.read_text())
    return data


def test_what_mlci_writes_fits_the_structure_and_its_schema(saved: dict[str, Any], tmp_path):
    import jsonschema

    jsonschema.validate(saved, profile_schema())
    path = tmp_path / "p.json"
    path.write_text(json.dumps(saved))
    assert load_profile(path).rows == 300


def _numeric_column(saved: dict[str, Any]) -> str:
    return next(n for n, c in saved["columns"].items() if c.get("numeric"))


def _text_column(saved: dict[str, Any]) -> str:
    return next(n for n, c in saved["columns"].items() if c.get("text"))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: d.update(columns=["a", "b"]), "columns: expected a mapping, got a list"),
        (lambda d: d.update(rows="many"), "rows: expected a whole number of at least 0"),
        (lambda d: d.update(rows=10**19), "a number with 20 digits, which is out of range"),
        (
            lambda d: d["columns"][_text_column(d)]["text"].update(counts=[1, 2]),
            ".text.counts: expected a mapping, got a list",
        ),
        (
            lambda d: d["columns"][_numeric_column(d)]["numeric"].update(n="x"),
            ".numeric.n: expected a whole number of at least 0, got 'x'",
        ),
        (
            lambda d: d["columns"][_numeric_column(d)]["numeric"]["hist"].update(index={"a": 1}),
            ".numeric.hist.index: expected a list, got a mapping",
        ),
        (
            lambda d: d["columns"][_numeric_column(d)].update(numeric=[1]),
            ".numeric: expected a mapping, got a list",
        ),
        # Long number lists are checked in bulk; a bad item still gets its own message.
        (
            lambda d: d["columns"][_numeric_column(d)]["numeric"]["hist"].update(
                index=[*range(50), True, *range(50)]
            ),
            ".numeric.hist.index[50]: expected a whole number, got true",
        ),
        (
            lambda d: d["columns"][_numeric_column(d)]["numeric"]["log"].update(
                pos_count=[*range(30), 2.5]
            ),
            ".numeric.log.pos_count[30]: expected a whole number, got 2.5",
        ),
    ],
)
def test_a_damaged_profile_is_refused_naming_the_field(
    saved: dict[str, Any], tmp_path: Path, damage: Any, message: str
) -> None:
    data = json.loads(json.dumps(saved))
    damage(data)
    path = tmp_path / "ref.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError) as info:
        load_profile(path)
    text = str(info.value)
    assert text.startswith(f"{path}: damaged profile: ")
    assert message in text
    assert text.endswith("write it again with `mlci profile`")
