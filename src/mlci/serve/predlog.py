"""The prediction log: every request's features and answer, in rolling Parquet files.

``mlci serve --log-dir DIR`` hands each answered batch to a `PredictionLog`. The
common request (a float block, numeric labels, no passthrough ids) is appended to the
open `_Block` (references to its arrays, its id, row count and time: a few list
appends); any other is queued as a reference. Both are bounded in rows: when the queue
is full the rows are dropped and counted, never waited for. A writer thread turns what
queued up into Arrow columns about once a second, in short steps between which it lets
go of the GIL, and appends them to the open Parquet file as one row group. Nothing a
request leaves behind is a container the garbage collector walks (numpy arrays and
strings are not tracked), and a second of traffic is a few blocks for the writer, not
one Python object per request to unpack.

A file is finished (renamed from ``.parquet.part`` to ``.parquet``, so a
reader never sees half a file) when it passes its size or its age, when the columns
change, and when the service stops.

Columns: the features (as validated), the configured id columns that are not features
when the request carried them (``data.id_columns``, as text, so delayed labels can be
joined by them), ``prediction``, ``proba_<class>`` for each class of a classifier,
``model_version``, ``request_id``, ``row`` (the row's index in its request) and
``timestamp`` (UTC, when the answer was made).
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
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    from mlci.serve.app import Prediction, ServedModel
    from mlci.serve.payload import Batch

__all__ = ["LogSettings", "PredictionLog", "open_prediction_log"]

log = logging.getLogger("mlci.serve")

#: Rows of one block (a request with more rows gets a block of its own).
BLOCK_ROWS = 4096
#: Requests of a block whose arrays the writer joins at most before it lets go of the GIL.
JOIN_REQUESTS = 512
#: Columns of a block the writer turns into Arrow at most before it lets go of the GIL.
BLOCK_COLUMNS = 8
#: Entries and rows the writer converts to Arrow at most before it lets go of the GIL.
SLICE_ENTRIES = 64
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


#: One queued request: its batch, labels, probabilities, request id, time, and shape (its
#: columns and whether it has probabilities; consecutive requests of one shape share a
#: table). A plain tuple: cheap to make on the request path, unpacked in C by the writer.
_Entry: TypeAlias = "tuple[Batch, Any, Any, str, float, tuple[Any, ...]]"
_SHAPE = itemgetter(5)
_ROWS, _MATRIX = attrgetter("rows"), attrgetter("matrix")


class _Block:
    """Answers of the common kind, kept as their numpy arrays until the writer joins them.

    The common request (a float block, numeric labels, no passthrough ids) costs a few
    list appends here instead of a queued entry: nothing per request outlives the
    request but its arrays (which the garbage collector does not track), its id, its
    row count and its time, so the collector finds no pile of queued containers to walk,
    and the writer joins a block's arrays in a few steps whatever the number of requests
    in it.
    """

    def __init__(self, batch: Batch, labels: Any, proba: Any, capacity: int):
        matrix = batch.matrix
        assert matrix is not None
        self.names = batch.names
        self.capacity = capacity
        self.width = matrix.shape[1]
        self.dtype = matrix.dtype
        self.label_dtype = labels.dtype
        self.proba_dtype = None if proba is None else proba.dtype
        self.classes = 0 if proba is None else proba.shape[1]
        self.rows = 0
        self.matrices: list[Any] = []
        self.labels: list[Any] = []
        self.probas: list[Any] = []
        self.ids: list[str] = []
        self.counts: list[int] = []
        self.times: list[float] = []

    def fits(self, batch: Batch, labels: Any, proba: Any) -> bool:
        """Whether this answered batch has the block's columns and types and room in it."""
        matrix = batch.matrix
        assert matrix is not None
        return (
            self.rows + batch.rows <= self.capacity
            and labels.dtype == self.label_dtype
            and matrix.dtype == self.dtype
            and matrix.shape[1] == self.width
            and (
                self.proba_dtype is None
                if proba is None
                else proba.dtype == self.proba_dtype and proba.shape[1] == self.classes
            )
            and (batch.names is self.names or batch.names == self.names)
        )

    def put(self, matrix: Any, labels: Any, proba: Any, request_id: str, now: float) -> None:
        self.rows += len(matrix)
        self.matrices.append(matrix)
        self.labels.append(labels)
        if proba is not None:
            self.probas.append(proba)
        self.ids.append(request_id)
        self.counts.append(len(matrix))
        self.times.append(now)

    def table(self, classes: list[Any] | None, version: int | None) -> Any:
        """The block's rows as an Arrow table, in a few steps with pauses between them."""
        import numpy as np
        import pyarrow as pa

        # Joining an array costs a fraction of a microsecond with the GIL held: a few
        # hundred requests at a time, then a pause.
        features: list[Any] = []
        labels: list[Any] = []
        probas: list[Any] = []
        for start in range(0, len(self.matrices), JOIN_REQUESTS):
            end = start + JOIN_REQUESTS
            features.append(_joined(self.matrices[start:end]))
            labels.append(_joined(self.labels[start:end]))
            if self.probas:
                probas.append(_joined(self.probas[start:end]))
            _pause()
        joined = _joined(features)
        columns: dict[str, Any] = {}
        for start in range(0, len(self.names), BLOCK_COLUMNS):
            part = np.ascontiguousarray(joined[:, start : start + BLOCK_COLUMNS].T)
            for j, values in enumerate(part):
                columns[self.names[start + j]] = pa.array(values)
            _pause()
        label_values = _joined(labels)
        # A missing value (NaN) is null, as from_pandas makes it on the queued path.
        nan = np.isnan(label_values) if label_values.dtype.kind == "f" else None
        columns["prediction"] = pa.array(
            label_values, mask=nan if nan is not None and nan.any() else None
        )
        if classes and probas:
            proba = np.ascontiguousarray(_joined(probas).T)
            for j, cls in enumerate(classes):
                columns[f"proba_{cls}"] = pa.array(proba[j])
        _pause()
        counts = np.array(self.counts, dtype=np.int64)
        times = np.array(self.times, dtype=np.float64)
        pieces = []
        for start in range(0, len(self.ids), JOIN_REQUESTS):
            _pause()
            pieces.append(pa.array(self.ids[start : start + JOIN_REQUESTS], pa.string()))
        ids = pa.concat_arrays(pieces) if len(pieces) > 1 else pieces[0]
        _pause()
        _add_request_columns(columns, counts, ids, times, version)
        _pause()
        return pa.table(columns)


