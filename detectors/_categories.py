"""Category counts shared by every categorical method.

Every categorical method starts from the same table: reference and current
counts over the union of categories. Building it in one place means every
method reports new ("unseen") and vanished categories the same way, with
exact counts and a capped list of names.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from detectors._prepare import PreparedColumn
from detectors.profile import ColumnProfile

OTHER: Final = "\x00other"
"""The key lumped categories are counted under (not a value a column can hold as text).

Sequential sketches lump the rarest reference categories under it, and a
window summary (``detectors.window_summary``) the rarest categories beyond
its limit.
"""

MAX_LISTED: Final = 20
"""How many unseen/vanished category names a result lists; the counts are always exact."""


@dataclass(frozen=True)
class AlignedCounts:
    """Reference and current counts over the sorted union of categories."""

    categories: list[str]
    reference: npt.NDArray[np.int64]
    current: npt.NDArray[np.int64]
    unseen: list[str]
    vanished: list[str]

    def table(self) -> npt.NDArray[np.int64]:
        """Return the 2 x k contingency table (row 0 reference, row 1 current)."""
        return np.vstack([self.reference, self.current])

    def details(self) -> dict[str, Any]:
        """Histograms and category changes for a report."""
        return {
            "reference_counts": dict(zip(self.categories, self.reference.tolist(), strict=True)),
            "current_counts": dict(zip(self.categories, self.current.tolist(), strict=True)),
            "n_unseen_categories": len(self.unseen),
            "unseen_categories": self.unseen[:MAX_LISTED],
            "n_vanished_categories": len(self.vanished),
            "vanished_categories": self.vanished[:MAX_LISTED],
        }


def align_counts(reference: Mapping[str, int], current: Mapping[str, int]) -> AlignedCounts:
    """Put both count maps on the union of categories (missing entries count 0).

    "Unseen" categories appear only in the current window, "vanished" ones
    only in the reference. The work is proportional to the number of
    categories, never to the number of rows (those were counted once by
    ``prepare_categorical``).

    >>> aligned = align_counts({"a": 2, "b": 1}, {"b": 3, "c": 1})
    >>> aligned.categories, aligned.unseen, aligned.vanished
    (['a', 'b', 'c'], ['c'], ['a'])
    >>> aligned.table().tolist()
    [[2, 1, 0], [0, 3, 1]]
    """
    categories = sorted(set(reference) | set(current))
    reference_counts = np.fromiter(
        (reference.get(c, 0) for c in categories), dtype=np.int64, count=len(categories)
    )
    current_counts = np.fromiter(
        (current.get(c, 0) for c in categories), dtype=np.int64, count=len(categories)
    )
    return AlignedCounts(
        categories=categories,
        reference=reference_counts,
        current=current_counts,
        unseen=[c for c, n in zip(categories, reference_counts.tolist(), strict=True) if n == 0],
        vanished=[c for c, n in zip(categories, current_counts.tolist(), strict=True) if n == 0],
    )


def aligned_categories(profile: ColumnProfile, current: PreparedColumn) -> AlignedCounts:
    """Align a categorical profile's counts with a prepared current window."""
    if profile.category_counts is None or current.category_counts is None:
        raise ValueError(
            f"column {profile.column!r} has no category counts; it is not a categorical profile"
        )
    return align_counts(profile.category_counts, current.category_counts)


def cohens_w(reference: npt.NDArray[np.int64], current: npt.NDArray[np.int64]) -> float:
    """Return the bias-corrected Cohen's w between two count vectors over the same categories.

    With shares p (reference) and q (current) and their midpoint m = (p + q) / 2,

        w2 = sum over categories with m > 0 of (q - p)^2 / m
        w = sqrt(max(0, w2 - (k - 1) (1 / n_reference + 1 / n_current)))

    k being the number of categories with m > 0 (the union of both sides).
    Why this and not Cramér's V of the 2 x k table: V^2 is about
    n_current / (n_reference + n_current) * w^2, so V shrinks as the
    reference grows and the same change was drift against a 50k-row
    reference and not against a 500k one; w compares the two share vectors
    and does not depend on the sample sizes. The midpoint keeps new and
    vanished categories finite (each adds at most 2 to w2). The subtraction
    removes sampling noise: under no drift each category adds about
    (1 - m) (1 / n_reference + 1 / n_current) to w2 on average, (k - 1)
    (1 / n_reference + 1 / n_current) in all, so w is near 0 at any number
    of categories. For a binary column w = |q - p| / sqrt(m (1 - m)), the
    shift of the indicator's mean in standard deviations, which is why its
    floor, 0.1, matches the numeric floors (a 0.1 sd mean shift). A single
    category or an empty side gives 0.

    >>> round(cohens_w(np.array([7000, 3000]), np.array([600, 400])), 4)  # 70/30 -> 60/40
    0.207
    >>> cohens_w(np.array([5, 5]), np.array([5, 5]))
    0.0
    """
    n_reference, n_current = int(reference.sum()), int(current.sum())
    if n_reference < 1 or n_current < 1:
        return 0.0
    p, q = reference / n_reference, current / n_current
    m = (p + q) / 2.0
    seen = m > 0.0
    k = int(np.count_nonzero(seen))
    if k < 2:
        return 0.0
    w2 = float(np.sum((q[seen] - p[seen]) ** 2 / m[seen]))
    noise = (k - 1) * (1.0 / n_reference + 1.0 / n_current)
    return math.sqrt(max(w2 - noise, 0.0))
