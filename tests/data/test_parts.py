"""Every row of every part is checked: Parquet folders, chunked CSV and JSON Lines, odd types."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlci.cli import main
from mlci.data.checks import Checker
from mlci.data.io import PART_ATTR, detect_format, iter_frames, shard_parts
from mlci.data.profile import profile_path
from mlci.data.schema import ColumnSchema, DataSchema, RowBounds, infer_schema, render_schema
from mlci.results import read_results
from tests.data.conftest import write

SCHEMA = DataSchema(
    version=1,
    rows=RowBounds(min=1),
    columns={
        "x": ColumnSchema(type="float", nullable=False, min=0, max=100),
        "n": ColumnSchema(type="int", nullable=False, min=0, max=10),
        "city": ColumnSchema(type="category", nullable=False, domain=["Paris", "Lyon"]),
        "label": ColumnSchema(type="int", nullable=False, domain=["0", "1"]),
    },
)


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.uniform(0, 100, n),
            "n": rng.integers(0, 10, n),
            "city": rng.choice(["Paris", "Lyon"], n),
            "label": rng.integers(0, 2, n),
        }
    )


def _check(path: Path, *, chunk_rows: int = 1000, schema: DataSchema = SCHEMA) -> dict:
    checker = Checker(schema, target="label", data_name=path.name)
    for offset, frame in iter_frames(path, chunk_rows=chunk_rows):
        checker.update(offset, frame)
    return {f"{f.check}:{f.column}": f for f in checker.finish()}


def _parts(root: Path, frames: list[pd.DataFrame]) -> Path:
    for i, frame in enumerate(frames):
        write(frame, root / "parts" / f"part-{i}.parquet")
    return root / "parts"


def test_a_late_parquet_part_that_drops_and_adds_columns_is_found(tmp_path):
    good = [_frame(500, i) for i in range(3)]
    broken = _frame(500, 9).drop(columns=["n", "label"]).assign(extra=1.0)
    found = _check(_parts(tmp_path, [*good, broken]))
    assert set(found) == {"missing_column:n", "label_missing:label", "new_column:extra"}
    for key in found:
        assert found[key].severity == ("warning" if key.startswith("new") else "error")
        assert "part-3.parquet" in found[key].message
    assert found["missing_column:n"].file.endswith("part-3.parquet")
    assert "1 part(s) of parts (500 rows)" in found["missing_column:n"].message
    # The same rows in one file give the same errors.
    one = tmp_path / "one.parquet"
    write(pd.concat([*good, broken], ignore_index=True), one)
    assert {"null_fraction:n", "label_missing:label"} <= set(_check(one))


def test_the_cli_fails_on_a_folder_whose_last_part_is_broken(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    good = [_frame(300, i) for i in range(2)]
    _parts(tmp_path, [*good, _frame(300, 5).drop(columns=["label"])])
    (tmp_path / "schema.yaml").write_text(render_schema(SCHEMA))
    code = main(["validate-data", "--current", "parts", "--schema", "schema.yaml", "--no-drift"])
    assert code == 1
    doc = read_results(tmp_path / "mlci-results" / "data.json")
    errors = [f for f in doc["findings"] if f["severity"] == "error"]
    assert [f["check"] for f in errors] == ["missing_column"]  # no mlci.yaml: no target
    assert "part-2.parquet" in errors[0]["message"]
    assert doc["rows"] == 900


def test_a_part_that_changes_a_column_type_is_found(tmp_path):
    late = _frame(400, 3)
    late["n"] = late["n"].astype(str)  # digits as text: every value still converts
    found = _check(_parts(tmp_path, [_frame(400, 1), _frame(400, 2), late]))
    assert set(found) == {"dtype_mismatch:n"}
    message = found["dtype_mismatch:n"].message
    assert "numeric in part-0.parquet" in message and "part-2.parquet (text)" in message


def test_values_in_a_late_part_are_checked(tmp_path):
    late = _frame(400, 3)
    late.loc[399, "x"] = 1e6
    late.loc[10, "city"] = "Nice"
    found = _check(_parts(tmp_path, [_frame(400, 1), _frame(400, 2), late]), chunk_rows=100)
    assert set(found) == {"out_of_range:x", "unexpected_category:city"}
    assert found["out_of_range:x"].samples == [{"row": 1200, "value": 1e6}]
    assert found["unexpected_category:city"].samples[0]["row"] == 811


@pytest.mark.parametrize("name", ["d.csv", "d.jsonl"])
def test_a_late_chunk_of_a_text_file_is_checked(tmp_path, name):
    frame = _frame(3000, 0)
    frame["n"] = frame["n"].astype(object)
    frame.loc[2990, "n"] = "eleven"
    frame.loc[2995, "x"] = -5.0
    found = _check(write(frame, tmp_path / name), chunk_rows=1000)
    assert set(found) == {"dtype_mismatch:n", "out_of_range:x"}
    assert found["dtype_mismatch:n"].samples == [{"row": 2991, "value": "eleven"}]
    assert found["out_of_range:x"].samples == [{"row": 2996, "value": -5.0}]


def test_json_lines_keys_missing_or_added_in_a_late_chunk(tmp_path):
    path = tmp_path / "d.jsonl"
    rows = _frame(2500, 0).to_dict("records")
    for r in rows[2100:]:
        del r["n"]
    rows[2400]["surprise"] = "hello"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    found = _check(path, chunk_rows=1000)
    assert set(found) == {"null_fraction:n", "new_column:surprise"}
    assert found["null_fraction:n"].count == 400
    assert found["null_fraction:n"].samples[0]["row"] == 2101
    assert "first in rows 2001-2500" in found["new_column:surprise"].message


def test_nested_binary_and_mixed_parquet_columns_are_reported_once(tmp_path):
    n = 40
    table = pa.table(
        {
            "x": pa.array(np.linspace(1, 99, n)),
            "n": pa.array(np.arange(n) % 10),
            "city": pa.array(["Paris"] * n),
            "label": pa.array([0, 1] * (n // 2)),
            "s": pa.array([{"a": i} for i in range(n)]),
            "l": pa.array([[i, i] for i in range(n)]),
            "m": pa.array([[("k", i)] for i in range(n)], pa.map_(pa.string(), pa.int64())),
            "b": pa.array([b"ok"] * (n - 1) + [b"\xff\xfe"], pa.binary()),
            "t": pa.array([b"fine text"] * n, pa.binary()),
        }
    )
    path = tmp_path / "odd.parquet"
    pq.write_table(table, path, row_group_size=10)
    schema = DataSchema(
        version=1,
        columns={**SCHEMA.columns, "s": ColumnSchema(type="string"), "t": ColumnSchema("string")},
    )
    found = _check(path, chunk_rows=10, schema=schema)
    unsupported = {k: f for k, f in found.items() if f.check == "unsupported_type"}
    assert set(unsupported) == {f"unsupported_type:{c}" for c in "slmb"}
    assert "nested values (struct)" in unsupported["unsupported_type:s"].message
    assert "not UTF-8 text (first at row 40)" in unsupported["unsupported_type:b"].message
    assert all(f.severity == "warning" for f in unsupported.values())
    assert "new_column:t" not in found and "dtype_mismatch:t" not in found  # valid UTF-8 is text
    # Profiling and inference take the same file without failing.
    profile = profile_path(path, chunk_rows=10, track_unique=True)
    assert profile.columns["b"].unsupported.startswith("binary values that are not UTF-8")
    assert "not checked: nested values (map)" in render_schema(
        infer_schema(profile), profile=profile
    )


def test_a_folder_mixing_schemas_is_reported_not_crashed(tmp_path, monkeypatch, capsys):
    root = tmp_path / "parts"
    root.mkdir()
    first = _frame(100, 0)
    pq.write_table(pa.Table.from_pandas(first, preserve_index=False), root / "a.parquet")
    second = pa.Table.from_pandas(_frame(100, 1), preserve_index=False)
    second = second.set_column(0, "x", pa.array([{"v": i} for i in range(100)]))
    pq.write_table(second, root / "b.parquet")
    found = _check(root)
    assert set(found) == {"unsupported_type:x"}
    assert "first seen in b.parquet" in found["unsupported_type:x"].message
    monkeypatch.chdir(tmp_path)
    assert main(["validate-data", "--current", "parts", "--reference", "parts"]) == 0
    assert main(["profile", "parts", "-o", "p.json"]) == 0
    assert main(["schema", "infer", "parts", "-o", "s.yaml"]) == 0
    assert "x: not checked: nested values (struct)" in capsys.readouterr().out


def test_time_zones_mixed_with_naive_times_across_parts(tmp_path):
    root = tmp_path / "parts"
    stamps = pd.date_range("2024-01-01", periods=50, freq="h")
    write(pd.DataFrame({"t": stamps}), root / "a.parquet")
    write(pd.DataFrame({"t": stamps.tz_localize("Europe/Paris")}), root / "b.parquet")
    schema = DataSchema(version=1, columns={"t": ColumnSchema(type="datetime")})
    found = _check(root, schema=schema)
    assert set(found) == {"unsupported_type:t"}
    assert "time zone (b.parquet)" in found["unsupported_type:t"].message


def test_nested_json_lines_values_are_reported(tmp_path, monkeypatch):
    path = tmp_path / "d.jsonl"
    rows = [{"x": float(i), "o": "plain" if i < 1500 else {"deep": i}} for i in range(2000)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    schema = DataSchema(
        version=1, columns={"x": ColumnSchema(type="float"), "o": ColumnSchema(type="string")}
    )
    found = _check(path, schema=schema)
    assert set(found) == {"unsupported_type:o"}
    assert (
        "nested values (JSON objects) (first seen in rows 1001-2000)"
        in found["unsupported_type:o"].message
    )


def test_duplicate_csv_column_names_are_an_error(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    Path("d.csv").write_text("a,b,a,b,c\n1,2,3,4,5\n")
    for argv in (
        ["profile", "d.csv"],
        ["validate-data", "--current", "d.csv", "--reference", "d.csv"],
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "d.csv: duplicate column name(s): 'a' is columns 1, 3; 'b' is columns 2, 4" in err


@pytest.mark.parametrize("command", ["profile", "schema", "validate-data"])
def test_non_utf8_text_names_the_column_and_row(tmp_path, monkeypatch, capsys, command):
    monkeypatch.chdir(tmp_path)
    lines = ["a,b"] + [f"{i},x{i}" for i in range(3000)]
    lines[2501] = "2500,Besan\xe7on"
    Path("l.csv").write_bytes("\n".join(lines).encode("latin-1"))
    argv = {
        "profile": ["profile", "l.csv"],
        "schema": ["schema", "infer", "l.csv", "-o", "s.yaml"],
        "validate-data": ["validate-data", "--current", "l.csv", "--reference", "l.csv"],
    }[command]
    assert main(argv) == 2
    assert "l.csv: column 'b', row 2501: not UTF-8 text" in capsys.readouterr().err


def test_huge_offending_values_are_cut_in_results(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    frame = _frame(100, 0).astype({"city": object, "n": str})
    big = "z" * 300_000
    for i in range(25):
        frame.loc[i, "city"] = big + str(i)
        frame.loc[50 + i, "n"] = big
    write(frame, tmp_path / "d.parquet")
    (tmp_path / "schema.yaml").write_text(render_schema(SCHEMA))
    assert main(["validate-data", "--current", "d.parquet", "--schema", "schema.yaml"]) == 1
    data = tmp_path / "mlci-results" / "data.json"
    assert data.stat().st_size < 50_000
    doc = read_results(data)
    category = next(f for f in doc["findings"] if f["check"] == "unexpected_category")
    assert category["samples"][0]["value"].endswith("... (300001 characters)")
    assert len(category["message"]) < 2_000


def test_text_times_mixing_zones_and_numbers_beyond_float_range(tmp_path):
    path = tmp_path / "d.csv"
    lines = ["t,b"] + [f"2024-01-0{1 + i % 9}T00:00:00,{i}.5" for i in range(3000)]
    lines[2500] = "2024-01-01T00:00:00+02:00,1" + "0" * 400
    lines[2600] = "2024-01-01T00:00:00,-inf"
    lines[2700] = "2024-01-01T00:00:00,oops"  # text in the column: read as text, converted
    path.write_text("\n".join(lines) + "\n")
    schema = DataSchema(
        version=1, columns={"t": ColumnSchema(type="datetime"), "b": ColumnSchema(type="float")}
    )
    found = _check(path, schema=schema)
    assert set(found) == {"unsupported_type:t", "dtype_mismatch:b", "nan_or_inf:b"}
    assert "time zone mixed with times without one (first seen in rows 2001-3000)" in (
        found["unsupported_type:t"].message
    )
    big, oops = found["dtype_mismatch:b"].samples
    assert big["row"] == 2500 and big["value"].endswith("(401 characters)")
    assert oops == {"row": 2700, "value": "oops"}
    assert found["nan_or_inf:b"].samples == [{"row": 2600, "value": float("-inf")}]
    profile = profile_path(path, chunk_rows=1000)
    assert profile.columns["t"].unsupported.startswith("times with a time zone")


def test_a_glob_of_parquet_parts_reads_like_the_folder(tmp_path):
    frames = [_frame(300, i) for i in range(3)]
    folder = _parts(tmp_path, [*frames, _frame(300, 7).drop(columns=["label"])])
    write(frames[0], folder / "deeper" / "part-9.parquet")
    (folder / "notes.txt").write_text("not data")
    # Only the matching parts: the broken part-3 and the nested part are left out.
    glob = folder / "part-[0-2].parquet"
    assert detect_format(glob) == "parquet-dir"
    assert _check(glob) == {}
    got = pd.concat([f for _, f in iter_frames(glob, chunk_rows=100)], ignore_index=True)
    pd.testing.assert_frame_equal(got, pd.concat(frames, ignore_index=True), check_dtype=False)
    # "**" spans folders, in name order, labelled relative to the pattern's fixed folder.
    labels = [f.attrs[PART_ATTR].label for _, f in iter_frames(folder / "**" / "*.parquet")]
    assert labels[-1] == "part-3.parquet" and "deeper/part-9.parquet" in labels
    assert "part-3.parquet" in _check(folder / "**" / "*.parquet")["label_missing:label"].message
    assert shard_parts(folder / "*.parquet", 2, 2)[0] == [
        folder / "part-2.parquet",
        folder / "part-3.parquet",
    ]


def test_the_cli_takes_a_glob_and_refuses_one_that_matches_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _parts(tmp_path, [_frame(300, i) for i in range(3)])
    (tmp_path / "schema.yaml").write_text(render_schema(SCHEMA))
    args = ["validate-data", "--schema", "schema.yaml", "--no-drift", "--current"]
    assert main([*args, "parts/*.parquet"]) == 0
    doc = read_results(tmp_path / "mlci-results" / "data.json")
    assert doc["rows"] == 900
    folder_print = doc["provenance"]["data"]["current"]["fingerprint"]
    assert folder_print and folder_print.startswith("sha256:")
    capsys.readouterr()
    assert main([*args, "parts/*.csv"]) == 2
    err = capsys.readouterr().err
    assert "parts/*.csv: no .parquet file matches the pattern" in err
    assert "Traceback" not in err
