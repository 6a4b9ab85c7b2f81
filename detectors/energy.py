"""Energy distance of a numeric column, normed by the reference spread.

The energy distance is ``sqrt(2) * sqrt(integral of (F_ref - F_cur)^2 dx)``,
``scipy.stats.energy_distance``: like Wasserstein it is in the column's
units and reacts to any change of distribution, but it squares the ECDF gap,
so many small gaps count less than one large one. It is divided by the
population standard deviation of the profile's (possibly subsampled) sorted
reference, as the Wasserstein distance is, so one threshold fits every
column. It is a distance with no p-value: drift when it reaches the
threshold. The ECDFs come from the sorted reference merged with the sorted
window (``detectors._pooled``), never from re-sorting the reference.

Default threshold 0.1. For a normal column shifted by ``delta`` standard
deviations the normed energy distance is about ``0.75 * delta`` (``sqrt(2 *
integral of phi^2) = pi^-1/4``), so 0.1 flags a mean shift of about 0.13 σ,
in line with the Wasserstein default of 0.1 σ. Like every distance it does
not shrink with n, but two samples of the same distribution are not at 0:
with n values on each side its mean is about ``sqrt(2.26 / n)`` (``E(F_n -
G_n)^2 = 2 F (1 - F) / n`` and ``integral of F (1 - F) dx = 1/sqrt(pi)`` for a
normal), 0.048 at n = 1,000 and 0.015 at n = 10,000; ``compare_column``
therefore compares it with the larger of the threshold and its noise floor
(``detectors.noise.normed_energy_noise_floor``). ``effect`` is the normed
distance itself.

>>> import numpy as np
>>> import pandas as pd
>>> import detectors
>>> rng = np.random.default_rng(9)
>>> profile = detectors.fit_profile(pd.Series(rng.normal(5, 2, 3000), name="x"), "numeric")
>>> result = detectors.compare_column(profile, pd.Series(rng.normal(5.6, 2, 2000)), method="energy")
>>> result.drifted, round(result.statistic, 4), result.p_value
(True, 0.1495, None)
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from detectors._outcome import MethodOutcome, distance_outcome, format_number
from detectors._pooled import PooledSample, pool_with_profile
from detectors._prepare import PreparedColumn
from detectors.profile import ColumnProfile
from detectors.wasserstein import mixture_std


def energy_test(profile: ColumnProfile, current: PreparedColumn, threshold: float) -> MethodOutcome:
    """Compare the normed energy distance of ``current`` vs the reference with ``threshold``.

    A constant reference has no scale to norm by: when the current window
    differs the distance is normed by the standard deviation of the
    half-and-half mixture of the two sides, as for Wasserstein
    (``detectors.wasserstein.mixture_std``); identical constant sides give
    status "constant".
    """
    assert profile.sorted_values is not None and current.numeric is not None
    pooled = pool_with_profile(profile, current)
    distance = energy_distance(pooled)
    reference_std = float(np.std(profile.sorted_values))
    scale = reference_std or mixture_std(profile.sorted_values, current.numeric)
    details = {
        "distance": distance,
        "reference_std": reference_std,
        "scale": "reference std" if reference_std else "mixture std (constant reference)",
        "reference_subsampled": profile.subsampled,
    }
    if scale == 0.0:
        return MethodOutcome(
            statistic=None,
            p_value=None,
            drifted=False,
            status="constant",
            reason=(
                "reference and current are one and the same constant, so the normed "
                f"energy distance is undefined; raw distance is {format_number(distance)}"
            ),
            n_reference=pooled.n_reference,
            details=details,
        )
    normed = distance / scale
    outcome = distance_outcome(
        label="normed energy distance",
        distance=normed,
        threshold=threshold,
        n_reference=pooled.n_reference,
        details=details,
    )
    return dataclasses.replace(outcome, effect=normed)


def energy_distance(pooled: PooledSample) -> float:
    """Return ``scipy.stats.energy_distance`` of the two pooled sides.

    scipy integrates over every pooled value, ties included; a tie adds a zero
    width, so summing over distinct values gives the same integral.
    """
    widths = np.diff(pooled.values)
    gaps = (
        pooled.reference_at_or_below()[:-1] / pooled.n_reference
        - pooled.current_at_or_below()[:-1] / pooled.n_current
    )
    return float(np.sqrt(2) * math.sqrt(float(np.dot(np.square(gaps), widths))))
