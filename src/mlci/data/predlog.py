"""Reading the prediction log that ``mlci serve --log-dir`` writes, in bounded memory.

A log folder holds finished Parquet parts (``*.parquet``; ``*.parquet.part`` files are
still being written and are skipped) with the features, ``prediction``,
``model_version``, ``request_id``, ``row`` and ``timestamp`` of every answered row.

`read_prediction_log` reads only the columns it needs, one Parquet batch of at most
``chunk_rows`` rows at a time, skips row groups older than the time window by their
statistics, and folds every batch into per-model-version summaries:

- a mergeable `Profile` of the features and one of the predictions (bounded sketches);
- the labelled rows (logged prediction and delayed label), joined by a 64-bit hash of
  ``request_id`` and ``row`` (or of the configured id columns), kept up to
  `MAX_LABELLED` rows per version by a uniform random sample.

What grows with the data is the label index (16 bytes per delayed label), not the log.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlci.errors import InputError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mlci.data.profile import Kind, Profile, Profiler

__all__ = [
    "LOG_COLUMNS",
    "MAX_LABELLED",
    "LabelIndex",
    "LogSummary",
    "VersionSummary",
    "is_prediction_log",
    "log_parts",
    "parse_since",
    "read_labels",
    "read_prediction_log",
]

#: The columns every prediction log part carries besides the features.
LOG_COLUMNS = ("prediction", "model_version", "request_id", "row", "timestamp")
#: Labelled rows kept per model version for the live metrics (a uniform sample beyond).
MAX_LABELLED = 1_000_000

_SINCE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_since(text: str, now: _dt.datetime) -> _dt.datetime:
    """The start of the time window ``--since`` names (``30m``, ``12h``, ``7d``, ``2w``).

    Raises:
        InputError: when the text is not a number followed by s, m, h, d or w.
    """
    match = _SINCE.match(text)
    if not match or int(match.group(1)) <= 0:
        raise InputError(
            f"--since {text!r}: not a time window; write a positive number and a unit"
            " (s, m, h, d or w), e.g. 7d"
        )
    seconds = int(match.group(1)) * _UNITS[match.group(2)]
    return now - _dt.timedelta(seconds=min(seconds, 100 * 365 * 86400))


def log_parts(directory: Path) -> list[Path]:
    """The finished parts of a log folder, oldest name first."""
    return sorted(p for p in directory.glob("*.parquet") if p.is_file())


def is_prediction_log(path: Path) -> bool:
    """Whether ``path`` is a folder of parts written by ``mlci serve --log-dir``."""
    if not path.is_dir():
        return False
    parts = log_parts(path)
    if not parts:
        return False
    import pyarrow.parquet as pq

    try:
        names = set(pq.read_schema(parts[0]).names)
    except Exception:  # noqa: BLE001 - a damaged part is reported by the reader
        return False
    return {"model_version", "request_id", "timestamp"} <= names


def _keys(frame: pd.DataFrame, key_columns: Sequence[str]) -> np.ndarray:
    """A 64-bit key per row from the key columns (text forms, so types need not match)."""
    import numpy as np
    import pandas as pd

    joined = frame[key_columns[0]].astype(str)
    for c in key_columns[1:]:
        joined = joined + "\x1f" + frame[c].astype(str)
    return np.asarray(pd.util.hash_array(joined.to_numpy(dtype=object)), dtype=np.uint64)


@dataclass
class LabelIndex:
    """Delayed labels by a 64-bit key (sorted for `numpy.searchsorted`).

    Attributes:
        key_columns: The log columns the key is made of.
        keys: Sorted keys.
        values: The label of each key.
        source: Where the labels came from, for the report.
    """

    key_columns: list[str]
    keys: np.ndarray
    values: np.ndarray
    source: str

    def lookup(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """The mask of rows of ``frame`` that have a label, and those labels."""
        import numpy as np

        keys = _keys(frame, self.key_columns)
        if len(self.keys) == 0:
            return np.zeros(len(frame), dtype=bool), self.values[:0]
        pos = np.searchsorted(self.keys, keys)
        pos[pos >= len(self.keys)] = 0
        found = self.keys[pos] == keys
        return found, self.values[pos[found]]


def read_labels(
    path: Path,
    *,
    target: str,
    id_columns: Sequence[str],
    log_columns: Sequence[str],
    chunk_rows: int,
) -> LabelIndex:
    """The delayed labels of ``path``, keyed to join the log.

    The key is ``request_id`` and ``row`` when the labels have ``request_id`` (without
    ``row`` a label belongs to row 0 of its request: single-row requests), else the
    ``data.id_columns`` the labels and the log both have.

    Raises:
        InputError: when there is no label column or nothing to join on, or a key repeats.
    """
    import numpy as np

    from mlci.data.io import iter_frames

    keys: list[np.ndarray] = []
    values: list[np.ndarray] = []
    key_columns: list[str] | None = None
    for _, frame in iter_frames(path, chunk_rows=chunk_rows):
        if key_columns is None:
            if "request_id" in frame.columns:
                key_columns = ["request_id", "row"]
            else:
                key_columns = [c for c in id_columns if c in frame.columns and c in log_columns]
            if not key_columns:
                raise InputError(
                    f"{path}: the delayed labels have no request_id column and no data.id_columns"
                    " the prediction log also has; write each label with the request_id the"
                    " service returned (and its row), or log the id columns"
                )
            if target not in frame.columns:
                raise InputError(
                    f"{path}: no label column {target!r}; write the delayed labels in the"
                    " data.target column"
                )
        if key_columns == ["request_id", "row"] and "row" not in frame.columns:
            frame = frame.assign(row=0)
        known = frame[target].notna().to_numpy()
        keys.append(_keys(frame[known], key_columns))
        values.append(frame[target].to_numpy()[known])
    assert key_columns is not None
    all_keys = np.concatenate(keys) if keys else np.zeros(0, dtype=np.uint64)
    all_values = np.concatenate(values) if values else np.zeros(0)
    order = np.argsort(all_keys, kind="stable")
    all_keys, all_values = all_keys[order], all_values[order]
    if len(all_keys) > 1 and bool(np.any(all_keys[1:] == all_keys[:-1])):
        raise InputError(
            f"{path}: a {' + '.join(key_columns)} repeats in the delayed labels; keep one"
            " label per logged row"
        )
    return LabelIndex(key_columns, all_keys, all_values, f"joined on {', '.join(key_columns)}")


@dataclass
class VersionSummary:
    """What the log says about one model version.

    Attributes:
        version: The registry version that answered (None when the service did not know).
        rows: Rows logged in the window.
        first: Earliest timestamp (ISO 8601).
        last: Latest timestamp (ISO 8601).
        features: Profile of the logged features.
        predictions: Profile of the ``prediction`` column.
        labelled: Rows that found a delayed label.
        y_true: Labels of the kept labelled rows.
        y_pred: Logged predictions of the kept labelled rows.
    """

    version: int | None
    rows: int = 0
    first: str | None = None
    last: str | None = None
    features: Profile | None = None
    predictions: Profile | None = None
    labelled: int = 0
    y_true: Any = None
    y_pred: Any = None
    _profiler: Profiler | None = field(default=None, repr=False)
    _pred_profiler: Profiler | None = field(default=None, repr=False)
    _priority: Any = field(default=None, repr=False)


@dataclass
class LogSummary:
    """The prediction log in a time window, per model version.

    Attributes:
        parts: The Parquet parts read.
        rows: Rows in the window.
        skipped_rows: Rows outside the window (counted from row-group statistics and
            filtered batches).
        versions: One summary per model version, newest version first.
        labels: Where the labels came from (or why there are none).
    """

    parts: list[str]
    rows: int
    skipped_rows: int
    versions: list[VersionSummary]
    labels: str


def read_prediction_log(
    directory: Path,
    *,
    features: Sequence[str],
    kinds: Mapping[str, Kind],
    since: _dt.datetime | None,
    chunk_rows: int,
    labels: LabelIndex | None = None,
    label_source: str = "no labels",
    max_labelled: int = MAX_LABELLED,
) -> LogSummary:
    """Fold a log folder into per-version profiles and labelled samples.

    Args:
        directory: The log folder.
        features: Feature columns to profile (those a part lacks are skipped there).
        kinds: The kind of each feature (from the reference profile).
        since: Only rows at or after this time (None: every row).
        chunk_rows: Rows per batch read.
        labels: Delayed labels to join, or None.
        label_source: Said in the summary when ``labels`` is None.
        max_labelled: Labelled rows kept per version (a uniform sample beyond).

    Raises:
        InputError: when the folder has no finished part or a part is not a log part.
    """
    import numpy as np

    parts = log_parts(directory)
    if not parts:
        raise InputError(
            f"{directory}: no finished prediction log part (*.parquet); point --current at"
            " the folder mlci serve --log-dir writes"
        )
    bound = _window_start(since)
    summaries: dict[int | None, VersionSummary] = {}
    rng = np.random.default_rng(0)
    rows = skipped = 0
    need_keys = labels.key_columns if labels is not None else []
    for part in parts:
        handle, names = _open_part(part)
        groups, old = _groups_in_window(handle, names, bound)
        skipped += old
        if not groups:
            continue
        for batch in handle.iter_batches(
            batch_size=chunk_rows,
            row_groups=groups,
            columns=_wanted_columns(names, features, need_keys),
            use_threads=False,
        ):
            batch, old = _rows_in_window(batch, bound)
            skipped += old
            if batch.num_rows == 0:
                continue
            rows += batch.num_rows
            _fold_batch(summaries, batch, kinds, features, labels, rng, max_labelled)
    return LogSummary(
        [str(p) for p in parts],
        rows,
        skipped,
        _finish(summaries),
        labels.source if labels is not None else label_source,
    )


def _window_start(since: _dt.datetime | None) -> Any:
    """The start of the window as an Arrow UTC timestamp (None: every row)."""
    if since is None:
        return None
    import pyarrow as pa

    return pa.scalar(int(since.timestamp() * 1e6), type=pa.timestamp("us", tz="UTC"))


def _open_part(part: Path) -> tuple[Any, list[str]]:
    """The Parquet file of one log part and its column names.

    Raises:
        InputError: when the part is not readable Parquet or lacks a log column.
    """
    import pyarrow.parquet as pq

    try:
        handle = pq.ParquetFile(part)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types
        raise InputError(
            f"{part}: not a readable Parquet file ({str(exc)[:200]}); remove it or"
            " restore it from the log's storage"
        ) from None
    names = list(handle.schema_arrow.names)
    missing = [c for c in ("prediction", "model_version", "timestamp") if c not in names]
    if missing:
        raise InputError(
            f"{part}: not a prediction log part (no {', '.join(missing)} column); keep only"
            " the files mlci serve --log-dir writes in the folder"
        )
    return handle, names


def _wanted_columns(
    names: Sequence[str], features: Sequence[str], need_keys: Sequence[str]
) -> list[str]:
    """The columns of a part to read: the features it has, the log columns, the label keys."""
    wanted = [c for c in features if c in names]
    wanted += [c for c in ("prediction", "model_version", "timestamp") if c not in wanted]
    wanted += [c for c in need_keys if c in names and c not in wanted]
    return wanted


def _groups_in_window(handle: Any, names: Sequence[str], bound: Any) -> tuple[list[int], int]:
    """The row groups that may hold rows of the window, and the rows of those skipped.

    A group whose newest timestamp (from its statistics) is before the window is skipped
    without reading it.
    """
    groups = list(range(handle.num_row_groups))
    if bound is None:
        return groups, 0
    ts = names.index("timestamp")
    keep, skipped = [], 0
    for g in groups:
        meta = handle.metadata.row_group(g)
        stats = meta.column(ts).statistics
        if stats is not None and stats.has_min_max and _stamp_us(stats.max) < bound.value:
            skipped += meta.num_rows
        else:
            keep.append(g)
    return keep, skipped


def _rows_in_window(batch: Any, bound: Any) -> tuple[Any, int]:
    """The rows of ``batch`` at or after ``bound``, and how many were left out."""
    if bound is None:
        return batch, 0
    import pyarrow.compute as pc

    before = batch.num_rows
    batch = batch.filter(pc.greater_equal(batch.column("timestamp"), bound))
    return batch, before - batch.num_rows


def _fold_batch(
    summaries: dict[int | None, VersionSummary],
    batch: Any,
    kinds: Mapping[str, Kind],
    features: Sequence[str],
    labels: LabelIndex | None,
    rng: np.random.Generator,
    max_labelled: int,
) -> None:
    """Fold one batch of log rows into the summary of each model version it holds."""
    import numpy as np

    from mlci.data.profile import Profiler

    frame = batch.to_pandas()
    version_col = frame.pop("model_version")
    stamps = frame.pop("timestamp")
    versions = version_col.to_numpy(dtype=float, na_value=np.nan)
    unknown = np.isnan(versions)
    present: list[float | None] = np.unique(versions[~unknown]).tolist()
    for v in present + ([None] if bool(unknown.any()) else []):
        mask = unknown if v is None else versions == v
        key = None if v is None else int(v)
        summary = summaries.get(key)
        if summary is None:
            summary = summaries[key] = VersionSummary(key)
            summary._profiler = Profiler(kinds)
            summary._pred_profiler = Profiler()
        _fold(summary, frame[mask], stamps[mask], features, labels, rng, max_labelled)


def _finish(summaries: dict[int | None, VersionSummary]) -> list[VersionSummary]:
    """Each version's finished profiles, newest version first (unknown version last)."""
    out = []
    for key in sorted(summaries, key=lambda k: -1 if k is None else k, reverse=True):
        s = summaries[key]
        assert s._profiler is not None and s._pred_profiler is not None
        s.features = s._profiler.finish()
        s.predictions = s._pred_profiler.finish()
        s._profiler = s._pred_profiler = s._priority = None
        out.append(s)
    return out


