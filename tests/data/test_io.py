from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest

from mlci.data.io import detect_format, iter_frames, read_columns
from mlci.errors import InputError
from tests.data.conftest import mixed_frame, write


def _read(path: Path, chunk_rows: int = 1000) -> pd.DataFrame:
    frames = []
    offsets = []
    for offset, frame in iter_frames(path, chunk_rows=chunk_rows):
        offsets.append(offset)
        frames.append(frame)
    assert offsets == sorted(offsets) and offsets[0] == 0
    return pd.concat(frames, ignore_index=True)


@pytest.mark.parametrize("name", ["d.csv", "d.csv.gz", "d.parquet", "d.jsonl"])
def test_every_format_reads_the_same_rows_in_chunks(tmp_path, name):
    frame = mixed_frame(2500, 0)
    path = write(frame, tmp_path / name)
    got = _read(path, chunk_rows=1000)
    assert len(got) == 2500
    assert list(got.columns) == list(frame.columns)
    assert got["score"].tolist() == pytest.approx(frame["score"].tolist())
    assert [str(v) for v in got["city"]] == frame["city"].tolist()


def test_a_directory_of_parquet_files_reads_in_name_order(tmp_path):
    frame = mixed_frame(3000, 1)
    for i in range(3):
        write(frame.iloc[i * 1000 : (i + 1) * 1000], tmp_path / "shards" / f"part-{i}.parquet")
    assert detect_format(tmp_path / "shards") == "parquet-dir"
    got = _read(tmp_path / "shards", chunk_rows=400)
    assert got["id"].tolist() == frame["id"].tolist()


def test_parquet_chunks_are_bounded(tmp_path):
    path = write(mixed_frame(5000, 2), tmp_path / "d.parquet")
    sizes = [len(f) for _, f in iter_frames(path, chunk_rows=700)]
    assert max(sizes) <= 700 and sum(sizes) == 5000


def test_reading_ahead_gives_the_same_chunks_and_errors(tmp_path):
    frame = mixed_frame(3000, 1)
    for i in range(3):
        write(frame.iloc[i * 1000 : (i + 1) * 1000], tmp_path / "parts" / f"part-{i}.parquet")
    for path in (tmp_path / "parts", tmp_path / "parts" / "*.parquet"):
        plain = list(iter_frames(path, chunk_rows=400))
        ahead = list(iter_frames(path, chunk_rows=400, read_ahead=True))
        assert [o for o, _ in ahead] == [o for o, _ in plain]
        for (_, a), (_, b) in zip(ahead, plain, strict=True):
            pd.testing.assert_frame_equal(a, b)
            assert a.attrs["mlci_part"].label == b.attrs["mlci_part"].label
    # A part that is not Parquet fails where it is read, as without reading ahead.
    (tmp_path / "parts" / "part-1.parquet").write_text("a,b\n1,2\n")
    seen = []
    with pytest.raises(InputError, match="part-1.parquet: not a readable Parquet file"):
        for offset, _ in iter_frames(tmp_path / "parts", chunk_rows=400, read_ahead=True):
            seen.append(offset)
    assert seen == [0, 400, 800]
    # Leaving early stops the reading thread and closes the files.
    first = iter_frames(tmp_path / "parts" / "part-0.parquet", chunk_rows=400, read_ahead=True)
    assert next(first)[0] == 0
    first.close()


def test_read_columns(tmp_path):
    path = write(mixed_frame(10, 3), tmp_path / "d.csv")
    assert read_columns(path)[:3] == ["id", "age", "income"]


def _error(path: Path) -> str:
    with pytest.raises(InputError) as info:
        _read(path)
    return str(info.value)


def test_missing_file(tmp_path):
    msg = _error(tmp_path / "nope.csv")
    assert msg.startswith(f"{tmp_path / 'nope.csv'}: data file not found; check the path")


def test_empty_file(tmp_path):
    (tmp_path / "e.csv").write_text("")
    assert "the file is empty (0 bytes); regenerate it" in _error(tmp_path / "e.csv")


def test_blank_file(tmp_path):
    (tmp_path / "b.csv").write_text("\n\n")
    assert "no columns to read" in _error(tmp_path / "b.csv")


