"""Two-sided Mann–Whitney U test of a numeric column.

Mann–Whitney asks whether a value from one side tends to be larger than a
value from the other, so it is a rank test of location: it is blind to a
change of spread that keeps the median. Statistic (U of the reference) and
p-value equal ``scipy.stats.mannwhitneyu(reference, current,
alternative="two-sided")``. The method follows scipy's ``"auto"``: exact
when one side has at most 8 values and there are no ties, otherwise the
normal approximation with tie and continuity corrections; in addition the
exact path is only taken while ``n1 * n2 <= 10_000``, because scipy's exact
recursion costs O((n1 n2)^2) (8 values against 1M would take hours), and
beyond it the normal approximation is used and ``details`` says so.

U is counted from the profile's sorted reference merged with the sorted
window (``detectors._pooled``) in integer arithmetic, without re-sorting
the reference. ``effect`` is the absolute rank-biserial correlation
``|2 U / (n1 n2) - 1|``: 0 when either side is as likely to be the larger,
1 when every current value lies above (or below) every reference value.

>>> import numpy as np
>>> import pandas as pd
>>> import detectors
>>> rng = np.random.default_rng(11)
>>> profile = detectors.fit_profile(pd.Series(rng.normal(0, 1, 900), name="x"), "numeric")
>>> current = pd.Series(rng.normal(0.2, 1, 400))
>>> result = detectors.compare_column(profile, current, method="mannwhitney")
>>> result.drifted, result.statistic, round(result.p_value, 5), round(result.effect, 4)
(True, 165106.0, 0.01713, 0.0827)
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

MAX_EXACT_SMALL_SIDE: Final = 8
"""scipy's ``"auto"``: exact only when one side has at most this many values (and no ties)."""

MAX_EXACT_PRODUCT: Final = 10_000
"""Largest ``n1 * n2`` for the exact path (about 10 ms); scipy's ``"auto"`` has no such cap."""


def mannwhitney_test(
    profile: ColumnProfile, current: PreparedColumn, threshold: float
) -> MethodOutcome:
    """Run two-sided Mann–Whitney U of ``current`` against the reference at ``threshold``."""
    pooled = pool_with_profile(profile, current)
    n1, n2 = pooled.n_reference, pooled.n_current
    u1 = reference_u(pooled)
    method = p_value_method(n1, n2, has_ties=not pooled.all_distinct)
    if method == "exact":
        assert profile.sorted_values is not None and current.numeric is not None
        # Tiny samples: scipy's exact distribution on the raw values is cheap and authoritative.
        exact = stats.mannwhitneyu(
            profile.sorted_values, current.numeric, alternative="two-sided", method="exact"
        )
        p_value = float(exact.pvalue)
    else:
        p_value = asymptotic_p_value(u1, pooled)
    outcome = p_value_outcome(
        statistic=u1,
        p_value=p_value,
        alpha=threshold,
        n_reference=n1,
        details={"reference_subsampled": profile.subsampled, "p_value_method": method},
    )
    return dataclasses.replace(outcome, effect=abs(2.0 * u1 / (n1 * n2) - 1.0))


def p_value_method(n1: int, n2: int, *, has_ties: bool) -> str:
    """Return "exact" or "asymptotic": scipy's ``"auto"`` rule plus the ``n1 * n2`` cap.

    >>> p_value_method(5, 1000, has_ties=False), p_value_method(5, 10**6, has_ties=False)
    ('exact', 'asymptotic (exact would be too slow)')
    """
    if min(n1, n2) > MAX_EXACT_SMALL_SIDE or has_ties:
        return "asymptotic"
    if n1 * n2 > MAX_EXACT_PRODUCT:
        return "asymptotic (exact would be too slow)"
    return "exact"


def reference_u(pooled: PooledSample) -> float:
    """Return U of the reference: pairs with the reference value larger, ties counting 1/2.

    Counted in integers (twice U), so it is exact where scipy's rank sum rounds.
    """
    current_below = pooled.current_at_or_below() - pooled.current_counts
    twice_u = int(np.dot(pooled.reference_counts, 2 * current_below + pooled.current_counts))
    return twice_u / 2


def asymptotic_p_value(u1: float, pooled: PooledSample) -> float:
    """Two-sided normal-approximation p-value with tie and continuity corrections, as scipy."""
    n1, n2 = pooled.n_reference, pooled.n_current
    if pooled.values.size == 1:
        # One value on both sides: U = n1 n2 / 2 and no variance; scipy's formula gives 1
        # (or NaN when N^3 rounds), and there is no evidence of a change.
        return 1.0
    u = max(u1, n1 * n2 - u1)
    n = n1 + n2
    group_sizes = (pooled.reference_counts + pooled.current_counts).astype(np.float64)
    tie_term = float(np.sum(group_sizes**3 - group_sizes))
    s = math.sqrt(n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1))))
    z = (u - n1 * n2 / 2 - 0.5) / s
    return float(np.clip(2 * special.ndtr(-z), 0.0, 1.0))
