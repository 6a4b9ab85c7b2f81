"""Fitting a reference column into a reusable, serialisable profile."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from detectors._binning import bin_counts, quantile_edges
from detectors._kinds import ColumnKind, check_kind
from detectors._prepare import prepare_categorical, prepare_numeric

PROFILE_FORMAT: Final = 3
"""Version of the ``to_dict`` layout, stored so that old profiles can be recognised.

3 bins a numeric column on interior quantiles with open outer bins
(``detectors._binning``); 2 kept the sorted values as base64 of
little-endian float64 (8 bytes a value, exact), as 3 does, and 1 as a JSON
list. 1 and 2 had extra bins at the reference's minimum and maximum: they
still load, with their bins rebuilt from the sorted values (exact unless the
reference was subsampled).
"""


DEFAULT_BINS: Final = 10
"""Quantile bins of a numeric profile (deciles)."""


@dataclass(frozen=True, kw_only=True, eq=False)
class ColumnProfile:
    """Fitted summary of one reference column.

    A reference is summarised once and reused on every run, so a run costs
    O(current window) rather than O(reference + current).

    ``n`` counts the usable values: non-missing and, for numeric columns,
    finite. ``n_infinite`` counts infinities left out of a numeric reference.
    ``sorted_values`` is the whole usable reference, sorted, or a uniform
    seeded subsample of ``max_sorted`` values (then ``subsampled`` is True);
    the moments, min/max and bins always come from every usable value.
    ``bin_counts`` has ``len(bin_edges) + 1`` entries, one per bin between
    the interior quantile edges, the outer two open
    (see ``detectors._binning``).
    """

    column: str
    kind: ColumnKind
    n: int
    n_missing: int
    n_infinite: int = 0
    sorted_values: npt.NDArray[np.float64] | None = None
    subsampled: bool = False
    bin_edges: npt.NDArray[np.float64] | None = None
    bin_counts: npt.NDArray[np.int64] | None = None
    category_counts: dict[str, int] | None = None
    mean: float | None = None
    std: float | None = None
    min: float | None = None
    max: float | None = None

    def __eq__(self, other: object) -> bool:
        # Field-wise equality; the dataclass default would compare arrays with ``==``.
        if not isinstance(other, ColumnProfile):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def to_dict(self) -> dict[str, Any]:
        """Return the profile as JSON-safe data (lists, floats, ints, str, None).

        Floats survive ``json.dumps``/``json.loads`` exactly, so a stored
        profile tests exactly like the fitted one.
        """
        return {
            "format": PROFILE_FORMAT,
            "column": self.column,
            "kind": self.kind,
            "n": self.n,
            "n_missing": self.n_missing,
            "n_infinite": self.n_infinite,
            "sorted_values": _packed(self.sorted_values),
            "subsampled": self.subsampled,
            "bin_edges": _float_list(self.bin_edges),
            "bin_counts": None if self.bin_counts is None else [int(c) for c in self.bin_counts],
            "category_counts": None
            if self.category_counts is None
            else {str(k): int(v) for k, v in self.category_counts.items()},
            "mean": self.mean,
            "std": self.std,
            "min": self.min,
            "max": self.max,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ColumnProfile:
        """Rebuild a profile from ``to_dict`` output; unknown layouts raise ValueError."""
        if data.get("format") not in (1, 2, PROFILE_FORMAT):
            raise ValueError(
                f"unsupported profile format {data.get('format')!r}; expected {PROFILE_FORMAT}"
            )
        expected = set(cls(column="", kind="numeric", n=0, n_missing=0).to_dict())
        sorted_values = (
            _float_array(data["sorted_values"])
            if data["format"] == 1
            else _unpacked(data["sorted_values"])
        )
        if set(data) != expected:
            raise ValueError(
                f"profile dict keys differ from the expected ones: "
                f"missing {sorted(expected - set(data))}, unexpected {sorted(set(data) - expected)}"
            )
        counts = data["category_counts"]
        bin_edges = _float_array(data["bin_edges"])
        bins = (
            None if data["bin_counts"] is None else np.asarray(data["bin_counts"], dtype=np.int64)
        )
        if data["format"] < 3 and sorted_values is not None and sorted_values.size:
            bin_edges = quantile_edges(sorted_values, DEFAULT_BINS)
            bins = bin_counts(bin_edges, sorted_values)
        return cls(
            column=str(data["column"]),
            kind=check_kind(data["kind"]),
            n=int(data["n"]),
            n_missing=int(data["n_missing"]),
            n_infinite=int(data["n_infinite"]),
            sorted_values=sorted_values,
            subsampled=bool(data["subsampled"]),
            bin_edges=bin_edges,
            bin_counts=bins,
            category_counts=None if counts is None else {str(k): int(v) for k, v in counts.items()},
            mean=_optional_float(data["mean"]),
            std=_optional_float(data["std"]),
            min=_optional_float(data["min"]),
            max=_optional_float(data["max"]),
        )


def fit_profile(
    values: pd.Series,
    kind: ColumnKind,
    *,
    max_sorted: int = 1_000_000,
    n_bins: int = DEFAULT_BINS,
    seed: int = 0,
) -> ColumnProfile:
    """Summarise a reference column; the column name is ``values.name``.

    ``max_sorted`` bounds the memory a stored profile takes: above it, a
    uniform subsample drawn with ``seed`` (so refitting is reproducible)
    stands in for the reference in sample-based tests such as KS.

    Unlike a current window, a reference with unparsable numbers raises
    ValueError: a reference is chosen deliberately, and a bad one is a
    configuration error to fix, not a run outcome to report.

    >>> profile = fit_profile(pd.Series([3.0, 1.0, None, 2.0], name="age"), "numeric")
    >>> profile.n, profile.n_missing, profile.sorted_values.tolist()
    (3, 1, [1.0, 2.0, 3.0])
    """
    kind = check_kind(kind)
    if values.name is None:
        raise ValueError("fit_profile needs a named series: the name is the column name")
    if max_sorted < 2:
        raise ValueError(f"max_sorted must be at least 2, got {max_sorted}")
    if n_bins < 1:
        raise ValueError(f"n_bins must be at least 1, got {n_bins}")
    column = str(values.name)
    if kind == "categorical":
        prepared = prepare_categorical(values)
        return ColumnProfile(
            column=column,
            kind=kind,
            n=prepared.n_usable,
            n_missing=prepared.n_missing,
            category_counts=prepared.category_counts,
        )
    prepared = prepare_numeric(values)
    if prepared.n_unparsable:
        raise ValueError(
            f"reference column {column!r} is numeric but has {prepared.n_unparsable} values that "
            f"are not numbers, e.g. {list(prepared.unparsable_examples)}"
        )
    finite = prepared.numeric
    assert finite is not None  # prepare_numeric always sets it
    if finite.size == 0:
        empty = np.empty(0, dtype=np.float64)
        return ColumnProfile(
            column=column,
            kind=kind,
            n=0,
            n_missing=prepared.n_missing,
            n_infinite=prepared.n_infinite,
            sorted_values=empty,
            bin_edges=empty,
            bin_counts=np.empty(0, dtype=np.int64),
        )
    # prepare_numeric sorted the values: the quantiles, bins, extremes and a
    # subsample are read off them without sorting or partitioning again.
    subsampled = finite.size > max_sorted
    kept = finite[_subsample_mask(finite.size, max_sorted, seed)] if subsampled else finite
    edges = quantile_edges(finite, n_bins)
    return ColumnProfile(
        column=column,
        kind=kind,
        n=int(finite.size),
        n_missing=prepared.n_missing,
        n_infinite=prepared.n_infinite,
        sorted_values=kept,
        subsampled=subsampled,
        bin_edges=edges,
        bin_counts=bin_counts(edges, finite),
        mean=float(np.mean(finite)),
        std=float(np.std(finite)),
        min=float(finite[0]),
        max=float(finite[-1]),
    )


def _subsample_mask(n: int, size: int, seed: int) -> npt.NDArray[np.bool_]:
    """Mark a uniform seeded subsample of ``size`` of ``n`` positions (so sorted stays sorted)."""
    chosen = np.zeros(n, dtype=bool)
    chosen[np.random.default_rng(seed).choice(n, size=size, replace=False)] = True
    return chosen


def _float_list(values: npt.NDArray[np.float64] | None) -> list[float] | None:
    return None if values is None else [float(v) for v in values.tolist()]


def _float_array(values: list[float] | None) -> npt.NDArray[np.float64] | None:
    return None if values is None else np.asarray(values, dtype=np.float64)


def _packed(values: npt.NDArray[np.float64] | None) -> str | None:
    """Sorted values as base64 text: JSON-safe, exact, and 8 bytes a value."""
    if values is None:
        return None
    return base64.b64encode(np.ascontiguousarray(values, dtype="<f8").tobytes()).decode("ascii")


def _unpacked(text: str | None) -> npt.NDArray[np.float64] | None:
    if text is None:
        return None
    return np.frombuffer(base64.b64decode(text), dtype="<f8").astype(np.float64)


def _optional_float(value: float | None) -> float | None:
    return None if value is None else float(value)