def test_header_only(tmp_path):
    (tmp_path / "h.csv").write_text("a,b,c\n")
    assert _error(tmp_path / "h.csv") == (
        f"{tmp_path / 'h.csv'}: the data has a header (or schema) but no rows; check that"
        " the file was written completely"
    )


def test_unparsable_csv_names_the_line(tmp_path):
    (tmp_path / "u.csv").write_text("a,b\n1,2\n3,4,5,6\n")
    msg = _error(tmp_path / "u.csv")
    assert (
        "cannot parse CSV (Error tokenizing data. C error: Expected 2 fields in line 3, saw 4)"
        in msg
    )
    assert msg.endswith("check the quoting and the number of fields on that line")


def test_wrong_encoding(tmp_path):
    (tmp_path / "l.csv").write_bytes("name,city\nJosé,Besançon\n".encode("latin-1"))
    msg = _error(tmp_path / "l.csv")
    assert "not UTF-8 text" in msg and "re-save it as UTF-8" in msg and "iconv" in msg


def test_bad_gzip(tmp_path):
    (tmp_path / "g.csv.gz").write_bytes(b"this is not gzip")
    assert "not a valid gzip file" in _error(tmp_path / "g.csv.gz")


def test_not_parquet(tmp_path):
    (tmp_path / "n.parquet").write_text("a,b\n1,2\n")
    assert "not a readable Parquet file" in _error(tmp_path / "n.parquet")


def test_bad_jsonl(tmp_path):
    (tmp_path / "j.jsonl").write_text('{"a": 1}\nnot json\n')
    assert "not valid JSON Lines" in _error(tmp_path / "j.jsonl")


def test_unknown_suffix_and_empty_directory(tmp_path):
    (tmp_path / "x.xlsx").write_text("data")
    assert "unknown data format '.xlsx'; use .csv, .csv.gz, .parquet" in _error(tmp_path / "x.xlsx")
    (tmp_path / "empty").mkdir()
    assert "directory holds no .parquet files" in _error(tmp_path / "empty")


def test_gzip_header_only(tmp_path):
    with gzip.open(tmp_path / "h.csv.gz", "wt") as fh:
        fh.write("a,b\n")
    assert "header (or schema) but no rows" in _error(tmp_path / "h.csv.gz")


# -- JSON Lines: every record read strictly, through mlci.jsonio ------------------------------


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ('{"a": NaN}', ":2: NaN is not valid JSON"),
        ('{"a": Infinity}', ":2: Infinity is not valid JSON"),
        ('{"a": 1e400}', ":2: the number 1e400 is out of the range of a float"),
        ('{"a": ' + "9" * 30 + "}", ":2: a whole number with 30 digits is out of range"),
        ('{"a": ' + "[" * 100 + "]" * 100 + "}", ":2: nested more than 64 levels deep"),
        ("[1, 2]", ":2: expected a JSON object, got a list"),
        ('{"a": 1', ":2:8: not valid JSON Lines"),
    ],
)
def test_a_bad_json_lines_record_names_the_file_and_line(tmp_path, line, says):
    path = tmp_path / "d.jsonl"
    path.write_text('{"a": 1}\n' + line + '\n{"a": 3}\n')
    msg = _error(path)
    assert msg.startswith(f"{path}:2"), msg
    assert says in msg and "fix that line or export the data again" in msg


def test_a_json_lines_line_over_the_limit_is_refused_unread(tmp_path, monkeypatch):
    path = tmp_path / "d.jsonl.gz"
    with gzip.open(path, "wt") as fh:
        fh.write('{"a": 1}\n{"a": "' + "x" * 5000 + '"}\n')
    monkeypatch.setenv("MLCI_MAX_JSONL_LINE_BYTES", "1000")
    msg = _error(path)
    assert msg.startswith(f"{path}:2: a line longer than 1000 bytes")
    assert "set MLCI_MAX_JSONL_LINE_BYTES to raise the limit" in msg
    monkeypatch.setenv("MLCI_MAX_JSONL_LINE_BYTES", "10000")
    assert len(_read(path)) == 2


