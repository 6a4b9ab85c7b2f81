"""G-test (log-likelihood ratio test) of homogeneity for a categorical column.

The same 2 x k table of reference and current counts as chi2, tested with
the likelihood-ratio statistic G = 2 * sum(observed * ln(observed /
expected)) against a chi-squared distribution with k - 1 degrees of
freedom: ``scipy.stats.chi2_contingency(table, correction=False,
lambda_="log-likelihood")``. G and Pearson's chi-squared agree on large
samples; G is the one that adds up over nested tables, and some teams
simply know it better. A cell that is empty on one side contributes 0
(x ln x -> 0); expected counts are never 0 because every category in the
union was seen somewhere. The effect is the bias-corrected Cohen's w
between the reference and current shares (``detectors._categories.cohens_w``),
as for chi2; its floor is 0.1.

>>> import numpy as np
>>> import pandas as pd
>>> import detectors
>>> rng = np.random.default_rng(7)
>>> reference = pd.Series(rng.choice(["web", "app", "api"], p=[0.5, 0.3, 0.2], size=800),
...                       name="channel")
>>> current = pd.Series(rng.choice(["web", "app", "api"], p=[0.4, 0.3, 0.3], size=600))
>>> result = detectors.compare_column(detectors.fit_profile(reference, "categorical"), current,
...                                method="gtest")
>>> result.drifted, round(result.statistic, 3), result.reason
(True, 21.305, "p-value 2.365e-05 < 0.05 and Cohen's w 0.2358 >= floor 0.1")
"""

from __future__ import annotations

import dataclasses

from scipy import stats

from detectors._categories import aligned_categories, cohens_w
from detectors._outcome import MethodOutcome, p_value_outcome
from detectors._prepare import PreparedColumn
from detectors.profile import ColumnProfile


def g_test(profile: ColumnProfile, current: PreparedColumn, threshold: float) -> MethodOutcome:
    """Run the G-test of homogeneity of ``current`` against the profile at level ``threshold``.

    With a single category on both sides there is nothing to compare: G is
    0 and the p-value 1, as with chi2.
    """
    aligned = aligned_categories(profile, current)
    table = aligned.table()
    outcome = stats.chi2_contingency(table, correction=False, lambda_="log-likelihood")
    statistic = float(outcome.statistic)
    result = p_value_outcome(
        statistic=statistic,
        p_value=float(outcome.pvalue),
        alpha=threshold,
        n_reference=profile.n,
        details={"degrees_of_freedom": int(outcome.dof), **aligned.details()},
    )
    return dataclasses.replace(result, effect=cohens_w(aligned.reference, aligned.current))
