"""An effect must not depend on how large the reference is.

A column's effect is compared with a fixed floor, so if its expected value
moved with n_reference the same change would be drift against one
reference and not against a larger one (Cramér's V of the 2 x k table did
exactly that: V^2 is about n_current / (n_reference + n_current) * w^2).
Contract, over the whole registry: one fixed shifted current window of
5,000 rows against references of 10k, 100k and 1M rows of one distribution
gives the same effect: a 0.3 sd shift of a normal (and the same shift with
a 1.5 times wider spread, which caught the size-weighted pooled ECDF of
Anderson-Darling's old effect: 0.254 against 10k rows, 0.294 against 1M),
a four-category shift and a binary 70/30 -> 60/40.

Tolerance: the references are stratified (the normal's quantile grid,
exact category shares), so they carry no sampling error of their own and
the current window is the same in every comparison. What may remain is
legitimate: O(1 / n_reference) bias terms (at most 3e-4 on w^2 here).
The binned distances bin on interior reference quantiles with open outer
bins: bins at the reference's minimum and maximum, as they once had, move
out as the reference grows (PSI of the wider shift read 0.307 against 10k
rows and 0.273 against 1M). ``REL_TOLERANCE`` of 2% is above
that and far below the flaw it guards against: Cramér's V of the binary
case read 0.13 against 10k rows and 0.016 against 1M (a factor 8).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import detectors

REFERENCE_SIZES = (10_000, 100_000, 1_000_000)
N_CURRENT = 5_000
REL_TOLERANCE = 0.02

FOUR = ("a", "b", "c", "d")
FOUR_REFERENCE = (0.4, 0.3, 0.2, 0.1)
FOUR_CURRENT = (0.3, 0.3, 0.2, 0.2)
BINARY = ("no", "yes")
BINARY_ONLY = frozenset({"fisher", "ztest"})


def exact_shares(categories: tuple[str, ...], shares: tuple[float, ...], n: int) -> pd.Series:
    counts = np.round(np.asarray(shares) * n).astype(np.int64)
    return pd.Series(np.repeat(categories, counts), name="c")


@pytest.fixture(scope="module")
def numeric_references() -> dict[int, detectors.ColumnProfile]:
    return {
        n: detectors.fit_profile(
            pd.Series(stats.norm.ppf((np.arange(n) + 0.5) / n), name="x"), "numeric"
        )
        for n in REFERENCE_SIZES
    }


@pytest.fixture(scope="module")
def four_category_references() -> dict[int, detectors.ColumnProfile]:
    return {
        n: detectors.fit_profile(exact_shares(FOUR, FOUR_REFERENCE, n), "categorical")
        for n in REFERENCE_SIZES
    }


@pytest.fixture(scope="module")
def binary_references() -> dict[int, detectors.ColumnProfile]:
    return {
        n: detectors.fit_profile(exact_shares(BINARY, (0.7, 0.3), n), "categorical")
        for n in REFERENCE_SIZES
    }


def numeric_current() -> pd.Series:
    return pd.Series(np.random.default_rng(1).normal(0.3, 1.0, N_CURRENT))


def numeric_spread_current() -> pd.Series:
    """A shift with a wider spread: not symmetric, so size-weighted pooled ECDFs would show."""
    return pd.Series(np.random.default_rng(5).normal(0.3, 1.5, N_CURRENT))


def four_category_current() -> pd.Series:
    return pd.Series(np.random.default_rng(2).choice(FOUR, p=FOUR_CURRENT, size=N_CURRENT))


def binary_current() -> pd.Series:
    return pd.Series(np.random.default_rng(3).choice(BINARY, p=[0.6, 0.4], size=N_CURRENT))


CASES = [
    (name, shape)
    for name, spec in detectors.METHODS.items()
    for shape in (
        (["numeric", "numeric_spread"] if "numeric" in spec.kinds else [])
        + (
            (["binary"] if name in BINARY_ONLY else ["four_categories", "binary"])
            if "categorical" in spec.kinds
            else []
        )
    )
]


@pytest.mark.parametrize(("method", "shape"), CASES, ids=[f"{m}-{s}" for m, s in CASES])
def test_effect_does_not_depend_on_the_reference_size(
    method: str,
    shape: str,
    numeric_references: dict[int, detectors.ColumnProfile],
    four_category_references: dict[int, detectors.ColumnProfile],
    binary_references: dict[int, detectors.ColumnProfile],
) -> None:
    references, current = {
        "numeric": (numeric_references, numeric_current()),
        "numeric_spread": (numeric_references, numeric_spread_current()),
        "four_categories": (four_category_references, four_category_current()),
        "binary": (binary_references, binary_current()),
    }[shape]
    effects = {}
    for n, profile in references.items():
        result = detectors.compare_column(profile, current, method=method)
        assert result.status == "ok" and result.effect is not None, result.reason
        effects[n] = result.effect
    largest = effects[REFERENCE_SIZES[-1]]
    assert largest > 0.0
    for effect in effects.values():
        assert effect == pytest.approx(largest, rel=REL_TOLERANCE), (method, shape, effects)


@pytest.mark.parametrize("n_reference", [50_000, 1_000_000])
def test_binary_shift_is_drift_whatever_the_reference_size(
    n_reference: int, binary_references: dict[int, detectors.ColumnProfile]
) -> None:
    """70/30 -> 60/40 in a 1,000-row window: drift against 50k rows and against 1M rows."""
    profile = (
        binary_references[n_reference]
        if n_reference in binary_references
        else detectors.fit_profile(exact_shares(BINARY, (0.7, 0.3), n_reference), "categorical")
    )
    current = pd.Series(np.random.default_rng(4).choice(BINARY, p=[0.6, 0.4], size=1_000))
    result = detectors.compare_column(profile, current)
    assert result.status == "ok"
    assert result.drifted, result.reason
    assert result.effect_floor == 0.1
    # w = 0.1 / sqrt(0.65 * 0.35) = 0.21; a 1,000-row window's share has sd 0.015, w's ~0.03.
    assert result.effect == pytest.approx(0.21, abs=0.1)


@pytest.mark.parametrize("k", [2, 10, 100])
def test_cohens_w_bias_correction_is_unbiased_without_drift(k: int) -> None:
    """Under no drift the corrected w^2 (before clipping at 0) averages 0 at n = 1,000.

    The clipped effect cannot average 0 (it is never negative), but on
    average it stays below the floor (measured: 0.015, 0.034, 0.067 for
    k = 2, 10, 100, where the uncorrected w reads about 0.045, 0.13, 0.45).
    """
    from detectors._categories import cohens_w

    rng = np.random.default_rng(k)
    shares = rng.dirichlet(np.full(k, 5.0))
    n, pairs = 1_000, 2_000
    correction = (k - 1) * 2.0 / n
    raw, clipped = [], []
    for _ in range(pairs):
        reference, current = rng.multinomial(n, shares), rng.multinomial(n, shares)
        p, q = reference / n, current / n
        m = (p + q) / 2
        seen = m > 0
        raw.append(
            float(np.sum((q[seen] - p[seen]) ** 2 / m[seen]))
            - (np.count_nonzero(seen) - 1) * 2.0 / n
        )
        clipped.append(cohens_w(reference, current) ** 2)
    # Mean of the unclipped corrected w^2: 0 up to its standard error (and 5% of the correction).
    standard_error = float(np.std(raw)) / np.sqrt(pairs)
    assert abs(np.mean(raw)) < max(4 * standard_error, 0.05 * correction)
    assert np.mean(np.sqrt(clipped)) < 0.1
