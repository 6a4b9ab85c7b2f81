"""k-sample Anderson–Darling test (k = 2) of a numeric column.

Like Cramér–von Mises it integrates the squared gap between the two ECDFs,
but weights it by ``1 / (H (1 - H))`` of the pooled ECDF ``H``, so it is more
sensitive than KS to changes in the tails. Statistic and p-value equal
``scipy.stats.anderson_ksamp([reference, current], variant="midrank")`` (the
midrank variant, scipy's default, valid with ties), computed from the
profile's sorted reference without re-sorting it (``detectors._pooled``).

The p-value is scipy's default: interpolated from the Scholz & Stephens
(1987) table, so it is only known to lie in [0.001, 0.25]. Outside that
range scipy caps it and warns; here it is capped the same way, without a
warning, and ``details["p_value_capped"]`` and ``details["p_value_cap"]`` say so.
A permutation p-value
(``method=PermutationMethod``) would recompute the statistic thousands of
times on the pooled sample, far too slow for million-row windows, so it is
not used; the cap only matters for thresholds below 0.001, which this test
can then never reach.

``effect`` is the root of the weighted mean squared ECDF gap
``integral of (F_ref - F_cur)^2 / (M (1 - M)) dM`` over the midpoint
``M = (F_ref + F_cur) / 2`` (``weighted_ecdf_gap``): unlike the statistic it
does not grow with n, and unlike ``sqrt(A2kN (n1 + n2) / (n1 n2))``, whose
weights use the size-weighted pooled ECDF, it does not depend on the ratio
of the sample sizes either. For a normal column shifted by ``delta`` standard
deviations it is about ``0.7 * delta`` (simulated), hence the registry's
effect floor of 0.07 for a 0.1 sd shift.

>>> import numpy as np
>>> import pandas as pd
>>> import detectors
>>> rng = np.random.default_rng(3)
>>> profile = detectors.fit_profile(pd.Series(rng.normal(0, 1, 800), name="x"), "numeric")
>>> shifted = pd.Series(rng.normal(0.12, 1, 600))
>>> result = detectors.compare_column(profile, shifted, method="anderson")
>>> result.drifted, round(result.statistic, 4), round(result.p_value, 4), round(result.effect, 4)
(True, 3.1536, 0.017, 0.0996)
>>> wider = pd.Series(rng.normal(0, 1.4, 600))
>>> result = detectors.compare_column(profile, wider, method="anderson")
>>> result.p_value, result.details["p_value_capped"]
(0.001, True)
"""

from __future__ import annotations

import dataclasses
import math
from typing import Final

import numpy as np

from detectors._outcome import MethodOutcome, format_number, p_value_outcome
from detectors._pooled import PooledSample, pool_with_profile
from detectors._prepare import PreparedColumn
from detectors.profile import ColumnProfile

# Scholz & Stephens (1987), Table 2, as in scipy.stats.anderson_ksamp.
_B0: Final = np.array([0.675, 1.281, 1.645, 1.96, 2.326, 2.573, 3.085])
_B1: Final = np.array([-0.245, 0.25, 0.678, 1.149, 1.822, 2.364, 3.615])
_B2: Final = np.array([-0.105, -0.305, -0.362, -0.391, -0.396, -0.345, -0.154])
_SIGNIFICANCE: Final = np.array([0.25, 0.1, 0.05, 0.025, 0.01, 0.005, 0.001])


def anderson_test(
    profile: ColumnProfile, current: PreparedColumn, threshold: float
) -> MethodOutcome:
    """Run Anderson–Darling of ``current`` against the sorted reference at level ``threshold``."""
    pooled = pool_with_profile(profile, current)
    details: dict[str, object] = {"reference_subsampled": profile.subsampled}
    if pooled.values.size < 2:
        return MethodOutcome(
            statistic=None,
            p_value=None,
            drifted=False,
            status="constant",
            reason=(
                "reference and current hold one and the same value "
                f"({format_number(float(pooled.values[0]))}), so Anderson-Darling is undefined"
            ),
            n_reference=pooled.n_reference,
            details=details,
        )
    a2kn = anderson_darling_a2kn(pooled)
    statistic, p_value, capped = standardise_and_p_value(a2kn, pooled.n_reference, pooled.n_current)
    details["p_value_capped"] = capped is not None
    if capped is not None:
        details["p_value_cap"] = capped
    outcome = p_value_outcome(
        statistic=statistic,
        p_value=p_value,
        alpha=threshold,
        n_reference=pooled.n_reference,
        details=details,
    )
    return dataclasses.replace(outcome, effect=weighted_ecdf_gap(pooled))


