"""Chi-squared test of homogeneity for a categorical column.

The reference is itself a sample, so the two-sample (contingency) form is
used: a 2 x k table of reference and current counts over the union of
categories, tested with ``scipy.stats.chi2_contingency(table,
correction=False)``. Every category in the union has a positive column
total, so the expected counts are never zero and no pseudo-count is needed;
categories that are new or that vanished are tested like any other and are
listed in the details.

>>> import pandas as pd
>>> import detectors
>>> reference = pd.Series(["a"] * 60 + ["b"] * 40, name="colour")
>>> profile = detectors.fit_profile(reference, "categorical")
>>> result = detectors.compare_column(profile, pd.Series(["a"] * 30 + ["b"] * 60 + ["c"] * 10))
>>> result.method, result.drifted, result.reason
('chi2', True, "p-value 6.144e-06 < 0.05 and Cohen's w 0.6633 >= floor 0.1")
>>> result.details["unseen_categories"]
['c']
"""

from __future__ import annotations

import dataclasses

from scipy import stats

from detectors._categories import aligned_categories, cohens_w
from detectors._outcome import MethodOutcome, p_value_outcome
from detectors._prepare import PreparedColumn
from detectors.profile import ColumnProfile


def chi2_test(profile: ColumnProfile, current: PreparedColumn, threshold: float) -> MethodOutcome:
    """Test whether reference and current category proportions differ, at level ``threshold``.

    With a single category on both sides there is nothing to compare
    (zero degrees of freedom): scipy then reports statistic 0 and p-value 1.
    The effect is the bias-corrected Cohen's w between the reference and
    current shares (``detectors._categories.cohens_w``), which does not
    depend on the sample sizes; its floor is 0.1.
    """
    aligned = aligned_categories(profile, current)
    table = aligned.table()
    outcome = stats.chi2_contingency(table, correction=False)
    statistic = float(outcome.statistic)
    result = p_value_outcome(
        statistic=statistic,
        p_value=float(outcome.pvalue),
        alpha=threshold,
        n_reference=profile.n,
        details={"degrees_of_freedom": int(outcome.dof), **aligned.details()},
    )
    return dataclasses.replace(result, effect=cohens_w(aligned.reference, aligned.current))
