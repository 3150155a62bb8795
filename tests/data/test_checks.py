from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlci.data.checks import Checker, severity_resolver
from mlci.data.schema import ColumnSchema, DataSchema, RowBounds

SCHEMA = DataSchema(
    version=1,
    rows=RowBounds(min=5, max=1000),
    columns={
        "id": ColumnSchema(type="int", nullable=False, unique=True),
        "age": ColumnSchema(type="int", nullable=False, min=18, max=99),
        "score": ColumnSchema(type="float", nullable=True, min_present=0.9, min=0, max=1),
        "city": ColumnSchema(type="category", nullable=False, domain=["Paris", "Lyon"]),
        "seen": ColumnSchema(type="datetime", earliest="2024-01-01", latest="2024-12-31"),
        "label": ColumnSchema(type="int", nullable=False, domain=["0", "1"]),
        "gone": ColumnSchema(type="float"),
        "optional": ColumnSchema(type="float", required=False),
    },
)


def _good(n: int = 100) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "age": rng.integers(18, 99, n),
            "score": rng.uniform(0, 1, n),
            "city": rng.choice(["Paris", "Lyon"], n),
            "seen": pd.Timestamp("2024-03-01")
            + pd.to_timedelta(rng.integers(0, 86400 * 100, n), "s"),
            "label": rng.integers(0, 2, n),
            "gone": rng.normal(size=n),
        }
    )


def _check(frame: pd.DataFrame, chunk: int = 1000, schema: DataSchema = SCHEMA, **kw):
    checker = Checker(schema, target="label", **kw)
    for start in range(0, len(frame), chunk):
        checker.update(start, frame.iloc[start : start + chunk])
    return {f"{f.check}:{f.column}": f for f in checker.finish()}


def test_clean_data_has_no_findings():
    assert _check(_good()) == {}


def test_every_check_reports_count_fraction_and_rows():
    frame = _good(200).drop(columns=["gone"])
    frame["new"] = 1
    frame.loc[[3, 150], "age"] = [5, 120]
    frame.loc[10:39, "score"] = np.nan  # 15% null > 10% allowed
    frame.loc[41, "score"] = np.inf
    frame["city"] = frame["city"].astype(object)
    frame.loc[[7, 8, 160], "city"] = ["Nice", "Nice", "Lille"]
    frame.loc[50, "seen"] = pd.Timestamp("2023-06-01")
    frame.loc[60, "label"] = 2
    frame.loc[70, "id"] = 5
    frame.loc[199] = frame.loc[198]
    found = _check(frame, chunk=64)
    assert set(found) == {
        "missing_column:gone",
        "new_column:new",
        "out_of_range:age",
        "null_fraction:score",
        "nan_or_inf:score",
        "unexpected_category:city",
        "out_of_range:seen",
        "new_label_class:label",
        "duplicate_key:id",
        "duplicate_rows:None",
    }
    age = found["out_of_range:age"]
    assert (age.severity, age.count, age.fraction) == ("error", 2, 0.01)
    assert age.samples == [{"row": 4, "value": 5}, {"row": 151, "value": 120}]
    assert age.message == "2 value(s) of 'age' are outside [18, 99]"
    nulls = found["null_fraction:score"]
    assert nulls.count == 30 and nulls.fraction == pytest.approx(0.15)
    assert (
        nulls.message == "30 (15.00%) of the values of 'score' are null; at most 10.00% may be null"
    )
    assert nulls.samples[0] == {"row": 11, "value": None}
    city = found["unexpected_category:city"]
    assert city.count == 3 and city.observed == {"Nice": 2, "Lille": 1}
    assert [s["row"] for s in city.samples] == [8, 9, 161]
    assert found["new_label_class:label"].samples == [{"row": 61, "value": "2"}]
    assert found["duplicate_key:id"].samples[0]["row"] == 71
    assert found["duplicate_rows:None"].severity == "warning"
    assert found["duplicate_rows:None"].samples == [{"row": 200, "value": None}]
    assert found["new_column:new"].severity == "warning"
    assert "optional" not in {f.split(":")[1] for f in found}


def test_samples_are_capped_at_20():
    frame = _good(500)
    frame["age"] = 200
    age = _check(frame, chunk=50)["out_of_range:age"]
    assert age.count == 500 and len(age.samples) == 20
    assert [s["row"] for s in age.samples] == list(range(1, 21))


