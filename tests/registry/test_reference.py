"""A version's drift reference: its recorded training profile, else data.reference."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mlci.cli import main
from mlci.config import load_config_text
from mlci.data.profile import profile_path, write_profile
from mlci.errors import EXIT_USAGE, ConfigError, InputError
from mlci.registry import make_event
from mlci.registry.local import LocalRegistry
from mlci.registry.reference import REFERENCE_FILE, drift_reference, recorded_reference
from mlci.registry.releases import ReleasesRegistry
from tests.registry.test_releases import REPO, _client

CONFIG = "version: 1\ntask: classification\ndata:\n  reference: ref.csv\n  target: y\n"


def _project(tmp_path: Path) -> Any:
    pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "y": [0, 1, 0, 1]}).to_csv(tmp_path / "ref.csv")
    (tmp_path / "mlci.yaml").write_text(CONFIG, encoding="utf-8")
    return load_config_text(CONFIG, root=tmp_path)


def _version_files(tmp_path: Path, *, with_reference: bool) -> tuple[dict[str, Path], dict]:
    """A model file and, when asked, the profile of the data it was trained on (x near 50)."""
    model = tmp_path / "m.skops"
    model.write_bytes(b"model-bytes")
    files = {"model.skops": model}
    meta: dict[str, Any] = {"model_file": "model.skops", "blessing": {"blessed": True}}
    if with_reference:
        fresh = tmp_path / "fresh.csv"
        pd.DataFrame({"x": [50.0, 51.0, 52.0], "y": [1, 0, 1]}).to_csv(fresh, index=False)
        files[REFERENCE_FILE] = write_profile(profile_path(fresh), tmp_path / "fresh.json")
        meta["data"] = {"reference": {"file": REFERENCE_FILE, "source": "retrain fresh data"}}
    return files, meta


def test_no_production_and_no_record_fall_back_to_data_reference(tmp_path: Path) -> None:
    config = _project(tmp_path)
    reg = LocalRegistry(tmp_path / "reg")
    ref = drift_reference(config, reg, None, tmp_path / "w", purpose="test")
    assert (ref.label, ref.version, ref.profile.rows) == ("data.reference", None, 4)
    plain = reg.register(*_version_files(tmp_path, with_reference=False))
    assert recorded_reference(plain) is None
    ref = drift_reference(config, reg, plain, tmp_path / "w", purpose="test")
    assert ref.to_dict() == {"source": "data.reference", "version": None, "rows": 4}


def test_without_record_or_data_reference_the_config_error_says_so(tmp_path: Path) -> None:
    config = load_config_text("version: 1\ntask: classification\n", root=tmp_path)
    with pytest.raises(ConfigError, match="data.reference"):
        drift_reference(config, LocalRegistry(tmp_path / "reg"), None, tmp_path, purpose="test")


def test_local_round_trip_and_a_tampered_profile_is_refused(tmp_path: Path) -> None:
    config = _project(tmp_path)
    reg = LocalRegistry(tmp_path / "reg")
    files, meta = _version_files(tmp_path, with_reference=True)
    v1 = reg.register(files, meta)
    assert recorded_reference(v1) == REFERENCE_FILE
    assert (
        v1.metadata["hashes"][REFERENCE_FILE]
        == hashlib.sha256(files[REFERENCE_FILE].read_bytes()).hexdigest()
    )
    ref = drift_reference(config, reg, v1, tmp_path / "w", purpose="test")
    assert ref.to_dict() == {"source": "training data of v1", "version": 1, "rows": 3}
    assert ref.profile.columns["x"].numeric is not None
    assert ref.profile.columns["x"].numeric.min == 50.0

    stored = tmp_path / "reg" / "versions" / "v1" / REFERENCE_FILE
    text = stored.read_bytes()
    assert b'"rows": 3' in text
    stored.write_bytes(text.replace(b'"rows": 3', b'"rows": 4'))  # still a valid profile
    with pytest.raises(InputError, match=f"{REFERENCE_FILE} has sha256 .* was changed"):
        drift_reference(config, reg, v1, tmp_path / "w2", purpose="test")


def test_github_round_trip_and_a_tampered_profile_is_refused(
    fake_github: Any, tmp_path: Path
) -> None:
    config = _project(tmp_path)
    reg = ReleasesRegistry(_client(fake_github), REPO)
    v1 = reg.register(*_version_files(tmp_path, with_reference=True))
    assert REFERENCE_FILE in v1.files
    ref = drift_reference(config, reg, reg.get(1), tmp_path / "w", purpose="test")
    assert (ref.label, ref.profile.rows) == ("training data of v1", 3)

    key = f"{REPO}/releases/download/model-v1/{REFERENCE_FILE}"
    fake_github.blobs[key] = (b'{"format": "mlci-profile/1"}', fake_github.blobs[key][1])
    with pytest.raises(InputError, match=f"{REFERENCE_FILE} has sha256"):
        drift_reference(config, reg, reg.get(1), tmp_path / "w2", purpose="test")


def test_monitor_refuses_production_with_a_tampered_reference(tmp_path: Path, capsys: Any) -> None:
    """Exit 2 before anything is judged (the CT-loop test shows the monitor using one)."""
    _project(tmp_path)
    (tmp_path / "mlci.yaml").write_text(
        CONFIG + "registry:\n  backend: local\n  path: reg\n", encoding="utf-8"
    )
    reg = LocalRegistry(tmp_path / "reg")
    reg.register(*_version_files(tmp_path, with_reference=True))
    reg.record(make_event("promote", 1))
    current = tmp_path / "current.csv"
    pd.DataFrame({"x": [50.0, 51.5, 52.0, 50.5], "y": [1, 0, 1, 0]}).to_csv(current, index=False)
    args = ["monitor", "--config", str(tmp_path / "mlci.yaml"), "--current", str(current)]
    results = ["--results", str(tmp_path / "out")]
    stored = tmp_path / "reg" / "versions" / "v1" / REFERENCE_FILE
    stored.write_bytes(stored.read_bytes() + b" ")
    assert main([*args, *results]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert f"version 1: {REFERENCE_FILE} has sha256" in err and "Traceback" not in err
    assert not (tmp_path / "out" / "monitor.json").exists()


def test_only_the_reference_profile_is_fetched(fake_github: Any, tmp_path: Path) -> None:
    """The model and other files of the version are not downloaded (nor needed intact)."""
    config = _project(tmp_path)
    local = LocalRegistry(tmp_path / "reg")
    local.register(*_version_files(tmp_path, with_reference=True))
    (tmp_path / "reg" / "versions" / "v1" / "model.skops").unlink()  # a full copy would fail
    ref = drift_reference(config, local, local.get(1), tmp_path / "w", purpose="test")
    assert ref.profile.rows == 3
    assert [p.name for p in (tmp_path / "w").rglob("*") if p.is_file()] == [REFERENCE_FILE]

    github = ReleasesRegistry(_client(fake_github), REPO)
    github.register(*_version_files(tmp_path, with_reference=True))
    model_key = f"{REPO}/releases/download/model-v1/model.skops"
    fake_github.blobs[model_key] = (b"not the model", fake_github.blobs[model_key][1])
    ref = drift_reference(config, github, github.get(1), tmp_path / "g", purpose="test")
    assert ref.profile.rows == 3
    assert [p.name for p in (tmp_path / "g").rglob("*") if p.is_file()] == [REFERENCE_FILE]
    with pytest.raises(InputError, match="model.skops has sha256"):
        github.download(1, tmp_path / "full")
    with pytest.raises(InputError, match="no sha256 recorded for other.bin"):
        github.download_file(1, "other.bin", tmp_path / "x")


def test_a_reference_carries_the_predictions_of_its_model(tmp_path: Path) -> None:
    from mlci import jsonio
    from mlci.pipelines.monitor.detect import profile_series
    from mlci.registry.reference import PREDICTIONS_KEY, read_reference, write_reference

    config = _project(tmp_path)
    data = profile_path(tmp_path / "ref.csv")
    path = write_reference(data, profile_series("prediction", [0, 1, 1]), tmp_path / "r.json")
    profile, predictions = read_reference(path)
    assert profile.rows == 4 and predictions is not None and predictions.rows == 3
    assert read_reference(write_reference(data, None, tmp_path / "plain.json"))[1] is None

    reg = LocalRegistry(tmp_path / "reg")
    files, meta = _version_files(tmp_path, with_reference=True)
    files[REFERENCE_FILE] = path
    v1 = reg.register(files, meta)
    ref = drift_reference(config, reg, v1, tmp_path / "w", purpose="test")
    assert ref.predictions is not None and ref.predictions.columns["prediction"].count == 3

    doc = jsonio.read_json(path)
    doc[PREDICTIONS_KEY] = {"format": "mlci-profile/1", "rows": "many", "columns": {}}
    jsonio.write_json(tmp_path / "bad.json", doc)
    with pytest.raises(InputError, match=f"bad.json: {PREDICTIONS_KEY}: damaged profile"):
        read_reference(tmp_path / "bad.json")
