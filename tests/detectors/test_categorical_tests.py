"""Categorical p-value tests: parity with scipy, hand-checked examples, category changes."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.stats import contingency

import detectors
from detectors._categories import MAX_LISTED
from detectors._outcome import MethodOutcome
from detectors._prepare import prepare_categorical

REL = 1e-9
CATEGORICAL_METHODS = sorted(
    name for name, spec in detectors.METHODS.items() if "categorical" in spec.kinds
)
BINARY_ONLY = ("fisher", "ztest")


def categorical_pair(
    seed: int, n_ref: int, n_cur: int, k: int, shift: float
) -> tuple[pd.Series, pd.Series]:
    rng = np.random.default_rng(seed)
    names = [f"c{i:03d}" for i in range(k)]
    weights = rng.dirichlet(np.ones(k))
    moved = (1 - shift) * weights + shift * rng.dirichlet(np.ones(k))
    reference = pd.Series(rng.choice(names, p=weights, size=n_ref), name="x")
    current = pd.Series(rng.choice(names, p=moved, size=n_cur))
    return reference, current


def table_of(reference: pd.Series, current: pd.Series) -> np.ndarray:
    """The 2 x k table over sorted categories, built independently of detectors."""
    counts = pd.concat(
        [reference.value_counts().rename("r"), current.value_counts().rename("c")], axis=1
    )
    table: np.ndarray = counts.sort_index().fillna(0).to_numpy(dtype=np.int64).T
    return table


def outcome(method: str, reference: pd.Series, current: pd.Series) -> MethodOutcome:
    """Call the registered function directly, to see fields such as ``effect``."""
    spec = detectors.get_method(method)
    profile = detectors.fit_profile(reference, "categorical")
    return spec.function(profile, prepare_categorical(current), spec.default_threshold)


PAIRS = [
    (0, 300, 200, 3, 0.0),
    (1, 2000, 1500, 5, 0.2),
    (2, 500, 800, 40, 0.5),  # sparse: some categories unseen or vanished
    (3, 50_000, 40_000, 1000, 0.05),
]


@pytest.mark.parametrize(("seed", "n_ref", "n_cur", "k", "shift"), PAIRS)
def test_gtest_matches_scipy(seed: int, n_ref: int, n_cur: int, k: int, shift: float) -> None:
    reference, current = categorical_pair(seed, n_ref, n_cur, k, shift)
    result = detectors.test_column(
        detectors.fit_profile(reference, "categorical"), current, method="gtest"
    )
    table = table_of(reference, current)
    expected = stats.chi2_contingency(table, correction=False, lambda_="log-likelihood")
    assert result.statistic == pytest.approx(expected.statistic, rel=REL)
    assert result.p_value == pytest.approx(expected.pvalue, rel=REL)
    assert result.details["degrees_of_freedom"] == expected.dof
    # The same statistic from power_divergence on observed vs expected counts.
    divergence = stats.power_divergence(
        table,
        expected.expected_freq,
        ddof=table.size - 1 - expected.dof,
        axis=None,
        lambda_="log-likelihood",
    )
    assert result.statistic == pytest.approx(divergence.statistic, rel=REL)
    assert result.p_value == pytest.approx(divergence.pvalue, rel=REL)


def test_gtest_hand_example() -> None:
    # Table [[30, 10], [20, 20]]: expected [[25, 15], [25, 15]].
    reference = pd.Series(["a"] * 30 + ["b"] * 10, name="x")
    current = pd.Series(["a"] * 20 + ["b"] * 20)
    g = 2 * (
        30 * math.log(30 / 25)
        + 10 * math.log(10 / 15)
        + 20 * math.log(20 / 25)
        + 20 * math.log(20 / 15)
    )
    result = outcome("gtest", reference, current)
    assert result.statistic == pytest.approx(g, rel=REL)
    assert result.p_value == pytest.approx(math.erfc(math.sqrt(g / 2)), rel=REL)  # chi2, 1 dof
    # Bias-corrected Cramér's V (Bergsma 2013) of a 2 x 2 table, n = 80: r~ = k~ = 2 - 1/79.
    assert result.effect == pytest.approx(math.sqrt((g / 80 - 1 / 79) / (1 - 1 / 79)), rel=REL)


def bergsma_v(plain_v: float, table: np.ndarray) -> float:
    """Bias-corrected Cramér's V (Bergsma 2013) from the plain V, written out independently."""
    n = table.sum()
    r, k = table.shape
    phi2 = max(plain_v**2 * (min(r, k) - 1) - (r - 1) * (k - 1) / (n - 1), 0.0)
    r_tilde, k_tilde = r - (r - 1) ** 2 / (n - 1), k - (k - 1) ** 2 / (n - 1)
    return math.sqrt(phi2 / (min(r_tilde, k_tilde) - 1))