def _stamp_us(value: Any) -> int:
    """A row-group statistic of the timestamp column as microseconds since the epoch."""
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.UTC)
        return int(value.timestamp() * 1e6)
    return int(value)


def _fold(
    summary: VersionSummary,
    frame: pd.DataFrame,
    stamps: pd.Series,
    features: Sequence[str],
    labels: LabelIndex | None,
    rng: np.random.Generator,
    max_labelled: int,
) -> None:
    import numpy as np
    import pandas as pd

    assert summary._profiler is not None and summary._pred_profiler is not None
    offset = summary.rows
    summary.rows += len(frame)
    first, last = stamps.min(), stamps.max()
    if summary.first is None or first.isoformat() < summary.first:
        summary.first = first.isoformat()
    if summary.last is None or last.isoformat() > summary.last:
        summary.last = last.isoformat()
    present = [c for c in features if c in frame.columns]
    summary._profiler.update(offset, frame[present].reset_index(drop=True))
    summary._pred_profiler.update(offset, pd.DataFrame({"prediction": frame["prediction"]}))
    if labels is None:
        return
    if "row" in labels.key_columns and "row" not in frame.columns:
        frame = frame.assign(row=0)
    if any(c not in frame.columns for c in labels.key_columns):
        return
    found, y_true = labels.lookup(frame)
    n = int(found.sum())
    if n == 0:
        return
    summary.labelled += n
    y_pred = frame["prediction"].to_numpy()[found]
    priority = rng.random(n)
    if summary.y_true is None:
        summary.y_true, summary.y_pred, summary._priority = y_true, y_pred, priority
    else:
        summary.y_true = np.concatenate([summary.y_true, y_true])
        summary.y_pred = np.concatenate([summary.y_pred, y_pred])
        summary._priority = np.concatenate([summary._priority, priority])
    if len(summary._priority) > max_labelled:
        keep = np.sort(np.argpartition(summary._priority, max_labelled)[:max_labelled])
        summary.y_true = summary.y_true[keep]
        summary.y_pred = summary.y_pred[keep]
        summary._priority = summary._priority[keep]
