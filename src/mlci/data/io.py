"""Read tabular data in bounded chunks: CSV (also gzip), Parquet, JSON Lines, Parquet folders.

Every reader yields ``(first_row, frame)`` pairs of at most ``chunk_rows`` rows, so
memory stays bounded whatever the file size. Every way a file can be unusable
becomes an `InputError` naming the file and saying how to fix it.

Each frame carries a `Part` in ``frame.attrs[PART_ATTR]``: which part of the data it
is (a Parquet file of a folder, or a chunk of rows), the kind of each column as the
file declares it (Parquet), and the columns of a type mlci does not check (nested
values, binary data that is not text, decimals beyond the float range, time zones
mixed with naive times), which are dropped from the frame with the reason.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from mlci.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "NAN_ATTR",
    "PART_ATTR",
    "Format",
    "MAX_VALUE_CHARS",
    "Part",
    "cut",
    "data_files",
    "detect_format",
    "is_glob",
    "iter_frames",
    "parts_root",
    "read_columns",
    "shard_parts",
]

#: ``frame.attrs`` key of the rows holding NaN (not null) per float column, for Parquet.
NAN_ATTR = "mlci_nan"
#: ``frame.attrs`` key of the frame's `Part`.
PART_ATTR = "mlci_part"
#: Longest text of a data value copied into results (a sample, a message, a reason).
MAX_VALUE_CHARS = 100


def cut(text: str, limit: int = MAX_VALUE_CHARS) -> str:
    """``text`` cut to ``limit`` characters, saying how long it was when cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} characters)"


class _Shared(dict[str, Any]):
    """A dict that pandas passes on to derived frames without copying its arrays."""

    def __deepcopy__(self, memo: dict[int, Any]) -> _Shared:
        return self


@dataclass
class Part:
    """Where a frame comes from and what its file declares.

    Attributes:
        label: The part in messages: a Parquet file's path inside its folder, or
            ``rows A-B`` for a chunk of a CSV or JSON Lines file.
        file: The Parquet file of a folder (None for a single file).
        declared: Whether the part declares its own columns (a Parquet file does, so a
            column it lacks is missing from it; a JSON Lines chunk does not, so a key
            absent from its records is null there).
        kinds: The kind of each column as the file declares it (Parquet): numeric,
            bool, datetime, datetime-tz, text or other.
        unsupported: Columns of a type mlci does not check, with the reason (they
            are not in the frame).
    """

    label: str
    file: str | None = None
    declared: bool = False
    kinds: dict[str, str] = field(default_factory=dict)
    unsupported: dict[str, str] = field(default_factory=dict)

    def __deepcopy__(self, memo: dict[int, Any]) -> Part:
        return self  # read-only once yielded: derived frames share it


Format = Literal["csv", "parquet", "jsonl", "parquet-dir"]

_SUFFIXES: dict[str, Format] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
_HINT = "use .csv, .csv.gz, .parquet, .jsonl or a directory of .parquet files"


def detect_format(path: Path) -> Format:
    """The format of ``path`` from its suffix (``.gz`` looks at the suffix before it).

    Raises:
        InputError: when the path does not exist, is empty, or has an unknown suffix.
    """
    if is_glob(path):
        if not _parquet_files(path):
            raise InputError(
                f"{path}: no .parquet file matches the pattern; check the path (a glob such"
                " as data/parts/*.parquet or data/**/*.parquet) or point at a directory"
            )
        return "parquet-dir"
    if not path.exists():
        raise InputError(
            f"{path}: data file not found; check the path (or the data section of mlci.yaml)"
        )
    if path.is_dir():
        if not _parquet_files(path):
            raise InputError(
                f"{path}: directory holds no .parquet files; point at a data file or a"
                " directory of Parquet files"
            )
        return "parquet-dir"
    if path.stat().st_size == 0:
        raise InputError(
            f"{path}: the file is empty (0 bytes); regenerate it or point at the right file"
        )
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    fmt = _SUFFIXES.get(suffixes[-1]) if suffixes else None
    if fmt is None:
        raise InputError(
            f"{path}: unknown data format {''.join(path.suffixes) or '(no suffix)'!r}; {_HINT}"
        )
    return fmt


