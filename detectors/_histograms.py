"""Reference and current histograms for the binned methods (PSI and the distances).

A numeric column is binned on the profile's reference quantile edges (with
open tails for values outside the reference range, see
``detectors._binning.bin_counts``); a categorical column uses its categories,
with unseen and vanished ones reported. Every histogram method goes through
``histograms`` so that they all see the same bins and report them the same
way.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from detectors._categories import aligned_categories
from detectors._outcome import MethodOutcome, distance_outcome
from detectors._prepare import PreparedColumn
from detectors.profile import ColumnProfile

EMPTY_BIN_SHARE: Final = 1e-4
"""Share used in place of 0 by the methods that take a logarithm of a share (PSI, KL).

The logarithm is undefined for an empty bin, so those shares are floored at
1e-4 (a common choice): a bin empty on both sides then contributes nothing,
and a bin empty on one side contributes a large but finite amount.
"""

Counts = npt.NDArray[np.int64]
DistanceFunction = Callable[[Counts, Counts], float]


@dataclass(frozen=True)
class Histograms:
    """Reference and current counts over the same bins, and how to report them."""

    reference: Counts
    current: Counts
    details: dict[str, Any]


def histograms(profile: ColumnProfile, current: PreparedColumn) -> Histograms:
    """Count ``current`` into the profile's bins (numeric) or categories (categorical)."""
    if profile.kind == "categorical":
        aligned = aligned_categories(profile, current)
        return Histograms(aligned.reference, aligned.current, aligned.details())
    if profile.bin_edges is None or profile.bin_counts is None:
        raise ValueError(f"column {profile.column!r} has no reference bins to compare against")
    current_counts = current.counts_in(profile.bin_edges)
    return Histograms(
        profile.bin_counts,
        current_counts,
        {
            "bin_edges": profile.bin_edges.tolist(),
            "reference_counts": profile.bin_counts.tolist(),
            "current_counts": current_counts.tolist(),
        },
    )


def shares(counts: Counts) -> npt.NDArray[np.float64]:
    """Return ``counts`` as shares summing to 1."""
    return np.asarray(counts / counts.sum(), dtype=np.float64)


def floored_shares(counts: Counts) -> npt.NDArray[np.float64]:
    """Return shares floored at ``EMPTY_BIN_SHARE`` and renormalised to sum to 1."""
    floored = np.maximum(shares(counts), EMPTY_BIN_SHARE)
    return np.asarray(floored / floored.sum(), dtype=np.float64)


def histogram_distance_outcome(
    profile: ColumnProfile,
    current: PreparedColumn,
    threshold: float,
    *,
    label: str,
    distance: DistanceFunction,
    details: dict[str, Any] | None = None,
) -> MethodOutcome:
    """Run a histogram ``distance`` and decide drift as ``distance >= threshold``.

    The distance is also the effect size: it does not grow with the sample
    size, so an effect floor can be compared with it directly.
    """
    counts = histograms(profile, current)
    value = distance(counts.reference, counts.current)
    outcome = distance_outcome(
        label=label,
        distance=value,
        threshold=threshold,
        n_reference=profile.n,
        details={**(details or {}), **counts.details},
    )
    return dataclasses.replace(outcome, effect=value)