def test_mixed_types_are_a_dtype_mismatch_finding():
    frame = _good(50)
    frame["age"] = frame["age"].astype(object)
    frame.loc[[2, 30], "age"] = ["forty", "n/a?"]
    frame.loc[5, "score"] = 0.5
    frame["label"] = frame["label"].astype(float)
    frame.loc[6, "label"] = 0.5
    found = _check(frame)
    mismatch = found["dtype_mismatch:age"]
    assert mismatch.count == 2 and mismatch.samples == [
        {"row": 3, "value": "forty"},
        {"row": 31, "value": "n/a?"},
    ]
    assert "are not int (mixed types)" in mismatch.message
    assert found["dtype_mismatch:label"].samples == [{"row": 7, "value": 0.5}]


def test_all_null_column_and_label_missing_values():
    frame = _good(40)
    frame["gone"] = np.nan
    frame["label"] = frame["label"].astype(float)
    frame.loc[[1, 2], "label"] = np.nan
    schema = DataSchema(
        version=1,
        columns={**SCHEMA.columns, "gone": ColumnSchema(type="float", nullable=False)},
    )
    found = _check(frame, schema=schema)
    assert found["null_fraction:gone"].message == (
        "all of the values of 'gone' are null; nulls are not allowed"
    )
    assert found["label_missing:label"].count == 2


def test_missing_label_column():
    found = _check(_good(20).drop(columns=["label"]))
    assert found["label_missing:label"].message == (
        "label column 'label' is missing from the data; add it or fix data.target in mlci.yaml"
    )


def test_constant_column_and_row_count():
    frame = _good(3)
    frame["city"] = "Paris"
    found = _check(frame)
    assert found["constant_column:city"].severity == "warning"
    assert (
        found["row_count:None"].message == "the data has 3 rows; the schema expects 5 to 1000 rows"
    )


def test_domain_mass_tolerates_a_share_of_unexpected_values():
    schema = DataSchema(
        version=1,
        columns={"city": ColumnSchema(type="category", domain=["Paris"], min_domain_mass=0.9)},
    )
    few = pd.DataFrame({"city": ["Paris"] * 95 + ["Nice"] * 5})
    many = pd.DataFrame({"city": ["Paris"] * 80 + ["Nice"] * 20})
    found = _check(few, schema=schema)
    assert (
        found["unexpected_category:city"].severity == "warning" and "domain_mass:city" not in found
    )
    found = _check(many, schema=schema)
    assert found["domain_mass:city"].severity == "error"
    assert found["domain_mass:city"].observed == pytest.approx(0.8)


def test_severities_per_check_and_per_column():
    frame = _good(50)
    frame.loc[1, "age"] = 150
    frame.loc[2, "score"] = 7
    severity = severity_resolver(
        {"out_of_range": "warning", "missing_column": "off"},
        {"score": {"out_of_range": "error"}},
    )
    found = _check(frame, severity=severity)
    assert found["out_of_range:age"].severity == "warning"
    assert found["out_of_range:score"].severity == "error"
    assert "missing_column:gone" not in found


def test_composite_id_columns():
    frame = pd.DataFrame({"a": [1, 1, 2, 2], "b": ["x", "y", "x", "x"]})
    schema = DataSchema(
        version=1, columns={"a": ColumnSchema(type="int"), "b": ColumnSchema(type="string")}
    )
    found = _check(frame, schema=schema, id_columns=["a", "b"])
    assert found["duplicate_key:None"].message == "1 row(s) repeat the key 'a+b' of an earlier row"
    assert found["duplicate_key:None"].samples == [{"row": 4, "value": None}]