class _Run:
    """Entries of one shape, gathered slice by slice into numpy pieces."""

    def __init__(self, first: _Entry):
        self.first = first
        self.names = first[0].names
        self.numeric = first[0].matrix is not None
        self.columns: list[list[Any]] = [[] for _ in self.names]
        self.labels: list[Any] = []
        self.proba: list[Any] = []
        self.ids: list[Any] = []
        self.counts: list[Any] = []
        self.times: list[Any] = []
        self.extra: dict[str, list[Any]] = {n: [] for n in first[0].extra or ()}

    def add(self, entries: Sequence[_Entry]) -> None:
        """Gather one slice: C-level unpacking and numpy copies, no Python step per row."""
        import numpy as np
        import pyarrow as pa

        batches, labels, probas, ids, times, _ = zip(*entries, strict=True)
        self.counts.append(np.fromiter(map(_ROWS, batches), np.int64, len(batches)))
        self.times.append(np.array(times, dtype=np.float64))
        self.ids.append(pa.array(ids, pa.string()))
        if self.numeric:
            matrices = list(map(_MATRIX, batches))
            block = (matrices[0] if len(matrices) == 1 else np.concatenate(matrices)).T
            for j, pieces in enumerate(self.columns):
                pieces.append(block[j])
        else:
            for j, name in enumerate(self.names):
                self.columns[j].append(np.concatenate([_column(b, name) for b in batches]))
        for name, pieces in self.extra.items():  # passthrough ids, as text
            pieces.append(np.concatenate([b.extra[name] for b in batches]))
        try:
            self.labels.append(np.concatenate(labels).reshape(-1))
        except ValueError:  # labels of different shapes, e.g. (n,) and (n, 1)
            self.labels.append(np.concatenate([np.asarray(x).reshape(-1) for x in labels]))
        if probas[0] is not None:
            self.proba.append(np.concatenate(probas).T)

    def table(self, classes: list[Any] | None, version: int | None) -> Any:
        """The gathered rows as one Arrow table, a few columns between two pauses."""
        import pyarrow as pa

        columns: dict[str, Any] = {}
        for j, name in enumerate(self.names):
            values = _joined(self.columns[j])
            columns[name] = pa.array(values) if self.numeric else pa.array(values, from_pandas=True)
            self.columns[j] = []
            if j % 4 == 3:
                _pause()
        for name, pieces in self.extra.items():
            columns[name] = pa.array(_joined(pieces), type=pa.string())
        _pause()
        columns["prediction"] = pa.array(_joined(self.labels), from_pandas=True)
        if classes and self.proba:
            proba = _joined(self.proba, axis=1)
            for j, cls in enumerate(classes):
                columns[f"proba_{cls}"] = pa.array(proba[j])
        _pause()
        ids = pa.concat_arrays(self.ids) if len(self.ids) > 1 else self.ids[0]
        _add_request_columns(columns, _joined(self.counts), ids, _joined(self.times), version)
        return pa.table(columns)


