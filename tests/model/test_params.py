"""Parameter files: JSON, YAML and TOML, flattened and compared."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlci.errors import InputError
from mlci.model.params import flatten, params_diff, read_params


def test_flatten_nested_keys_and_lists() -> None:
    assert flatten({"train": {"lr": 0.1, "layers": [64, {"drop": 0.2}]}, "empty": {}}) == {
        "train.lr": 0.1,
        "train.layers.0": 64,
        "train.layers.1.drop": 0.2,
        "empty": {},
    }
    assert flatten({"x": float("nan")}) == {"x": "nan"}


def test_read_json_yaml_toml(tmp_path: Path) -> None:
    (tmp_path / "p.json").write_text('{"train": {"lr": 0.1}}', encoding="utf-8")
    (tmp_path / "p.yaml").write_text("train:\n  epochs: 3\n", encoding="utf-8")
    (tmp_path / "p.toml").write_text('[model]\nkind = "rf"\ndepth = 4\n', encoding="utf-8")
    assert read_params([tmp_path / "p.json"]) == {"train.lr": 0.1}
    assert read_params([tmp_path / "p.toml"]) == {"model.kind": "rf", "model.depth": 4}
    both = read_params([tmp_path / "p.json", tmp_path / "p.yaml"])
    assert both == {"p.json:train.lr": 0.1, "p.yaml:train.epochs": 3}


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("p.toml", "a = = 1", "not valid TOML"),
        ("p.ini", "a=1", "unknown parameter file type '.ini'"),
        ("p.json", "{", "p.json"),
        ("p.yaml", "a: [1", "p.yaml"),
    ],
)
def test_bad_parameter_files_are_input_errors(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    (tmp_path / name).write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        read_params([tmp_path / name])
    with pytest.raises(InputError, match="parameter file not found; fix model.params"):
        read_params([tmp_path / "missing.yaml"])


def test_diff_hides_unchanged_and_tells_types_apart() -> None:
    diff = params_diff({"a": 1, "b": 2, "c": True, "d": 1}, {"a": 1, "b": 3, "c": 1, "e": 0})
    assert diff == [
        {"key": "b", "production": 3, "candidate": 2, "change": "changed"},
        {"key": "c", "production": 1, "candidate": True, "change": "changed"},
        {"key": "d", "production": None, "candidate": 1, "change": "added"},
        {"key": "e", "production": 0, "candidate": None, "change": "removed"},
    ]
