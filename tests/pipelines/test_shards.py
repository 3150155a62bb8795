"""validate-data over shards of a Parquet folder gives the one-machine verdict."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlci.cli import main
from tests.data.conftest import mixed_frame, write

CONFIG = """\
version: 1
task: classification
data:
  reference: data/reference.parquet
  current: data/current
  target: label
  id_columns: [id]
  schema: mlci/schema.yaml
  chunk_rows: 1000
  checks: {duplicate_rows: error}
  drift: {enabled: true}
"""


def _parts(root: Path) -> None:
    """Seven messy parts: nulls, out-of-range values, new categories, keys and rows
    repeated across parts, a part without a column, a part with another type, drift."""
    frames = [mixed_frame(700 + 150 * i, seed=i + 1, shift=0.4 * (i % 3)) for i in range(7)]
    frames[1].loc[::13, "income"] = None
    frames[2].loc[::17, "age"] = 400
    frames[3].loc[::11, "city"] = "Atlantis"
    frames[4] = pd.concat([frames[4], frames[0].iloc[:25]], ignore_index=True)  # repeats
    frames[5]["id"] = frames[5]["id"] % 50  # keys repeated inside and across parts
    frames[5] = frames[5].drop(columns=["member"])
    frames[6]["score"] = frames[6]["score"].astype("float32").astype(str)  # another type
    for i, frame in enumerate(frames):
        write(frame, root / f"part-{i:03d}.parquet")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "mlci.yaml").write_text(CONFIG, encoding="utf-8")
    write(mixed_frame(3000, seed=0), tmp_path / "data" / "reference.parquet")
    _parts(tmp_path / "data" / "current")
    monkeypatch.chdir(tmp_path)
    assert main(["schema", "infer", "data/reference.parquet"]) == 0
    return tmp_path


def _comparable(doc: dict) -> dict:
    doc = dict(doc)
    for key in ("provenance", "created", "created_at", "shards"):
        doc.pop(key, None)
    return doc


@pytest.mark.parametrize("count", [3, 2, 9])
def test_shards_merged_equal_one_machine(project: Path, count: int, capsys) -> None:
    one = main(["validate-data", "--results", "one"])
    whole = json.loads((project / "one" / "data.json").read_text())
    assert one == 1 and whole["findings"], "the data must give findings to compare"
    checks = {f["check"] for f in whole["findings"]}
    assert {"duplicate_rows", "duplicate_key", "out_of_range", "missing_column"} <= checks
    assert whole["drift"] is not None

    for i in range(1, count + 1):
        assert main(["validate-data", "--shard", f"{i}/{count}", "--results", f"s{i}"]) == 0
    profiles = [
        str(project / f"s{i}" / f"shard-{i}-of-{count}" / "profile.json")
        for i in range(1, count + 1)
    ]
    assert main(["profile", "merge", *profiles, "-o", "merged.json"]) == 0
    capsys.readouterr()
    shard_dirs = [f"s{i}" for i in range(1, count + 1)]
    code = main(
        [
            "validate-data",
            "--merge-shards",
            *shard_dirs,
            "--current-profile",
            "merged.json",
            "--results",
            "merged",
        ]
    )
    merged = json.loads((project / "merged" / "data.json").read_text())
    assert code == one
    assert merged["shards"] == count
    assert whole.get("shards") is None
    assert _comparable(merged) == _comparable(whole)
    assert f"from {count} shards" in capsys.readouterr().out


def test_merge_without_explicit_profile_and_missing_shard(project: Path, capsys) -> None:
    for i in (1, 2, 3):
        main(["validate-data", "--shard", f"{i}/3", "--results", "parts"])
    assert main(["validate-data", "--merge-shards", "parts", "--results", "m"]) == 1
    main(["validate-data", "--results", "one"])
    merged = json.loads((project / "m" / "data.json").read_text())
    whole = json.loads((project / "one" / "data.json").read_text())
    assert _comparable(merged) == _comparable(whole)

    import shutil

    shutil.rmtree(project / "parts" / "shard-2-of-3")
    capsys.readouterr()
    assert main(["validate-data", "--merge-shards", "parts", "--results", "m2"]) == 2
    err = capsys.readouterr().err
    assert "shard(s) 2 of 3 missing" in err and "Traceback" not in err


def test_shard_needs_a_folder_and_a_valid_split(project: Path, capsys) -> None:
    assert main(["validate-data", "--current", "data/reference.parquet", "--shard", "1/2"]) == 2
    assert "--shard splits a folder (or glob) of Parquet parts" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["validate-data", "--shard", "3/2"])
    assert exc.value.code == 2
    assert "not a shard" in capsys.readouterr().err


def test_shard_reads_only_its_parts(project: Path) -> None:
    from mlci.data.io import iter_frames, shard_parts

    root = project / "data" / "current"
    whole = [(o, len(f)) for o, f in iter_frames(root, chunk_rows=1000)]
    pieces = []
    for i in (1, 2, 3):
        files, first = shard_parts(root, i, 3)
        got = [(o, len(f)) for o, f in iter_frames(root, chunk_rows=1000, shard=(i, 3))]
        assert not got or got[0][0] == first
        assert len(files) in (2, 3)
        pieces += got
    assert pieces == whole
    assert np.sum([n for _, n in whole]) > 0


def test_rows_unchecked_after_an_earlier_shard_finds_a_column_unsupported(tmp_path: Path) -> None:
    """One machine never calls rows duplicates once a column of theirs is unsupported;
    a later shard that did not know hashes them, and the merge undoes that."""
    from mlci.data.checks import Checker
    from mlci.data.io import iter_frames
    from mlci.data.schema import ColumnSchema, DataSchema

    root = tmp_path / "parts"
    times = [f"2024-01-0{1 + i % 9}T00:00:00" for i in range(50)]
    base = pd.DataFrame({"t": times, "x": np.arange(50, dtype="float64")})
    mixed = base.copy()
    mixed.loc[7, "t"] = "2024-01-01T00:00:00+02:00"
    repeat = base.assign(x=base["x"] + 1000)
    for i, frame in enumerate([base, mixed, repeat, repeat]):
        write(frame, root / f"part-{i}.parquet")
    schema = DataSchema(
        version=1, columns={"t": ColumnSchema(type="datetime"), "x": ColumnSchema(type="float")}
    )

    def checker() -> Checker:
        return Checker(schema, severity=lambda code, column: "error")

    whole = checker()
    for offset, frame in iter_frames(root, chunk_rows=1000):
        whole.update(offset, frame)
    expected = [f.to_dict() for f in whole.finish()]
    assert "unsupported_type" in {f["check"] for f in expected}
    assert "duplicate_rows" not in {f["check"] for f in expected}

    merged = checker()
    for i in (1, 2):
        shard = checker()
        for offset, frame in iter_frames(root, chunk_rows=1000, shard=(i, 2)):
            shard.update(offset, frame)
        if i == 2:  # alone, the second shard sees duplicates
            alone = checker()
            alone.absorb(*shard.state())
            assert "duplicate_rows" in {f.check for f in alone.finish()}
        merged.absorb(*shard.state())
    assert [f.to_dict() for f in merged.finish()] == expected
