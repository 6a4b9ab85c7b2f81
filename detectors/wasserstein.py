"""Normed Wasserstein-1 distance of a numeric column.

The Wasserstein distance is in the column's own units, so it is divided by
the reference standard deviation to make one threshold (0.1: a tenth of a
standard deviation) meaningful across columns. Unlike a p-value it does not
shrink with sample size, so huge windows do not flag negligible shifts.

>>> import numpy as np
>>> import pandas as pd
>>> import detectors
>>> rng = np.random.default_rng(7)
>>> profile = detectors.fit_profile(pd.Series(rng.normal(10, 2, 1000), name="x"), "numeric")
>>> current = pd.Series(rng.normal(11, 2, 1000))
>>> result = detectors.compare_column(profile, current, method="wasserstein")
>>> result.drifted, round(result.statistic, 4), round(result.threshold, 4)
(True, 0.5999, 0.1211)

At 1,000 rows per side sampling noise alone reaches 0.12 (the noise floor,
see ``detectors.noise``), so the effective threshold is above the default 0.1.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import stats

from detectors._outcome import MethodOutcome, distance_outcome, format_number
from detectors._prepare import PreparedColumn
from detectors.profile import ColumnProfile


def wasserstein_test(
    profile: ColumnProfile, current: PreparedColumn, threshold: float
) -> MethodOutcome:
    """Compare normed Wasserstein-1 of ``current`` vs the sorted reference with ``threshold``.

    The standard deviation is the population one (``ddof=0``) of the same
    reference values the distance uses, so that a subsampled profile stays
    self-consistent. A constant reference has no scale to norm by; when the
    current window holds other values (a real change: ``compare_column`` gives
    status "constant" only when both sides hold the same single value) the
    distance is normed by the standard deviation of the half-and-half mixture
    of the two sides instead, which is positive whenever they differ, and
    ``details["scale"]`` says so. Only identical constant sides (when called
    directly) give status "constant".
    """
    assert profile.sorted_values is not None and current.numeric is not None
    distance = float(stats.wasserstein_distance(profile.sorted_values, current.numeric))
    reference_std = float(np.std(profile.sorted_values))
    scale = reference_std or mixture_std(profile.sorted_values, current.numeric)
    details = {
        "distance": distance,
        "reference_std": reference_std,
        "scale": "reference std" if reference_std else "mixture std (constant reference)",
    }
    n_reference = int(profile.sorted_values.size)
    if scale == 0.0:
        return MethodOutcome(
            statistic=None,
            p_value=None,
            drifted=False,
            status="constant",
            reason=(
                "reference and current are one and the same constant, so the normed "
                f"Wasserstein distance is undefined; raw distance is {format_number(distance)}"
            ),
            n_reference=n_reference,
            details=details,
        )
    return distance_outcome(
        label="normed Wasserstein",
        distance=distance / scale,
        threshold=threshold,
        n_reference=n_reference,
        details=details,
    )


def mixture_std(reference: npt.NDArray[np.float64], current: npt.NDArray[np.float64]) -> float:
    """Standard deviation of the half-and-half mixture of two samples (ddof=0).

    The scale of last resort when the reference is constant: it does not
    depend on the sample sizes and is 0 only when both sides are one and the
    same constant.

    >>> mixture_std(np.array([3.0, 3.0]), np.array([5.0]))
    1.0
    """
    mean_reference, mean_current = float(np.mean(reference)), float(np.mean(current))
    variance = (float(np.var(reference)) + float(np.var(current))) / 2.0 + (
        (mean_reference - mean_current) / 2.0
    ) ** 2
    return float(np.sqrt(variance))