_GLOB_CHARS = frozenset("*?[")


def is_glob(path: Path) -> bool:
    """Whether ``path`` is a pattern of Parquet parts (``*``, ``?``, ``[``; not a real path)."""
    return not _GLOB_CHARS.isdisjoint(str(path)) and not path.exists()


def parts_root(path: Path) -> Path:
    """The folder that a folder's or a glob's parts are named relative to."""
    if not is_glob(path):
        return path
    fixed = list(path.parts)
    for i, part in enumerate(fixed):
        if not _GLOB_CHARS.isdisjoint(part):
            return Path(*fixed[:i]) if i else Path()
    return path.parent  # pragma: no cover - is_glob saw a pattern character


def _parquet_files(directory: Path) -> list[Path]:
    """The Parquet parts of a folder (recursively) or of a glob (``**`` spans folders)."""
    if is_glob(directory):
        root = parts_root(directory)
        found = root.glob(directory.relative_to(root).as_posix())
    else:
        found = directory.rglob("*")
    return sorted(p for p in found if p.is_file() and p.suffix in (".parquet", ".pq"))


def data_files(path: Path) -> list[Path]:
    """The files holding the data at ``path``: the file itself, or a folder's or glob's parts."""
    return _parquet_files(path) if path.is_dir() or is_glob(path) else [path]


