"""Two-sample Kolmogorov–Smirnov test of a numeric column.

KS compares the whole empirical distribution functions, so it notices a
change of location, spread or shape without binning. It is the default for
numeric columns. The statistic and p-value are ``scipy.stats.ks_2samp``'s,
computed against the profile's (possibly subsampled) sorted reference.

>>> import numpy as np
>>> import pandas as pd
>>> import detectors
>>> rng = np.random.default_rng(42)
>>> profile = detectors.fit_profile(pd.Series(rng.normal(0, 1, 500), name="age"), "numeric")
>>> result = detectors.test_column(profile, pd.Series(rng.normal(0.3, 1, 400)), method="ks")
>>> result.drifted, round(result.statistic, 4), result.reason
(True, 0.143, 'p-value 0.0002014 < 0.05')
"""

from __future__ import annotations

from scipy import stats

from detectors._outcome import MethodOutcome, p_value_outcome
from detectors._prepare import PreparedColumn
from detectors.profile import ColumnProfile


def ks_test(profile: ColumnProfile, current: PreparedColumn, threshold: float) -> MethodOutcome:
    """Run KS of ``current`` against the profile's sorted reference at level ``threshold``."""
    assert profile.sorted_values is not None and current.numeric is not None
    outcome = stats.ks_2samp(profile.sorted_values, current.numeric)
    return p_value_outcome(
        statistic=float(outcome.statistic),
        p_value=float(outcome.pvalue),
        alpha=threshold,
        n_reference=int(profile.sorted_values.size),
        details={"reference_subsampled": profile.subsampled},
    )
