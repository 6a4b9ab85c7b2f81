"""Jensen-Shannon distance of a numeric or categorical column.

JS distance = sqrt((KL(p || m) + KL(q || m)) / 2) with m = (p + q) / 2 and
base-2 logarithms, equal to ``scipy.spatial.distance.jensenshannon(p, q,
base=2)``. It is symmetric, needs no pseudo-count for empty bins (m is
positive wherever p or q is), and lies in [0, 1]: 0 for the same
histogram, 1 for histograms with no bin in common. Numeric columns use the
profile's reference quantile bins (as PSI), categorical columns their
categories.

Default threshold 0.1, as in Evidently: it is about the distance of a
50/50 binary column moving to 62/38, a change most teams want to hear
about. Sampling noise alone also moves the distance, and more so with more
bins and fewer rows: with no drift (a 10,000-row normal reference, its 12
bins) it reads 0.076 on average at 300 current rows (99th percentile 0.11),
0.044 at 1,000 (0.066) and 0.029 at 5,000 (0.042). Below about 1,000 rows
the default is within that noise, which is what the decision layer's noise
floor is for. The effect is the distance.

>>> import numpy as np
>>> import pandas as pd
>>> import detectors
>>> rng = np.random.default_rng(11)
>>> profile = detectors.fit_profile(pd.Series(rng.normal(0, 1, 2000), name="score"), "numeric")
>>> result = detectors.compare_column(profile, pd.Series(rng.normal(0.5, 1, 1000)),
...                                method="jensenshannon")
>>> result.drifted, result.p_value, result.reason
(True, None, 'JS distance 0.2225 >= 0.1')
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from detectors._histograms import Counts, histogram_distance_outcome, shares
from detectors._outcome import MethodOutcome
from detectors._prepare import PreparedColumn
from detectors.profile import ColumnProfile


def jensen_shannon_distance(reference_counts: Counts, current_counts: Counts) -> float:
    """Return the base-2 Jensen-Shannon distance between two histograms.

    >>> jensen_shannon_distance(np.array([1, 0]), np.array([0, 1]))
    1.0
    """
    p, q = shares(reference_counts), shares(current_counts)
    m = (p + q) / 2.0
    divergence = float(np.sum(special.rel_entr(p, m)) + np.sum(special.rel_entr(q, m)))
    # Rounding can leave a tiny negative sum for near-identical histograms.
    return math.sqrt(max(divergence / math.log(2.0), 0.0) / 2.0)


def jensenshannon_test(
    profile: ColumnProfile, current: PreparedColumn, threshold: float
) -> MethodOutcome:
    """Compare the JS distance of ``current`` from the profile with ``threshold``."""
    return histogram_distance_outcome(
        profile, current, threshold, label="JS distance", distance=jensen_shannon_distance
    )