def test_cramers_v_is_bias_corrected_worked_examples() -> None:
    # [[30, 20], [20, 30]]: expected 25 everywhere, chi2 = 4 * 25 / 25 = 4, n = 100.
    # phi2 = 4/100 - 1/99, r~ = k~ = 2 - 1/99, V = sqrt((0.04 - 1/99) / (1 - 1/99))
    #      = sqrt(2.96 / 98) = 0.17379 (the plain V would be sqrt(0.04) = 0.2).
    two_by_two = outcome(
        "chi2", pd.Series(list("a" * 30 + "b" * 20), name="x"), pd.Series(list("a" * 20 + "b" * 30))
    )
    assert two_by_two.statistic == pytest.approx(4.0, rel=REL)
    assert two_by_two.effect == pytest.approx(math.sqrt(2.96 / 98), rel=REL)
    # [[10, 20, 30], [20, 20, 20]]: expected [[15, 20, 25]] on both rows, n = 120,
    # chi2 = 2 * (25/15 + 0 + 25/25) = 16/3; phi2 = (16/3)/120 - 2/119;
    # r~ - 1 = 1 - 1/119 = 118/119 < k~ - 1 = 2 - 4/119, so V = sqrt(phi2 * 119/118) = 0.16695.
    two_by_three = outcome(
        "chi2",
        pd.Series(list("a" * 10 + "b" * 20 + "c" * 30), name="x"),
        pd.Series(list("a" * 20 + "b" * 20 + "c" * 20)),
    )
    assert two_by_three.statistic == pytest.approx(16 / 3, rel=REL)
    expected = math.sqrt((16 / 3 / 120 - 2 / 119) * 119 / 118)
    assert two_by_three.effect == pytest.approx(expected, rel=REL)
    assert round(expected, 5) == 0.16695


def test_cramers_v_is_near_zero_without_drift_on_many_categories() -> None:
    # The plain V of two no-drift 10k-row samples over 1,000 categories is ~0.2.
    reference, current = categorical_pair(21, 10_000, 10_000, 1000, 0.0)
    table = table_of(reference, current)
    plain = contingency.association(table, method="cramer", correction=False)
    effect = outcome("chi2", reference, current).effect
    assert plain > 0.15
    assert effect is not None and effect < 0.05


@pytest.mark.parametrize(("seed", "n_ref", "n_cur", "k", "shift"), PAIRS)
def test_chi2_and_gtest_effect_is_bias_corrected_cramers_v(
    seed: int, n_ref: int, n_cur: int, k: int, shift: float
) -> None:
    reference, current = categorical_pair(seed, n_ref, n_cur, k, shift)
    table = table_of(reference, current)
    chi2 = outcome("chi2", reference, current)
    plain = contingency.association(table, method="cramer", correction=False)
    assert chi2.effect == pytest.approx(bergsma_v(plain, table), rel=REL, abs=1e-12)
    gtest = outcome("gtest", reference, current)
    assert gtest.statistic is not None
    plain_g = math.sqrt(gtest.statistic / table.sum())
    assert gtest.effect == pytest.approx(bergsma_v(plain_g, table), rel=REL, abs=1e-12)


@pytest.mark.parametrize("method", ["chi2", "gtest", "fisher", "ztest"])
def test_one_category_on_both_sides_is_no_drift(method: str) -> None:
    result = outcome(method, pd.Series(["a"] * 10, name="x"), pd.Series(["a"] * 4))
    assert result.status == "ok" and not result.drifted
    assert result.p_value == 1.0 and result.effect == 0.0


