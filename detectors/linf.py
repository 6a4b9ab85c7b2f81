"""L-infinity distance of a categorical column: the largest change of one category's share.

L-inf = max over categories of |p - q|, in [0, 1]. It reads directly as
"some category's share moved by this much", and names the category
(``details["largest_change"]``). Categories unseen in the reference or
vanished from the current window count with share 0 on the missing side.

Default threshold 0.1: one category's share moving by 10 percentage
points. With no drift (a 50/30/20 column, 10,000 reference rows) it reads
0.031 on average at 300 current rows (99th percentile 0.078) and 0.017 at
1,000 (0.040). The effect is the distance.

>>> import numpy as np
>>> import pandas as pd
>>> import detectors
>>> rng = np.random.default_rng(1)
>>> reference = pd.Series(rng.choice(list("abc"), p=[0.4, 0.4, 0.2], size=1000), name="tier")
>>> current = pd.Series(rng.choice(list("abc"), p=[0.1, 0.6, 0.3], size=1000))
>>> profile = detectors.fit_profile(reference, "categorical")
>>> result = detectors.compare_column(profile, current, method="linf")
>>> result.drifted, result.reason, result.details["largest_change"]
(True, 'L-infinity distance 0.318 >= 0.1', 'a')
"""

from __future__ import annotations

import dataclasses

import numpy as np

from detectors._categories import aligned_categories
from detectors._histograms import Counts, shares
from detectors._outcome import MethodOutcome, distance_outcome
from detectors._prepare import PreparedColumn
from detectors.profile import ColumnProfile


def linf_distance(reference_counts: Counts, current_counts: Counts) -> float:
    """Return the largest absolute difference of shares between two histograms.

    >>> linf_distance(np.array([5, 3, 2]), np.array([2, 3, 5]))
    0.3
    """
    return float(np.max(np.abs(shares(reference_counts) - shares(current_counts))))


def linf_test(profile: ColumnProfile, current: PreparedColumn, threshold: float) -> MethodOutcome:
    """Compare the L-infinity distance of ``current`` from the profile with ``threshold``."""
    aligned = aligned_categories(profile, current)
    change = np.abs(shares(aligned.reference) - shares(aligned.current))
    largest = int(np.argmax(change))
    distance = float(change[largest])
    outcome = distance_outcome(
        label="L-infinity distance",
        distance=distance,
        threshold=threshold,
        n_reference=profile.n,
        details={"largest_change": aligned.categories[largest], **aligned.details()},
    )
    return dataclasses.replace(outcome, effect=distance)
