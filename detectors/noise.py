"""Noise floors: how large a distance gets from sampling noise alone.

A distance without a p-value (PSI, Jensen–Shannon, normed Wasserstein, ...)
is never exactly 0 for two samples of the same distribution, and the noise
grows as windows shrink or categories multiply: two 10k-row samples of a
1,000-category column have a PSI near 0.1 without any drift. So a distance
is compared with ``max(configured threshold, noise floor)``, where the
noise floor is the distance's (1 - level) quantile under no drift at the
sample sizes of this run, ``level`` being the false-alarm rate allowed
(``compare_column(noise_level=...)``, default ``DEFAULT_NOISE_LEVEL`` = 0.01,
the 99th percentile). ``compare_column`` reports both in the result's
``details`` (``configured_threshold``, ``noise_floor``, ``noise_level``) and
uses the larger as ``threshold``.

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

Levels below 1%. A daemon that spreads a false-alarm budget over many
columns and runs asks for levels like 1e-5, and ``NOISE_DRAWS`` draws
cannot resolve such a quantile (the largest of 200 draws is about the
99.5th percentile). At a level of 0.01 or more every floor is the empirical
quantile of the draws, exactly as before. Below 0.01 the tail is
extrapolated, and never below the empirical 99th percentile:

* Histogram distances (``tail_quantile``): the ``isf(level)`` of a gamma
  fitted to the 200 permutation draws by the method of moments (shape
  mean^2 / variance, scale variance / mean). Why a gamma: the
  chi-square-like divergences (PSI, KL, and the squares of the Hellinger
  and Jensen-Shannon distances) are, under no drift and to second order,
  (1 / n_reference + 1 / n_current) times Pearson's chi-squared of the
  2 x k table, a chi-squared with k - 1 degrees of freedom, which is a
  gamma: the moment fit recovers its tail. The distances that are square
  roots of those (Jensen-Shannon, Hellinger), maxima (L-infinity) or sums of
  absolute values (total variation) of roughly normal share changes have
  Gaussian-type tails, exp(-c x^2), lighter than a gamma's exp(-x / scale),
  so the gamma fitted to them lies above them far out. The caveat is PSI
  and KL with categories that can empty: their floored logarithm
  (``EMPTY_BIN_SHARE``) turns an empty category into a jump far beyond the
  chi-squared bulk, a second mode that 200 draws and a gamma underweight.
  Measured at 1e-3 on 20,000 seeded no-drift pairs
  (``tests/detectors/test_noise_levels.py``): three categories (40/30/30 %)
  with 40 and 30 rows, PSI 1.05e-3 and Jensen-Shannon 2.5e-4; 50/30/20 %
  with 60 and 40 rows, PSI 1.25e-3 and Jensen-Shannon 1e-4 (both PSI
  rates within binomial noise of 1e-3). But with a 10 % category and a
  50-row window (0.5 % of windows miss it) PSI reached 3.3e-3 while
  Jensen-Shannon stayed at 4e-4: prefer Jensen-Shannon or Hellinger at low
  levels on small windows.
* Normed Wasserstein and energy (``bridge_norm_quantile``): the gamma is
  not safe there. The integral of |B| over the reference quantile grid is
  dominated by the few widest spacings in the reference's tails, which
  makes it more skewed than its moment-matched gamma (skewness 1.2 against
  the gamma's 0.7 for a normal reference): the gamma's 1e-3 quantile was
  3.06 where 50,000 bridges put it at 3.41. Both statistics are norms of
  the Gaussian process B (the L1 and L2 norms over dQ), so the Borell-TIS
  inequality bounds their tail without any fit:
  P(norm > E norm + t) <= exp(-t^2 / (2 sigma^2)), sigma^2 the largest
  variance of a linear functional of B in the dual unit ball. For the L1
  norm that is the variance of the integral of B dQ (the covariance of a
  bridge is positive), for the L2 norm the largest eigenvalue of the
  bridge covariance on the grid, and E norm is exact (L1:
  sqrt(2 / pi) sqrt(u (1 - u)) per point) or bounded (L2: the root of
  E norm^2). The floor is then E norm + sigma sqrt(2 ln(1 / level)): an
  upper bound on the limiting quantile, at the price of some power (at
  1e-3 for a normal reference 4.99 against the true 3.41, that is a
  floor of 0.22 sd instead of 0.15 sd at 1,000 rows a side).

Everything is seeded (``NOISE_SEED``), so the same profile and sizes always
give the same floor.

>>> import numpy as np
>>> import pandas as pd
>>> import detectors
>>> rng = np.random.default_rng(5)
>>> weights = rng.dirichlet(np.ones(1000))
>>> reference = pd.Series(rng.choice(1000, 10_000, p=weights), name="merchant")
>>> profile = detectors.fit_profile(reference, "categorical")
>>> result = detectors.compare_column(profile, pd.Series(rng.choice(1000, 10_000, p=weights)),
...                                method="psi")
>>> result.drifted, round(result.statistic, 3), round(result.details["noise_floor"], 3)
(False, 0.153, 0.193)

At 10k rows the noise floor (0.193) is close to PSI's usual 0.2 threshold;
at 2,000 rows it is 0.94, and the result's ``threshold`` would be that.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
from scipy import stats

from detectors._histograms import histograms
from detectors._prepare import PreparedColumn
from detectors.profile import ColumnProfile

DEFAULT_NOISE_LEVEL: Final = 0.01
"""False-alarm rate of the noise floor when none is given: its 99th percentile."""

NOISE_QUANTILE: Final = 1.0 - DEFAULT_NOISE_LEVEL
"""Which quantile of the no-drift distance is the noise floor at the default level."""

EMPIRICAL_MIN_LEVEL: Final = 0.01
"""Smallest level read off the draws directly; below it the gamma tail is used."""

NOISE_DRAWS: Final = 200
"""Simulated no-drift pairs (or Brownian bridges) per floor."""

NOISE_SEED: Final = 0
"""Seed of every simulation, so floors are reproducible."""

_BRIDGE_GRID: Final = 512
"""Points of the reference quantile grid the Brownian bridge is evaluated on."""

Counts = npt.NDArray[np.int64]
CountDistance = Callable[[Counts, Counts], float]
"""A histogram distance: reference counts, current counts over the same bins -> distance."""

NoiseFloor = Callable[[ColumnProfile, PreparedColumn, float], float]
"""Profile, prepared current window, false-alarm level -> the distance sampling noise reaches
under no drift with probability ``level``."""


def percentile_label(level: float) -> str:
    """Name the (1 - level) quantile as a percentile for a reason sentence.

    >>> [percentile_label(level) for level in (0.01, 1e-3, 1e-5, 0.05)]
    ['99th', '99.9th', '99.999th', '95th']
    """
    return f"{100.0 * (1.0 - level):.10g}th"


def tail_quantile(draws: npt.ArrayLike, level: float) -> float:
    """Return the (1 - ``level``) quantile of no-drift ``draws``; a gamma tail below 1%.

    At ``level >= EMPIRICAL_MIN_LEVEL`` it is ``np.quantile(draws, 1 - level)``.
    Below, the ``isf(level)`` of a method-of-moments gamma fit, never below the
    empirical 99th percentile (why this is conservative: the module docstring).

    >>> draws = np.random.default_rng(0).chisquare(3, size=200)
    >>> float(np.quantile(draws, 0.99)) == tail_quantile(draws, 0.01)
    True
    >>> round(tail_quantile(draws, 1e-5), 1), round(float(stats.chi2.isf(1e-5, 3)), 1)
    (24.1, 25.9)
    """
    values = np.asarray(draws, dtype=np.float64)
    if level >= EMPIRICAL_MIN_LEVEL:
        return float(np.quantile(values, 1.0 - level))
    empirical = float(np.quantile(values, 1.0 - EMPIRICAL_MIN_LEVEL))
    mean, variance = float(np.mean(values)), float(np.var(values))
    if mean <= 0.0 or variance <= 0.0:
        return empirical
    shape, scale = mean * mean / variance, variance / mean
    return max(empirical, float(stats.gamma.isf(level, shape, scale=scale)))


def histogram_noise_floor(distance: CountDistance) -> NoiseFloor:
    """Return the noise floor of a histogram ``distance`` (permutation null on the counts).

    >>> from detectors.psi import population_stability_index
    >>> import pandas as pd
    >>> import detectors
    >>> from detectors._prepare import prepare_categorical
    >>> profile = detectors.fit_profile(pd.Series(list("aabbbc") * 50, name="c"), "categorical")
    >>> floor = histogram_noise_floor(population_stability_index)
    >>> small = floor(profile, prepare_categorical(pd.Series(list("abbc") * 25)), 0.01)
    >>> large = floor(profile, prepare_categorical(pd.Series(list("abbc") * 25_000)), 0.01)
    >>> small > large
    True
    >>> floor(profile, prepare_categorical(pd.Series(list("abbc") * 25)), 1e-5) > small
    True
    """

    def floor(profile: ColumnProfile, current: PreparedColumn, level: float) -> float:
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
        return tail_quantile(values, level)

    return floor


def normed_wasserstein_noise_floor(
    profile: ColumnProfile, current: PreparedColumn, level: float
) -> float:
    """Return the noise floor of the normed Wasserstein-1 distance (Brownian-bridge approximation).

    >>> import numpy as np
    >>> import pandas as pd
    >>> import detectors
    >>> rng = np.random.default_rng(3)
    >>> profile = detectors.fit_profile(pd.Series(rng.normal(0, 1, 5000), name="x"), "numeric")
    >>> from detectors._prepare import prepare_numeric
    >>> windows = [prepare_numeric(pd.Series(np.zeros(n))) for n in (100, 10_000)]
    >>> [round(normed_wasserstein_noise_floor(profile, window, 0.01), 3) for window in windows]
    [0.272, 0.047]
    """
    bridge = _bridge_integrals(profile, current, power=1)
    if bridge is None:
        return 0.0
    integrals, scale, n_reference, n_current = bridge
    scale_n = np.sqrt(1.0 / n_reference + 1.0 / n_current)
    if level >= EMPIRICAL_MIN_LEVEL:
        return float(np.quantile(integrals, 1.0 - level) * scale_n / scale)
    bound = bridge_norm_quantile(_quantile_grid(profile), level, power=1)
    return max(float(np.quantile(integrals, NOISE_QUANTILE)), bound) * float(scale_n) / scale


def normed_energy_noise_floor(
    profile: ColumnProfile, current: PreparedColumn, level: float
) -> float:
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
    >>> window = prepare_numeric(pd.Series(np.zeros(1000)))
    >>> round(normed_energy_noise_floor(profile, window, 0.01), 3)
    0.07
    """
    bridge = _bridge_integrals(profile, current, power=2)
    if bridge is None:
        return 0.0
    integrals, scale, n_reference, n_current = bridge
    variance_n = 1.0 / n_reference + 1.0 / n_current
    if level >= EMPIRICAL_MIN_LEVEL:
        return float(np.sqrt(2.0 * np.quantile(integrals, 1.0 - level) * variance_n) / scale)
    norm = max(
        float(np.sqrt(np.quantile(integrals, NOISE_QUANTILE))),
        bridge_norm_quantile(_quantile_grid(profile), level, power=2),
    )
    return float(norm * np.sqrt(2.0 * variance_n) / scale)


