"""Welch's two-sample t-test of a numeric column's mean.

Welch's t asks only whether the mean moved, allowing the two sides
different variances; it is the cheapest test here because it needs no
reference values at all, only the profile's count, mean and standard
deviation, which always come from every usable reference value (never the
subsample). Statistic and p-value equal ``scipy.stats.ttest_ind(reference,
current, equal_var=False)``.

The profile stores the population standard deviation (``ddof=0``), so the
sample variance is recovered as ``std^2 * n / (n - 1)``; that agrees with
``np.var(reference, ddof=1)`` to rounding, with no change to the stored
profile. ``effect`` is ``|Cohen's d|``: the difference of means over the
root of the average of the two sample variances (not the size-weighted
pooled variance, which would make d depend on n_reference whenever the
spread changed as well; with equal spreads the two agree).

>>> import numpy as np
>>> import pandas as pd
>>> import detectors
>>> rng = np.random.default_rng(13)
>>> profile = detectors.fit_profile(pd.Series(rng.normal(50, 10, 1000), name="x"), "numeric")
>>> result = detectors.compare_column(profile, pd.Series(rng.normal(52, 12, 300)), method="welch")
>>> result.drifted, round(result.statistic, 4), round(result.p_value, 5), round(result.effect, 4)
(True, -2.2853, 0.02276, 0.1548)
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from scipy import stats

from detectors._outcome import MethodOutcome, format_number, p_value_outcome
from detectors._prepare import PreparedColumn
from detectors.profile import ColumnProfile


def welch_test(profile: ColumnProfile, current: PreparedColumn, threshold: float) -> MethodOutcome:
    """Run Welch's t-test of ``current`` against the profile's moments at level ``threshold``."""
    assert profile.mean is not None and profile.std is not None and current.numeric is not None
    n_reference, n_current = profile.n, int(current.numeric.size)
    reference_variance = profile.std**2 * n_reference / (n_reference - 1)
    current_mean = float(np.mean(current.numeric))
    current_variance = float(np.var(current.numeric, ddof=1))
    details = {
        "reference_mean": profile.mean,
        "current_mean": current_mean,
        "reference_std": math.sqrt(reference_variance),
        "current_std": math.sqrt(current_variance),
    }
    if reference_variance == 0.0 and current_variance == 0.0:
        if current_mean == profile.mean:
            return MethodOutcome(
                statistic=None,
                p_value=None,
                drifted=False,
                status="constant",
                reason=(
                    f"both sides hold the one value {format_number(profile.mean)}, so Welch's t "
                    "is undefined"
                ),
                n_reference=n_reference,
                details=details,
            )
        # Two different constants: the mean moved with certainty (t and d are infinite).
        return MethodOutcome(
            statistic=None,
            p_value=0.0,
            drifted=True,
            reason=(
                f"both sides are constant but differ (reference {format_number(profile.mean)}, "
                f"current {format_number(current_mean)}): the mean moved with certainty, "
                f"p-value 0 < {format_number(threshold)}"
            ),
            n_reference=n_reference,
            details=details,
        )
    outcome = stats.ttest_ind_from_stats(
        profile.mean,
        math.sqrt(reference_variance),
        n_reference,
        current_mean,
        math.sqrt(current_variance),
        n_current,
        equal_var=False,
    )
    # The plain average of the two variances, not the size-weighted pooled one: weighted, d
    # would move with n_reference whenever the spread changed too.
    average_variance = (reference_variance + current_variance) / 2.0
    cohens_d = (current_mean - profile.mean) / math.sqrt(average_variance)
    result = p_value_outcome(
        statistic=float(outcome.statistic),
        p_value=float(outcome.pvalue),
        alpha=threshold,
        n_reference=n_reference,
        details={**details, "cohens_d": cohens_d},
    )
    return dataclasses.replace(result, effect=abs(cohens_d))
