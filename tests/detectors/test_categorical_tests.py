"""Categorical p-value tests: parity with scipy, hand-checked examples, category changes."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

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
    result = detectors.compare_column(
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
    # Cohen's w: shares (0.75, 0.25) -> (0.5, 0.5), midpoint (0.625, 0.375),
    # w^2 = 0.0625 / 0.625 + 0.0625 / 0.375 = 4/15, minus (2 - 1) (1/40 + 1/40) = 0.05.
    assert result.effect == pytest.approx(math.sqrt(4 / 15 - 0.05), rel=REL)


def cohens_w_by_hand(table: np.ndarray) -> float:
    """Bias-corrected Cohen's w of a 2 x k table, written out independently."""
    n_ref, n_cur = table.sum(axis=1)
    total = 0.0
    k = 0
    for ref_count, cur_count in table.T:
        p, q = ref_count / n_ref, cur_count / n_cur
        m = (p + q) / 2
        if m > 0:
            k += 1
            total += (q - p) ** 2 / m
    return math.sqrt(max(total - (k - 1) * (1 / n_ref + 1 / n_cur), 0.0))


def test_cohens_w_worked_examples() -> None:
    # [[30, 20], [20, 30]]: shares (0.6, 0.4) -> (0.4, 0.6), midpoint (0.5, 0.5):
    # w^2 = 2 * 0.04 / 0.5 = 0.16, minus (2 - 1) (1/50 + 1/50) = 0.04: w = sqrt(0.12).
    two_by_two = outcome(
        "chi2", pd.Series(list("a" * 30 + "b" * 20), name="x"), pd.Series(list("a" * 20 + "b" * 30))
    )
    assert two_by_two.statistic == pytest.approx(4.0, rel=REL)
    assert two_by_two.effect == pytest.approx(math.sqrt(0.12), rel=REL)
    # [[10, 20, 30], [20, 20, 20]]: shares (1/6, 1/3, 1/2) -> (1/3, 1/3, 1/3), midpoint
    # (1/4, 1/3, 5/12): w^2 = (1/36) (4 + 12/5) = 0.17778, minus 2 (1/60 + 1/60): w = 1/3.
    two_by_three = outcome(
        "chi2",
        pd.Series(list("a" * 10 + "b" * 20 + "c" * 30), name="x"),
        pd.Series(list("a" * 20 + "b" * 20 + "c" * 20)),
    )
    assert two_by_three.statistic == pytest.approx(16 / 3, rel=REL)
    assert two_by_three.effect == pytest.approx(1 / 3, rel=REL)


def test_cohens_w_is_below_the_floor_without_drift_on_many_categories() -> None:
    # Uncorrected, two no-drift 10k-row samples over 1,000 categories read w ~ 0.45.
    reference, current = categorical_pair(21, 10_000, 10_000, 1000, 0.0)
    table = table_of(reference, current)
    uncorrected = math.sqrt(cohens_w_by_hand(table) ** 2 + 999 * 2 / 10_000)
    effect = outcome("chi2", reference, current).effect
    assert uncorrected > 0.4
    assert effect is not None and effect < detectors.get_method("chi2").effect_floor  # type: ignore[operator]


@pytest.mark.parametrize(("seed", "n_ref", "n_cur", "k", "shift"), PAIRS)
def test_chi2_and_gtest_effect_is_bias_corrected_cohens_w(
    seed: int, n_ref: int, n_cur: int, k: int, shift: float
) -> None:
    reference, current = categorical_pair(seed, n_ref, n_cur, k, shift)
    expected = cohens_w_by_hand(table_of(reference, current))
    for method in ("chi2", "gtest"):
        assert outcome(method, reference, current).effect == pytest.approx(
            expected, rel=REL, abs=1e-12
        )


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
    result = detectors.compare_column(
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
    # Shares (0.8, 0.2) -> (1, 0), midpoint (0.9, 0.1): w^2 = 0.04 / 0.9 + 0.04 / 0.1,
    # minus 1/15 + 1/9.
    assert result.effect == pytest.approx(math.sqrt(0.04 / 0.9 + 0.4 - 1 / 15 - 1 / 9), rel=REL)


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
    # Binary w = |change| / sqrt(m (1 - m)), m = 0.525, minus (1/100 + 1/100) on w^2.
    expected_w = math.sqrt(0.15**2 / (0.525 * 0.475) - 0.02)
    assert result.drifted and result.effect == pytest.approx(expected_w, rel=REL)
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
    assert result.effect == pytest.approx(
        cohens_w_by_hand(table_of(reference, current)), rel=REL, abs=1e-12
    )


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
    result = detectors.compare_column(profile, pd.Series(current), method=method)
    assert (result.status, result.drifted) == ("invalid_values", False)
    assert result.statistic is None and result.p_value is None
    assert result.reason.startswith(f"{method} tests a binary column but 'flag' has ")
    assert "use chi2 or gtest" in result.reason
    assert result.details["n_unseen_categories"] == len(set(current) - set(reference))
    assert result.details["n_vanished_categories"] == len(set(reference) - set(current))


@pytest.mark.parametrize("method", BINARY_ONLY)
def test_binary_methods_accept_booleans_and_integers(method: str) -> None:
    profile = detectors.fit_profile(pd.Series([True, False] * 50, name="flag"), "categorical")
    result = detectors.compare_column(profile, pd.Series([True] * 80 + [False] * 20), method=method)
    assert result.status == "ok" and result.drifted
    assert result.details["category"] == "False"
    profile = detectors.fit_profile(pd.Series([0, 1] * 50, name="flag"), "categorical")
    result = detectors.compare_column(profile, pd.Series([1.0, 0.0, np.nan] * 30), method=method)
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
    result = detectors.compare_column(profile, pd.Series(current), method=method)
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
    result = detectors.compare_column(
        detectors.fit_profile(reference, "categorical"), current, method=method
    )
    assert result.status == "ok"
    assert result.n_current == 200_000
    assert sum(result.details["current_counts"].values()) == 200_000