def bridge_norm_quantile(grid: QuantileGrid, level: float, *, power: int) -> float:
    """Borell-TIS upper bound on the (1 - level) quantile of a Brownian bridge's norm over dQ.

    ``power`` 1: the integral of |B(u)| dQ(u); 2: the root of the integral of
    B(u)^2 dQ(u). Both on the trapezoid weights of ``grid``; see the module
    docstring for why this and not a fitted gamma.

    >>> uniform = QuantileGrid(np.linspace(0, 1, 513), np.linspace(0, 1, 513))
    >>> round(bridge_norm_quantile(uniform, 1e-3, power=1), 3)  # E 0.313 + sqrt(1/12) * 3.717
    1.386
    """
    weights = np.zeros(grid.levels.size)
    weights[:-1] += grid.spacings / 2.0
    weights[1:] += grid.spacings / 2.0
    u = grid.levels
    covariance = np.minimum.outer(u, u) - np.outer(u, u)
    tail = math.sqrt(2.0 * math.log(1.0 / level))
    if power == 1:
        mean = math.sqrt(2.0 / math.pi) * float(weights @ np.sqrt(u * (1.0 - u)))
        sigma2 = float(weights @ covariance @ weights)
    else:
        mean = math.sqrt(float(weights @ (u * (1.0 - u))))
        root = np.sqrt(weights)
        sigma2 = _largest_eigenvalue(root[:, None] * covariance * root[None, :])
    return mean + math.sqrt(max(sigma2, 0.0)) * tail


