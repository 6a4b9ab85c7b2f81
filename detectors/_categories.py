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


def cramers_v(statistic: float, table: npt.NDArray[np.int64]) -> float:
    """Return Cramér's V of a chi-squared-type ``statistic`` on an r x k ``table``.

    V = sqrt(statistic / (n * (min(r, k) - 1))) lies in [0, 1] and does not
    grow with n, which makes it the effect size of chi2 and G. A table with a
    single row or column has nothing to compare, so V is 0.

    >>> cramers_v(4.0, np.array([[30, 20], [20, 30]]))  # chi2 of this table is 4
    0.2
    """
    n = int(table.sum())
    smaller_side = min(table.shape) - 1
    if n == 0 or smaller_side == 0:
        return 0.0
    return math.sqrt(max(statistic, 0.0) / (n * smaller_side))