def binary_pair(
    seed: int, n_ref: int, n_cur: int, p_ref: float, p_cur: float
) -> tuple[pd.Series, pd.Series]:
    rng = np.random.default_rng(seed)
    reference = pd.Series(rng.choice(["no", "yes"], p=[p_ref, 1 - p_ref], size=n_ref), name="x")
    current = pd.Series(rng.choice(["no", "yes"], p=[p_cur, 1 - p_cur], size=n_cur))
    return reference, current


BINARY_PAIRS = [
    (0, 30, 20, 0.5, 0.5),
    (1, 120, 80, 0.9, 0.7),
    (2, 2000, 3000, 0.3, 0.33),
    (3, 200_000, 100_000, 0.5, 0.505),
]


@pytest.mark.parametrize(("seed", "n_ref", "n_cur", "p_ref", "p_cur"), BINARY_PAIRS)
def test_fisher_matches_scipy(
    seed: int, n_ref: int, n_cur: int, p_ref: float, p_cur: float
) -> None:
    reference, current = binary_pair(seed, n_ref, n_cur, p_ref, p_cur)
    result = detectors.test_column(
        detectors.fit_profile(reference, "categorical"), current, method="fisher"
    )
    table = table_of(reference, current)
    assert table.shape == (2, 2) and (table > 0).all()
    expected = stats.fisher_exact(table)
    assert result.statistic == pytest.approx(expected.statistic, rel=REL)
    assert result.p_value == pytest.approx(expected.pvalue, rel=REL)
    assert result.details["odds_ratio_corrected"] is False
    assert result.details["category"] == "no"


def test_fisher_zero_cell_uses_haldane_odds_ratio_and_exact_p_value() -> None:
    reference = pd.Series(["no"] * 12 + ["yes"] * 3, name="x")
    current = pd.Series(["no"] * 9)  # "yes" vanished: the odds ratio would be 0
    result = outcome("fisher", reference, current)
    assert result.p_value == pytest.approx(stats.fisher_exact([[12, 3], [9, 0]]).pvalue, rel=REL)
    assert result.statistic == pytest.approx((12.5 * 0.5) / (3.5 * 9.5), rel=REL)
    assert result.details["odds_ratio_corrected"] is True
    assert result.details["vanished_categories"] == ["yes"]
    assert result.effect == pytest.approx(1.0 - 12 / 15, rel=REL)


def test_ztest_worked_example() -> None:
    # 60 of 100 reference rows are "a", 45 of 100 current rows.
    reference = pd.Series(["a"] * 60 + ["b"] * 40, name="x")
    current = pd.Series(["a"] * 45 + ["b"] * 55)
    pooled = 105 / 200
    z = (0.45 - 0.60) / math.sqrt(pooled * (1 - pooled) * (1 / 100 + 1 / 100))
    assert z == pytest.approx(-2.12398, abs=1e-5)
    result = outcome("ztest", reference, current)
    assert result.statistic == pytest.approx(z, rel=REL)
    assert result.p_value == pytest.approx(math.erfc(abs(z) / math.sqrt(2)), rel=REL)
    assert result.p_value == pytest.approx(0.033672, abs=1e-6)
    assert result.drifted and result.effect == pytest.approx(0.15, rel=REL)
    assert result.details["reference_share"] == 0.6
    assert result.details["current_share"] == 0.45


@pytest.mark.parametrize(("seed", "n_ref", "n_cur", "p_ref", "p_cur"), BINARY_PAIRS)
def test_ztest_squared_is_chi2_without_correction(
    seed: int, n_ref: int, n_cur: int, p_ref: float, p_cur: float
) -> None:
    reference, current = binary_pair(seed, n_ref, n_cur, p_ref, p_cur)
    result = outcome("ztest", reference, current)
    expected = stats.chi2_contingency(table_of(reference, current), correction=False)
    assert result.statistic is not None
    assert result.statistic**2 == pytest.approx(expected.statistic, rel=REL)
    assert result.p_value == pytest.approx(expected.pvalue, rel=REL)
    shares = table_of(reference, current)[:, 0] / [n_ref, n_cur]
    assert np.sign(result.statistic) == np.sign(shares[1] - shares[0])
    assert result.effect == pytest.approx(abs(shares[1] - shares[0]), rel=REL)


