"""Parquet and CSV files: one path or a glob, sampled by a streaming reservoir.

Files are read one at a time, Parquet batch by batch (pyarrow, with the
window pushed down as a filter so row groups outside it are skipped) and CSV
chunk by chunk (pandas), and every batch feeds one seeded reservoir, so memory
stays O(limit + one batch) however large the files are.

Timestamps are parsed to UTC: naive values are taken as UTC, strings must be
ISO-8601. The window is applied exactly (start included, end excluded) after
parsing, whatever the column's stored type.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from monitor.config import FileSourceSettings
from monitor.sources._frames import Reservoir, in_window, to_utc, utc_window
from monitor.sources.base import SourceError, Window

BATCH_ROWS = 65_536

_PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")
_CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".csv.zip", ".csv.xz", ".csv.zst")
_READ_ERRORS = (OSError, ValueError, UnicodeDecodeError, pa.ArrowException, pd.errors.ParserError)


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


def _parquet_batches(
    path: Path, column: str | None, window: Window | None, origin: str
) -> Iterator[pd.DataFrame]:
    dataset = ds.dataset(path, format="parquet")
    if column is not None and column not in dataset.schema.names:
        raise _missing_column(origin, path, column, dataset.schema.names)
    row_filter = None
    if column is not None and window is not None:
        type_ = dataset.schema.field(column).type
        if pa.types.is_timestamp(type_):
            # Pruning only: the exact window is applied after parsing to UTC.
            try:
                bounds = utc_window(window)
                row_filter = (pc.field(column) >= _scalar(bounds.start, type_)) & (
                    pc.field(column) < _scalar(bounds.end, type_)
                )
            except (pa.ArrowException, ValueError, OverflowError):
                row_filter = None
    yield dataset.schema.empty_table().to_pandas()  # the columns, even if no row matches
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


def _sample_files(
    pattern: str,
    format: str,
    column: str | None,
    window: Window | None,
    limit: int | None,
    seed: int,
    origin: str,
) -> pd.DataFrame:
    reservoir = Reservoir(limit, seed)
    for path in _files(pattern, origin):
        kind = _format_of(path, format, origin)
        try:
            if kind == "parquet":
                batches = _parquet_batches(path, column, window, origin)
            else:
                batches = _csv_batches(path, column, origin)
            for batch in batches:
                if column is not None:
                    batch[column] = to_utc(batch[column], column, f"{origin}: {path}")
                    if window is not None:
                        batch = batch[in_window(batch[column], window)]
                reservoir.add(batch)
        except SourceError:
            raise
        except _READ_ERRORS as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise SourceError(f"{origin}: cannot read {str(path)!r} as {kind}: {reason}") from None
    return reservoir.result()


class FileSource:
    """Rows of Parquet/CSV files (a path or a glob) whose timestamp is in the window."""

    def __init__(self, settings: FileSourceSettings) -> None:
        self.settings = settings
        self._origin = f"source file ({settings.path})"

    def close(self) -> None:
        """Nothing is held open between samples."""

    def sample(self, window: Window | None, limit: int, seed: int) -> pd.DataFrame:
        return _sample_files(
            self.settings.path,
            self.settings.format,
            self.settings.timestamp_column,
            window,
            limit,
            seed,
            self._origin,
        )


def read_frame(path: str, format: str, limit: int | None, seed: int) -> pd.DataFrame:
    """A seeded uniform sample of at most ``limit`` rows of the files ``path`` names.

    ``limit=None`` reads every row (``driftwarden compare`` on two files).
    No time filter and no timestamp parsing: columns come back as stored.
    Used for file references.
    """
    return _sample_files(path, format, None, None, limit, seed, f"file ({path})")
