"""The prediction log: every request's features and answer, in rolling Parquet files.

``mlci serve --log-dir DIR`` hands each answered batch to a `PredictionLog`. The
common request (a float block, numeric labels, no passthrough ids, up to `COPY_ROWS`
rows) is copied as bytes into the open `_Block`, the same small cost on every request;
a larger one is kept in it as it is; any other is queued as a reference. All are
bounded in rows: when the queue is full the rows are dropped and counted, never waited
for.

About once a second a thread of the service hands what queued up to a writer process
through a pipe: a block as one message a stretch of copied requests (its column
buffers written whole, without the GIL) or a kept request, other requests gathered into
numpy pieces a slice at a time, pausing between steps so a waiting request gets the
GIL. The writer process (`_writer_main`, started when the log opens,
as a batch task of low priority) makes the Arrow columns, encodes and compresses the
Parquet row groups and rolls the files. None of that runs in the service's process, so
none of it holds the GIL a request waits for. When the writer process stops (killed,
out of memory), the rows of that flush are lost and counted, and the next flush starts
another.

A file is finished (renamed from ``.parquet.part`` to ``.parquet``, so a
reader never sees half a file) when it passes its size or its age, when the columns
change, and when the service stops; the writer process also finishes its file and
exits when the service's end of the pipe closes, however the service ended.

Columns: the features (as validated), the configured id columns that are not features
when the request carried them (``data.id_columns``, as text, so delayed labels can be
joined by them), ``prediction``, ``proba_<class>`` for each class of a classifier,
``model_version``, ``request_id``, ``row`` (the row's index in its request) and
``timestamp`` (UTC, when the answer was made).
"""

from __future__ import annotations

import logging
import os
import pickle
import struct
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
#: Bytes of a block's arrays at most (it holds fewer rows when they are wide).
BLOCK_BYTES = 4 * 1024 * 1024
#: A request of at most this many rows is copied into the open block; a larger one is
#: kept as it is (see `_Block`).
COPY_ROWS = 256
#: Entries and rows gathered at most in one step, between two pauses.
SLICE_ENTRIES = 64
SLICE_ROWS = 32_768
#: How long the log's thread sleeps between steps, so that a request waiting for the GIL
#: gets it (a zero sleep releases the GIL but often takes it straight back).
PAUSE_SECONDS = 0.0002
#: How long closing the log waits for the writer process to finish its file.
CLOSE_SECONDS = 60.0


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


@dataclass
class _BlockPart:
    """A block's rows and requests: what the writer process gets of it."""

    names: list[str]
    features: Any
    labels: Any
    proba: Any
    ids: str | list[str]  # one string of NUL-separated ids, or a list
    counts: Any
    times: Any

    def id_list(self) -> list[str]:
        return self.ids.split("\0") if isinstance(self.ids, str) else self.ids

    def key(self) -> tuple[Any, ...]:
        """What parts must share to be joined into one table."""
        proba = None if self.proba is None else (self.proba.dtype, self.proba.shape[1])
        return (self.names, self.features.dtype, self.features.shape[1], self.labels.dtype, proba)

    @staticmethod
    def joined(parts: list[_BlockPart]) -> _BlockPart:
        """Parts of one `key` as one (in the writer process: one table, not one a part)."""
        import numpy as np

        if len(parts) == 1:
            return parts[0]
        first = parts[0]
        return _BlockPart(
            first.names,
            np.concatenate([p.features for p in parts]),
            np.concatenate([p.labels for p in parts]),
            None if first.proba is None else np.concatenate([p.proba for p in parts]),
            [i for p in parts for i in p.id_list()],
            np.concatenate([p.counts for p in parts]),
            np.concatenate([p.times for p in parts]),
        )

    def table(self, classes: list[Any] | None, version: int | None) -> Any:
        """The part's rows as an Arrow table (in the writer process)."""
        import numpy as np
        import pyarrow as pa

        columns: dict[str, Any] = {}
        features = np.ascontiguousarray(self.features.T)
        for j, name in enumerate(self.names):
            columns[name] = pa.array(features[j])
        # A missing value (NaN) is null, as from_pandas makes it on the queued path.
        nan = np.isnan(self.labels) if self.labels.dtype.kind == "f" else None
        columns["prediction"] = pa.array(
            self.labels, mask=nan if nan is not None and nan.any() else None
        )
        if classes and self.proba is not None:
            proba = np.ascontiguousarray(self.proba.T)
            for j, cls in enumerate(classes):
                columns[f"proba_{cls}"] = pa.array(proba[j])
        ids = pa.array(self.id_list(), pa.string())
        _add_request_columns(columns, self.counts, ids, self.times, version)
        return pa.table(columns)


