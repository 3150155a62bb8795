"""Read tabular data in bounded chunks: CSV (also gzip), Parquet, JSON Lines, Parquet folders.

Every reader yields ``(first_row, frame)`` pairs of at most ``chunk_rows`` rows, so
memory stays bounded whatever the file size. Every way a file can be unusable
becomes an `InputError` naming the file and saying how to fix it.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from mlci.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["NAN_ATTR", "Format", "detect_format", "iter_frames", "read_columns"]

#: ``frame.attrs`` key of the rows holding NaN (not null) per float column, for Parquet.
NAN_ATTR = "mlci_nan"

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


def _parquet_files(directory: Path) -> list[Path]:
    return sorted(
        p for p in directory.rglob("*") if p.is_file() and p.suffix in (".parquet", ".pq")
    )


def iter_frames(
    path: Path, *, chunk_rows: int = 250_000, columns: list[str] | None = None
) -> Iterator[tuple[int, pd.DataFrame]]:
    """Yield ``(first_row, frame)`` chunks of the data at ``path``.

    Args:
        path: A CSV (optionally gzip), Parquet or JSON Lines file, or a directory of
            Parquet files (read in name order).
        chunk_rows: Rows per chunk at most (Parquet: per record batch).
        columns: Read only these columns (Parquet only; others read everything).

    Raises:
        InputError: for a missing, empty, header-only, unparsable or non-UTF-8 file.
    """
    fmt = detect_format(path)
    if fmt == "csv":
        frames = _csv(path, chunk_rows)
    elif fmt == "jsonl":
        frames = _jsonl(path, chunk_rows)
    elif fmt == "parquet":
        frames = _parquet([path], chunk_rows, columns)
    else:
        frames = _parquet(_parquet_files(path), chunk_rows, columns)
    offset = 0
    for frame in frames:
        if len(frame) == 0:
            continue
        yield offset, frame
        offset += len(frame)
    if offset == 0:
        raise InputError(
            f"{path}: the data has a header (or schema) but no rows; check that the file was"
            " written completely"
        )


def read_columns(path: Path) -> list[str]:
    """The column names of the data at ``path`` (reads one chunk at most)."""
    for _, frame in iter_frames(path, chunk_rows=1000):
        return [str(c) for c in frame.columns]
    return []  # pragma: no cover - iter_frames raises on empty data


def _csv(path: Path, chunk_rows: int) -> Iterator[pd.DataFrame]:
    import pandas as pd

    sep = "\t" if ".tsv" in [s.lower() for s in path.suffixes] else ","
    try:
        reader = pd.read_csv(
            path,
            sep=sep,
            chunksize=chunk_rows,
            compression="infer",
            encoding="utf-8",
            low_memory=False,
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
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: not UTF-8 text (byte {exc.start} of a chunk: {exc.reason}); re-save it as"
            " UTF-8, e.g. `iconv -f latin1 -t utf-8 in.csv > out.csv`"
        ) from None
    except (gzip.BadGzipFile, zlib.error, EOFError) as exc:
        raise InputError(
            f"{path}: not a valid gzip file ({exc}); recompress it or drop the .gz suffix"
        ) from None


def _jsonl(path: Path, chunk_rows: int) -> Iterator[pd.DataFrame]:
    import pandas as pd

    try:
        reader = pd.read_json(
            path, lines=True, chunksize=chunk_rows, compression="infer", encoding="utf-8"
        )
        with reader:
            yield from reader
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: not UTF-8 text (byte {exc.start}); re-save it as UTF-8"
        ) from None
    except ValueError as exc:
        raise InputError(
            f"{path}: not valid JSON Lines ({exc}); write one JSON object per line"
        ) from None
    except (gzip.BadGzipFile, zlib.error, EOFError) as exc:
        raise InputError(
            f"{path}: not a valid gzip file ({exc}); recompress it or drop the .gz suffix"
        ) from None


def _nan_rows(batch: Any) -> dict[str, Any]:
    """Rows of each float column that hold NaN (pandas would read them as null)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    out = {}
    for field, column in zip(batch.schema, batch.columns, strict=True):
        if pa.types.is_floating(field.type) and column.null_count < len(column):
            mask = pc.fill_null(pc.is_nan(column), False)
            if pc.any(mask).as_py():
                out[str(field.name)] = mask.to_numpy(zero_copy_only=False)
    return out


def _parquet(
    files: list[Path], chunk_rows: int, columns: list[str] | None
) -> Iterator[pd.DataFrame]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    for file in files:
        try:
            pf = pq.ParquetFile(file, pre_buffer=False)
        except (pa.ArrowInvalid, OSError) as exc:
            raise InputError(
                f"{file}: not a readable Parquet file ({exc}); rewrite it with pandas/pyarrow"
                " or check the suffix"
            ) from None
        wanted = None
        if columns is not None:
            present = set(pf.schema_arrow.names)
            wanted = [c for c in columns if c in present]
        try:
            for batch in pf.iter_batches(batch_size=chunk_rows, columns=wanted):
                frame = batch.to_pandas()
                nans = _nan_rows(batch)
                if nans:
                    frame.attrs[NAN_ATTR] = nans
                yield frame
        except pa.ArrowInvalid as exc:
            raise InputError(f"{file}: corrupt Parquet data ({exc}); rewrite the file") from None
