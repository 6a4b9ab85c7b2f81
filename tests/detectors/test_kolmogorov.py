"""KS on large samples: the statistic from two sorted samples, and the fast ``kstwo.sf``.

The statistic must equal ``ks_2samp``'s exactly (same floats), on any
sizes and ties. The p-value from ``FAST_N`` on must agree with
``scipy.stats.kstwo.sf`` (which ``ks_2samp`` returns) to ``REL`` = 1e-6
relative, or both be below 1e-300, over a grid of n and d that crosses
every region of scipy's algorithm choice and the strided-sum cut-offs;
below ``FAST_N`` it is scipy's own number.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
from scipy import special, stats

import detectors
from detectors._ecdf_gaps import BLOCK, largest_ecdf_gaps
from detectors._kolmogorov import FAST_N, SUM_TERMS, kstwo_sf, smirnov_sf

REL = 1e-6
NEGLIGIBLE = 1e-300

# n across the cut-offs: FAST_N, the first strided tail sums, the end of
# Durbin's region (100,000), and a 10k window against a 1M reference.
SIZES = [
    FAST_N,
    FAST_N + 1,
    2_400,
    SUM_TERMS - 1,
    SUM_TERMS,
    2 * SUM_TERMS - 1,
    2 * SUM_TERMS,
    9_901,
    30_000,
    100_000,
    100_001,
    160_000,
]


def grid_of_d(n: int) -> list[float]:
    """Values of d in every region scipy distinguishes at this n, and at their borders."""
    tail = [np.sqrt(n_d2 / n) for n_d2 in (2.2, 2.2000001, 3.0, 10.0, 50.0, 200.0, 369.9, 370.0)]
    durbin_edge = (1.4 / n) ** (2 / 3)  # n d^1.5 = 1.4
    durbin = [f * durbin_edge for f in (0.3, 0.6, 0.9, 0.999, 1.001) if f * durbin_edge * n > 1]
    centre = [f / np.sqrt(n) for f in (0.5, 1.0, 1.48)]
    extremes = [0.5, 0.5000001, 0.7, 0.9 / n, 1.5 / n, 1 - 1.5 / n, 1.0]
    return sorted(tail + durbin + centre + extremes)


@pytest.mark.parametrize("n", SIZES)
def test_kstwo_sf_agrees_with_scipy_from_fast_n_on(n: int) -> None:
    for d in grid_of_d(n):
        expected = float(stats.kstwo.sf(d, n))
        actual = kstwo_sf(d, n)
        if expected < NEGLIGIBLE:
            assert actual < NEGLIGIBLE, (n, d)
        else:
            assert actual == pytest.approx(expected, rel=REL, abs=0.0), (n, d)


@pytest.mark.parametrize("n", [1, 2, 10, 140, 141, 500, FAST_N - 1])
def test_kstwo_sf_is_scipy_below_fast_n(n: int) -> None:
    for d in grid_of_d(n):
        assert kstwo_sf(d, n) == float(stats.kstwo.sf(d, n)), (n, d)


@pytest.mark.parametrize(("n", "d"), [(150, 0.2), (1_000, 0.1), (3_000, 0.03), (5_000, 0.6)])
def test_smirnov_sum_matches_scipy_smirnov(n: int, d: float) -> None:
    assert smirnov_sf(d, n) == pytest.approx(float(special.smirnov(n, d)), rel=1e-9, abs=0.0)


def tied_or_not(rng: np.random.Generator, n: int, kind: int) -> npt.NDArray[np.float64]:
    """Continuous values, a few integers, or values rounded to one decimal (ties across sides)."""
    if kind == 0:
        return rng.normal(0.0, 1.0, n)
    if kind == 1:
        return rng.integers(0, 5, n).astype(np.float64)
    return np.round(rng.normal(0.0, 1.0, n), 1)


@pytest.mark.parametrize("seed", range(12))
def test_ecdf_gaps_give_ks_2samps_statistic_exactly(seed: int) -> None:
    rng = np.random.default_rng(500 + seed)
    for _ in range(25):
        n_ref, n_cur = (int(n) for n in rng.integers(1, 6 * BLOCK, size=2))
        kind = int(rng.integers(0, 3))
        reference = np.sort(tied_or_not(rng, n_ref, kind))
        current = np.sort(tied_or_not(rng, n_cur, kind) + rng.choice([0.0, 0.2]))
        above, below = largest_ecdf_gaps(reference, current)
        expected = stats.ks_2samp(reference, current, method="asymp").statistic
        assert (below if below > above else above) == expected
        assert below >= 0.0


def test_ecdf_gaps_of_one_tie_on_each_side() -> None:
    assert largest_ecdf_gaps(np.full(300, 2.0), np.full(500, 2.0)) == (0.0, 0.0)
    assert largest_ecdf_gaps(np.full(300, 1.0), np.full(500, 2.0)) == (1.0, 0.0)
    assert largest_ecdf_gaps(np.full(300, 3.0), np.full(500, 2.0)) == (0.0, 1.0)


@pytest.mark.parametrize(
    ("seed", "n_ref", "n_cur", "shift"),
    [(0, 200_000, 150_000, 0.0), (1, 200_000, 150_000, 0.02), (2, 1_000_000, 10_000, 0.05)],
)
def test_ks_on_large_samples_agrees_with_ks_2samp(
    seed: int, n_ref: int, n_cur: int, shift: float
) -> None:
    rng = np.random.default_rng(seed)
    reference = rng.normal(0.0, 1.0, n_ref)
    current = rng.normal(shift, 1.0, n_cur)
    profile = detectors.fit_profile(pd.Series(reference, name="x"), "numeric")
    result = detectors.compare_column(profile, pd.Series(current), method="ks")
    expected = stats.ks_2samp(reference, current)
    assert result.statistic == expected.statistic
    assert result.p_value == pytest.approx(expected.pvalue, rel=REL, abs=0.0)
    assert result.details["p_value_method"] == "asymptotic"


def test_ks_on_large_tied_samples_agrees_with_ks_2samp() -> None:
    rng = np.random.default_rng(3)
    reference = rng.integers(0, 10, 300_000).astype(np.float64)
    shares = np.full(10, 0.097)
    shares[3] += 0.03  # an excess of 3s: D about 0.02, a p-value in the tail sum's range
    current = rng.choice(10, 200_000, p=shares).astype(np.float64)
    profile = detectors.fit_profile(pd.Series(reference, name="x"), "numeric")
    result = detectors.compare_column(profile, pd.Series(current), method="ks")
    expected = stats.ks_2samp(reference, current)
    assert 1e-300 < expected.pvalue < 1e-6
    assert result.statistic == expected.statistic
    assert result.p_value == pytest.approx(expected.pvalue, rel=REL, abs=0.0)