def shard_parts(path: Path, index: int, count: int) -> tuple[list[Path], int]:
    """The Parquet parts of shard ``index`` (1-based) of ``count``, and its first row.

    The parts, sorted by name, are cut into ``count`` contiguous runs of nearly equal
    length, so the shards in order read the data in the order one machine reads it
    and their partial results combine by concatenation. The first row is the number
    of rows in the parts before the run (from the Parquet footers; no data is read).

    Raises:
        InputError: when ``path`` is not a folder of Parquet parts or the shard is
            outside 1..count.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not 1 <= index <= count:
        raise InputError(
            f"--shard {index}/{count}: the shard must be between 1/{count} and {count}/{count}"
        )
    if detect_format(path) != "parquet-dir":
        raise InputError(
            f"{path}: --shard splits a folder (or glob) of Parquet parts; point data.current"
            " at the folder, or drop --shard (and data.shards) for a single file"
        )
    files = _parquet_files(path)
    start = (index - 1) * len(files) // count
    stop = index * len(files) // count
    first = 0
    for file in files[:start]:
        try:
            first += pq.read_metadata(file).num_rows
        except (pa.ArrowInvalid, OSError) as exc:
            raise _unreadable_parquet(file, exc) from None
    return files[start:stop], first


def iter_frames(
    path: Path,
    *,
    chunk_rows: int = 250_000,
    columns: list[str] | None = None,
    shard: tuple[int, int] | None = None,
    read_ahead: bool = False,
    text_as_categories: bool = False,
) -> Iterator[tuple[int, pd.DataFrame]]:
    """Yield ``(first_row, frame)`` chunks of the data at ``path``.

    Each frame carries its `Part` in ``frame.attrs[PART_ATTR]``; columns of a type
    mlci does not check are left out of the frame and named there.

    Args:
        path: A CSV (optionally gzip), Parquet or JSON Lines file, a directory of
            Parquet files, or a glob of them such as ``data/*.parquet`` (read in name
            order).
        chunk_rows: Rows per chunk at most (Parquet: per record batch).
        columns: Read only these columns (those present; Parquet and CSV, JSON Lines
            reads everything).
        shard: ``(index, count)``: read only the parts of that shard (see
            `shard_parts`); offsets count from the data's first row, and a shard
            without rows yields nothing.
        read_ahead: Decode the next Parquet chunk on a second thread while the caller
            works on this one (one chunk more in memory); for callers that read
            everything.
        text_as_categories: Read Parquet text columns as pandas categoricals (Arrow
            dictionaries: each distinct text decoded once per chunk, counts by code);
            for callers that only check and profile the values.

    Raises:
        InputError: for a missing, empty, header-only, unparsable or non-UTF-8 file
            (naming the column and row of the first bad text), and for duplicate
            column names.
    """
    fmt = detect_format(path)
    offset = 0
    cats = text_as_categories
    if shard is not None:
        files, offset = shard_parts(path, *shard)
        frames = _parquet(
            files, chunk_rows, columns, root=parts_root(path), first_row=offset, categories=cats
        )
    elif fmt == "csv":
        frames = _csv(path, chunk_rows, columns)
    elif fmt == "jsonl":
        frames = _jsonl(path, chunk_rows)
    elif fmt == "parquet":
        frames = _parquet([path], chunk_rows, columns, root=None, categories=cats)
    else:
        files = _parquet_files(path)
        frames = _parquet(files, chunk_rows, columns, root=parts_root(path), categories=cats)
    if read_ahead and (fmt in ("parquet", "parquet-dir") or shard is not None):
        frames = _read_ahead(frames)
    for frame in frames:
        if len(frame) == 0:
            continue
        part = frame.attrs.get(PART_ATTR)
        if part is None:
            part = frame.attrs[PART_ATTR] = Part(label="")
        if not part.label:
            part.label = f"rows {offset + 1}-{offset + len(frame)}"
        yield offset, frame
        offset += len(frame)
    if offset == 0 and shard is None:
        raise InputError(
            f"{path}: the data has a header (or schema) but no rows; check that the file was"
            " written completely"
        )


def _read_ahead(frames: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """The same frames, the next one decoded on a second thread while this one is used.

    Arrow decodes Parquet without holding the GIL, so reading overlaps the checks and
    the profile of the previous chunk; one chunk more is held in memory.
    """
    from concurrent.futures import ThreadPoolExecutor, wait

    done = object()
    with ThreadPoolExecutor(1, thread_name_prefix="mlci-read") as pool:
        pending = pool.submit(next, frames, done)
        try:
            while (frame := pending.result()) is not done:
                pending = pool.submit(next, frames, done)
                yield frame
        finally:
            wait([pending])  # a generator cannot be closed while it runs
            close = getattr(frames, "close", None)
            if close is not None:
                close()


def read_columns(path: Path) -> list[str]:
    """The column names of the data at ``path`` (reads one chunk at most)."""
    for _, frame in iter_frames(path, chunk_rows=1000):
        part: Part = frame.attrs[PART_ATTR]
        return [str(c) for c in frame.columns] + list(part.unsupported)
    return []  # pragma: no cover - iter_frames raises on empty data


def _duplicates(names: list[str]) -> list[str]:
    seen: set[str] = set()
    dups: list[str] = []
    for name in names:
        if name in seen and name not in dups:
            dups.append(name)
        seen.add(name)
    return dups


def _refuse_duplicates(path: Path, names: list[str]) -> None:
    dups = _duplicates(names)
    if dups:
        where = "; ".join(
            f"{d!r} is columns {', '.join(str(i + 1) for i, n in enumerate(names) if n == d)}"
            for d in dups[:5]
        )
        raise InputError(
            f"{path}: duplicate column name(s): {where}; give each column its own name"
        )


_NOT_UTF8 = "re-save it as UTF-8, e.g. `iconv -f latin1 -t utf-8 IN > OUT`"


def _bad_text_csv(path: Path, sep: str) -> str:
    """Where the first non-UTF-8 text of a CSV file is: ``column 'x', row n``."""
    import pandas as pd

    reader = pd.read_csv(
        path,
        sep=sep,
        chunksize=100_000,
        compression="infer",
        encoding="utf-8",
        encoding_errors="surrogateescape",
        dtype=object,
        header=None,
        keep_default_na=False,
    )
    header: list[str] | None = None
    offset = 0
    with reader:
        for chunk in reader:
            if header is None:
                header = [str(v) for v in chunk.iloc[0]]
                bad = [h for h in header if any("\udc80" <= ch <= "\udcff" for ch in h)]
                if bad:
                    return f"the header (column {header.index(bad[0]) + 1})"
                chunk = chunk.iloc[1:]
            for i, name in enumerate(header):
                for r, value in enumerate(chunk[chunk.columns[i]]):
                    if isinstance(value, str) and any("\udc80" <= ch <= "\udcff" for ch in value):
                        return f"column {name!r}, row {offset + r + 1}"
            offset += len(chunk)
    return "an unknown place"  # pragma: no cover - only called after a decode error


def _bad_text_line(raw: bytes, row: int) -> str:
    """Where the non-UTF-8 text of one JSON Lines record is: ``column 'x', row n``."""
    from mlci import jsonio

    text = raw.decode("utf-8", errors="surrogateescape")
    try:
        record = jsonio.loads(text)  # only to name the column; the row is refused anyway
    except InputError:
        return f"row {row}"
    if isinstance(record, dict):
        for key, value in record.items():
            if any("\udc80" <= ch <= "\udcff" for ch in str(key) + str(value)):
                return f"column {key!r}, row {row}"
    return f"row {row}"


def _csv(path: Path, chunk_rows: int, columns: list[str] | None = None) -> Iterator[pd.DataFrame]:
    import pandas as pd

    sep = "\t" if ".tsv" in [s.lower() for s in path.suffixes] else ","
    try:
        header = pd.read_csv(
            path,
            sep=sep,
            header=None,
            nrows=1,
            dtype=str,
            compression="infer",
            encoding="utf-8",
            keep_default_na=False,
        )
        _refuse_duplicates(path, [str(v) for v in header.iloc[0]] if len(header) else [])
        reader = pd.read_csv(
            path,
            sep=sep,
            chunksize=chunk_rows,
            compression="infer",
            encoding="utf-8",
            low_memory=False,
            usecols=None if columns is None else set(columns).__contains__,
        )
        with reader:
            yield from reader
    except pd.errors.EmptyDataError:
        raise InputError(
            f"{path}: no columns to read (the file is blank); regenerate it or point at"
            " the right file"
        ) from None
    except pd.errors.ParserError as exc:
        detail = str(exc).strip().replace("\n", " ")
        raise InputError(
            f"{path}: cannot parse CSV ({detail}); check the quoting and the number of fields"
            " on that line"
        ) from None
    except UnicodeDecodeError:
        where = _bad_text_csv(path, sep)
        raise InputError(f"{path}: {where}: not UTF-8 text; {_NOT_UTF8}") from None
    except (gzip.BadGzipFile, zlib.error, EOFError) as exc:
        raise InputError(
            f"{path}: not a valid gzip file ({exc}); recompress it or drop the .gz suffix"
        ) from None


def _nested(values: Any) -> str | None:
    """Why an object column of JSON values cannot be checked (None when it can)."""
    from decimal import Decimal

    from pandas.api.types import infer_dtype

    inferred = infer_dtype(values, skipna=True)
    if inferred in ("string", "empty", "integer", "floating", "boolean", "mixed-integer-float"):
        return None
    for value in values:
        if isinstance(value, dict):
            return "nested values (JSON objects)"
        if isinstance(value, list | tuple):
            return "nested values (JSON arrays)"
        if isinstance(value, bytes | bytearray):
            return "binary values"
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**1023:
            return "integers beyond the float range"
        if isinstance(value, int) and not isinstance(value, bool) and value >= 2**64:
            return "integers beyond 64 bits"
        if isinstance(value, Decimal) and abs(value) > Decimal("1.7e308"):
            return "decimals beyond the float range"
    return None


_JSONL_FIX = "fix that line or export the data again (one JSON object per line)"


def _jsonl_records(path: Path) -> Iterator[dict[str, Any]]:
    """The records of a JSON Lines file, each line read through `mlci.jsonio`.

    A line is at most `JSONL_MAX_LINE_BYTES` (read no further), strict JSON (no
    ``NaN``/``Infinity``, finite floats, bounded whole numbers and nesting) and an object.

    Raises:
        InputError: naming the file, the line (and column) and the fix.
    """
    from mlci import jsonio
    from mlci.limits import JSONL_MAX_LINE_BYTES

    cap = JSONL_MAX_LINE_BYTES.value
    opener: Any = gzip.open if path.suffix.lower() == ".gz" else open
    row = 0
    with opener(path, "rb") as fh:
        for number, raw in enumerate(iter(lambda: fh.readline(cap + 1), b""), start=1):
            if len(raw) > cap and not raw.endswith(b"\n"):
                raise InputError(
                    f"{path}:{number}: a line longer than {cap} bytes, longer than mlci reads;"
                    f" {JSONL_MAX_LINE_BYTES.hint()}"
                )
            if not raw.strip():
                continue
            row += 1
            try:
                text = raw.decode("utf-8").rstrip("\r\n")
                if number == 1:
                    text = text.removeprefix("\ufeff")  # a byte order mark some tools write
            except UnicodeDecodeError:
                where = _bad_text_line(raw, row)
                raise InputError(f"{path}: {where}: not UTF-8 text; {_NOT_UTF8}") from None
            record = jsonio.loads(
                text, source=str(path), line=number, fix=_JSONL_FIX, what="JSON Lines"
            )
            if not isinstance(record, dict):
                kind = "a list" if isinstance(record, list) else type(record).__name__
                raise InputError(
                    f"{path}:{number}: expected a JSON object, got {kind}; {_JSONL_FIX}"
                )
            yield record


def _jsonl_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """One chunk of records as a frame, columns of values mlci does not check left out."""
    import pandas as pd
    from pandas.api.types import is_object_dtype

    # JSON's own types, as written: no guessing of numbers or dates from text.
    frame = pd.DataFrame.from_records(records, index=pd.RangeIndex(len(records)))
    part = Part(label="")
    for name in frame.columns:
        if is_object_dtype(frame[name].dtype):
            reason = _nested(frame[name])
            if reason is not None:
                part.unsupported[str(name)] = reason
    if part.unsupported:
        frame = frame.drop(columns=list(part.unsupported))
    frame.attrs[PART_ATTR] = part
    return frame


def _jsonl(path: Path, chunk_rows: int) -> Iterator[pd.DataFrame]:
    records: list[dict[str, Any]] = []
    try:
        for record in _jsonl_records(path):
            records.append(record)
            if len(records) >= chunk_rows:
                yield _jsonl_frame(records)
                records = []
        if records:
            yield _jsonl_frame(records)
    except (gzip.BadGzipFile, zlib.error, EOFError) as exc:
        raise InputError(
            f"{path}: not a valid gzip file ({exc}); recompress it or drop the .gz suffix"
        ) from None


def _nan_rows(batch: Any) -> dict[str, Any]:
    """Rows of each float column that hold NaN (pandas would read them as null)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    out = {}
    for field_, column in zip(batch.schema, batch.columns, strict=True):
        if pa.types.is_floating(field_.type) and column.null_count < len(column):
            mask = pc.fill_null(pc.is_nan(column), False)
            if pc.any(mask).as_py():
                out[str(field_.name)] = mask.to_numpy(zero_copy_only=False)
    return out


def _arrow_kind(typ: Any) -> str:
    """The kind of an Arrow type: numeric, bool, datetime, datetime-tz, text or other."""
    import pyarrow as pa

    t = pa.types
    if t.is_dictionary(typ):
        return _arrow_kind(typ.value_type)
    if t.is_boolean(typ):
        return "bool"
    if t.is_integer(typ) or t.is_floating(typ) or t.is_decimal(typ):
        return "numeric"
    if t.is_timestamp(typ):
        return "datetime-tz" if typ.tz else "datetime"
    if t.is_date(typ):
        return "datetime"
    if t.is_string(typ) or t.is_large_string(typ) or getattr(t, "is_string_view", bool)(typ):
        return "text"
    if t.is_null(typ):
        return "null"
    return "other"


def _first_bad_utf8(column: Any) -> int:
    """The position of the first value of a binary column that is not UTF-8 text."""
    for i, value in enumerate(column.to_pylist()):
        if value is None:
            continue
        try:
            bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return i
    return 0  # pragma: no cover - only called when a cast to text failed


def _prepare(batch: Any, offset: int, part: Part) -> Any:
    """The batch with only columns mlci checks; the others go to ``part.unsupported``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    t = pa.types
    names: list[str] = []
    arrays: list[Any] = []
    for field_, column in zip(batch.schema, batch.columns, strict=True):
        name = str(field_.name)
        typ = field_.type
        if name in part.unsupported:
            continue
        reason = None
        if t.is_dictionary(typ) and not (
            t.is_string(typ.value_type) or t.is_large_string(typ.value_type)
        ):
            column = column.dictionary_decode()
            typ = column.type
        if t.is_struct(typ):
            reason = "nested values (struct)"
        elif t.is_list(typ) or t.is_large_list(typ) or t.is_fixed_size_list(typ):
            reason = "nested values (list)"
        elif t.is_map(typ):
            reason = "nested values (map)"
        elif t.is_union(typ):
            reason = "values of several types (union)"
        elif t.is_binary(typ) or t.is_large_binary(typ) or t.is_fixed_size_binary(typ):
            try:
                column = pc.cast(column, pa.string())
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                row = offset + _first_bad_utf8(column) + 1
                reason = f"binary values that are not UTF-8 text (first at row {row})"
        elif t.is_string(typ) or t.is_large_string(typ) or t.is_dictionary(typ):
            try:  # a dictionary's values are its text: checking them checks every row
                (column.dictionary if t.is_dictionary(typ) else column).validate(full=True)
            except pa.ArrowInvalid:
                plain = column.dictionary_decode() if t.is_dictionary(typ) else column
                bad = pc.cast(plain, pa.binary())
                row = offset + _first_bad_utf8(bad) + 1
                reason = f"text that is not UTF-8 (first at row {row})"
        elif t.is_decimal(typ):
            try:
                column = pc.cast(column, pa.float64(), safe=False)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                reason = "decimals beyond the float range"
            else:
                if pc.any(pc.is_inf(column)).as_py():
                    reason = "decimals beyond the float range"
        elif t.is_interval(typ) or t.is_duration(typ) or t.is_time(typ):
            reason = f"{typ} values"
        if reason is not None:
            part.unsupported[name] = reason
            continue
        part.kinds[name] = _arrow_kind(field_.type)
        names.append(name)
        arrays.append(column)
    if len(names) == batch.num_columns:
        return batch
    return pa.RecordBatch.from_arrays(arrays, names=names)


_PARQUET_BUFFER = 1 << 20


def _parquet(
    files: list[Path],
    chunk_rows: int,
    columns: list[str] | None,
    *,
    root: Path | None,
    first_row: int = 0,
    categories: bool = False,
) -> Iterator[pd.DataFrame]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    offset = first_row
    for file in files:
        try:
            # A buffered stream: without one, Arrow loads every column chunk of a row
            # group whole to cut a batch from it (22 float columns in one 1M-row group,
            # 250k-row batches: 300 MiB of Arrow memory; with 1 MiB reads, 160 MiB).
            pf = pq.ParquetFile(file, pre_buffer=False, buffer_size=_PARQUET_BUFFER)
            names = list(pf.schema_arrow.names)
            if categories:
                text = [
                    f.name
                    for f in pf.schema_arrow
                    if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
                ]
                if text:
                    pf = pq.ParquetFile(
                        file, pre_buffer=False, buffer_size=_PARQUET_BUFFER, read_dictionary=text
                    )
        except (pa.ArrowInvalid, OSError) as exc:
            raise _unreadable_parquet(file, exc) from None
        _refuse_duplicates(file, names)
        wanted = None
        if columns is not None:
            present = set(names)
            wanted = [c for c in columns if c in present]
        label = file.relative_to(root).as_posix() if root is not None else ""
        unsupported: dict[str, str] = {}
        try:
            # One thread: on the small shared runners of CI, Arrow's thread pool costs
            # more CPU than it saves (bench/README.md).
            batches = pf.iter_batches(batch_size=chunk_rows, columns=wanted, use_threads=False)
            for batch in batches:
                part = Part(
                    label=label,
                    file=str(file) if root is not None else None,
                    declared=True,
                    unsupported=dict(unsupported),
                )
                batch = _prepare(batch, offset, part)
                unsupported = part.unsupported
                frame = batch.to_pandas(use_threads=False)
                nans = _nan_rows(batch)
                if nans:
                    frame.attrs[NAN_ATTR] = _Shared(nans)
                frame.attrs[PART_ATTR] = part
                offset += len(frame)
                yield frame
        except pa.ArrowInvalid as exc:
            raise InputError(f"{file}: corrupt Parquet data ({exc}); rewrite the file") from None


def _unreadable_parquet(file: Path, exc: Exception) -> InputError:
    return InputError(
        f"{file}: not a readable Parquet file ({exc}); rewrite it with pandas/pyarrow"
        " or check the suffix"
    )
