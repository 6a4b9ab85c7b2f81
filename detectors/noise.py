"""Noise floors: how large a distance gets from sampling noise alone.

A distance without a p-value (PSI, Jensen–Shannon, normed Wasserstein, ...)
is never exactly 0 for two samples of the same distribution, and the noise
grows as windows shrink or categories multiply: two 10k-row samples of a
1,000-category column have a PSI near 0.1 without any drift. So a distance
is compared with ``max(configured threshold, noise floor)``, where the
noise floor is the distance's ``NOISE_QUANTILE`` (99th percentile) under
no drift at the sample sizes of this run. ``test_column`` reports both in
the result's ``details`` (``configured_threshold``, ``noise_floor``) and uses
the larger as ``threshold``.

Two cheap ways to get it, from the stored profile and this run's counts,
never from the raw reference:

* Histogram distances (``histogram_noise_floor``): a permutation null on
  counts. Under no drift, reference and current rows are exchangeable, so
  given the pooled counts per bin (profile counts + current counts) the
  current counts are a multivariate hypergeometric draw of the current's
  size. ``NOISE_DRAWS`` (200) seeded draws, each split into (pooled - draw,
  draw), give the distribution of the method's own distance function under
  no drift; the floor is its 99th percentile, which makes the comparison a
  permutation test at the 1% level. Cost: 200 hypergeometric draws over the
  k bins (milliseconds for k = 1,000), independent of the row count.
  Simulating both samples from the reference proportions instead (the
  parametric bootstrap) looks cheaper but is badly anti-conservative on
  sparse tables: categories unseen in the reference are never drawn, and
  with 1,000 categories and 2,000 rows it flagged 88% (PSI) and 100% (JS) of
  no-drift windows; the permutation null is exact at any sample size.
* Normed Wasserstein (``normed_wasserstein_noise_floor``): by Donsker's
  theorem sqrt(n m / (n + m)) * W1 tends to the integral of |B(F(x))| dx,
  B a Brownian bridge, which equals the sum of |B(u)| over the reference
  quantile grid u weighted by the quantile spacings. 200 seeded bridges
  on a 512-point quantile grid of the sorted reference give its 99th
  percentile; dividing by sqrt(n m / (n + m)) and the reference std gives
  the floor. An asymptotic approximation, so it is a little loose for
  windows of a few dozen rows.

Everything is seeded (``NOISE_SEED``), so the same profile and sizes always
give the same floor.

>>> import numpy as np
>>> import pandas as pd
>>> import detectors
>>> rng = np.random.default_rng(5)
>>> weights = rng.dirichlet(np.ones(1000))
>>> reference = pd.Series(rng.choice(1000, 10_000, p=weights), name="merchant")
>>> profile = detectors.fit_profile(reference, "categorical")
>>> result = detectors.test_column(profile, pd.Series(rng.choice(1000, 10_000, p=weights)),
...                                method="psi")
>>> result.drifted, round(result.statistic, 3), round(result.details["noise_floor"], 3)
(False, 0.153, 0.193)

At 10k rows the noise floor (0.193) is close to PSI's usual 0.2 threshold;
at 2,000 rows it is 0.94, and the result's ``threshold`` would be that.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import numpy as np
import numpy.typing as npt

from detectors._histograms import histograms
from detectors._prepare import PreparedColumn
from detectors.profile import ColumnProfile

NOISE_QUANTILE: Final = 0.99
"""Which quantile of the no-drift distance is the noise floor."""

NOISE_DRAWS: Final = 200
"""Simulated no-drift pairs (or Brownian bridges) per floor."""

NOISE_SEED: Final = 0
"""Seed of every simulation, so floors are reproducible."""

_BRIDGE_GRID: Final = 512
"""Points of the reference quantile grid the Brownian bridge is evaluated on."""

Counts = npt.NDArray[np.int64]
CountDistance = Callable[[Counts, Counts], float]
"""A histogram distance: reference counts, current counts over the same bins -> distance."""

NoiseFloor = Callable[[ColumnProfile, PreparedColumn], float]
"""Profile and prepared current window -> the distance sampling noise reaches under no drift."""


def histogram_noise_floor(distance: CountDistance) -> NoiseFloor:
    """Return the noise floor of a histogram ``distance`` (permutation null on the counts).

    >>> from detectors.psi import population_stability_index
    >>> import pandas as pd
    >>> import detectors
    >>> from detectors._prepare import prepare_categorical
    >>> profile = detectors.fit_profile(pd.Series(list("aabbbc") * 50, name="c"), "categorical")
    >>> floor = histogram_noise_floor(population_stability_index)
    >>> small = floor(profile, prepare_categorical(pd.Series(list("abbc") * 25)))
    >>> large = floor(profile, prepare_categorical(pd.Series(list("abbc") * 25_000)))
    >>> small > large
    True
    """

    def floor(profile: ColumnProfile, current: PreparedColumn) -> float:
        counts = histograms(profile, current)
        pooled = counts.reference + counts.current
        n_current = int(counts.current.sum())
        if np.count_nonzero(pooled) < 2 or n_current < 1 or int(counts.reference.sum()) < 1:
            return 0.0
        rng = np.random.default_rng(NOISE_SEED)
        draws = rng.multivariate_hypergeometric(
            pooled, n_current, size=NOISE_DRAWS, method="marginals"
        )
        values = [distance(pooled - draw, draw) for draw in draws]
        return float(np.quantile(values, NOISE_QUANTILE))

    return floor


def normed_wasserstein_noise_floor(profile: ColumnProfile, current: PreparedColumn) -> float:
    """Return the noise floor of the normed Wasserstein-1 distance (Brownian-bridge approximation).

    >>> import numpy as np
    >>> import pandas as pd
    >>> import detectors
    >>> rng = np.random.default_rng(3)
    >>> profile = detectors.fit_profile(pd.Series(rng.normal(0, 1, 5000), name="x"), "numeric")
    >>> from detectors._prepare import prepare_numeric
    >>> windows = [prepare_numeric(pd.Series(np.zeros(n))) for n in (100, 10_000)]
    >>> [round(normed_wasserstein_noise_floor(profile, window), 3) for window in windows]
    [0.272, 0.047]
    """
    bridge = _bridge_integrals(profile, current, power=1)
    if bridge is None:
        return 0.0
    integrals, scale, n_reference, n_current = bridge
    scale_n = np.sqrt(1.0 / n_reference + 1.0 / n_current)
    return float(np.quantile(integrals, NOISE_QUANTILE) * scale_n / scale)


def normed_energy_noise_floor(profile: ColumnProfile, current: PreparedColumn) -> float:
    """Return the noise floor of the normed energy distance, sqrt(2 * integral (F - G)^2) / std.

    Same Brownian-bridge approximation as ``normed_wasserstein_noise_floor``:
    (n m / (n + m)) * integral (F_n - G_m)^2 dx tends to the integral of
    B(F(x))^2 dx.

    >>> import numpy as np
    >>> import pandas as pd
    >>> import detectors
    >>> from detectors._prepare import prepare_numeric
    >>> rng = np.random.default_rng(3)
    >>> profile = detectors.fit_profile(pd.Series(rng.normal(0, 1, 5000), name="x"), "numeric")
    >>> round(normed_energy_noise_floor(profile, prepare_numeric(pd.Series(np.zeros(1000)))), 3)
    0.07
    """
    bridge = _bridge_integrals(profile, current, power=2)
    if bridge is None:
        return 0.0
    integrals, scale, n_reference, n_current = bridge
    variance_n = 1.0 / n_reference + 1.0 / n_current
    return float(np.sqrt(2.0 * np.quantile(integrals, NOISE_QUANTILE) * variance_n) / scale)


def _bridge_integrals(
    profile: ColumnProfile, current: PreparedColumn, *, power: int
) -> tuple[npt.NDArray[np.float64], float, int, int] | None:
    """Simulate the integral of |B(F(x))|^power dx over the reference quantile grid."""
    values = profile.sorted_values
    n_current = current.n_usable
    if values is None or values.size < 2 or n_current < 1:
        return None
    scale = float(np.std(values))
    if scale == 0.0:
        return None
    steps = min(_BRIDGE_GRID, int(values.size) - 1)
    grid = np.arange(steps + 1) / steps
    quantiles = values[np.round(grid * (values.size - 1)).astype(np.int64)]
    spacings = np.diff(quantiles)
    rng = np.random.default_rng(NOISE_SEED)
    walk = np.cumsum(rng.normal(0.0, np.sqrt(1.0 / steps), size=(NOISE_DRAWS, steps)), axis=1)
    walk = np.hstack([np.zeros((NOISE_DRAWS, 1)), walk])
    bridge = np.abs(walk - grid * walk[:, -1:]) ** power
    # Trapezoid rule for the integral of |B(u)|^power dQ(u) over each quantile interval.
    integrals = ((bridge[:, :-1] + bridge[:, 1:]) / 2.0) @ spacings
    return np.asarray(integrals, dtype=np.float64), scale, int(values.size), n_current
