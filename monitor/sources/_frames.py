"""Helpers every source shares: bounded seeded sampling, UTC timestamps, windows."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd

from monitor.sources.base import SourceError, Window


def check_limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int | np.integer) or limit < 0:
        raise ValueError(f"limit must be a non-negative integer, got {limit!r}")
    return int(limit)


def seed_entropy(*values: int) -> list[int]:
    """Map arbitrary (possibly negative) ints to the non-negative entropy numpy accepts."""
    return [int(value) & 0xFFFF_FFFF_FFFF_FFFF for value in values]


def utc(moment: datetime) -> datetime:
    """A naive datetime is taken as UTC; an aware one is converted to UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def utc_window(window: Window) -> Window:
    return Window(utc(window.start), utc(window.end))


def to_utc(values: pd.Series, column: str, origin: str) -> pd.Series:
    """Parse a timestamp column to tz-aware UTC; naive values are taken as UTC.

    Accepts datetimes (naive or aware) and ISO-8601 strings (with or without an
    offset). Numbers are refused: epoch seconds and epoch milliseconds cannot
    be told apart safely.
    """
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC")
    if pd.api.types.is_datetime64_dtype(values.dtype):
        return values.dt.tz_localize("UTC")
    if pd.api.types.is_numeric_dtype(values.dtype) and len(values.dropna()):
        raise SourceError(
            f"{origin}: timestamp column {column!r} holds numbers ({values.dtype}); "
            "expected datetimes or ISO-8601 strings"
        )
    try:
        return pd.to_datetime(values, utc=True, format="ISO8601")
    except (ValueError, TypeError):
        pass
    try:
        return pd.to_datetime(values, utc=True, format="mixed")
    except (ValueError, TypeError, OverflowError) as exc:
        raise SourceError(
            f"{origin}: timestamp column {column!r} has values that are not timestamps ({exc})"
        ) from None


def in_window(timestamps: pd.Series, window: Window) -> pd.Series:
    """Mask of the rows in the half-open window [start, end); missing timestamps are out."""
    bounds = utc_window(window)
    start, end = pd.Timestamp(bounds.start), pd.Timestamp(bounds.end)
    return (timestamps >= start) & (timestamps < end)


class Reservoir:
    """A seeded uniform sample without replacement of at most ``limit`` rows of a stream.

    Every row gets a random key; the sample is the ``limit`` rows with the
    smallest keys (a "random-key top-k", equivalent to Algorithm R). Rows
    whose key cannot make the sample any more are dropped on arrival, and
    the candidates are compacted back to ``limit`` whenever they reach
    twice that, so memory stays O(limit + one batch).

    Keys are drawn in row order from one generator, so the sample depends on
    the seed and on the order of the rows, not on how they were batched.
    The result keeps the rows in their original order. ``limit=None`` keeps
    every row (for one-shot tools that read whole files, not for the daemon).
    """

    def __init__(self, limit: int | None, seed: int) -> None:
        self._limit = None if limit is None else check_limit(limit)
        self._rng = np.random.default_rng(seed_entropy(seed))
        self._keys: list[np.ndarray] = []
        self._frames: list[pd.DataFrame] = []
        self._candidates = 0
        self._threshold = np.inf
        self._schema: pd.DataFrame | None = None
        self.rows_seen = 0

    def add(self, frame: pd.DataFrame) -> None:
        if self._schema is None:
            self._schema = frame.iloc[:0]
        if not len(frame):
            return
        self.rows_seen += len(frame)
        keys = self._rng.random(len(frame))
        if self._limit == 0:
            return
        keep = keys < self._threshold
        if not keep.all():
            frame, keys = frame[keep], keys[keep]
            if not len(frame):
                return
        self._keys.append(keys)
        self._frames.append(frame)
        self._candidates += len(frame)
        if self._limit is not None and self._candidates >= 2 * self._limit:
            self._compact()

    def _compact(self) -> None:
        keys = np.concatenate(self._keys)
        frame = pd.concat(self._frames, ignore_index=True)
        if self._limit is not None and len(keys) > self._limit:
            chosen = np.sort(np.argpartition(keys, self._limit - 1)[: self._limit])
            keys = keys[chosen]
            frame = frame.iloc[chosen].reset_index(drop=True)
            self._threshold = float(keys.max())
        self._keys, self._frames, self._candidates = [keys], [frame], len(keys)

    def result(self) -> pd.DataFrame:
        """The sample, index reset; an empty frame with the stream's columns if it had no rows."""
        if not self._frames:
            schema = self._schema if self._schema is not None else pd.DataFrame()
            return schema.reset_index(drop=True)
        self._compact()
        return self._frames[0].reset_index(drop=True)
