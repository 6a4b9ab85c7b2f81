"""Fisher's exact test on the 2 x 2 table of a binary categorical column.

Exact at any sample size (no large-sample approximation), which makes it
the test for small windows of a binary column such as a label or a flag.
The p-value is ``scipy.stats.fisher_exact``'s two-sided one; the table has
rows reference and current and columns the two categories in sorted order.

Binary only: a column with more than two categories across reference and
current gets status ``"invalid_values"`` with a reason naming them (use
chi2 or gtest there); see ``detectors._binary``. A column with a single
category on both sides has nothing to compare: odds ratio 1, p-value 1.

The statistic is the sample odds ratio, scipy's ``(a * d) / (b * c)``.
When a cell is 0 that ratio is 0, infinite or undefined, so 0.5 is added to
every cell first (the Haldane-Anscombe correction) and
``details["odds_ratio_corrected"]`` says so; the p-value is unaffected.
The effect is the bias-corrected Cohen's w of the two shares
(``detectors._categories.cohens_w``): for a binary column |p_reference -
p_current| / sqrt(m (1 - m)), m their midpoint, the shift of the
indicator's mean in standard deviations; its floor is 0.1.

>>> import numpy as np
>>> import pandas as pd
>>> import detectors
>>> rng = np.random.default_rng(3)
>>> reference = pd.Series(rng.choice(["no", "yes"], p=[0.9, 0.1], size=120), name="churned")
>>> current = pd.Series(rng.choice(["no", "yes"], p=[0.7, 0.3], size=80))
>>> result = detectors.compare_column(detectors.fit_profile(reference, "categorical"), current,
...                                method="fisher")
>>> result.drifted, round(result.statistic, 3), result.reason
(True, 4.39, "p-value 0.0004462 < 0.05 and Cohen's w 0.4794 >= floor 0.1")
"""

from __future__ import annotations

import dataclasses

from scipy import stats

from detectors._binary import binary_table
from detectors._categories import cohens_w
from detectors._outcome import MethodOutcome, p_value_outcome
from detectors._prepare import PreparedColumn
from detectors.profile import ColumnProfile


def fisher_test(profile: ColumnProfile, current: PreparedColumn, threshold: float) -> MethodOutcome:
    """Run Fisher's exact test of ``current`` against a binary profile at level ``threshold``."""
    binary = binary_table("fisher", profile, current)
    if isinstance(binary, MethodOutcome):
        return binary
    details = {"category": binary.category, **binary.aligned.details()}
    if binary.single_category:
        result = p_value_outcome(
            statistic=1.0,
            p_value=1.0,
            alpha=threshold,
            n_reference=profile.n,
            details={**details, "odds_ratio_corrected": False},
        )
        return dataclasses.replace(result, effect=0.0)
    table = binary.table
    outcome = stats.fisher_exact(table, alternative="two-sided")
    corrected = bool((table == 0).any())
    if corrected:
        (a, b), (c, d) = (table + 0.5).tolist()
        odds_ratio = (a * d) / (b * c)
    else:
        odds_ratio = float(outcome.statistic)
    result = p_value_outcome(
        statistic=odds_ratio,
        p_value=float(outcome.pvalue),
        alpha=threshold,
        n_reference=profile.n,
        details={**details, "odds_ratio_corrected": corrected},
    )
    return dataclasses.replace(
        result, effect=cohens_w(binary.aligned.reference, binary.aligned.current)
    )