def weighted_ecdf_gap(pooled: PooledSample) -> float:
    """Root of the Anderson-Darling-weighted mean squared ECDF gap, on the midpoint of the ECDFs.

    sqrt(integral of (F_ref - F_cur)^2 / (M (1 - M)) dM) with M = (F_ref + F_cur) / 2,
    midrank ECDFs at each distinct value. Scholz and Stephens' A2akN is n1 n2 / N
    times the same integral but over the pooled ECDF H = (n1 F_ref + n2 F_cur) / N,
    which leans towards the larger side: its root would depend on the ratio of the
    sample sizes whenever the change is not a symmetric shift. The midpoint does not.
    """
    reference_mid = (
        pooled.reference_at_or_below() - pooled.reference_counts / 2.0
    ) / pooled.n_reference
    current_mid = (pooled.current_at_or_below() - pooled.current_counts / 2.0) / pooled.n_current
    midpoint = (reference_mid + current_mid) / 2.0
    weights = (
        pooled.reference_counts / pooled.n_reference + pooled.current_counts / pooled.n_current
    ) / 2.0
    gap2 = (reference_mid - current_mid) ** 2 / (midpoint * (1.0 - midpoint))
    return math.sqrt(float(np.dot(weights, gap2)))


def anderson_darling_a2kn(pooled: PooledSample) -> float:
    """Return A2akN, equation 7 of Scholz & Stephens, as scipy's ``_anderson_ksamp_midrank``.

    The expressions and their order are scipy's, so the values agree to rounding.
    """
    n_total = pooled.n_total
    group_sizes = pooled.reference_counts + pooled.current_counts
    pooled_below = np.cumsum(group_sizes) - group_sizes
    ties: float | np.ndarray = 1.0 if pooled.all_distinct else group_sizes
    b_j = pooled_below + ties / 2.0
    a2kn = 0.0
    for at_or_below, counts, n_i in (
        (pooled.reference_at_or_below(), pooled.reference_counts, pooled.n_reference),
        (pooled.current_at_or_below(), pooled.current_counts, pooled.n_current),
    ):
        m_ij = at_or_below.astype(float) - counts / 2.0
        inner = (
            ties
            / float(n_total)
            * (n_total * m_ij - b_j * n_i) ** 2
            / (b_j * (n_total - b_j) - n_total * ties / 4.0)
        )
        a2kn += float(inner.sum()) / n_i
    return a2kn * (n_total - 1.0) / n_total


def standardise_and_p_value(
    a2kn: float, n_reference: int, n_current: int
) -> tuple[float, float, str | None]:
    """Return the standardised statistic, p-value and a cap note, as ``anderson_ksamp`` (k = 2).

    Needs at least 4 values in all (the variance divides by ``(N - 1)(N - 2)(N - 3)``).
    The cap note is None when the p-value was interpolated inside the table.
    """
    k = 2
    n_total = n_reference + n_current
    inverse_sizes = (1.0 / np.array([n_reference, n_current])).sum()
    hs_cs = (1.0 / np.arange(n_total - 1, 1, -1)).cumsum()
    h = hs_cs[-1] + 1
    g = (hs_cs / np.arange(2, n_total)).sum()
    a = (4 * g - 6) * (k - 1) + (10 - 6 * g) * inverse_sizes
    b = (2 * g - 4) * k**2 + 8 * h * k + (2 * g - 14 * h - 4) * inverse_sizes - 8 * h + 4 * g - 6
    c = (6 * h + 2 * g - 2) * k**2 + (4 * h - 4 * g + 6) * k + (2 * h - 6) * inverse_sizes + 4 * h
    d = (2 * h + 6) * k**2 - 4 * h * k
    sigma_squared = (a * n_total**3 + b * n_total**2 + c * n_total + d) / (
        (n_total - 1.0) * (n_total - 2.0) * (n_total - 3.0)
    )
    statistic = float((a2kn - (k - 1)) / math.sqrt(sigma_squared))
    if statistic < _CRITICAL.min():
        return statistic, float(_SIGNIFICANCE.max()), "capped: the true p-value is above 0.25"
    if statistic > _CRITICAL.max():
        return statistic, float(_SIGNIFICANCE.min()), "capped: the true p-value is below 0.001"
    return statistic, math.exp(np.polyval(_LOG_P_FIT, statistic)), None


# For k = 2 samples (m = k - 1 = 1), exactly as scipy computes them on every call.
_CRITICAL: Final = _B0 + _B1 / math.sqrt(1) + _B2 / 1
_LOG_P_FIT: Final = np.polyfit(_CRITICAL, np.log(_SIGNIFICANCE), 2)
