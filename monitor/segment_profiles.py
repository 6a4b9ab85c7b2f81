"""The reference of each segment, fitted once with the whole reference's profile.

A run tests a segment (``country=DE``) against the reference's rows of
that segment, so the reference is split when it is fitted and each
segment's profiles are kept in the ``ReferenceProfile`` (``monitor.profiles``),
stored and cached with it: no run refits a segment. Only segments with at
least ``segment_min_rows`` reference rows are fitted; the row count of every
value is kept, so a run can tell a new value from one too rare to test.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd

from detectors import ColumnKind, ColumnProfile, fit_profile
from monitor.columns import DataError, require_columns

MAX_SEGMENT_VALUES: Final = 10_000
"""Distinct values a segment column may have in the reference: segments are for a country,
a device or a model version, not for an id."""

MAX_VALUE_TEXT: Final = 100
"""A segment's value is cut to this many characters (it is stored and becomes a label)."""


def value_text(value: object) -> str:
    """How a segment's value is named: the same for 3 and 3.0, whichever way a source typed it.

    >>> value_text(3.0), value_text(3), value_text("DE"), value_text(True)
    ('3', '3', 'DE', 'true')
    """
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)[:MAX_VALUE_TEXT]


def segment_labels(column: pd.Series) -> tuple[np.ndarray, list[str]]:
    """(code per row, value names): code -1 for a missing value, which is in no segment.

    Values are named once per distinct value, not once per row; values whose
    names coincide (3 and 3.0) share a code.
    """
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    names = [value_text(value) for value in uniques]
    distinct = list(dict.fromkeys(names))
    position = {name: index for index, name in enumerate(distinct)}
    remap = np.array([position[name] for name in names] + [-1], dtype=np.int64)
    return remap[codes], distinct


def row_groups(codes: np.ndarray, n_values: int) -> list[np.ndarray]:
    """The row positions of each value, by one sort rather than one scan of the rows per value.

    >>> [group.tolist() for group in row_groups(np.array([1, -1, 0, 1]), 2)]
    [[2], [0, 3]]
    """
    order = np.argsort(codes, kind="stable")
    counts = np.bincount(codes[codes >= 0], minlength=n_values)
    bounds = np.count_nonzero(codes < 0) + np.concatenate([[0], np.cumsum(counts)])
    return [order[bounds[i] : bounds[i + 1]] for i in range(n_values)]


def require_segment_columns(frame: pd.DataFrame, segments: Sequence[str], what: str) -> None:
    """A clear error naming the ``segments`` key when ``frame`` lacks one of its columns."""
    try:
        require_columns(frame, segments, what)
    except DataError as exc:
        raise DataError(f"segments: {exc}") from None


@dataclass(frozen=True)
class SegmentationProfile:
    """One segment column of the reference: rows per value, profiles of the values with enough."""

    column: str
    rows: Mapping[str, int]
    profiles: Mapping[str, Mapping[str, ColumnProfile]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "rows": dict(self.rows),
            "profiles": {
                value: {name: profile.to_dict() for name, profile in columns.items()}
                for value, columns in self.profiles.items()
            },
        }

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> SegmentationProfile:
        return cls(
            column=body["column"],
            rows=dict(body["rows"]),
            profiles={
                value: {name: ColumnProfile.from_dict(profile) for name, profile in columns.items()}
                for value, columns in body["profiles"].items()
            },
        )


def segment_columns(
    columns: Sequence[tuple[str, ColumnKind]], segment: str
) -> list[tuple[str, ColumnKind]]:
    """The (name, kind) columns tested in the segments of ``segment``: all but itself.

    Inside ``country=DE`` the column ``country`` holds one value; testing it
    there says nothing the whole window's test of ``country`` does not.
    """
    return [(name, kind) for name, kind in columns if name != segment]


def fit_segments(
    reference: pd.DataFrame,
    columns: Sequence[tuple[str, ColumnKind]],
    segments: Sequence[str],
    min_rows: int,
) -> dict[str, SegmentationProfile]:
    """Split the reference by each segment column and fit the segments with ``min_rows`` rows."""
    require_segment_columns(reference, segments, "the reference")
    fitted = {}
    for segment in segments:
        codes, names = segment_labels(reference[segment])
        if len(names) > MAX_SEGMENT_VALUES:
            raise DataError(
                f'segments: column "{segment}" has {len(names)} distinct values in the '
                f"reference, more than {MAX_SEGMENT_VALUES}: a segment column holds a few "
                "values (a country, a device, a model version), not an id"
            )
        groups = row_groups(codes, len(names))
        counts = [len(group) for group in groups]
        profiles = {}
        for code in np.flatnonzero(np.array(counts, dtype=np.int64) >= min_rows):
            rows = reference.iloc[groups[code]]
            profiles[names[code]] = {
                name: fit_profile(rows[name], kind, max_sorted=1_000_000)
                for name, kind in segment_columns(columns, segment)
            }
        fitted[segment] = SegmentationProfile(
            column=segment,
            rows={name: int(n) for name, n in zip(names, counts, strict=True)},
            profiles=profiles,
        )
    return fitted
