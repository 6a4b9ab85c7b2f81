"""``scipy.stats.kstwo.sf``, ``ks_2samp``'s large-sample p-value, in time that does not grow with n.

For samples past its exact cut-off ``ks_2samp`` returns ``kstwo.sf(d, n)``
with ``n = round(n1 n2 / (n1 + n2))``. scipy picks an algorithm by region
(Simard & L'Ecuyer 2011); most cost microseconds, but two grow with n:

* the tail, ``n d² >= 2.2`` (p-values below about 0.025, every drifted
  column) or ``d >= 0.5``: ``2 smirnov(n, d)``, the Birnbaum–Tingey sum of
  ``n (1 - d)`` terms in double-double arithmetic, about 2 µs a term:
  1 s at n = 500,000 (1M rows a side), 80 ms at 30,000;
* the far centre, ``n <= 100,000`` and ``n d^1.5 <= 1.4`` (p-values within
  1e-2 of 1): Durbin's matrix, a ``(2 ceil(n d) - 1)``-square matrix raised
  to the n-th power: 1.5 s at n = 100,000.

From ``FAST_N`` on, those two regions are computed here and every other
one is scipy's own call:

* the tail is the same sum, term by term in logarithms with numpy, and
  past ``SUM_TERMS`` terms only every h-th term, times h. The j-th term,
  ``d / p C(n, j) p^j (1 - p)^(n - j)`` with ``p = d + j / n``, is a smooth
  bump in j at least ``n / 77`` wide wherever the sum is above 1e-300
  (``n d² < 370``; beyond, scipy itself returns 0), so the strided sum is
  the trapezoid rule of an analytic function that vanishes at both ends,
  whose error (about ``exp(-2 pi² (width / h)²)``, width / h >= 53) is far
  below double precision. What is left is the logarithms' rounding: 1e-12
  relative at n = 1,000, 4e-10 at n = 500,000;
* the far centre is Pelz and Good's expansion, which scipy itself uses for
  the same ``d`` beyond n = 100,000: from n = 1,000 on its p-value is
  within 3.2e-8 relative of Durbin's (5e-13 at n = 10,000).

So from ``FAST_N`` on the p-value agrees with ``ks_2samp``'s to 1e-6
relative (tested over a grid of n and d in
``tests/detectors/test_kolmogorov.py``), or both are below 1e-300.

>>> from scipy import stats
>>> p = kstwo_sf(0.03, 9_901)  # a 10k window against a 1M reference, 0.075 sd shift
>>> bool(abs(p / stats.kstwo.sf(0.03, 9_901) - 1) < 1e-6), f"{p:.4g}"
(True, '3.557e-08')
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np
from scipy import special, stats

# scipy's own Pelz-Good expansion, the algorithm kstwo uses past n = 100,000.
from scipy.stats._ksstats import _kolmogn_PelzGood

FAST_N: Final = 1_000
"""Smallest ``n`` for which the two slow regions are computed here.

Below it scipy's evaluation costs under 0.5 ms, no more than the KS test of
a window that size against a stored profile, and it is used as is (exact
parity); above, its cost grows as n while the test's grows as n log n with
a constant some forty times smaller.
"""

SUM_TERMS: Final = 4_096
"""Most terms of the tail sum evaluated; a longer sum is strided (see the module)."""

TAIL_N_D2: Final = 2.2
"""``n d²`` from which scipy's p-value is ``2 smirnov(n, d)``."""

ZERO_N_D2: Final = 370.0
"""``n d²`` from which the p-value is below 1e-300 and scipy returns 0."""


def kstwo_sf(d: float, n: int) -> float:
    """Return ``scipy.stats.kstwo.sf(d, n)``, to 1e-6 relative from ``FAST_N`` on."""
    t = n * d
    if n < FAST_N or not 0.0 < d < 1.0 or t <= 1.0 or t >= n - 1:
        return float(stats.kstwo.sf(d, n))
    n_d2 = t * d
    if n_d2 >= ZERO_N_D2:
        return 0.0
    if n_d2 >= TAIL_N_D2 or d >= 0.5:
        return min(2.0 * smirnov_sf(d, n), 1.0)
    if n <= 100_000 and n * d**1.5 <= 1.4:
        return min(max(1.0 - float(_kolmogn_PelzGood(n, d, cdf=True)), 0.0), 1.0)
    return float(stats.kstwo.sf(d, n))


def smirnov_sf(d: float, n: int) -> float:
    """Return ``P(D+_n >= d)``, ``scipy.special.smirnov(n, d)``, from its terms in logarithms.

    The Birnbaum–Tingey sum: ``d`` times the sum over ``j <= n (1 - d)`` of
    ``C(n, j) (d + j / n)^(j - 1) (1 - d - j / n)^(n - j)``, strided past
    ``SUM_TERMS`` terms (see the module for when that is exact).

    >>> round(smirnov_sf(0.1, 100) / float(special.smirnov(100, 0.1)), 12)
    1.0
    """
    last = math.floor(n * (1.0 - d))
    step = max(1, (last + 1) // SUM_TERMS)
    j = np.arange(0, last + 1, step, dtype=np.float64)
    p = d + j / n
    with np.errstate(divide="ignore"):  # the last term is 0 when n (1 - d) is whole
        log_terms = (
            special.gammaln(n + 1.0)
            - special.gammaln(j + 1.0)
            - special.gammaln(n - j + 1.0)
            + (j - 1.0) * np.log(p)
            + (n - j) * np.log1p(-p)
        )
    top = float(log_terms.max())
    log_sum = math.log(d * step) + top + math.log(float(np.exp(log_terms - top).sum()))
    return math.exp(log_sum)
