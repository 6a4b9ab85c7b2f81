"""Parquet and CSV files: one path or a glob, sampled by a streaming reservoir.

Files are read one at a time, Parquet batch by batch (pyarrow, with the
window pushed down as a filter so row groups outside it are skipped) and CSV
chunk by chunk (pandas), and every batch feeds one seeded reservoir, so memory
stays O(limit + one batch) however large the files are.

Timestamps are parsed to UTC: naive values are taken as UTC, strings must be
ISO-8601. The window is applied exactly (start included, end excluded) after
parsing, whatever the column's stored type.

A ``FileSource`` samples the same files slot after slot (a daemon every few
minutes, ``backtest`` hundreds of slots in a row), and a Parquet file written
as one row group cannot be pruned: every sample would decode all of it. So a
source keeps the Parquet files it has decoded, up to ``CACHE_BYTES`` of Arrow
memory for all its files together (least recently used out first), keyed on
each file's path, size and modification time so a rewritten file is read
again. Larger files stream as above. The rows a window yields, and their
order, are the same either way, so the sample for a seed is too.
"""

from __future__ import annotations

import glob
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from pydantic import Field

from monitor.settings_base import SettingsModel
from monitor.sources._frames import Reservoir, in_window, to_utc, utc_window
from monitor.sources.base import SourceError, Window
from monitor.sources.spec import SourceSettingsModel, SourceSpec

BATCH_ROWS = 65_536
CACHE_BYTES = 256 * 2**20
"""Decoded Parquet one ``FileSource`` keeps between samples, all its files together."""

_PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")
_CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".csv.zip", ".csv.xz", ".csv.zst")
_READ_ERRORS = (OSError, ValueError, UnicodeDecodeError, pa.ArrowException, pd.errors.ParserError)


class FileLocation(SettingsModel):
    """Which files rows are read from; shared by the file source and the file label source."""

    path: str = Field(description="a file or a glob of Parquet/CSV files")
    format: Literal["parquet", "csv", "auto"] = "auto"


class FileSourceSettings(FileLocation, SourceSettingsModel):
    type: Literal["file"]
    timestamp_column: str


def match_files(pattern: str) -> list[Path]:
    """The files a path or glob names, sorted; an empty list when none match."""
    expanded = os.path.expanduser(pattern)
    if glob.has_magic(expanded):
        return sorted(
            Path(name) for name in glob.glob(expanded, recursive=True) if os.path.isfile(name)
        )
    path = Path(expanded)
    return [path] if path.is_file() else []


def _files(pattern: str, origin: str) -> list[Path]:
    files = match_files(pattern)
    if not files:
        raise SourceError(f"{origin}: no files match {pattern!r}")
    return files