def test_ztest_on_a_large_shift_keeps_a_tiny_p_value_exact() -> None:
    reference = pd.Series(["a"] * 9000 + ["b"] * 1000, name="x")
    current = pd.Series(["a"] * 7000 + ["b"] * 3000)
    result = outcome("ztest", reference, current)
    expected = stats.chi2_contingency(table_of(reference, current), correction=False)
    assert 0 < result.p_value < 1e-200  # type: ignore[operator]
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-6)


@pytest.mark.parametrize("method", BINARY_ONLY)
@pytest.mark.parametrize(
    ("reference", "current"),
    [(list("aabbcc"), list("ab")), (list("aabb"), list("abz")), (list("aabb"), list("xyz"))],
)
def test_binary_methods_refuse_more_than_two_categories(
    method: str, reference: list[str], current: list[str]
) -> None:
    profile = detectors.fit_profile(pd.Series(reference, name="flag"), "categorical")
    result = detectors.test_column(profile, pd.Series(current), method=method)
    assert (result.status, result.drifted) == ("invalid_values", False)
    assert result.statistic is None and result.p_value is None
    assert result.reason.startswith(f"{method} tests a binary column but 'flag' has ")
    assert "use chi2 or gtest" in result.reason
    assert result.details["n_unseen_categories"] == len(set(current) - set(reference))
    assert result.details["n_vanished_categories"] == len(set(reference) - set(current))


@pytest.mark.parametrize("method", BINARY_ONLY)
def test_binary_methods_accept_booleans_and_integers(method: str) -> None:
    profile = detectors.fit_profile(pd.Series([True, False] * 50, name="flag"), "categorical")
    result = detectors.test_column(profile, pd.Series([True] * 80 + [False] * 20), method=method)
    assert result.status == "ok" and result.drifted
    assert result.details["category"] == "False"
    profile = detectors.fit_profile(pd.Series([0, 1] * 50, name="flag"), "categorical")
    result = detectors.test_column(profile, pd.Series([1.0, 0.0, np.nan] * 30), method=method)
    assert result.status == "ok" and not result.drifted


@pytest.mark.parametrize("method", CATEGORICAL_METHODS)
def test_unseen_and_vanished_categories_are_counted_and_capped(method: str) -> None:
    if method in BINARY_ONLY:
        reference, current = ["yes"] * 10 + ["no"] * 5, ["maybe"] * 5 + ["no"] * 5
        unseen, vanished = ["maybe"], ["yes"]
    else:
        # 30 categories only in the reference, 25 only in the current window.
        # Ten times as many rows as categories, so the drift clears the distances' noise floors.
        reference = [f"old{i:02d}" for i in range(30)] * 10 + ["kept"] * 500
        current = [f"new{i:02d}" for i in range(25)] * 20 + ["kept"] * 400
        unseen = [f"new{i:02d}" for i in range(25)][:MAX_LISTED]
        vanished = [f"old{i:02d}" for i in range(30)][:MAX_LISTED]
    profile = detectors.fit_profile(pd.Series(reference, name="x"), "categorical")
    result = detectors.test_column(profile, pd.Series(current), method=method)
    assert result.details["n_unseen_categories"] == len(set(current) - set(reference))
    assert result.details["n_vanished_categories"] == len(set(reference) - set(current))
    assert result.details["unseen_categories"] == unseen
    assert result.details["vanished_categories"] == vanished
    assert len(result.details["unseen_categories"]) <= MAX_LISTED
    if method not in BINARY_ONLY:
        assert result.status == "ok" and result.drifted


@pytest.mark.parametrize("method", CATEGORICAL_METHODS)
def test_many_categories_on_many_rows(method: str) -> None:
    reference, current = categorical_pair(4, 200_000, 200_000, 1000, 0.0)
    if method in BINARY_ONLY:
        reference = reference.str[-1:].isin(list("01234")).rename("x")
        current = current.str[-1:].isin(list("01234"))
    result = detectors.test_column(
        detectors.fit_profile(reference, "categorical"), current, method=method
    )
    assert result.status == "ok"
    assert result.n_current == 200_000
    assert sum(result.details["current_counts"].values()) == 200_000
