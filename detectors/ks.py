"""Two-sample Kolmogorov–Smirnov test of a numeric column.

KS compares the whole empirical distribution functions, so it notices a
change of location, spread or shape without binning. It is the default for
numeric columns. The statistic and p-value are ``scipy.stats.ks_2samp``'s
(``method="auto"``), computed against the profile's (possibly subsampled)
sorted reference; ``effect`` is the statistic itself, the largest gap
between the two ECDFs, which does not grow with n.

The profile keeps the reference sorted and ``prepare_numeric`` sorts the
current window, so the statistic comes from the two sorted samples by a
coarse grid of binary searches (``detectors._ecdf_gaps``), without sorting
or merging the pooled sample as ``ks_2samp`` does: bit-identical, and on
1M rows a side a few milliseconds after the sort. The p-value follows
``ks_2samp`` step for step: the exact distribution when both sides have at
most 10,000 values, otherwise Smirnov's ``kstwo.sf(d, round(n1 n2 / (n1 +
n2)))``, which ``detectors._kolmogorov`` evaluates in time that does not
grow with n once that n reaches 1,000 (to 1e-6 relative of scipy's; below,
scipy's own call, exactly).

>>> import numpy as np
>>> import pandas as pd
>>> import detectors
>>> rng = np.random.default_rng(42)
>>> profile = detectors.fit_profile(pd.Series(rng.normal(0, 1, 500), name="age"), "numeric")
>>> result = detectors.compare_column(profile, pd.Series(rng.normal(0.3, 1, 400)), method="ks")
>>> result.drifted, round(result.statistic, 4), result.reason
(True, 0.143, 'p-value 0.0002014 < 0.05 and KS statistic 0.143 >= floor 0.04')
"""

from __future__ import annotations

import dataclasses
import math
from typing import Final

import numpy as np
import numpy.typing as npt

# ks_2samp's own exact-path helper: it reports failure instead of warning, so a
# failed exact computation can fall back to the asymptotic one and say so.
from scipy.stats._stats_py import _attempt_exact_2kssamp

from detectors._ecdf_gaps import largest_ecdf_gaps
from detectors._kolmogorov import kstwo_sf
from detectors._outcome import MethodOutcome, p_value_outcome
from detectors._prepare import PreparedColumn
from detectors.profile import ColumnProfile

MAX_EXACT_N: Final = 10_000
"""Largest side for which the exact p-value is used (``ks_2samp``'s ``MAX_AUTO_N``)."""

FloatArray = npt.NDArray[np.float64]


def ks_test(profile: ColumnProfile, current: PreparedColumn, threshold: float) -> MethodOutcome:
    """Run KS of ``current`` against the profile's sorted reference at level ``threshold``."""
    assert profile.sorted_values is not None and current.numeric is not None
    statistic, p_value, p_value_method = ks_statistic_and_p_value(
        profile.sorted_values, current.numeric
    )
    outcome = p_value_outcome(
        statistic=statistic,
        p_value=p_value,
        alpha=threshold,
        n_reference=int(profile.sorted_values.size),
        details={"reference_subsampled": profile.subsampled, "p_value_method": p_value_method},
    )
    return dataclasses.replace(outcome, effect=statistic)


def ks_statistic_and_p_value(
    reference_sorted: FloatArray, current_sorted: FloatArray
) -> tuple[float, float, str]:
    """Return the two-sided KS statistic, p-value and p-value method, as ``ks_2samp``.

    Both samples must be ascending.

    >>> ks_statistic_and_p_value(np.array([1.0, 2.0, 3.0]), np.array([2.5, 4.0]))
    (0.6666666666666666, 0.6, 'exact')
    """
    n1, n2 = int(reference_sorted.size), int(current_sorted.size)
    max_above, max_below = largest_ecdf_gaps(reference_sorted, current_sorted)
    d = max_below if max_below > max_above else max_above
    if max(n1, n2) <= MAX_EXACT_N:
        succeeded, d_exact, p_exact = _attempt_exact_2kssamp(
            n1, n2, math.gcd(n1, n2), d, "two-sided"
        )
        if succeeded:
            return float(d_exact), float(np.clip(p_exact, 0, 1)), "exact"
        d = float(d_exact)
        method = "asymptotic (exact computation failed)"
    else:
        method = "asymptotic"
    larger, smaller = sorted([float(n1), float(n2)], reverse=True)
    effective_n = larger * smaller / (larger + smaller)
    p_value = float(np.clip(kstwo_sf(d, int(np.round(effective_n))), 0, 1))
    return d, p_value, method