def _format_of(path: Path, format: str, origin: str) -> str:
    if format != "auto":
        return format
    name = path.name.lower()
    if name.endswith(_PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(_CSV_SUFFIXES):
        return "csv"
    raise SourceError(
        f"{origin}: cannot tell the format of {str(path)!r} from its name "
        '(expected .parquet or .csv); set format = "parquet" or "csv"'
    )


def _missing_column(origin: str, path: Path, column: str, found: list[str]) -> SourceError:
    return SourceError(
        f"{origin}: timestamp column {column!r} not found in {str(path)!r} "
        f"(columns: {', '.join(found) or 'none'})"
    )


def _scalar(moment: datetime, type_: pa.DataType) -> pa.Scalar:
    if isinstance(type_, pa.TimestampType) and type_.tz is None:
        moment = moment.replace(tzinfo=None)
    return pa.scalar(moment, type=type_)


@dataclass(frozen=True)
class DecodedFile:
    """A whole Parquet file in memory, and its columns as an empty frame."""

    table: pa.Table
    empty: pd.DataFrame

    @classmethod
    def read(cls, path: Path) -> DecodedFile:
        table = ds.dataset(path, format="parquet").to_table()
        return cls(table, table.schema.empty_table().to_pandas())


class ParquetCache:
    """Whole Parquet files, decoded once and kept while they fit in ``budget`` bytes.

    Least recently used files leave first. A file is keyed on its resolved
    path, size and modification time; one whose size on disk changes while it
    is read is not kept. A file whose uncompressed size (from its footer) is
    above the budget is never read whole: the caller streams it instead.
    """

    def __init__(self, budget: int = CACHE_BYTES) -> None:
        self.budget = budget
        self._files: OrderedDict[tuple[str, int, int], DecodedFile] = OrderedDict()
        self.nbytes = 0
        # The daemon may run two slots of one monitor at once (a catch-up and the
        # current one); they share its source, so one of them reads a file at a time.
        self._lock = threading.Lock()

    def decoded(self, path: Path) -> DecodedFile | None:
        """The decoded file, read now if needed; None when it is too large to read whole."""
        with self._lock:
            return self._decoded(path)

    def _decoded(self, path: Path) -> DecodedFile | None:
        stat = path.stat()
        key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
        cached = self._files.get(key)
        if cached is not None:
            self._files.move_to_end(key)
            return cached
        for stale in [k for k in self._files if k[0] == key[0]]:
            self._drop(stale)
        metadata = pq.read_metadata(path)
        uncompressed = sum(
            metadata.row_group(index).total_byte_size for index in range(metadata.num_row_groups)
        )
        if uncompressed > self.budget:
            return None
        decoded = DecodedFile.read(path)
        size = decoded.table.nbytes
        after = path.stat()
        if size > self.budget or (after.st_size, after.st_mtime_ns) != key[1:]:
            return decoded  # used for this sample, not kept
        while self._files and self.nbytes + size > self.budget:
            self._drop(next(iter(self._files)))
        self._files[key] = decoded
        self.nbytes += size
        return decoded

    def _drop(self, key: tuple[str, int, int]) -> None:
        self.nbytes -= self._files.pop(key).table.nbytes

    def clear(self) -> None:
        with self._lock:
            self._files.clear()
            self.nbytes = 0


def _timestamp_bounds(
    schema: pa.Schema, column: str | None, window: Window | None
) -> tuple[pa.Scalar, pa.Scalar] | None:
    """The window in the column's stored type, when it is a timestamp; None otherwise."""
    if column is None or window is None:
        return None
    type_ = schema.field(column).type
    if not pa.types.is_timestamp(type_):
        return None
    try:
        bounds = utc_window(window)
        return _scalar(bounds.start, type_), _scalar(bounds.end, type_)
    except (pa.ArrowException, ValueError, OverflowError):
        return None


def _parquet_batches(
    path: Path,
    column: str | None,
    window: Window | None,
    origin: str,
    cache: ParquetCache | None = None,
) -> Iterator[pd.DataFrame]:
    decoded = cache.decoded(path) if cache is not None else None
    dataset = None
    if decoded is None:
        dataset = ds.dataset(path, format="parquet")
        schema: pa.Schema = dataset.schema
    else:
        schema = decoded.table.schema
    if column is not None and column not in schema.names:
        raise _missing_column(origin, path, column, schema.names)
    # Pruning only: the exact window is applied after parsing to UTC.
    bounds = _timestamp_bounds(schema, column, window)
    # The columns, even if no row matches.
    yield schema.empty_table().to_pandas() if decoded is None else decoded.empty.copy()
    if decoded is not None:
        table = decoded.table
        if bounds is not None:
            stamps = table.column(column)
            table = table.filter(
                pc.and_(pc.greater_equal(stamps, bounds[0]), pc.less(stamps, bounds[1]))
            )
        for batch in table.to_batches(max_chunksize=BATCH_ROWS):
            yield batch.to_pandas()
        return
    assert dataset is not None
    row_filter = (
        None if bounds is None else (pc.field(column) >= bounds[0]) & (pc.field(column) < bounds[1])
    )
    for batch in dataset.to_batches(filter=row_filter, batch_size=BATCH_ROWS):
        yield batch.to_pandas()


def _csv_batches(path: Path, column: str | None, origin: str) -> Iterator[pd.DataFrame]:
    try:
        reader = pd.read_csv(path, chunksize=BATCH_ROWS)
    except pd.errors.EmptyDataError:
        raise SourceError(f"{origin}: cannot read {str(path)!r}: the file is empty") from None
    with reader:
        first = True
        for chunk in reader:
            if first and column is not None and column not in chunk.columns:
                raise _missing_column(origin, path, column, [str(c) for c in chunk.columns])
            first = False
            yield chunk


def file_batches(
    pattern: str,
    format: str,
    column: str | None,
    window: Window | None,
    origin: str,
    cache: ParquetCache | None = None,
) -> Iterator[tuple[Path, pd.DataFrame]]:
    """Every batch of the files ``pattern`` names, with its file; a read error names the file.

    Parquet batches are pruned to ``window`` by ``column`` where the stored
    type allows; the exact window is the caller's to apply.
    """
    for path in _files(pattern, origin):
        kind = "file"
        try:
            kind = _format_of(path, format, origin)
            if kind == "parquet":
                batches = _parquet_batches(path, column, window, origin, cache)
            else:
                batches = _csv_batches(path, column, origin)
            for batch in batches:
                yield path, batch
        except SourceError as exc:
            raise SourceError(_as_written(str(exc), pattern)) from None
        except _READ_ERRORS as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            message = f"{origin}: cannot read {str(path)!r} as {kind}: {reason}"
            raise SourceError(_as_written(message, pattern)) from None


def _sample_files(
    pattern: str,
    format: str,
    column: str | None,
    window: Window | None,
    limit: int | None,
    seed: int,
    origin: str,
    cache: ParquetCache | None = None,
) -> pd.DataFrame:
    reservoir = Reservoir(limit, seed)
    for path, batch in file_batches(pattern, format, column, window, origin, cache):
        if column is not None:
            try:
                batch[column] = to_utc(batch[column], column, f"{origin}: {path}")
            except SourceError as exc:
                raise SourceError(_as_written(str(exc), pattern)) from None
            if window is not None:
                batch = batch[in_window(batch[column], window)]
        reservoir.add(batch)
    return reservoir.result()


def _as_written(message: str, pattern: str) -> str:
    """``message`` with the home directory as ``~`` where the config wrote it so.

    Reasons show paths as the config names them, not the account behind ``~``
    (``monitor.redaction``).
    """
    home = os.path.join(os.path.expanduser("~"), "")
    if not pattern.startswith("~") or home == "/":
        return message
    return message.replace(home, "~/")


class FileSource:
    """Rows of Parquet/CSV files (a path or a glob) whose timestamp is in the window."""

    def __init__(self, settings: FileSourceSettings, cache_bytes: int = CACHE_BYTES) -> None:
        self.settings = settings
        self._origin = f"source file ({settings.path})"
        self.cache = ParquetCache(cache_bytes)

    def close(self) -> None:
        """No file is held open between samples; decoded files are let go."""
        self.cache.clear()

    def sample(self, window: Window | None, limit: int, seed: int) -> pd.DataFrame:
        return _sample_files(
            self.settings.path,
            self.settings.format,
            self.settings.timestamp_column,
            window,
            limit,
            seed,
            self._origin,
            self.cache,
        )


SPEC = SourceSpec(type="file", settings=FileSourceSettings, factory=FileSource)


def read_frame(path: str, format: str, limit: int | None, seed: int) -> pd.DataFrame:
    """A seeded uniform sample of at most ``limit`` rows of the files ``path`` names.

    ``limit=None`` reads every row (``driftwarden compare`` on two files).
    No time filter and no timestamp parsing: columns come back as stored.
    Used for file references.
    """
    return _sample_files(path, format, None, None, limit, seed, f"file ({path})")
