"""Parity with scipy where scipy has the test (relative tolerance 1e-9)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import detectors

REL = 1e-9


def numeric_pair(seed: int, n_ref: int, n_cur: int, shift: float) -> tuple[pd.Series, pd.Series]:
    rng = np.random.default_rng(seed)
    reference = pd.Series(rng.normal(0.0, 2.0, n_ref), name="x")
    current = pd.Series(rng.normal(shift, 2.5, n_cur))
    return reference, current


@pytest.mark.parametrize(
    ("seed", "n_ref", "n_cur", "shift"),
    [(0, 50, 40, 0.0), (1, 500, 300, 0.2), (2, 3000, 12000, 0.05), (3, 10, 7, 1.0)],
)
def test_ks_matches_scipy(seed: int, n_ref: int, n_cur: int, shift: float) -> None:
    reference, current = numeric_pair(seed, n_ref, n_cur, shift)
    result = detectors.compare_column(detectors.fit_profile(reference, "numeric"), current)
    expected = stats.ks_2samp(reference.to_numpy(), current.to_numpy())
    assert result.statistic == pytest.approx(expected.statistic, rel=REL)
    assert result.p_value == pytest.approx(expected.pvalue, rel=REL)
    assert (result.n_reference, result.n_current) == (n_ref, n_cur)


def test_ks_with_ties_matches_scipy() -> None:
    rng = np.random.default_rng(4)
    reference = pd.Series(rng.integers(0, 5, 400).astype(float), name="x")
    current = pd.Series(rng.integers(0, 6, 300).astype(float))
    result = detectors.compare_column(detectors.fit_profile(reference, "numeric"), current)
    expected = stats.ks_2samp(reference.to_numpy(), current.to_numpy())
    assert result.statistic == pytest.approx(expected.statistic, rel=REL)
    assert result.p_value == pytest.approx(expected.pvalue, rel=REL)


def test_ks_on_subsampled_profile_matches_scipy_on_the_subsample() -> None:
    reference, current = numeric_pair(5, 5000, 400, 0.1)
    profile = detectors.fit_profile(reference, "numeric", max_sorted=1000, seed=3)
    assert profile.subsampled and profile.sorted_values is not None
    assert profile.sorted_values.size == 1000 and profile.n == 5000
    result = detectors.compare_column(profile, current, method="ks")
    expected = stats.ks_2samp(profile.sorted_values, current.to_numpy())
    assert result.p_value == pytest.approx(expected.pvalue, rel=REL)
    assert result.n_reference == 1000
    assert result.details["reference_subsampled"] is True


@pytest.mark.parametrize(("seed", "shift"), [(0, 0.0), (1, 0.3), (2, 3.0)])
def test_wasserstein_matches_scipy(seed: int, shift: float) -> None:
    reference, current = numeric_pair(seed, 800, 600, shift)
    profile = detectors.fit_profile(reference, "numeric")
    result = detectors.compare_column(profile, current, method="wasserstein")
    ref = reference.to_numpy()
    expected = stats.wasserstein_distance(ref, current.to_numpy()) / ref.std()
    assert result.statistic == pytest.approx(expected, rel=REL)
    assert result.p_value is None


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_chi2_matches_scipy_contingency(seed: int) -> None:
    rng = np.random.default_rng(seed)
    reference = pd.Series(rng.choice(list("abcd"), p=[0.4, 0.3, 0.2, 0.1], size=900), name="c")
    # "d" vanishes and "e" is new in the current window.
    current = pd.Series(rng.choice(list("abce"), p=[0.35, 0.35, 0.2, 0.1], size=500))
    result = detectors.compare_column(detectors.fit_profile(reference, "categorical"), current)
    categories = sorted(set(reference) | set(current))
    table = np.array(
        [
            [int((reference == c).sum()) for c in categories],
            [int((current == c).sum()) for c in categories],
        ]
    )
    expected = stats.chi2_contingency(table, correction=False)
    assert result.method == "chi2"
    assert result.statistic == pytest.approx(expected.statistic, rel=REL)
    assert result.p_value == pytest.approx(expected.pvalue, rel=REL)
    assert result.details["degrees_of_freedom"] == expected.dof
    assert result.details["unseen_categories"] == ["e"]
    assert result.details["vanished_categories"] == ["d"]


def test_chi2_with_a_single_category_is_not_drift() -> None:
    profile = detectors.fit_profile(pd.Series(["x"] * 5, name="c"), "categorical")
    result = detectors.compare_column(profile, pd.Series(["x"] * 3))
    # One and the same category on both sides: "constant", before chi2 runs.
    assert (result.status, result.statistic, result.p_value, result.drifted) == (
        "constant",
        None,
        None,
        False,
    )
    outcome = detectors.get_method("chi2").function(
        profile, detectors._prepare.prepare_categorical(pd.Series(["x"] * 3)), 0.05
    )
    assert (outcome.statistic, outcome.p_value, outcome.drifted) == (0.0, 1.0, False)


def _p_result(column: str, p_value: float) -> detectors.ColumnResult:
    return detectors.ColumnResult(
        column=column,
        method="ks",
        statistic=0.1,
        p_value=p_value,
        threshold=0.05,
        drifted=p_value < 0.05,
        n_reference=100,
        n_current=100,
        status="ok",
        reason=f"p-value {p_value}",
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bh_matches_scipy(seed: int) -> None:
    p_values = np.random.default_rng(seed).uniform(0, 0.2, 25)
    results = detectors.apply_correction([_p_result(f"c{i}", p) for i, p in enumerate(p_values)])
    expected = stats.false_discovery_control(p_values, method="bh")
    adjusted = [r.p_value_adjusted for r in results]
    assert adjusted == pytest.approx(list(expected), rel=REL)
    assert [r.drifted for r in results] == list(expected < 0.05)
