"""Population stability index (PSI) of a numeric or categorical column.

PSI = sum over bins of (current share - reference share) * ln(current share
/ reference share). Numeric columns use the profile's reference quantile
bins plus two open tails for values outside the reference range;
categorical columns use the union of categories. The usual reading:
below 0.1 stable, 0.1-0.2 moderate, 0.2 and above a significant shift,
hence the default threshold 0.2.

>>> import numpy as np
>>> import pandas as pd
>>> import detectors
>>> rng = np.random.default_rng(1)
>>> reference = pd.Series(rng.choice(list("abc"), p=[0.4, 0.4, 0.2], size=1000), name="tier")
>>> current = pd.Series(rng.choice(list("abc"), p=[0.1, 0.6, 0.3], size=1000))
>>> profile = detectors.fit_profile(reference, "categorical")
>>> result = detectors.compare_column(profile, current, method="psi")
>>> result.drifted, result.reason
(True, 'PSI 0.6123 >= 0.2')
"""

from __future__ import annotations

import numpy as np

from detectors._histograms import EMPTY_BIN_SHARE, Counts, histogram_distance_outcome, shares
from detectors._outcome import MethodOutcome
from detectors._prepare import PreparedColumn
from detectors.profile import ColumnProfile

__all__ = ["EMPTY_BIN_SHARE", "population_stability_index", "psi_test"]


def population_stability_index(reference_counts: Counts, current_counts: Counts) -> float:
    """Return PSI between two count vectors over the same bins.

    Shares are floored at ``EMPTY_BIN_SHARE`` (not renormalised, as PSI is
    usually computed), so identical histograms give exactly 0.

    >>> population_stability_index(np.array([50, 50]), np.array([50, 50]))
    0.0
    """
    reference_share = np.maximum(shares(reference_counts), EMPTY_BIN_SHARE)
    current_share = np.maximum(shares(current_counts), EMPTY_BIN_SHARE)
    terms = (current_share - reference_share) * np.log(current_share / reference_share)
    return float(np.sum(terms))


def psi_test(profile: ColumnProfile, current: PreparedColumn, threshold: float) -> MethodOutcome:
    """Compare PSI of ``current`` against the profile's bins or categories with ``threshold``.

    The effect is PSI itself.
    """
    return histogram_distance_outcome(
        profile,
        current,
        threshold,
        label="PSI",
        distance=population_stability_index,
        details={"empty_bin_share": EMPTY_BIN_SHARE},
    )
