"""Two-sample Cramér–von Mises test of a numeric column.

CvM sums the squared gap between the two ECDFs over the pooled sample
instead of taking its maximum as KS does, so it reacts to a change spread
over the whole range and less to one sharp local gap. Statistic and
p-value equal ``scipy.stats.cramervonmises_2samp(reference, current)``
with scipy's ``method="auto"`` whenever the pooled sample has no ties: the
exact p-value when both sides have at most 20 values (about 25 ms at
20 + 20; its cost grows combinatorially, hence scipy's cut-off), the
asymptotic one above. The ranks come from the profile's sorted reference
merged with the sorted window (``detectors._pooled``), so the reference is
never re-sorted.

With ties this deliberately departs from scipy. scipy puts pooled midranks
into Anderson's rank formula ``U = n sum (r_i - i)^2 + m sum (s_j - j)^2``
but keeps the within-sample positions ``i`` and ``j`` as ``1..n``, so a
block of tied values looks like a shift: on seeded no-drift pairs of a
column that is 90% zeros (500 vs 400 values) scipy's p-value is below 0.05
every time. Here, with ties, T is computed from its ECDF form
``T = (n m / N) * mean over the pooled sample of (F_ref - F_cur)^2``, which
is algebraically the same T when there are no ties (tested), and the
asymptotic p-value is used at every size; it is conservative for discrete
data (no false alarms at 0.05 on the same check). ``details["ties"]`` says
which form was used.

``effect`` is the root-mean-square gap between the two ECDFs over the
half-and-half mixture of the two samples (``midpoint_rms_ecdf_gap``): like
the KS statistic it lies in [0, 1] and does not grow with n, and giving each
side half the weight (rather than averaging over the pooled sample, which
leans towards the larger side) keeps it from depending on the ratio of the
sample sizes.

>>> import numpy as np
>>> import pandas as pd
>>> import detectors
>>> rng = np.random.default_rng(5)
>>> profile = detectors.fit_profile(pd.Series(rng.normal(0, 1, 700), name="x"), "numeric")
>>> result = detectors.compare_column(profile, pd.Series(rng.normal(0.2, 1, 500)), method="cvm")
>>> result.drifted, round(result.statistic, 4), round(result.p_value, 10), round(result.effect, 4)
(True, 2.9417, 1.013e-07, 0.1003)
"""

from __future__ import annotations

import dataclasses
import math
from typing import Final

import numpy as np
from scipy import special, stats

from detectors._outcome import MethodOutcome, p_value_outcome
from detectors._pooled import PooledSample, pool_with_profile
from detectors._prepare import PreparedColumn
from detectors.profile import ColumnProfile

MAX_EXACT_N: Final = 20
"""Largest side for which the exact p-value is used (scipy's ``method="auto"`` cut-off)."""


def cvm_test(profile: ColumnProfile, current: PreparedColumn, threshold: float) -> MethodOutcome:
    """Run Cramér–von Mises of ``current`` against the sorted reference at level ``threshold``."""
    pooled = pool_with_profile(profile, current)
    n_x, n_y = pooled.n_reference, pooled.n_current
    ties = not pooled.all_distinct
    effect = rms_ecdf_gap(pooled)
    if ties:
        statistic = n_x * n_y / pooled.n_total * effect**2
        p_value = cvm_asymptotic_p_value(statistic, n_x, n_y)
        method = "asymptotic (ties: ECDF form of T)"
    elif max(n_x, n_y) <= MAX_EXACT_N:
        statistic = cvm_statistic(pooled)
        assert profile.sorted_values is not None and current.numeric is not None
        # Both sides are tiny: scipy's exact path on the raw values is cheap and authoritative.
        exact = stats.cramervonmises_2samp(profile.sorted_values, current.numeric, method="exact")
        p_value, method = float(exact.pvalue), "exact"
    else:
        statistic = cvm_statistic(pooled)
        p_value, method = cvm_asymptotic_p_value(statistic, n_x, n_y), "asymptotic"
    outcome = p_value_outcome(
        statistic=statistic,
        p_value=p_value,
        alpha=threshold,
        n_reference=n_x,
        details={
            "reference_subsampled": profile.subsampled,
            "p_value_method": method,
            "ties": ties,
        },
    )
    return dataclasses.replace(outcome, effect=midpoint_rms_ecdf_gap(pooled))


