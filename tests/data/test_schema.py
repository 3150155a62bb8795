from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from mlci.cli import main
from mlci.data.profile import Profiler
from mlci.data.schema import ColumnSchema, infer_schema, load_schema, merge_update, render_schema
from mlci.errors import ConfigError, InputError
from tests.data.conftest import mixed_frame, write


def _profile(frame: pd.DataFrame):
    p = Profiler(track_unique=True)
    p.update(0, frame)
    return p.finish()


def test_inference_covers_types_nulls_ranges_domains_keys_and_rows():
    frame = mixed_frame(2000, 0)
    frame.loc[::40, "income"] = None
    frame["code"] = [f"c{i}" for i in range(2000)]
    frame["empty"] = None
    schema = infer_schema(_profile(frame), target="label")
    cols = schema.columns
    assert {n: c.type for n, c in cols.items()} == {
        "id": "int",
        "age": "int",
        "income": "float",
        "score": "float",
        "city": "category",
        "member": "bool",
        "seen": "datetime",
        "label": "int",
        "code": "string",
        "empty": "string",
    }
    assert cols["id"].unique and cols["code"].unique and not cols["age"].unique
    assert not cols["age"].nullable and cols["age"].min_present is None
    assert cols["income"].nullable and 0.9 < cols["income"].min_present < 0.975
    # Numbers get a margin by default (a tenth of the range on each side).
    assert (cols["age"].min, cols["age"].max) == (10, 97)
    exact = infer_schema(_profile(frame), target="label", margin=0.0).columns["age"]
    assert (exact.min, exact.max) == (frame["age"].min(), frame["age"].max())
    # A key gets no range: the next batch brings new keys; only uniqueness is checked.
    assert (cols["id"].min, cols["id"].max) == (None, None)
    # Times get no upper bound, but "not in the future" (the reference had none).
    assert cols["seen"].latest is None and cols["seen"].future is False
    assert sorted(cols["city"].domain) == ["Lille", "Lyon", "Nice", "Paris"]
    assert cols["city"].domain[0] == "Paris"  # most frequent first
    assert cols["city"].min_domain_mass == 1.0
    assert cols["member"].domain == ["false", "true"]
    assert cols["label"].domain == ["0", "1"]  # an int label gets its classes
    assert cols["seen"].earliest.startswith("2024-01-01")
    assert cols["empty"].min_present == 0.0
    assert (schema.rows.min, schema.rows.max) == (200, 20000)


def test_max_domain_and_margin():
    frame = pd.DataFrame(
        {
            "c": [f"v{i % 30}" for i in range(300)],
            "x": [0.0, 10.0] * 150,
            "y": [-2.0, 8.0] * 150,
        }
    )
    schema = infer_schema(_profile(frame), max_domain=20, margin=0.1)
    assert schema.columns["c"].type == "string" and schema.columns["c"].domain is None
    # Widened by a tenth of the width on each side, but never below zero for a column
    # that was never negative.
    assert (schema.columns["x"].min, schema.columns["x"].max) == (0.0, 11.0)
    assert (schema.columns["y"].min, schema.columns["y"].max) == (-3.0, 9.0)


def test_rendered_yaml_has_comments_and_loads_back(tmp_path):
    frame = mixed_frame(500, 1)
    frame["weird: name|x"] = 1.5
    prof = _profile(frame)
    schema = infer_schema(prof)
    text = render_schema(schema, profile=prof, source="data/ref.csv")
    assert text.startswith("# mlci data schema")
    assert "from data/ref.csv" in text
    assert "  income:  # 0.0% null, mean" in text
    assert "  'weird: name|x':  #" in text
    path = tmp_path / "schema.yaml"
    path.write_text(text)
    assert load_schema(path) == schema


def test_update_keeps_hand_edits(tmp_path):
    old_frame = mixed_frame(1000, 2)
    schema = infer_schema(_profile(old_frame), margin=0.0)
    path = tmp_path / "schema.yaml"
    text = render_schema(schema)
    # hand edits: a tighter max, a column removed, a column added, a looser row minimum
    edited = load_schema(path) if False else schema
    columns = dict(edited.columns)
    columns["age"] = dataclasses.replace(columns["age"], max=80.0)
    del columns["score"]
    columns["extra"] = ColumnSchema(type="float", required=False)
    edited = dataclasses.replace(
        edited, columns=columns, rows=dataclasses.replace(edited.rows, min=1)
    )
    path.write_text(render_schema(edited))
    assert text != path.read_text()
    new_frame = mixed_frame(3000, 3)
    new_frame["fresh"] = 1
    merged = merge_update(load_schema(path), infer_schema(_profile(new_frame), margin=0.0))
    cols = merged.columns
    assert cols["age"].max == 80.0  # edit kept
    assert cols["income"].max == new_frame["income"].max()  # re-inferred
    assert "score" not in cols  # deleted by hand stays deleted
    assert cols["extra"] == ColumnSchema(type="float", required=False)  # added by hand kept
    assert "fresh" in cols  # new data column added
    assert merged.rows.min == 1 and merged.rows.max == 30000
    assert merged.inferred["age"].max == new_frame["age"].max()