def test_json_lines_keep_json_types_and_empty_records(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text(
        '{"zip": "01234", "date": "2024-01-01", "n": 1}\n\n{}\n{"zip": "7", "n": null}\n'
    )
    got = _read(path, chunk_rows=2)
    assert len(got) == 3  # the empty record is a row; the blank line is not
    assert got["zip"].tolist()[0] == "01234" and got["date"].tolist()[0] == "2024-01-01"


def test_json_lines_not_utf8_names_the_column_and_row(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_bytes(b'{"a": "ok"}\n{"a": "ok", "city": "caf\xe9"}\n')
    msg = _error(path)
    assert msg.startswith(f"{path}: column 'city', row 2: not UTF-8 text")


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz", ".parquet"])
def test_only_the_columns_asked_for_are_read_with_the_same_values(
    tmp_path: Path, suffix: str
) -> None:
    frame = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", None], "c": [0.5, None, 1.5]})
    path = tmp_path / f"data{suffix}"
    if suffix == ".parquet":
        frame.to_parquet(path)
    else:
        frame.to_csv(path, index=False)
    whole = pd.concat([f for _, f in iter_frames(path)], ignore_index=True)

    # Asked-for columns that the file lacks are left out, not an error.
    (_, some), *rest = list(iter_frames(path, columns=["c", "a", "missing"]))

    assert not rest
    assert sorted(some.columns) == ["a", "c"]
    pd.testing.assert_frame_equal(some[["a", "c"]], whole[["a", "c"]])


def test_text_read_as_categories_counts_and_checks_the_same(tmp_path):
    """Parquet text read as dictionaries: the same counts, in the same order, and findings."""
    import numpy as np

    from mlci.data.checks import Checker
    from mlci.data.profile import TOP_K, Profiler, text_counts
    from mlci.data.schema import ColumnSchema, DataSchema

    rng = np.random.default_rng(0)
    many = np.array([f"v{i}" for i in range(TOP_K + 500)], dtype=object)
    frame = pd.DataFrame(
        {
            "many": rng.choice(many, 9000),  # more values than a profile keeps, with ties
            "city": rng.choice(["Paris", "Lyon", None, "Nice"], 9000),
            "same": "x",
        }
    )
    frame.loc[[5, 8000], "city"] = "Atlantis"
    path = write(frame, tmp_path / "t.parquet")
    schema = DataSchema(
        version=1,
        columns={
            "many": ColumnSchema(type="string"),
            "city": ColumnSchema(type="category", domain=["Paris", "Lyon", "Nice"]),
            "same": ColumnSchema(type="string"),
        },
    )
    results = []
    for cats in (False, True):
        checker, profiler = Checker(schema), Profiler()
        counts = []
        for offset, chunk in iter_frames(path, chunk_rows=4500, text_as_categories=cats):
            assert isinstance(chunk["city"].dtype, pd.CategoricalDtype) == cats
            profiler.update(offset, chunk, checker.update(offset, chunk))
            many_counts = text_counts(chunk["many"])
            assert len(many_counts) > TOP_K  # the order decides ties at the cut
            counts += [list(many_counts.items()), dict(text_counts(chunk["city"]))]
        results.append(
            (
                [f.to_dict() for f in checker.finish()],
                profiler.finish().to_dict(),
                counts,
            )
        )
    assert results[0] == results[1]
    findings = {f["check"]: f for f in results[1][0]}
    assert findings["unexpected_category"]["observed"] == {"Atlantis": 2}
    assert findings["constant_column"]["column"] == "same"
    assert results[1][1]["columns"]["many"]["text"]["truncated"] is True


@pytest.mark.parametrize("cats", [False, True])
def test_text_that_is_not_utf8_is_found_in_a_dictionary_too(tmp_path, cats):
    import pyarrow as pa
    import pyarrow.parquet as pq

    raw = pa.array([b"ok", b"fine"] * 10 + [b"bad \xff\xfe", b"ok"], pa.binary())
    table = pa.table({"t": raw.view(pa.string()), "x": pa.array(range(22))})
    pq.write_table(table, tmp_path / "t.parquet")
    chunks = list(iter_frames(tmp_path / "t.parquet", text_as_categories=cats))
    part = chunks[0][1].attrs["mlci_part"]
    assert part.unsupported == {"t": "text that is not UTF-8 (first at row 21)"}
