from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mlci.errors import InputError
from mlci.registry import make_event, resolve_version, rollback_target
from mlci.registry.base import parse_version_ref
from mlci.registry.local import LocalRegistry


def _model_file(tmp_path: Path, content: bytes = b"model-bytes") -> Path:
    path = tmp_path / "model.skops"
    path.write_bytes(content)
    return path


def _meta(**extra: object) -> dict[str, object]:
    return {
        "model_file": "model.skops",
        "metrics": {"accuracy": 0.9},
        "blessing": {"blessed": True, "reason": "all gates passed"},
        **extra,
    }


def test_register_assigns_numbers_and_keeps_files(tmp_path: Path) -> None:
    reg = LocalRegistry(tmp_path / "reg")
    assert reg.versions() == []
    v1 = reg.register({"model.skops": _model_file(tmp_path)}, _meta(git_sha="a" * 40))
    v2 = reg.register({"model.skops": _model_file(tmp_path, b"other")}, _meta())
    assert (v1.version, v2.version) == (1, 2)
    assert v1.files == ("metadata.json", "model.skops")
    assert v1.metadata["version"] == 1 and v1.git_sha == "a" * 40
    assert [v.version for v in reg.versions()] == [1, 2]
    out = reg.download(1, tmp_path / "pulled")
    assert (out / "model.skops").read_bytes() == b"model-bytes"
    assert json.loads((out / "metadata.json").read_text())["version"] == 1
    # nothing left in staging
    assert list((tmp_path / "reg" / ".staging").iterdir()) == []


def test_missing_version_and_alias_are_clear_errors(tmp_path: Path) -> None:
    reg = LocalRegistry(tmp_path / "reg")
    with pytest.raises(InputError, match="no version 7; see `mlci registry list`"):
        reg.get(7)
    with pytest.raises(InputError, match="no alias 'production'"):
        resolve_version(reg, "production")


def test_aliases_history_and_rollback_target(tmp_path: Path) -> None:
    reg = LocalRegistry(tmp_path / "reg")
    for i in range(3):
        reg.register({"model.skops": _model_file(tmp_path, bytes([i]))}, _meta())
    reg.record(make_event("promote", 1))
    reg.record(make_event("promote", 2, previous=1))
    state = reg.record(make_event("promote", 3, previous=2))
    assert state.aliases == {"production": 3, "previous": 2}
    assert resolve_version(reg, "production").version == 3
    assert resolve_version(reg, "model-v2").version == 2
    versions = {v.version: v for v in reg.versions()}
    assert rollback_target(state, versions) == 2
    state = reg.record(make_event("rollback", 2, previous=3))
    # a second rollback goes further back instead of flipping to 3 again
    assert rollback_target(state, versions) == 1
    assert [e["event"] for e in reg.state().history] == [
        "promote",
        "promote",
        "promote",
        "rollback",
    ]


def test_rollback_target_skips_unblessed(tmp_path: Path) -> None:
    reg = LocalRegistry(tmp_path / "reg")
    reg.register({"model.skops": _model_file(tmp_path)}, _meta())
    reg.register(
        {"model.skops": _model_file(tmp_path)}, _meta(blessing={"blessed": False, "reason": "x"})
    )
    reg.register({"model.skops": _model_file(tmp_path)}, _meta())
    for n in (1, 2, 3):
        state = reg.record(make_event("promote", n))
    assert rollback_target(state, {v.version: v for v in reg.versions()}) == 1


def test_record_refuses_unknown_version(tmp_path: Path) -> None:
    reg = LocalRegistry(tmp_path / "reg")
    with pytest.raises(InputError, match="no version 4"):
        reg.record(make_event("promote", 4))


def test_corrupt_state_is_an_input_error(tmp_path: Path) -> None:
    reg = LocalRegistry(tmp_path / "reg")
    reg.register({"model.skops": _model_file(tmp_path)}, _meta())
    (tmp_path / "reg" / "state.json").write_text("{not json")
    with pytest.raises(InputError, match="state.json:1:2: not valid JSON"):
        reg.state()
    (tmp_path / "reg" / "state.json").write_text('{"aliases": {"production": "x"}}')
    with pytest.raises(InputError, match="aliases must map names to version numbers"):
        reg.state()