def test_cli_update_round_trip(tmp_path, capsys):
    data = write(mixed_frame(1000, 4), tmp_path / "ref.csv")
    out = tmp_path / "mlci" / "schema.yaml"
    assert main(["schema", "infer", str(data), "-o", str(out)]) == 0
    assert f"wrote {out} (8 columns from 1000 rows" in capsys.readouterr().out
    text = out.read_text().replace("    max: 97\n", "    max: 75\n", 1)  # 89 plus the margin
    out.write_text(text)
    assert main(["schema", "infer", str(data), "-o", str(out), "--update"]) == 0
    assert load_schema(out).columns["age"].max == 75.0


def test_cli_never_overwrites_a_schema_without_update_or_force(tmp_path, capsys):
    data = write(mixed_frame(200, 4), tmp_path / "ref.csv")
    out = tmp_path / "schema.yaml"
    out.write_text("# my hand-written schema\nversion: 1\ncolumns: {}\n")
    assert main(["schema", "infer", str(data), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{out}: the schema already exists" in err and "--update" in err and "--force" in err
    assert out.read_text().startswith("# my hand-written schema")
    assert main(["schema", "infer", str(data), "-o", str(out), "--force"]) == 0
    assert out.read_text().startswith("# mlci data schema")


def test_cli_dash_writes_to_stdout(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = write(mixed_frame(200, 4), tmp_path / "ref.csv")
    assert main(["schema", "infer", str(data), "-o", "-"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# mlci data schema") and "columns:" in out
    assert not (tmp_path / "-").exists()


def test_bad_schema_file_errors_point_at_the_line(tmp_path):
    path = tmp_path / "schema.yaml"
    path.write_text(
        "version: 1\n"
        "columns:\n"
        "  age:\n"
        "    type: int\n"
        "    min: x\n"
        "    maxx: 3\n"
        "  city:\n"
        "    type: categori\n"
        "  t:\n"
        "    type: datetime\n"
        "    earliest: not a date\n"
        "  y:\n"
        "    type: float\n"
        "    min: 5\n"
        "    max: 1\n"
    )
    with pytest.raises(ConfigError) as info:
        load_schema(path)
    assert str(info.value).splitlines() == [
        f"{path}:5:10: columns.age.min: expected a number, got 'x'",
        f"{path}:6:5: columns.age.maxx: unknown key; did you mean 'max'?",
        f"{path}:8:11: columns.city.type: 'categori' is not allowed; did you mean 'category'?",
    ]
    path.write_text(
        path.read_text()
        .replace("min: x", "min: 1")
        .replace("maxx", "max")
        .replace("categori", "category")
    )
    with pytest.raises(ConfigError) as info:
        load_schema(path)
    assert str(info.value).splitlines() == [
        f"{path}:11:15: columns.t.earliest: expected an ISO 8601 time such as 2024-01-31,"
        " got 'not a date'",
        f"{path}:15:10: columns.y.max: max is smaller than min; swap them",
    ]


def test_missing_or_foreign_schema_file(tmp_path):
    with pytest.raises(
        InputError, match="schema file not found; create it with `mlci schema infer"
    ):
        load_schema(tmp_path / "nope.yaml")
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    with pytest.raises(InputError, match="not a schema file"):
        load_schema(tmp_path / "list.yaml")


def test_a_schema_inferred_from_a_stored_profile_gives_keys_no_range(tmp_path, capsys):
    data = write(mixed_frame(3000, 5), tmp_path / "ref.parquet")
    profile, out = tmp_path / "p.json", tmp_path / "schema.yaml"
    assert main(["profile", str(data), "-o", str(profile)]) == 0
    assert main(["schema", "infer", str(profile), "-o", str(out)]) == 0
    key = load_schema(out).columns["id"]
    assert key.unique and (key.min, key.max) == (None, None)
