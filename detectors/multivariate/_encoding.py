"""Turning mixed-type table rows into one numeric matrix, the same way on both sides.

A kernel or a linear model needs every row as a vector of comparable
coordinates. The encoding is fitted on the reference and then frozen, so a
current window is measured in the reference's units:

- a numeric column becomes ``(value - mean) / std`` with the reference's mean
  and standard deviation (std 1 when the reference is constant or empty). A
  missing or infinite value becomes 0 (the reference mean). When the reference
  itself has missing values, a 0/1 missing-indicator coordinate follows, so that
  a change in how often the column is missing moves the rows; a column never
  missing in the reference gets no indicator (it would be constant and carry
  nothing about the reference's structure).
- a categorical column becomes a one-hot block over the reference's most
  frequent categories plus one "other" coordinate for every other value,
  including categories never seen in the reference. A missing value is the
  all-zero block, which no present value can produce, so no indicator is needed.

Both kinds then contribute comparable squared distances: two standardised
values differ by 2 on average, two different categories by exactly 2.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from detectors._kinds import ColumnKind, check_kind
from detectors._prepare import category_key

_MAX_EXAMPLES = 5


@dataclass(frozen=True, kw_only=True)
class NumericEncoding:
    """How one numeric column is standardised; ``width`` coordinates."""

    column: str
    mean: float
    scale: float
    missing_indicator: bool

    @property
    def width(self) -> int:
        return 2 if self.missing_indicator else 1


@dataclass(frozen=True, kw_only=True)
class CategoricalEncoding:
    """How one categorical column is one-hot encoded; the last coordinate is "other"."""

    column: str
    categories: tuple[str, ...]

    @property
    def width(self) -> int:
        return len(self.categories) + 1


Encoding = NumericEncoding | CategoricalEncoding


@dataclass(frozen=True, kw_only=True)
class EncodedRows:
    """Encoded rows plus what was imputed or could not be read, per column."""

    matrix: npt.NDArray[np.float64]
    all_missing: npt.NDArray[np.bool_]
    """Rows in which every column is missing (or infinite)."""
    n_missing: dict[str, int]
    n_infinite: dict[str, int] = field(default_factory=dict)
    n_unparsable: dict[str, int] = field(default_factory=dict)
    unparsable_examples: dict[str, list[str]] = field(default_factory=dict)


def check_columns(
    columns: Sequence[tuple[str, str]],
) -> tuple[tuple[str, ColumnKind], ...]:
    """Validate a ``(name, kind)`` sequence: non-empty, known kinds, no repeated name."""
    checked = tuple((str(name), check_kind(kind)) for name, kind in columns)
    if not checked:
        raise ValueError("a multivariate profile needs at least one column")
    names = [name for name, _ in checked]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"columns listed more than once: {repeated}")
    return checked


def check_present(frame: pd.DataFrame, names: Sequence[str], side: str) -> None:
    """Raise ValueError naming every expected column that ``frame`` lacks or repeats."""
    missing = [name for name in names if name not in frame.columns]
    if missing:
        raise ValueError(f"{side} frame lacks columns {missing}; it has {list(frame.columns)}")
    duplicated = [name for name in names if isinstance(frame[name], pd.DataFrame)]
    if duplicated:
        raise ValueError(f"{side} frame has more than one column named {duplicated}")


def parse_numeric(series: pd.Series) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """Return ``series`` as floats (NaN where unusable) and a mask of unparsable values."""
    missing = series.isna().to_numpy(dtype=bool)
    if isinstance(series.dtype, pd.CategoricalDtype):
        series = series.astype(object)
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    return values, np.isnan(values) & ~missing


def fit_numeric(series: pd.Series, column: str) -> NumericEncoding:
    """Fit the standardisation of a reference column; unparsable values raise ValueError."""
    values, unparsable = parse_numeric(series)
    if unparsable.any():
        examples = [str(v) for v in series[unparsable].unique()[:_MAX_EXAMPLES]]
        raise ValueError(
            f"reference column {column!r} is numeric but has {int(unparsable.sum())} values "
            f"that are not numbers, e.g. {examples}"
        )
    finite = values[np.isfinite(values)]
    mean = float(np.mean(finite)) if finite.size else 0.0
    std = float(np.std(finite)) if finite.size else 0.0
    return NumericEncoding(
        column=column,
        mean=mean,
        scale=std if std > 0 else 1.0,
        missing_indicator=bool(finite.size < values.size),
    )


def fit_categorical(series: pd.Series, column: str, max_categories: int) -> CategoricalEncoding:
    """Keep the ``max_categories`` most frequent reference categories (ties by name)."""
    counts: dict[str, int] = {}
    for value, count in series.value_counts(sort=False, dropna=True).items():
        if count > 0:  # a pandas Categorical also lists categories it never saw
            key = category_key(value)
            counts[key] = counts.get(key, 0) + int(count)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return CategoricalEncoding(
        column=column, categories=tuple(key for key, _ in ranked[:max_categories])
    )


def encode_rows(
    encodings: Sequence[Encoding], columns: Mapping[str, pd.Series], n_rows: int
) -> EncodedRows:
    """Encode ``n_rows`` rows given as one series per column (never modified)."""
    width = sum(encoding.width for encoding in encodings)
    matrix = np.zeros((n_rows, width), dtype=np.float64)
    all_missing = np.ones(n_rows, dtype=bool)
    n_missing: dict[str, int] = {}
    n_infinite: dict[str, int] = {}
    n_unparsable: dict[str, int] = {}
    examples: dict[str, list[str]] = {}
    start = 0
    for encoding in encodings:
        series = columns[encoding.column]
        if isinstance(encoding, NumericEncoding):
            values, unparsable = parse_numeric(series)
            usable = np.isfinite(values)
            infinite = np.isinf(values)
            matrix[usable, start] = (values[usable] - encoding.mean) / encoding.scale
            if encoding.missing_indicator:
                matrix[~usable, start + 1] = 1.0
            n_missing[encoding.column] = int((~usable & ~infinite & ~unparsable).sum())
            if infinite.any():
                n_infinite[encoding.column] = int(infinite.sum())
            if unparsable.any():
                n_unparsable[encoding.column] = int(unparsable.sum())
                examples[encoding.column] = [
                    str(v) for v in series[unparsable].unique()[:_MAX_EXAMPLES]
                ]
        else:
            codes, uniques = pd.factorize(series, use_na_sentinel=True)
            position = {key: index for index, key in enumerate(encoding.categories)}
            other = len(encoding.categories)
            lookup = np.array(
                [position.get(category_key(value), other) for value in uniques], dtype=np.intp
            )
            usable = codes >= 0
            matrix[np.flatnonzero(usable), start + lookup[codes[usable]]] = 1.0
            n_missing[encoding.column] = int((~usable).sum())
        all_missing &= ~usable
        start += encoding.width
    return EncodedRows(
        matrix=matrix,
        all_missing=all_missing,
        n_missing=n_missing,
        n_infinite=n_infinite,
        n_unparsable=n_unparsable,
        unparsable_examples=examples,
    )


def encoding_to_dict(encoding: Encoding) -> dict[str, Any]:
    """An encoding as JSON-safe data, for a stored profile."""
    if isinstance(encoding, NumericEncoding):
        return {
            "column": encoding.column,
            "kind": "numeric",
            "mean": float(encoding.mean),
            "scale": float(encoding.scale),
            "missing_indicator": encoding.missing_indicator,
        }
    return {
        "column": encoding.column,
        "kind": "categorical",
        "categories": list(encoding.categories),
    }


def encoding_from_dict(data: dict[str, Any]) -> Encoding:
    """Rebuild an encoding from ``encoding_to_dict`` output."""
    kind = check_kind(data["kind"])
    if kind == "numeric":
        return NumericEncoding(
            column=str(data["column"]),
            mean=float(data["mean"]),
            scale=float(data["scale"]),
            missing_indicator=bool(data["missing_indicator"]),
        )
    return CategoricalEncoding(
        column=str(data["column"]), categories=tuple(str(c) for c in data["categories"])
    )