@pytest.mark.parametrize(
    ("ref", "expected"),
    [("3", 3), ("v3", 3), ("model-v12", 12), ("production", "production"), ("007", 7)],
)
def test_parse_version_ref(ref: str, expected: int | str) -> None:
    assert parse_version_ref(ref) == expected


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("9" * 5000, "a version number has at most 9 digits"),
        ("1234567890", "a version number has at most 9 digits"),
        ("../../etc", "expected a version number (3, v3) or an alias"),
        ("", "expected a version number (3, v3) or an alias"),
        ("a" * 65, "expected a version number (3, v3) or an alias"),
    ],
)
def test_parse_version_ref_refuses_bad_refs(ref: str, message: str) -> None:
    with pytest.raises(InputError, match=re.escape(message)) as info:
        parse_version_ref(ref)
    assert len(str(info.value)) < 300


def test_a_stale_from_is_replaced_by_the_true_previous(tmp_path: Path) -> None:
    reg = LocalRegistry(tmp_path / "reg")
    for i in range(3):
        reg.register({"model.skops": _model_file(tmp_path, bytes([i]))}, _meta())
    reg.record(make_event("promote", 1))
    reg.record(make_event("promote", 2, previous=1))
    # A deploy that read production (1) before the deploy of 2 finished:
    state = reg.record(make_event("promote", 3, previous=1))
    assert state.history[-1]["from"] == 2
    assert state.aliases == {"production": 3, "previous": 2}


