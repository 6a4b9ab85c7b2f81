"""Population stability index (PSI) of a numeric or categorical column.

PSI = sum over bins of (current share - reference share) * ln(current share
/ reference share). Numeric columns use the profile's reference quantile
bins plus two open tails for values outside the reference range;
categorical columns use the union of categories. The usual reading:
below 0.1 stable, 0.1-0.2 moderate, 0.2 and above a significant shift,
hence the default threshold 0.2.

>>> import pandas as pd
>>> import detectors
>>> profile = detectors.fit_profile(pd.Series(list("aaaabbbbcc"), name="tier"), "categorical")
>>> result = detectors.test_column(profile, pd.Series(list("abbbbbbccc")), method="psi")
>>> result.drifted, result.reason
(True, 'PSI 0.5375 >= 0.2')
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import numpy.typing as npt

from detectors._binning import bin_counts
from detectors._categories import align_counts
from detectors._outcome import MethodOutcome, distance_outcome
from detectors._prepare import PreparedColumn
from detectors.profile import ColumnProfile

EMPTY_BIN_SHARE: Final = 1e-4
"""Share used in place of 0 for an empty bin.

The logarithm is undefined for an empty bin, so shares are floored at 1e-4
(a common choice): a bin empty on both sides then contributes exactly 0,
and a bin empty on one side contributes a large but finite amount.
"""


def population_stability_index(
    reference_counts: npt.NDArray[np.int64], current_counts: npt.NDArray[np.int64]
) -> float:
    """Return PSI between two count vectors over the same bins.

    >>> population_stability_index(np.array([50, 50]), np.array([50, 50]))
    0.0
    """
    reference_share = np.maximum(reference_counts / reference_counts.sum(), EMPTY_BIN_SHARE)
    current_share = np.maximum(current_counts / current_counts.sum(), EMPTY_BIN_SHARE)
    terms = (current_share - reference_share) * np.log(current_share / reference_share)
    return float(np.sum(terms))


def psi_test(profile: ColumnProfile, current: PreparedColumn, threshold: float) -> MethodOutcome:
    """Compare PSI of ``current`` against the profile's bins or categories with ``threshold``."""
    details: dict[str, Any]
    if profile.kind == "numeric":
        assert profile.bin_edges is not None and profile.bin_counts is not None
        assert current.numeric is not None
        reference_counts = profile.bin_counts
        current_counts = bin_counts(profile.bin_edges, current.numeric)
        details = {
            "bin_edges": profile.bin_edges.tolist(),
            "reference_counts": reference_counts.tolist(),
            "current_counts": current_counts.tolist(),
        }
    else:
        assert profile.category_counts is not None and current.category_counts is not None
        aligned = align_counts(profile.category_counts, current.category_counts)
        reference_counts, current_counts = aligned.reference, aligned.current
        details = aligned.details()
    return distance_outcome(
        label="PSI",
        distance=population_stability_index(reference_counts, current_counts),
        threshold=threshold,
        n_reference=profile.n,
        details={"empty_bin_share": EMPTY_BIN_SHARE, **details},
    )