def cvm_statistic(pooled: PooledSample) -> float:
    """Return T (equations 9 and 10 of Anderson 1962) as ``cramervonmises_2samp``.

    Midranks are half-integers, exact in floating point, and the arrays summed
    are the ones scipy builds, in the same order, so T matches to rounding.
    Valid only without ties (see the module docstring).
    """
    n_x, n_y = pooled.n_reference, pooled.n_current
    group_sizes = pooled.reference_counts + pooled.current_counts
    pooled_at_or_below = np.cumsum(group_sizes)
    midranks = 0.5 * (pooled_at_or_below + (pooled_at_or_below - group_sizes) + 1)
    reference_ranks = np.repeat(midranks, pooled.reference_counts)
    current_ranks = np.repeat(midranks, pooled.current_counts)
    u = n_x * np.sum((reference_ranks - np.arange(1, n_x + 1, dtype=np.float64)) ** 2) + n_y * (
        np.sum((current_ranks - np.arange(1, n_y + 1, dtype=np.float64)) ** 2)
    )
    k, n_total = n_x * n_y, n_x + n_y
    t = u / (k * n_total) - (4 * k - 1) / (6 * n_total)
    return float(t)


def cvm_asymptotic_p_value(t: float, n_x: int, n_y: int) -> float:
    """Return scipy's asymptotic p-value for T (equations 11, 14 and 15 of Anderson 1962)."""
    k, n_total = n_x * n_y, n_x + n_y
    expected = (1 + 1 / n_total) / 6
    # Python integers up to the one division, as scipy computes them.
    variance_numerator = (n_total + 1) * (4 * k * n_total - 3 * (n_x**2 + n_y**2) - 2 * k)
    variance = variance_numerator / (45 * n_total**2 * 4 * k)
    normalised = 1 / 6 + (t - expected) / math.sqrt(45 * variance)
    # Below 0.003 the limiting CDF is under 1.3e-18, so scipy returns 1 directly.
    if normalised < 0.003:
        return 1.0
    return max(1.0 - _limiting_cdf(normalised), 0.0)


def _limiting_cdf(x: float) -> float:
    """CDF of the limiting one-sample CvM distribution (Csörgő & Faraway 1996, eq. 1.2).

    The series of scipy's ``_cdf_cvm_inf``, summed term by term until a term is
    below 1e-7, as scipy does.
    """
    total = 0.0
    k = 0
    while True:
        u = math.exp(special.gammaln(k + 0.5) - special.gammaln(k + 1)) / (
            np.pi**1.5 * math.sqrt(x)
        )
        y = 4 * k + 1
        q = y**2 / (16 * x)
        term = float(u * math.sqrt(y) * np.exp(-q) * special.kv(0.25, q))
        total += term
        if abs(term) < 1e-7:
            return total
        k += 1


def midpoint_rms_ecdf_gap(pooled: PooledSample) -> float:
    """Root-mean-square ECDF gap over the half-and-half mixture of the two samples (the effect).

    ``rms_ecdf_gap`` averages over the pooled sample, which leans towards the
    larger side, so for a change that is not a symmetric shift it would move
    with the ratio of the sample sizes; giving each side half the weight does
    not. For a shift of a symmetric distribution the two agree.
    """
    gaps = (
        pooled.reference_at_or_below() / pooled.n_reference
        - pooled.current_at_or_below() / pooled.n_current
    )
    weights = (
        pooled.reference_counts / pooled.n_reference + pooled.current_counts / pooled.n_current
    ) / 2.0
    return math.sqrt(float(np.dot(gaps**2, weights)))


def rms_ecdf_gap(pooled: PooledSample) -> float:
    """Root-mean-square gap between the two ECDFs over the pooled sample (ties weighted)."""
    gaps = (
        pooled.reference_at_or_below() / pooled.n_reference
        - pooled.current_at_or_below() / pooled.n_current
    )
    weights = pooled.reference_counts + pooled.current_counts
    return math.sqrt(float(np.dot(gaps**2, weights)) / pooled.n_total)