def test_download_verifies_every_recorded_file(tmp_path: Path) -> None:
    reg = LocalRegistry(tmp_path / "reg")
    reg.register({"model.skops": _model_file(tmp_path, b"one")}, _meta())
    reg.register({"model.skops": _model_file(tmp_path, b"two")}, _meta())
    folder = tmp_path / "reg" / "versions"
    (folder / "v2" / "model.skops").write_bytes(b"one")  # v1's bytes under v2's name
    with pytest.raises(InputError) as info:
        reg.download(2, tmp_path / "out")
    assert str(info.value).startswith(f"registry {tmp_path / 'reg'}: version 2: model.skops has")
    assert not (tmp_path / "out").exists()
    (folder / "v2" / "model.skops").unlink()
    with pytest.raises(InputError, match="version 2: model.skops is missing"):
        reg.download(2, tmp_path / "out")
    assert reg.download(1, tmp_path / "out").joinpath("model.skops").read_bytes() == b"one"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"metrics": ["accuracy"]}, "metrics: expected an object of metric names to numbers"),
        ({"metrics": {"accuracy": "high"}}, "metrics: expected an object of metric names"),
        ({"blessing": []}, "blessing: expected an object with blessed: true or false"),
        ({"blessing": {"blessed": "yes"}}, "blessing: expected an object with blessed"),
        ({"model_file": "../x"}, "model_file: expected a plain file name, got '../x'"),
        ({"model_file": 3}, "model_file: expected a plain file name, got 3"),
        ({"hashes": None}, "hashes: expected an object of file names to sha256, got null"),
        ({"hashes": {"model.skops": "abc"}}, "hashes.model.skops: expected a sha256"),
        ({"version": 9}, "version: says 9 but the version is 1"),
        ({"features": "a,b"}, "features: expected a list or null"),
    ],
)
def test_metadata_is_validated_on_read(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    reg = LocalRegistry(tmp_path / "reg")
    reg.register({"model.skops": _model_file(tmp_path)}, _meta())
    path = tmp_path / "reg" / "versions" / "v1" / "metadata.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **change}))
    for read in (lambda: reg.get(1), reg.versions, lambda: reg.download(1, tmp_path / "o")):
        with pytest.raises(InputError) as info:
            read()
        text = str(info.value)
        assert text.startswith(f"registry {tmp_path / 'reg'}: version 1: metadata ")
        assert message in text
        assert text.endswith("the version is damaged, register the model again")


@pytest.mark.parametrize(
    "content",
    [b"[1]", b"{" * 100 + b"}" * 100, b'{"model_file": NaN}', b"\xff", b'{"version": 1e999}'],
)
def test_hostile_metadata_files_are_refused(tmp_path: Path, content: bytes) -> None:
    reg = LocalRegistry(tmp_path / "reg")
    reg.register({"model.skops": _model_file(tmp_path)}, _meta())
    (tmp_path / "reg" / "versions" / "v1" / "metadata.json").write_bytes(content)
    with pytest.raises(InputError):
        reg.get(1)


def test_metadata_that_is_a_fifo_is_refused(tmp_path: Path) -> None:
    import os

    reg = LocalRegistry(tmp_path / "reg")
    reg.register({"model.skops": _model_file(tmp_path)}, _meta())
    path = tmp_path / "reg" / "versions" / "v1" / "metadata.json"
    path.unlink()
    os.mkfifo(path)
    with pytest.raises(InputError, match="registry metadata is a FIFO"):
        reg.get(1)


_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from mlci.registry.local import LocalRegistry
    from mlci.registry.base import make_event
    root, model, writer, start = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], float(sys.argv[4])
    reg = LocalRegistry(root)
    while time.time() < start:
        time.sleep(0.001)
    for i in range(int(sys.argv[5])):
        v = reg.register({"model.skops": model}, {"model_file": "model.skops", "writer": writer, "i": i})
        reg.record(make_event("promote", v.version, note=f"{writer}-{i}"))
        print(v.version)
    """
)


def test_parallel_processes_never_share_a_version_or_corrupt_state(tmp_path: Path) -> None:
    model = _model_file(tmp_path, b"x" * 200_000)
    root = tmp_path / "reg"
    import time

    start = time.time() + 1.5
    writers, per_writer = 4, 6
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                _WRITER,
                str(root),
                str(model),
                f"w{w}",
                str(start),
                str(per_writer),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        for w in range(writers)
    ]
    got: list[int] = []
    for p in procs:
        out, _ = p.communicate(timeout=120)
        assert p.returncode == 0
        got += [int(line) for line in out.split()]
    total = writers * per_writer
    assert sorted(got) == list(range(1, total + 1))
    reg = LocalRegistry(root)
    versions = reg.versions()
    assert [v.version for v in versions] == list(range(1, total + 1))
    assert {(v.metadata["writer"], v.metadata["i"]) for v in versions} == {
        (f"w{w}", i) for w in range(writers) for i in range(per_writer)
    }
    assert all((Path(v.location) / "model.skops").stat().st_size == 200_000 for v in versions)
    state = reg.state()
    assert len(state.history) == total  # no lost update
    assert state.production in got
    # Each promote records the version that was really in production when it applied,
    # not the one its writer saw before registering (concurrent deploys).
    assert state.history[0]["from"] is None
    for before, after in zip(state.history, state.history[1:], strict=False):
        assert after["from"] == before["version"]


def test_a_failed_register_leaves_no_version_behind(tmp_path: Path) -> None:
    reg = LocalRegistry(tmp_path / "reg")
    good = _model_file(tmp_path)
    with pytest.raises(FileNotFoundError):
        reg.register({"model.skops": good, "model.onnx": tmp_path / "missing.onnx"}, _meta())
    with pytest.raises(InputError, match="metadata metrics: expected an object"):
        reg.register({"model.skops": good}, _meta(metrics=["accuracy"]))
    assert reg.versions() == []
    assert list((tmp_path / "reg" / ".staging").iterdir()) == []
    assert not (tmp_path / "reg" / "versions").exists() or not list(
        (tmp_path / "reg" / "versions").iterdir()
    )


_KILLED_WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from mlci.registry.local import LocalRegistry
    from mlci.registry.base import make_event
    root, model = Path(sys.argv[1]), Path(sys.argv[2])
    reg = LocalRegistry(root)
    print("ready", flush=True)
    while True:
        v = reg.register({"model.skops": model}, {"model_file": "model.skops"})
        reg.record(make_event("promote", v.version))
    """
)


@pytest.mark.parametrize("delay", [0.05, 0.2, 0.45])
def test_kill_9_during_registration_never_leaves_a_version_that_fails_verification(
    tmp_path: Path, delay: float
) -> None:
    import signal
    import time

    model = _model_file(tmp_path, b"m" * 3_000_000)
    root = tmp_path / "reg"
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, str(root), str(model)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()
    reg = LocalRegistry(root)
    for version in reg.versions():  # each listed version is whole and verifies
        out = reg.download(version.version, tmp_path / f"out{version.version}")
        assert (out / "model.skops").stat().st_size == 3_000_000
    state = reg.state()  # state.json is old or new, never half written
    assert state.production is None or state.production in {v.version for v in reg.versions()}
