"""The prediction log: every request's features and answer, in rolling Parquet files.

``mlci serve --log-dir DIR`` hands each answered batch to a `PredictionLog`. The
request only appends a reference to a queue (bounded in rows; when it is full the
rows are dropped and counted, never waited for); a writer thread turns what queued up
into one Arrow table about once a second and appends it to the open Parquet file as a
row group. A file is finished (renamed from ``.parquet.part`` to ``.parquet``, so a
reader never sees half a file) when it passes its size or its age, when the columns
change, and when the service stops.

Columns: the features (as validated), ``prediction``, ``proba_<class>`` for each class
of a classifier, ``model_version``, ``request_id``, ``row`` (the row's index in its
request) and ``timestamp`` (UTC, when the answer was made).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlci.serve.app import Prediction, ServedModel
    from mlci.serve.payload import Batch

__all__ = ["LogSettings", "PredictionLog", "open_prediction_log"]

log = logging.getLogger("mlci.serve")

#: Entries and rows the writer converts to Arrow at most before it lets go of the GIL.
SLICE_ENTRIES = 128
SLICE_ROWS = 32_768
#: How long the writer sleeps between slices, so that a request waiting for the GIL gets
#: it (a zero sleep releases the GIL but often takes it straight back).
PAUSE_SECONDS = 0.0002


@dataclass(frozen=True)
class LogSettings:
    """Where and how the prediction log rolls.

    Attributes:
        directory: Folder of the Parquet files (created when missing).
        max_file_bytes: A file is finished once it is this large.
        max_file_seconds: A file is finished once it is this old.
        max_queue_rows: Rows waiting for the writer; more are dropped and counted.
        flush_seconds: How often the writer appends what queued up.
    """

    directory: Path
    max_file_bytes: int = 64 * 1024 * 1024
    max_file_seconds: float = 3600.0
    max_queue_rows: int = 200_000
    flush_seconds: float = 1.0


@dataclass
class _Entry:
    batch: Batch
    labels: Any
    proba: Any
    request_id: str
    time: float


class _Run:
    """Entries with the same columns, gathered slice by slice into numpy pieces."""

    def __init__(self, first: _Entry):
        self.first = first
        self.names = first.batch.names
        self.columns: list[list[Any]] = [[] for _ in self.names]
        self.labels: list[Any] = []
        self.proba: list[Any] = []
        self.ids: list[Any] = []
        self.counts: list[Any] = []
        self.times: list[Any] = []

    def add(self, entries: list[_Entry]) -> None:
        """Gather one slice (a few hundred entries at most): numpy copies, the ids."""
        import numpy as np
        import pyarrow as pa

        n = len(entries)
        self.counts.append(np.fromiter((e.batch.rows for e in entries), np.int64, n))
        self.times.append(np.fromiter((e.time for e in entries), np.float64, n))
        self.ids.append(pa.array([e.request_id for e in entries], pa.string()))
        if self.first.batch.matrix is not None:
            matrices: list[Any] = [e.batch.matrix for e in entries]
            block = (matrices[0] if n == 1 else np.concatenate(matrices)).T
            for j, pieces in enumerate(self.columns):
                pieces.append(block[j])
        else:
            for j, name in enumerate(self.names):
                self.columns[j].append(np.concatenate([_column(e.batch, name) for e in entries]))
        labels = [e.labels for e in entries]
        if any(np.ndim(x) != 1 for x in labels):
            labels = [np.asarray(x).reshape(-1) for x in labels]
        self.labels.append(np.concatenate(labels))
        if self.first.proba is not None:
            self.proba.append(np.concatenate([e.proba for e in entries]).T)

    def table(self, classes: list[Any] | None, version: int | None) -> Any:
        """The gathered rows as one Arrow table, a few columns between two pauses."""
        import numpy as np
        import pyarrow as pa

        columns: dict[str, Any] = {}
        numeric = self.first.batch.matrix is not None
        for j, name in enumerate(self.names):
            values = _joined(self.columns[j])
            columns[name] = pa.array(values) if numeric else pa.array(values, from_pandas=True)
            self.columns[j] = []
            if j % 8 == 7:
                _pause()
        _pause()
        columns["prediction"] = pa.array(_joined(self.labels), from_pandas=True)
        if classes and self.proba:
            proba = _joined(self.proba, axis=1)
            for j, cls in enumerate(classes):
                columns[f"proba_{cls}"] = pa.array(proba[j])
        counts = _joined(self.counts)
        total = int(counts.sum())
        if version is None:
            columns["model_version"] = pa.nulls(total, pa.int64())
        else:
            columns["model_version"] = pa.array(np.full(total, version, dtype=np.int64))
        ids = pa.concat_arrays(self.ids) if len(self.ids) > 1 else self.ids[0]
        if total != len(ids):  # a multi-row request: its id on each of its rows
            ids = ids.take(pa.array(np.repeat(np.arange(len(ids)), counts)))
        columns["request_id"] = ids
        starts = np.repeat(np.cumsum(counts) - counts, counts)
        columns["row"] = pa.array((np.arange(total) - starts).astype(np.int32))
        stamps = np.repeat((_joined(self.times) * 1e6).astype(np.int64), counts)
        columns["timestamp"] = pa.array(stamps, type=pa.timestamp("us", tz="UTC"))
        return pa.table(columns)


class PredictionLog:
    """Rolling Parquet files of served predictions, written off the request path."""

    def __init__(
        self,
        settings: LogSettings,
        *,
        version: int | None,
        classes: Sequence[Any] | None,
        on_drop: Callable[[int], None] | None = None,
    ):
        self.settings = settings
        self.version = version
        self.classes = list(classes) if classes else None
        self.on_drop = on_drop
        self._queue: deque[_Entry] = deque()
        self._queued_rows = 0
        self._lock = threading.Condition()
        self._stop = False
        self._writer: Any = None
        self._file: Any = None
        self._part: Path | None = None
        self._opened = 0.0
        self._schema: Any = None
        self._seq = 0
        self._last_drop_warning = 0.0
        self.written_files: list[Path] = []
        self.rows_written = 0
        self.rows_dropped = 0
        settings.directory.mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self._run, name="mlci-predlog", daemon=True)
        self._thread.start()

    # -- the request side ---------------------------------------------------------------

    def submit(self, batch: Batch, result: Prediction, request_id: str) -> None:
        """Queue one answered batch (never blocks; drops and counts when full)."""
        entry = _Entry(batch, result.labels, result.proba, request_id, time.time())
        with self._lock:
            if self._queued_rows + batch.rows > self.settings.max_queue_rows:
                self.rows_dropped += batch.rows
                dropped = True
            else:
                self._queue.append(entry)
                self._queued_rows += batch.rows
                dropped = False
        if dropped:
            if self.on_drop is not None:
                self.on_drop(batch.rows)
            now = time.monotonic()
            if now - self._last_drop_warning > 60:
                self._last_drop_warning = now
                log.warning(
                    "prediction log: the writer is behind; rows are being dropped (counted in"
                    " mlci_prediction_log_dropped_rows_total)"
                )

    def close(self) -> None:
        """Write what is queued, finish the open file and stop the writer."""
        with self._lock:
            self._stop = True
            self._lock.notify()
        self._thread.join(timeout=60)

    # -- the writer thread --------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._stop:
                    self._lock.wait(timeout=self.settings.flush_seconds)
                entries = list(self._queue)
                self._queue.clear()
                self._queued_rows = 0
                stopping = self._stop
            try:
                if entries:
                    self._write(entries)
                if self._writer is not None and (
                    stopping or time.monotonic() - self._opened >= self.settings.max_file_seconds
                ):
                    self._finish()
            except Exception:  # pragma: no cover - a full disk must not stop the service
                log.exception("prediction log: writing failed; these rows are lost")
                self._abandon()
            if stopping:
                return

    def _write(self, entries: list[_Entry]) -> None:
        """Append what queued up: one row group per run of entries with the same columns.

        The entries are gathered into numpy blocks a slice at a time (`_slices`) and the
        blocks become Arrow columns a few at a time; between two steps the writer lets go
        of the GIL (`_pause`), so a request waits at most one short step for it, never
        for a whole second of traffic. The Parquet encoding and compression run without
        the GIL.
        """
        run: _Run | None = None
        for piece in _slices(entries):
            if run is not None and not _same_shape(piece[0], run.first):
                self._append(run.table(self.classes, self.version))
                run = None
            if run is None:
                run = _Run(piece[0])
            run.add(piece)
            _pause()
        if run is not None:
            self._append(run.table(self.classes, self.version))

    def _append(self, table: Any) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self._writer is not None and not table.schema.equals(self._schema):
            self._finish()
        if self._writer is None:
            self._seq += 1
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            name = f"predictions-{stamp}-{os.getpid()}-{self._seq:04d}.parquet"
            self._part = self.settings.directory / (name + ".part")
            # A native file: Arrow writes it without taking the GIL for each page.
            self._file = pa.OSFile(str(self._part), "wb")
            self._writer = pq.ParquetWriter(self._file, table.schema, compression="zstd")
            self._schema = table.schema
            self._opened = time.monotonic()
        self._writer.write_table(table)
        self.rows_written += table.num_rows
        if self._file.tell() >= self.settings.max_file_bytes:
            self._finish()

    def _finish(self) -> None:
        if self._writer is None or self._part is None:
            return
        self._writer.close()
        self._file.close()
        final = self._part.with_suffix("")  # drop ".part"
        self._part.replace(final)
        self.written_files.append(final)
        self._writer = self._file = self._part = None

    def _abandon(self) -> None:  # pragma: no cover - after a write error
        for closer in (self._writer, self._file):
            try:
                if closer is not None:
                    closer.close()
            except Exception:  # noqa: BLE001, S110
                pass
        self._writer = self._file = None


def open_prediction_log(
    served: ServedModel,
    config: Any,
    *,
    log_dir: Path | None,
    on_drop: Callable[[int], None] | None = None,
) -> PredictionLog | None:
    """The prediction log ``--log-dir`` (else ``serve.log_dir`` of ``config``) asks for.

    Raises:
        InputError: when the folder cannot be created or written.
    """
    from mlci.errors import InputError

    serve = getattr(config, "serve", None)
    directory = log_dir
    where = "--log-dir"
    if directory is None and serve is not None and serve.log_dir:
        directory = config.resolve(serve.log_dir)
        where = "serve.log_dir"
    if directory is None:
        return None
    settings = LogSettings(directory)
    if serve is not None:
        settings = LogSettings(
            directory,
            max_file_bytes=serve.log_max_file_mb * 1024 * 1024,
            max_file_seconds=serve.log_max_file_minutes * 60.0,
        )
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / f".mlci-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise InputError(
            f"{where} {directory}: cannot write there ({exc.strerror}); pick a folder this"
            " user can write"
        ) from None
    return PredictionLog(settings, version=served.version, classes=served.classes, on_drop=on_drop)


def _slices(entries: list[_Entry]) -> Iterator[list[_Entry]]:
    """Runs of entries with the same columns, small enough to convert in one go.

    Each run has at most `SLICE_ENTRIES` entries and (unless one request is larger)
    `SLICE_ROWS` rows.
    """
    start = rows = 0
    for i, entry in enumerate(entries):
        if i > start and (
            i - start >= SLICE_ENTRIES
            or rows + entry.batch.rows > SLICE_ROWS
            or not _same_shape(entry, entries[start])
        ):
            yield entries[start:i]
            start, rows = i, 0
        rows += entry.batch.rows
    if start < len(entries):
        yield entries[start:]


def _joined(pieces: list[Any], axis: int = 0) -> Any:
    import numpy as np

    return pieces[0] if len(pieces) == 1 else np.concatenate(pieces, axis=axis)


def _pause() -> None:
    """Let go of the GIL for a moment (requests first, the log after)."""
    time.sleep(PAUSE_SECONDS)


def _column(batch: Batch, name: str) -> Any:
    import numpy as np

    if batch.matrix is not None:
        return batch.matrix[:, batch.names.index(name)]
    values = batch.columns[name] if batch.columns is not None else batch.frame()[name]
    return np.asarray(values)


def _same_shape(a: _Entry, b: _Entry) -> bool:
    if a.batch.names is not b.batch.names and a.batch.names != b.batch.names:
        return False
    if (a.batch.matrix is None) != (b.batch.matrix is None):
        return False
    if a.batch.matrix is None:
        import numpy as np

        return all(
            np.asarray(_column(a.batch, n)).dtype == np.asarray(_column(b.batch, n)).dtype
            for n in a.batch.names
        )
    return (a.proba is None) == (b.proba is None)