def _add_request_columns(
    columns: dict[str, Any], counts: Any, ids: Any, times: Any, version: int | None
) -> None:
    """``model_version``, ``request_id``, ``row`` and ``timestamp``, from one value a request."""
    import numpy as np
    import pyarrow as pa

    total = int(counts.sum())
    if version is None:
        columns["model_version"] = pa.nulls(total, pa.int64())
    else:
        columns["model_version"] = pa.array(np.full(total, version, dtype=np.int64))
    if total != len(ids):  # a multi-row request: its id on each of its rows
        ids = ids.take(pa.array(np.repeat(np.arange(len(ids)), counts)))
    columns["request_id"] = ids
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    columns["row"] = pa.array((np.arange(total) - starts).astype(np.int32))
    stamps = np.repeat((times * 1e6).astype(np.int64), counts)
    columns["timestamp"] = pa.array(stamps, type=pa.timestamp("us", tz="UTC"))


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
        self._queue: deque[_Entry | _Block] = deque()
        self._block: _Block | None = None
        self._queued_rows = 0
        self._max_rows = settings.max_queue_rows
        self._mutex = threading.Lock()  # taken by every request: a plain lock is cheapest
        self._lock = threading.Condition(self._mutex)
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
        # Imported now, at start-up: importing Arrow holds the GIL for a few hundred
        # milliseconds, which the writer's first flush would do under traffic; so does
        # pandas, which Arrow imports on its first conversion of anything (even a numpy
        # array): one tiny conversion here.
        import numpy as np
        import pyarrow as pa
        import pyarrow.parquet  # noqa: F401

        pa.array(np.zeros(1))

        self._thread = threading.Thread(target=self._run, name="mlci-predlog", daemon=True)
        self._thread.start()

    # -- the request side ---------------------------------------------------------------

    def submit(self, batch: Batch, result: Prediction, request_id: str) -> None:
        """Queue one answered batch (never blocks; drops and counts when full).

        A float block with numeric labels and no passthrough ids goes into the open
        `_Block` (the common case is checked inline: this runs on every request);
        anything else is queued as a tuple (consecutive ones of one shape share a table).
        """
        labels, proba, matrix, rows = result.labels, result.proba, batch.matrix, batch.rows
        now = time.time()
        with self._mutex:
            if self._queued_rows + rows <= self._max_rows:
                self._queued_rows += rows
                block = self._block
                if (
                    block is not None
                    and batch.names is block.names
                    and matrix is not None
                    and not batch.extra
                    and block.rows + rows <= block.capacity
                    and matrix.dtype == block.dtype
                    and matrix.shape[1] == block.width
                    and labels.dtype == block.label_dtype
                    and labels.shape == (rows,)
                    and (
                        block.proba_dtype is None
                        if proba is None
                        else proba.dtype == block.proba_dtype
                        and proba.shape == (rows, block.classes)
                    )
                ):
                    block.put(matrix, labels, proba, request_id, now)
                else:
                    self._queue_other(batch, labels, proba, request_id, now)
                return
            self.rows_dropped += rows
        if self.on_drop is not None:
            self.on_drop(rows)
        moment = time.monotonic()
        if moment - self._last_drop_warning > 60:
            self._last_drop_warning = moment
            log.warning(
                "prediction log: the writer is behind; rows are being dropped (counted in"
                " mlci_prediction_log_dropped_rows_total)"
            )

    def _queue_other(
        self, batch: Batch, labels: Any, proba: Any, request_id: str, now: float
    ) -> None:
        """`submit` of anything but the open block's kind of request (under the lock)."""
        matrix, rows = batch.matrix, batch.rows
        if matrix is not None and not batch.extra and _fits_block(labels, proba, rows):
            labels = labels.reshape(-1)
            block = self._block
            if block is None or not block.fits(batch, labels, proba):
                self._seal()
                block = self._block = _Block(batch, labels, proba, max(BLOCK_ROWS, rows))
            block.put(matrix, labels, proba, request_id, now)
            return
        extra = tuple(batch.extra) if batch.extra else ()
        shape = (batch.names, matrix is None, proba is None, extra)
        self._seal()  # rows stay in the order they were answered
        self._queue.append((batch, labels, proba, request_id, now, shape))

    def _seal(self) -> None:
        """Queue the open block (under the lock)."""
        block = self._block
        if block is not None:
            self._block = None
            if block.rows:
                self._queue.append(block)

    def _take(self) -> list[Any]:
        """Everything queued, the open block too (under the lock)."""
        self._seal()
        items = list(self._queue)
        self._queue.clear()
        self._queued_rows = 0
        return items

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
                entries = self._take()
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

    def _write(self, entries: list[_Entry | _Block]) -> None:
        """Append what queued up: one row group per flush and set of columns.

        A block becomes Arrow columns a few at a time. Queued tuples are gathered into
        numpy blocks a slice at a time (`_slices`), one run of entries of one shape at a
        time. Between two steps the writer lets go of the GIL (`_pause`), so a request
        waits at most one short step for it, never for a whole second of traffic. The
        Parquet encoding and compression run without the GIL.
        """
        from itertools import groupby

        tables: list[Any] = []
        for _, run_of_one_kind in groupby(entries, key=_is_block):
            items = list(run_of_one_kind)
            for block in items:
                if isinstance(block, _Block):
                    tables.append(block.table(self.classes, self.version))
                    _pause()
            queued = [item for item in items if not isinstance(item, _Block)]
            for group in _groups(queued) if queued else ():
                run = _Run(group[0])
                for piece in _slices(group):
                    run.add(piece)
                    _pause()
                tables.append(run.table(self.classes, self.version))
        same: list[Any] = []
        for table in tables:
            if same and not table.schema.equals(same[0].schema):
                self._append(_concat(same))
                same = []
            same.append(table)
        if same:
            self._append(_concat(same))

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
    _accept_id_columns(served, config)
    return PredictionLog(settings, version=served.version, classes=served.classes, on_drop=on_drop)