def _largest_eigenvalue(matrix: npt.NDArray[np.float64], iterations: int = 200) -> float:
    """Largest eigenvalue of a positive semi-definite matrix by power iteration.

    A bridge's covariance has a wide first gap (eigenvalues 1/(pi j)^2 on a uniform
    grid), so the iteration converges in a few dozen steps; from a positive start
    vector the Rayleigh quotient approaches the top eigenvalue from below, and a
    full eigendecomposition of the 513 x 513 matrix would cost far more.
    """
    vector = np.ones(matrix.shape[0])
    value = 0.0
    for _ in range(iterations):
        product = matrix @ vector
        norm = float(np.linalg.norm(product))
        if norm == 0.0:
            return 0.0
        value, vector = float(vector @ product) / float(vector @ vector), product / norm
    return value


@dataclass(frozen=True)
class QuantileGrid:
    """Probability levels u and the reference quantile spacings between them."""

    levels: npt.NDArray[np.float64]
    quantiles: npt.NDArray[np.float64]

    @property
    def spacings(self) -> npt.NDArray[np.float64]:
        return np.asarray(np.diff(self.quantiles), dtype=np.float64)


def _quantile_grid(profile: ColumnProfile) -> QuantileGrid:
    """The reference quantile grid the bridge is evaluated on (at most ``_BRIDGE_GRID`` steps)."""
    values = profile.sorted_values
    assert values is not None and values.size >= 2
    steps = min(_BRIDGE_GRID, int(values.size) - 1)
    grid = np.arange(steps + 1) / steps
    return QuantileGrid(grid, values[np.round(grid * (values.size - 1)).astype(np.int64)])


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
    quantile_grid = _quantile_grid(profile)
    grid, spacings = quantile_grid.levels, quantile_grid.spacings
    steps = int(grid.size) - 1
    rng = np.random.default_rng(NOISE_SEED)
    walk = np.cumsum(rng.normal(0.0, np.sqrt(1.0 / steps), size=(NOISE_DRAWS, steps)), axis=1)
    walk = np.hstack([np.zeros((NOISE_DRAWS, 1)), walk])
    bridge = np.abs(walk - grid * walk[:, -1:]) ** power
    # Trapezoid rule for the integral of |B(u)|^power dQ(u) over each quantile interval.
    integrals = ((bridge[:, :-1] + bridge[:, 1:]) / 2.0) @ spacings
    return np.asarray(integrals, dtype=np.float64), scale, int(values.size), n_current