def test_parquet_nan_is_reported_apart_from_null(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from mlci.data.io import iter_frames

    table = pa.table(
        {"x": pa.array([0.5, float("nan"), None, 0.25, float("inf")], type=pa.float64())}
    )
    pq.write_table(table, tmp_path / "x.parquet")
    schema = DataSchema(version=1, columns={"x": ColumnSchema(type="float", nullable=False)})
    checker = Checker(schema)
    for offset, frame in iter_frames(tmp_path / "x.parquet"):
        checker.update(offset, frame)
    found = {f.check: f for f in checker.finish()}
    assert found["nan_or_inf"].count == 2
    assert found["nan_or_inf"].samples == [
        {"row": 2, "value": None},
        {"row": 5, "value": float("inf")},
    ]
    assert found["null_fraction"].count == 1 and found["null_fraction"].samples == [
        {"row": 3, "value": None}
    ]


def _findings(checker: Checker, frame: pd.DataFrame, chunk: int, keys: list[str] | None) -> dict:
    """Findings of ``frame`` in chunks; with ``keys``, the key columns indexed first."""
    if keys is not None:
        parts = ((s, frame.iloc[s : s + chunk][keys]) for s in range(0, len(frame), chunk))
        assert checker.index_keys(parts)
    for start in range(0, len(frame), chunk):
        checker.update(start, frame.iloc[start : start + chunk])
    return {f"{f.check}:{f.column}": f.to_dict() for f in checker.finish()}


def _keyed_frame() -> pd.DataFrame:
    """Duplicate rows across chunks, repeated keys on different rows, duplicates with null keys."""
    frame = _good(300).drop(columns=["gone"]).astype({"id": "float64"})
    frame.loc[[20, 21, 250], "id"] = np.nan  # null keys: 250 repeats row 20 exactly
    frame.loc[250] = frame.loc[20]
    frame.loc[299] = frame.loc[0]  # a duplicate row in the last chunk of the first
    frame.loc[280] = frame.loc[5]
    frame.loc[281] = frame.loc[5]  # two repeats of one row
    frame.loc[150, "id"] = 7  # a repeated key, the rows differ
    frame.loc[151] = frame.loc[150]  # ... and a repeat of that row
    return frame


@pytest.mark.parametrize("chunk", [64, 1000])
def test_indexed_keys_find_the_same_duplicate_rows_as_hashing_every_row(chunk):
    schema = DataSchema(
        version=1,
        columns={**SCHEMA.columns, "id": ColumnSchema(type="int", nullable=True, unique=True)},
    )
    frame = _keyed_frame()
    full = _findings(Checker(schema, target="label"), frame, chunk, None)
    indexed_checker = Checker(schema, target="label")
    indexed = _findings(indexed_checker, frame, chunk, ["id"])
    assert indexed == full
    assert full["duplicate_rows:None"]["samples"] == [
        {"row": r, "value": None} for r in (152, 251, 281, 282, 300)
    ]
    assert full["duplicate_key:id"]["count"] == 5  # rows 151, 152, 281, 282, 300
    # Only rows with a repeated or null key were hashed: ids 0, 5 and 7, and the nulls.
    assert indexed_checker._candidates is not None
    assert indexed_checker._candidates.tolist() == [0, 5, 7, 20, 21, 150, 151, 250, 280, 281, 299]
    assert not indexed_checker._row_hashes


def test_indexed_composite_key_finds_the_same_duplicates():
    frame = pd.DataFrame(
        {
            "a": [1, 1, 2, 2, None, None, 3, 1],
            "b": ["x", "y", "x", "x", "z", "z", "w", "x"],
            "v": [0.5, 0.5, 1.0, 1.0, 2.0, 2.0, 3.0, 0.5],
        }
    )
    schema = DataSchema(
        version=1,
        columns={
            "a": ColumnSchema(type="int"),
            "b": ColumnSchema(type="string"),
            "v": ColumnSchema(type="float"),
        },
    )
    full = _findings(Checker(schema, id_columns=["a", "b"]), frame, 3, None)
    indexed = _findings(Checker(schema, id_columns=["a", "b"]), frame, 3, ["a", "b"])
    assert indexed == full
    assert [s["row"] for s in full["duplicate_rows:None"]["samples"]] == [4, 6, 8]
    assert [s["row"] for s in full["duplicate_key:None"]["samples"]] == [4, 8]


def test_index_keys_declines_when_a_chunk_lacks_the_key():
    checker = Checker(SCHEMA)
    frame = _good(10)
    assert not checker.index_keys([(0, frame[["id"]]), (5, frame[["age"]])])
    assert checker._candidates is None
    assert not Checker(DataSchema(version=1, columns={})).index_keys([(0, frame[["id"]])])
    off = Checker(SCHEMA, severity=severity_resolver({"duplicate_rows": "off"}))
    assert not off.index_keys([(0, frame[["id"]])])