class _Block:
    """Answers of the common kind, copied into the block's own buffers as they come.

    The common request (a float block, numeric labels, no passthrough ids, at most
    `COPY_ROWS` rows) is copied here on the request path, while its arrays are still
    in the CPU's cache: its rows, labels and probabilities as bytes (`ndarray.tobytes`)
    appended to one buffer a column, its row count and time to two `array`s, its id to
    a buffer of NUL-ended ids (about 1.5 µs a request, the same for every request, and
    about what keeping the arrays alive until the hand-off costs the allocator). A
    larger request is kept as it is, in its place. Handing the block over is then a few
    `os.writev` calls of whole buffers, with nothing to do for each request. Keeping
    references to every request's arrays and joining them in the log's thread a second
    later, out of the cache, cost that thread 1.5-2.5 µs a request with the GIL held, in
    stretches a request arriving then waited out (the saturated single-row p99 2-3x that
    without the log). Joining a few requests at a time on the request path made one
    request in sixteen wait 30-70 µs; buffers allocated at their full size and written
    through memoryviews cost more per request than appending, and no less in the tail.
    """

    def __init__(self, batch: Batch, labels: Any, proba: Any):
        from array import array

        matrix = batch.matrix
        assert matrix is not None
        self.names = batch.names
        self.width = matrix.shape[1]
        self.dtype = matrix.dtype
        self.label_dtype = labels.dtype
        self.proba_dtype = None if proba is None else proba.dtype
        self.classes = 0 if proba is None else proba.shape[1]
        # Bytes of one row in each column buffer.
        self.row_bytes = (
            self.width * self.dtype.itemsize,
            self.label_dtype.itemsize,
            0 if proba is None else self.classes * proba.dtype.itemsize,
        )
        self.capacity = max(COPY_ROWS, min(BLOCK_ROWS, BLOCK_BYTES // sum(self.row_bytes)))
        self.features = bytearray()
        self.labels = bytearray()
        self.proba = bytearray()
        self.counts = array("q")
        self.times = array("d")
        self.ids = bytearray()
        self.rows = 0  # all rows, copied or kept
        self.filled = 0  # copied rows
        # In order: copied stretches (first row, end row, first request, end request,
        # first byte of ids, end byte) and larger requests kept as they are.
        self.segments: list[tuple[int, int, int, int, int, int] | _Whole] = []
        self._cut_at = (0, 0, 0)

    def fits(self, batch: Batch, labels: Any, proba: Any) -> bool:
        """Whether this answered batch has the block's columns and types."""
        matrix = batch.matrix
        assert matrix is not None
        return (
            labels.dtype == self.label_dtype
            and matrix.dtype == self.dtype
            and matrix.shape[1] == self.width
            and (
                self.proba_dtype is None
                if proba is None
                else proba.dtype == self.proba_dtype and proba.shape[1] == self.classes
            )
            and (batch.names is self.names or batch.names == self.names)
        )

    def room(self, rows: int) -> bool:
        """Whether a request of ``rows`` rows would be copied into this block."""
        return rows <= COPY_ROWS and self.filled + rows <= self.capacity

    def put(
        self, matrix: Any, labels: Any, proba: Any, rows: int, request_id: str, now: float
    ) -> None:
        """Copy one request of ``rows`` rows in (it `fits`, has `room`, no NUL in its id)."""
        self.features += matrix.tobytes()  # rows in order, whatever the array's layout
        self.labels += labels.tobytes()
        if proba is not None:
            self.proba += proba.tobytes()
        self.counts.append(rows)
        self.times.append(now)
        self.ids += request_id.encode()
        self.ids.append(0)
        self.filled += rows
        self.rows += rows

    def keep(self, matrix: Any, labels: Any, proba: Any, request_id: str, now: float) -> None:
        """Keep one larger request as it is, in its place after the rows copied so far."""
        self.cut()
        self.segments.append(_Whole(matrix, labels, proba, request_id, now))
        self.rows += len(matrix)

    def cut(self) -> None:
        """End the stretch of copied requests so far (before a kept request, or sealed)."""
        rows, requests, ids = self._cut_at
        if len(self.counts) > requests:
            end = (self.filled, len(self.counts), len(self.ids))
            self.segments.append((rows, end[0], requests, end[1], ids, end[2]))
            self._cut_at = end

    def parts(self) -> Iterator[tuple[_PartHead, list[Any]]]:
        """The block as the writer process gets it: each segment's head and arrays."""
        self.cut()
        proba = None if self.proba_dtype is None else (self.proba_dtype.str, self.classes)
        dtypes = (self.dtype.str, self.label_dtype.str)
        for segment in self.segments:
            if isinstance(segment, _Whole):
                yield segment.part(self.names, *dtypes, proba)
                continue
            r0, r1, q0, q1, b0, b1 = segment
            arrays: list[Any] = [
                memoryview(buffer)[r0 * size : r1 * size]
                for buffer, size in zip(
                    (self.features, self.labels, self.proba), self.row_bytes, strict=True
                )
                if size
            ]
            arrays += [memoryview(self.counts)[q0:q1], memoryview(self.times)[q0:q1]]
            arrays.append(memoryview(self.ids)[b0:b1])
            head = _PartHead(self.names, r1 - r0, self.width, *dtypes, proba, False)
            yield head, arrays


class _Whole:
    """A request kept as it is in a `_Block`: its arrays, id and time."""

    def __init__(self, matrix: Any, labels: Any, proba: Any, request_id: str, now: float):
        self.matrix, self.labels, self.proba = matrix, labels, proba
        self.request_id, self.now = request_id, now

    def part(
        self, names: list[str], dtype: str, label_dtype: str, proba: tuple[str, int] | None
    ) -> tuple[_PartHead, list[Any]]:
        """Its head and arrays; features in columns go as their (C-ordered) transpose."""
        import numpy as np

        matrix = self.matrix
        flip = not matrix.flags.c_contiguous and matrix.flags.f_contiguous
        arrays: list[Any] = [matrix.T if flip else np.ascontiguousarray(matrix)]
        arrays.append(np.ascontiguousarray(self.labels))
        if proba is not None:
            arrays.append(np.ascontiguousarray(self.proba))
        ids = self.request_id.encode() + b"\0"  # `PredictionLog` keeps no id with a NUL
        arrays += [np.array([len(matrix)], np.int64), np.array([self.now]), ids]
        head = _PartHead(names, len(matrix), matrix.shape[1], dtype, label_dtype, proba, flip)
        return head, arrays


@dataclass
class _PartHead:
    """A block's part without its arrays, which follow it in the pipe.

    One buffer each: features, labels, probabilities if any, row counts, times, and the
    ids, each ended by a NUL.
    """

    names: list[str]
    rows: int
    width: int
    dtype: str
    label_dtype: str
    proba: tuple[str, int] | None  # dtype and classes
    flip: bool  # the features come as their transpose

    def filled(self, buffers: list[bytearray]) -> _BlockPart:
        """The part, its columns read from ``buffers`` (in the writer process)."""
        import numpy as np

        rows = self.rows
        if self.flip:
            features = np.frombuffer(buffers[0], self.dtype).reshape(self.width, rows).T
        else:
            features = np.frombuffer(buffers[0], self.dtype).reshape(rows, self.width)
        labels = np.frombuffer(buffers[1], dtype=self.label_dtype)
        proba = None
        if self.proba is not None:
            proba = np.frombuffer(buffers[2], dtype=self.proba[0]).reshape(rows, self.proba[1])
        counts = np.frombuffer(buffers[-3], dtype=np.int64)
        times = np.frombuffer(buffers[-2], dtype=np.float64)
        ids = buffers[-1][:-1].decode()
        return _BlockPart(self.names, features, labels, proba, ids, counts, times)


class _Run:
    """Entries of one shape, gathered slice by slice into numpy pieces.

    Gathered in the service (numpy copies, no Arrow), made a table in the writer
    process: the run holds the batches' arrays, never the batches themselves.
    """

    def __init__(self, first: _Entry):
        self.names = first[0].names
        self.numeric = first[0].matrix is not None
        self.columns: list[list[Any]] = [[] for _ in self.names]
        self.labels: list[Any] = []
        self.proba: list[Any] = []
        self.ids: list[str] = []
        self.counts: list[Any] = []
        self.times: list[Any] = []
        self.extra: dict[str, list[Any]] = {n: [] for n in first[0].extra or ()}

    def add(self, entries: Sequence[_Entry]) -> None:
        """Gather one slice: C-level unpacking and numpy copies, no Python step per row."""
        import numpy as np

        batches, labels, probas, ids, times, _ = zip(*entries, strict=True)
        self.counts.append(np.fromiter(map(_ROWS, batches), np.int64, len(batches)))
        self.times.append(np.array(times, dtype=np.float64))
        self.ids.extend(ids)
        if self.numeric:
            matrices = list(map(_MATRIX, batches))
            block = matrices[0] if len(matrices) == 1 else np.concatenate(matrices)
            for j, pieces in enumerate(self.columns):
                pieces.append(np.ascontiguousarray(block[:, j]))
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
            self.proba.append(np.concatenate(probas))

    def table(self, classes: list[Any] | None, version: int | None) -> Any:
        """The gathered rows as one Arrow table (in the writer process)."""
        import pyarrow as pa

        columns: dict[str, Any] = {}
        for j, name in enumerate(self.names):
            values = _joined(self.columns[j])
            columns[name] = pa.array(values) if self.numeric else pa.array(values, from_pandas=True)
        for name, pieces in self.extra.items():
            columns[name] = pa.array(_joined(pieces), type=pa.string())
        columns["prediction"] = pa.array(_joined(self.labels), from_pandas=True)
        if classes and self.proba:
            proba = _joined(self.proba).T
            for j, cls in enumerate(classes):
                columns[f"proba_{cls}"] = pa.array(proba[j])
        ids = pa.array(self.ids, pa.string())
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
    """Rolling Parquet files of served predictions, written by a process of their own."""

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
        self._last_drop_warning = 0.0
        self.written_files: list[Path] = []
        self.rows_written = 0
        self.rows_dropped = 0
        settings.directory.mkdir(parents=True, exist_ok=True)
        self._process = _WriterProcess(settings, version, self.classes)
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
                if (  # identity first: numpy's own types are one object each
                    block is not None
                    and batch.names is block.names
                    and rows <= COPY_ROWS
                    and block.filled + rows <= block.capacity
                    and not batch.extra
                    and matrix is not None
                    and matrix.dtype is block.dtype
                    and labels.dtype is block.label_dtype
                    and matrix.shape == (rows, block.width)
                    and labels.size == rows
                    and (
                        proba is None
                        if block.proba_dtype is None
                        else proba is not None
                        and proba.dtype is block.proba_dtype
                        and proba.shape == (rows, block.classes)
                    )
                    and "\0" not in request_id
                ):
                    block.put(matrix, labels, proba, rows, request_id, now)
                else:
                    self._queue_other(batch, labels, proba, request_id, now)
                return
            self.rows_dropped += rows
        self._dropped(rows)

    def _dropped(self, rows: int) -> None:
        """Count rows that will never be written, and say so (at most once a minute)."""
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
        # An id with a NUL (never from the service, which checks its ids) goes as a tuple.
        fits = matrix is not None and len(matrix) == rows and not batch.extra
        if fits and "\0" not in request_id and _fits_block(labels, proba, rows):
            labels = labels.reshape(-1)
            block = self._block
            if block is None or not block.fits(batch, labels, proba):
                self._seal()
                block = self._block = _Block(batch, labels, proba)
            if block.room(rows):
                block.put(matrix, labels, proba, rows, request_id, now)
            elif rows <= COPY_ROWS:  # full: the next block
                self._seal()
                block = self._block = _Block(batch, labels, proba)
                block.put(matrix, labels, proba, rows, request_id, now)
            else:
                block.keep(matrix, labels, proba, request_id, now)
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
        self._thread.join(timeout=CLOSE_SECONDS + 5)

    # -- the log's thread ---------------------------------------------------------------

    def _run(self) -> None:
        """Once a flush interval, hand everything over and have the writer write it.

        Handing each block over as it fills (512 rows) was tried: the log's thread then
        takes the GIL many more times a second and more requests meet it (in the
        bench's writer-busy run, single-row p99 2.6x against 1.4x; p99.9 2.3x against
        4.3x).
        """
        while True:
            with self._lock:
                if not self._stop:
                    self._lock.wait(timeout=self.settings.flush_seconds)
                entries = self._take()
                stopping = self._stop
            try:
                if entries:
                    self._write(entries)
                self._process.send(("close" if stopping else "flush", None))
                self._heard(self._process.replies(wait=stopping))
            except _WriterGone as gone:
                self._heard(gone.replies)
                self._lost(gone, entries, stopping)
            if stopping:
                self._process.stop()
                return

    def _write(self, entries: list[_Entry | _Block]) -> None:
        """Hand what queued up to the writer process, one step at a time, in order.

        A block goes as its stretches of copied requests and its kept requests, each
        with its columns as they are (`_Block.parts`); queued tuples are
        gathered into numpy pieces a slice at a time (`_slices`), one run of entries of
        one shape at a time. Between two steps the thread lets go of the GIL (`_pause`),
        and the pipe is written without it, so a request waits at most one short step.
        The writer process writes one row group per flush and set of columns.
        """
        from itertools import groupby

        send = self._process.send
        for is_block, run_of_one_kind in groupby(entries, key=_is_block):
            if is_block:
                for block in run_of_one_kind:
                    assert isinstance(block, _Block)
                    for head, arrays in block.parts():
                        send(("rows", head), arrays)
                        _pause()
                continue
            queued: list[_Entry] = list(run_of_one_kind)  # type: ignore[arg-type]
            for group in _groups(queued):
                run = _Run(group[0])
                for piece in _slices(group):
                    run.add(piece)
                    _pause()
                send(("rows", run))
                _pause()

    def _heard(self, replies: list[dict[str, Any]]) -> None:
        """What the writer process says it wrote."""
        for reply in replies:
            self.rows_written += reply["rows"]
            self.written_files.extend(Path(f) for f in reply["files"])

    def _lost(self, gone: _WriterGone, entries: list[_Entry | _Block], stopping: bool) -> None:
        """The writer process stopped: count this flush's rows as dropped; start another."""
        rows = sum(item.rows if isinstance(item, _Block) else item[0].rows for item in entries)
        log.error(
            "prediction log: the writer process stopped (%s); %d rows of this flush are lost"
            " (counted in mlci_prediction_log_dropped_rows_total), and a file it had not"
            " finished stays a .parquet.part%s",
            gone,
            rows,
            "" if stopping else "; starting another",
        )
        with self._mutex:
            self.rows_dropped += rows
        if self.on_drop is not None and rows:
            self.on_drop(rows)
        self._process.stop()
        if not stopping:
            try:
                self._process = _WriterProcess(self.settings, self.version, self.classes)
            except OSError as exc:  # no process can start now: try again at the next flush
                log.error("prediction log: cannot start the writer process (%s)", exc)


class _WriterGone(Exception):
    """The writer process cannot be reached (it exited, or did not answer in time)."""

    def __init__(self, why: str, replies: list[dict[str, Any]] | None = None):
        super().__init__(why)
        self.replies = replies or []


class _WriterProcess:
    """The writer process, seen from the service: a pipe to it and a pipe back.

    Started with the service's own interpreter and the same ``mlci`` package, in a
    session of its own, so a ^C at the terminal reaches only the service, which then
    closes the log and lets the writer finish its file.
    """

    def __init__(self, settings: LogSettings, version: int | None, classes: list[Any] | None):
        import mlci
        from mlci.proc import start_worker

        root = str(Path(mlci.__file__).resolve().parents[1])
        to_writer, self._out = os.pipe()
        self._in, from_writer = os.pipe()
        _widen(self._out)
        # The package's folder goes last on the path: it is only needed when mlci was
        # put on the path by hand, and first it could shadow the standard library.
        code = (
            f"import sys; sys.path.append({root!r}); "
            f"from mlci.serve.predlog import _writer_main; _writer_main({from_writer})"
        )
        try:
            self.proc = start_worker(code, stdin=to_writer, pass_fds=(from_writer,))
        except OSError:
            os.close(self._out)
            os.close(self._in)
            raise
        finally:
            os.close(to_writer)
            os.close(from_writer)
        self._closed = False
        self.send((settings, version, classes))

    def send(self, message: Any, arrays: Sequence[Any] = ()) -> None:
        """Write one message, then ``arrays``, to the writer process (blocks while full)."""
        if self._closed:  # its pipes are closed (their numbers may be another file's now)
            raise _WriterGone("it was stopped")
        try:
            _send_frame(self._out, message, arrays)
        except OSError as exc:
            raise _WriterGone(self._why(exc)) from None

    def replies(self, *, wait: bool) -> list[dict[str, Any]]:
        """The replies that arrived; with ``wait``, until the writer says it closed."""
        import select

        out: list[dict[str, Any]] = []
        if self._closed:
            raise _WriterGone("it was stopped")
        deadline = time.monotonic() + CLOSE_SECONDS
        while True:
            left = max(0.0, deadline - time.monotonic()) if wait else 0.0
            if not select.select([self._in], [], [], left)[0]:
                if wait:
                    raise _WriterGone(f"it did not finish within {CLOSE_SECONDS:.0f} s", out)
                return out
            try:
                reply = _recv_frame(self._in)
            except (EOFError, OSError) as exc:
                raise _WriterGone(self._why(exc), out) from None
            out.append(reply)
            if reply.get("closed"):
                return out

    def stop(self) -> None:
        """Close the pipes and wait for the process (killed if it does not end)."""
        from mlci.proc import stop_worker

        if self._closed:
            return
        self._closed = True
        for fd in (self._out, self._in):
            os.close(fd)
        stop_worker(self.proc, CLOSE_SECONDS)

    def _why(self, exc: BaseException) -> str:
        code = self.proc.poll()
        return f"exit code {code}" if code is not None else str(exc) or type(exc).__name__


def _widen(fd: int) -> None:
    """A pipe of 1 MiB (Linux), so a part is written in one go, not 64 KiB at a time."""
    try:
        import fcntl

        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
    except (ImportError, OSError):  # other systems, or a limit below 1 MiB: the default
        pass


def _send_frame(fd: int, message: Any, arrays: Sequence[Any] = ()) -> None:
    """Pickle ``message`` with its arrays as out-of-band buffers, and write it all.

    The frame: the number of buffers, the pickle's size and each buffer's size (8 bytes
    each), the pickle, the buffers: the pickle's own, then ``arrays`` (C-ordered arrays
    or any buffers: a block's columns, which `_recv_frame` hands to the `_PartHead`
    pickled before them). Every buffer is written from its own memory, and ``os.writev``
    runs without the GIL. Both ends of the pipe are this service.
    """
    buffers: list[pickle.PickleBuffer] = []
    data = pickle.dumps(message, protocol=5, buffer_callback=buffers.append)
    views = [b.raw() for b in buffers] + [memoryview(a).cast("B") for a in arrays]
    head = struct.pack(f"<{len(views) + 2}Q", len(views), len(data), *(v.nbytes for v in views))
    _write_all(fd, [memoryview(head), memoryview(data), *views])


def _write_all(fd: int, views: list[memoryview]) -> None:
    """Write ``views`` (of bytes) in order, in as few system calls as the pipe allows."""
    views = [v for v in views if v.nbytes]
    while views:
        done = os.writev(fd, views)
        while views and done >= views[0].nbytes:
            done -= views.pop(0).nbytes
        if views:
            views[0] = views[0][done:]


def _read_exact(fd: int, size: int) -> bytearray:
    buf = bytearray(size)
    view, got = memoryview(buf), 0
    while got < size:
        n = os.readv(fd, [view[got:]])
        if n == 0:
            raise EOFError("the pipe closed")
        got += n
    return buf


def _recv_frame(fd: int) -> Any:
    """One message written by `_send_frame`.

    Its arrays come in writable buffers of their own; a ``("rows", _PartHead)`` comes
    back as its `_BlockPart`.
    """
    (count,) = struct.unpack("<Q", _read_exact(fd, 8))
    sizes = struct.unpack(f"<{count + 1}Q", _read_exact(fd, 8 * (count + 1)))
    data = _read_exact(fd, sizes[0])
    buffers = [_read_exact(fd, n) for n in sizes[1:]]
    left = iter(buffers)
    message = pickle.loads(data, buffers=left)  # noqa: S301 - written by this service
    rest = list(left)  # the columns that follow a `_PartHead`
    if rest:
        kind, head = message
        return kind, head.filled(rest)
    return message


# -- the writer process ---------------------------------------------------------------


def _writer_main(reply_fd: int) -> None:
    """The writer process: messages from the service on stdin, replies on ``reply_fd``.

    ``("rows", part)`` becomes an Arrow table; ``("flush", None)`` writes the tables
    of the flush (one row group per set of columns) and replies with the rows and
    finished files; ``("close", None)``, or the end of the pipe, also finishes the open
    file and ends the process. Between messages it rolls a file that grew too old.
    """
    import select
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the service closes the log on ^C
    _yield_to_the_service()
    settings, version, classes = _recv_frame(0)
    files = _ParquetFiles(settings)
    items: list[_BlockPart | _Run] = []
    while True:
        if not select.select([0], [], [], settings.flush_seconds)[0]:
            files.roll_if_old()
            continue
        try:
            kind, item = _recv_frame(0)
        except EOFError:  # the service ended without closing the log
            kind, item = "close", None
        if kind == "rows":
            items.append(item)
            continue
        try:
            files.write([each.table(classes, version) for each in _joined_parts(items)])
            if kind == "close":
                files.finish()
            files.roll_if_old()
        except Exception:  # a full disk must not stop the service: these rows are lost
            log.exception("prediction log: writing failed; these rows are lost")
            files.abandon()
        items = []
        try:
            _send_frame(reply_fd, files.news(closed=kind == "close"))
        except OSError:  # the service is gone
            files.finish()
            return
        if kind == "close":
            return


def _joined_parts(items: list[_BlockPart | _Run]) -> Iterator[_BlockPart | _Run]:
    """The flush's items in order, consecutive block parts of one `key` joined."""
    from itertools import groupby

    for key, run in groupby(items, key=lambda x: x.key() if isinstance(x, _BlockPart) else x):
        if isinstance(key, tuple):
            yield _BlockPart.joined(list(run))  # type: ignore[arg-type]
        else:
            yield from run


def _yield_to_the_service() -> None:
    """Run as background work, behind the requests.

    The service wakes this process with its messages. As a batch task (Linux: it does
    not preempt a running task when woken) of lower priority, it runs when a core is
    free and still gets its share when none is.
    """
    try:
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
    except (AttributeError, OSError):  # not Linux
        pass
    try:
        os.nice(10)
    except OSError:  # pragma: no cover - nice is always allowed upwards
        pass


class _ParquetFiles:
    """The open Parquet file of the writer process, and how it rolls."""

    def __init__(self, settings: LogSettings):
        self.settings = settings
        self._writer: Any = None
        self._file: Any = None
        self._part: Path | None = None
        self._schema: Any = None
        self._opened = 0.0
        self._seq = 0
        self._rows = 0
        self._finished: list[str] = []

    def news(self, *, closed: bool) -> dict[str, Any]:
        """Rows written and files finished since the last reply."""
        out = {"rows": self._rows, "files": self._finished, "closed": closed}
        self._rows, self._finished = 0, []
        return out

    def write(self, tables: list[Any]) -> None:
        """One row group for each run of tables with the same columns."""
        same: list[Any] = []
        for table in tables:
            if same and not table.schema.equals(same[0].schema):
                self._append(_concat(same))
                same = []
            same.append(table)
        if same:
            self._append(_concat(same))

    def roll_if_old(self) -> None:
        if self._writer is not None and (
            time.monotonic() - self._opened >= self.settings.max_file_seconds
        ):
            self.finish()

    def _append(self, table: Any) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self._writer is not None and not table.schema.equals(self._schema):
            self.finish()
        if self._writer is None:
            self._seq += 1
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            name = f"predictions-{stamp}-{os.getpid()}-{self._seq:04d}.parquet"
            self._part = self.settings.directory / (name + ".part")
            self._file = pa.OSFile(str(self._part), "wb")
            # A dictionary for every column but the (unique) request ids, given up once
            # it passes 16 KiB: columns of few values (codes, counts, classes) shrink to
            # a third, and a column of measurements stops paying for it after 2,048
            # values (1.2 us a row for both, against 1.6 and 4.3 with Parquet's 1 MiB).
            dictionary = [f.name for f in table.schema if f.name != "request_id"]
            self._writer = pq.ParquetWriter(
                self._file,
                table.schema,
                compression="zstd",
                use_dictionary=dictionary,
                dictionary_pagesize_limit=16 * 1024,
            )
            self._schema = table.schema
            self._opened = time.monotonic()
        self._writer.write_table(table)
        self._rows += table.num_rows
        if self._file.tell() >= self.settings.max_file_bytes:
            self.finish()

    def finish(self) -> None:
        if self._writer is None or self._part is None:
            return
        self._writer.close()
        self._file.close()
        final = self._part.with_suffix("")  # drop ".part"
        self._part.replace(final)
        self._finished.append(str(final))
        self._writer = self._file = self._part = None

    def abandon(self) -> None:  # pragma: no cover - after a write error
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
    if os.name != "posix":  # the writer process is fed through POSIX pipes
        raise InputError(
            f"{where} {directory}: the prediction log needs Linux or macOS; serve without"
            " it here, or run the service in a Linux container"
        )
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
