"""Two-proportion Z-test of a binary categorical column.

Compares the share p1 of the first category (in sorted order) in the
reference with its share p2 in the current window, with the pooled
variance under "no change":

    p = (x1 + x2) / (n1 + n2)
    z = (p2 - p1) / sqrt(p * (1 - p) * (1 / n1 + 1 / n2))

and the two-sided p-value 2 * (1 - Phi(|z|)). z squared equals the
chi-squared statistic of the same 2 x 2 table without continuity
correction, and the p-values agree; the Z form keeps the sign (z > 0: the
category became more common). It is a large-sample approximation: for
small windows prefer ``fisher``.

Binary only: more than two categories across reference and current give
status ``"invalid_values"`` (see ``detectors._binary``). A single category
on both sides has nothing to compare: z = 0, p-value 1. The effect is the
bias-corrected Cohen's w of the two shares (``detectors._categories.cohens_w``),
|p1 - p2| / sqrt(m (1 - m)) with m = (p1 + p2) / 2 before the correction;
its floor is 0.1 (a 0.1 sd shift of the indicator's mean).

>>> import numpy as np
>>> import pandas as pd
>>> import detectors
>>> rng = np.random.default_rng(5)
>>> reference = pd.Series(rng.choice([0, 1], p=[0.8, 0.2], size=5000), name="clicked")
>>> current = pd.Series(rng.choice([0, 1], p=[0.7, 0.3], size=4000))
>>> result = detectors.compare_column(detectors.fit_profile(reference, "categorical"), current,
...                                method="ztest")
>>> result.drifted, round(result.statistic, 3), result.reason, result.details["category"]
(True, -11.53, "p-value 9.317e-31 < 0.05 and Cohen's w 0.2417 >= floor 0.1", '0')
"""

from __future__ import annotations

import dataclasses
import math

from scipy import stats

from detectors._binary import binary_table
from detectors._categories import cohens_w
from detectors._outcome import MethodOutcome, p_value_outcome
from detectors._prepare import PreparedColumn
from detectors.profile import ColumnProfile


def two_proportion_z(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float]:
    """Return (z, two-sided p-value) for x1 of n1 against x2 of n2, pooled variance.

    >>> z, p = two_proportion_z(60, 100, 45, 100)
    >>> round(z, 4), round(p, 4)
    (-2.124, 0.0337)
    """
    pooled = (x1 + x2) / (n1 + n2)
    variance = pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)
    if variance == 0.0:
        return 0.0, 1.0
    z = (x2 / n2 - x1 / n1) / math.sqrt(variance)
    return z, float(2.0 * stats.norm.sf(abs(z)))


def z_test(profile: ColumnProfile, current: PreparedColumn, threshold: float) -> MethodOutcome:
    """Run the two-proportion Z-test of ``current`` against a binary profile."""
    binary = binary_table("ztest", profile, current)
    if isinstance(binary, MethodOutcome):
        return binary
    (x1, y1), (x2, y2) = binary.table.tolist()
    z, p_value = two_proportion_z(x1, x1 + y1, x2, x2 + y2)
    result = p_value_outcome(
        statistic=z,
        p_value=p_value,
        alpha=threshold,
        n_reference=profile.n,
        details={
            "category": binary.category,
            "reference_share": binary.reference_share,
            "current_share": binary.current_share,
            **binary.aligned.details(),
        },
    )
    return dataclasses.replace(
        result, effect=cohens_w(binary.aligned.reference, binary.aligned.current)
    )
