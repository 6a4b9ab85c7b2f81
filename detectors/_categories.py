"""Aligning reference and current category counts over their union."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

_MAX_LISTED = 20
"""How many unseen/vanished category names a result lists; the counts are always exact."""


@dataclass(frozen=True)
class AlignedCounts:
    """Reference and current counts over the sorted union of categories."""

    categories: list[str]
    reference: npt.NDArray[np.int64]
    current: npt.NDArray[np.int64]
    unseen: list[str]
    vanished: list[str]

    def details(self) -> dict[str, Any]:
        """Histograms and category changes for a report."""
        return {
            "reference_counts": dict(zip(self.categories, self.reference.tolist(), strict=True)),
            "current_counts": dict(zip(self.categories, self.current.tolist(), strict=True)),
            "n_unseen_categories": len(self.unseen),
            "unseen_categories": self.unseen[:_MAX_LISTED],
            "n_vanished_categories": len(self.vanished),
            "vanished_categories": self.vanished[:_MAX_LISTED],
        }


def align_counts(reference: Mapping[str, int], current: Mapping[str, int]) -> AlignedCounts:
    """Put both count maps on the union of categories (missing entries count 0).

    "Unseen" categories appear only in the current window, "vanished" ones
    only in the reference.
    """
    categories = sorted(set(reference) | set(current))
    return AlignedCounts(
        categories=categories,
        reference=np.array([reference.get(c, 0) for c in categories], dtype=np.int64),
        current=np.array([current.get(c, 0) for c in categories], dtype=np.int64),
        unseen=[c for c in categories if reference.get(c, 0) == 0],
        vanished=[c for c in categories if current.get(c, 0) == 0],
    )