def _accept_id_columns(served: ServedModel, config: Any) -> None:
    """Let requests carry the configured id columns the model does not take, to log them.

    So delayed labels can be joined by their ids (``data.id_columns``) even when the
    ids are not features: a request may send them beside the features; they are
    logged as text and never reach the model.
    """
    import dataclasses

    data = getattr(config, "data", None)
    ids = list(getattr(data, "id_columns", None) or [])
    schema = served.schema
    if schema is None or not ids:
        return
    from mlci.data.predlog import LOG_COLUMNS

    reserved = set(LOG_COLUMNS)
    passthrough = [c for c in ids if c not in schema.columns and c not in reserved]
    clash = [c for c in ids if c in reserved]
    if clash:
        log.warning(
            "prediction log: data.id_columns %s are names the log uses for its own columns;"
            " they are not logged (rename them in the data)",
            ", ".join(clash),
        )
    if passthrough:
        served.schema = dataclasses.replace(schema, passthrough=tuple(passthrough))


def _is_block(item: _Entry | _Block) -> bool:
    return type(item) is _Block


def _concat(tables: list[Any]) -> Any:
    import pyarrow as pa

    return tables[0] if len(tables) == 1 else pa.concat_tables(tables)


def _fits_block(labels: Any, proba: Any, rows: int) -> bool:
    """Whether an answer's labels and probabilities can go into a `_Block`."""
    kind = getattr(getattr(labels, "dtype", None), "kind", None)
    if kind is None or kind not in "biuf" or labels.size != rows:
        return False
    if proba is None:
        return True
    dtype = getattr(proba, "dtype", None)
    return dtype is not None and dtype.kind == "f" and proba.ndim == 2 and len(proba) == rows


def _groups(entries: list[_Entry]) -> Iterator[list[_Entry]]:
    """Runs of consecutive entries of one shape (and, for typed columns, one set of types)."""
    from itertools import groupby

    for _, run in groupby(entries, key=_SHAPE):
        group = list(run)
        if group[0][0].matrix is not None:
            yield group
            continue
        start = 0  # typed columns: a column's type may change between requests
        for i in range(1, len(group) + 1):
            if i == len(group) or not _same_types(group[i][0], group[start][0]):
                yield group[start:i]
                start = i


def _slices(group: list[_Entry]) -> Iterator[list[_Entry]]:
    """Slices of a group small enough to gather in one step.

    Each has at most `SLICE_ENTRIES` entries and `SLICE_ROWS` rows, or one request when
    that request alone is larger. Nothing here walks the whole group at once.
    """
    for start in range(0, len(group), SLICE_ENTRIES):
        chunk = group[start : start + SLICE_ENTRIES]
        first = rows = 0
        for i, entry in enumerate(chunk):
            n = entry[0].rows
            if i > first and rows + n > SLICE_ROWS:
                yield chunk[first:i]
                first, rows = i, 0
            rows += n
        yield chunk[first:]


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


def _same_types(a: Batch, b: Batch) -> bool:
    """Whether two batches of typed columns have the same type in every column."""
    import numpy as np

    return all(np.asarray(_column(a, n)).dtype == np.asarray(_column(b, n)).dtype for n in a.names)
