"""Whole-row tests: MMD and PCA reconstruction error over a multivariate profile."""

from __future__ import annotations

import doctest
import importlib
import itertools
import json
import math

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
from scipy import stats

import detectors
from detectors.multivariate import (
    MultivariateProfile,
    compare_mmd,
    compare_pca_reconstruction,
    fit_multivariate,
)

COLUMNS: list[tuple[str, detectors.ColumnKind]] = [
    ("x", "numeric"),
    ("y", "numeric"),
    ("segment", "categorical"),
]


def correlated(seed: int, n: int, correlation: float) -> pd.DataFrame:
    """Standard normal x and y with the given correlation, plus an independent category."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    y = correlation * x + math.sqrt(1 - correlation**2) * rng.normal(size=n)
    segment = rng.choice(["a", "b", "c"], size=n, p=[0.5, 0.3, 0.2])
    return pd.DataFrame({"x": x, "y": y, "segment": segment})


LOADINGS = np.array([[1.0, 0.8, 0.6, 0.0, 0.3], [0.0, 0.4, 0.6, 1.0, -0.5]])
STATIONARY_COLUMNS: list[tuple[str, detectors.ColumnKind]] = [
    *((f"n{i}", "numeric") for i in range(5)),
    ("tier", "categorical"),
]


def stationary(seed: int, n: int, *, noise: float = 0.5) -> pd.DataFrame:
    """Five numeric columns driven by two factors plus ``noise``, and an independent category."""
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(n, 2)) @ LOADINGS + rng.normal(scale=noise, size=(n, 5))
    frame = pd.DataFrame(values, columns=[f"n{i}" for i in range(5)])
    frame["tier"] = rng.choice(["a", "b", "c", "d"], size=n, p=[0.4, 0.3, 0.2, 0.1])
    return frame


def round_trip(profile: MultivariateProfile) -> MultivariateProfile:
    return MultivariateProfile.from_dict(json.loads(json.dumps(profile.to_dict(), allow_nan=False)))


def direct_mmd2(
    reference: npt.NDArray[np.float64], current: npt.NDArray[np.float64], bandwidth: float
) -> float:
    """The unbiased estimator written out pair by pair."""

    def kernel(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> float:
        return math.exp(-float(np.sum((a - b) ** 2)) / (2 * bandwidth**2))

    n, m = len(reference), len(current)
    within_reference = sum(
        kernel(reference[i], reference[j]) for i in range(n) for j in range(n) if i != j
    )
    within_current = sum(
        kernel(current[i], current[j]) for i in range(m) for j in range(m) if i != j
    )
    between = sum(kernel(a, b) for a, b in itertools.product(reference, current))
    return within_reference / (n * (n - 1)) + within_current / (m * (m - 1)) - 2 * between / (n * m)


# --- MMD: the estimator, the p-value, calibration -------------------------------------


def test_mmd_statistic_equals_the_direct_formula() -> None:
    profile = fit_multivariate(correlated(1, 12, 0.5), COLUMNS)
    current = correlated(2, 9, -0.5)
    result = compare_mmd(profile, current, n_permutations=50)
    expected = direct_mmd2(profile.reference_rows, profile.encode(current), profile.bandwidth)
    assert result.statistic == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert result.details["effect"] == result.statistic
    assert (result.column, result.method, result.status) == ("*", "mmd", "ok")
    assert (result.n_reference, result.n_current) == (12, 9)


def test_bandwidth_is_the_median_distance_between_reference_rows() -> None:
    from scipy.spatial.distance import pdist

    profile = fit_multivariate(correlated(3, 41, 0.3), COLUMNS)
    assert profile.bandwidth == pytest.approx(
        float(np.median(pdist(profile.reference_rows))), rel=1e-12
    )


def test_p_value_is_a_permutation_count() -> None:
    profile = fit_multivariate(correlated(4, 40, 0.5), COLUMNS)
    n_permutations = 99
    result = compare_mmd(profile, correlated(5, 30, 0.5), n_permutations=n_permutations, seed=3)
    assert result.p_value is not None
    # alpha 0.05 with 99 permutations: 5 permutations' worth of resolution below alpha.
    assert result.details["p_value_method"] == "permutation"
    assert result.p_value == result.details["p_value_permutation"]
    count = result.p_value * (1 + n_permutations)
    assert count == pytest.approx(round(count)) and 1 <= round(count) <= 1 + n_permutations
    again = compare_mmd(profile, correlated(5, 30, 0.5), n_permutations=n_permutations, seed=3)
    assert again == result


def test_mmd_false_alarm_rate_is_calibrated() -> None:
    # 199 permutations: p < 0.05 exactly when at most 8 of 199 permuted statistics reach
    # the observed one, which under no drift has probability 9/200 = 0.045.
    trials, alpha = 200, 0.05
    alarms = 0
    p_values = []
    for trial in range(trials):
        profile = fit_multivariate(correlated(1000 + trial, 20, 0.6), COLUMNS, seed=trial)
        result = compare_mmd(
            profile, correlated(5000 + trial, 20, 0.6), alpha=alpha, n_permutations=199, seed=trial
        )
        assert result.p_value is not None
        alarms += result.drifted
        p_values.append(result.p_value)
    low, high = stats.binom.interval(0.99, trials, alpha)
    assert low <= alarms <= high, f"{alarms} false alarms in {trials} null trials"
    below_half = sum(p < 0.5 for p in p_values)
    low, high = stats.binom.interval(0.99, trials, 0.5)
    assert low <= below_half <= high


def with_marginals_of(reference: pd.DataFrame, dependence: pd.DataFrame) -> pd.DataFrame:
    """Reference values of each column, re-paired to follow the ranks of ``dependence``.

    Every column keeps exactly the reference's values (so each marginal test sees
    identical samples), while the joint distribution is the one of ``dependence``.
    """
    return pd.DataFrame(
        {
            column: np.sort(reference[column].to_numpy())[
                dependence[column].rank(method="first").to_numpy(dtype=int) - 1
            ]
            for column in reference.columns
        }
    )


def test_mmd_detects_a_correlation_flip_that_no_marginal_test_sees() -> None:
    reference = correlated(10, 600, 0.8)
    current = with_marginals_of(reference, correlated(11, 600, -0.8))
    assert np.corrcoef(current["x"], current["y"])[0, 1] < -0.7
    for column in ("x", "y", "segment"):
        kind = dict(COLUMNS)[column]
        column_profile = detectors.fit_profile(reference[column], kind)
        column_result = detectors.compare_column(column_profile, current[column])
        assert not column_result.drifted, column_result
    ks_x = stats.ks_2samp(reference["x"], current["x"])
    ks_y = stats.ks_2samp(reference["y"], current["y"])
    assert ks_x.pvalue > 0.05 and ks_y.pvalue > 0.05
    result = compare_mmd(fit_multivariate(reference, COLUMNS), current)
    assert result.drifted and result.p_value is not None and result.p_value < 0.01


def test_same_data_is_not_drift() -> None:
    reference = correlated(12, 500, 0.7)
    profile = fit_multivariate(reference, COLUMNS)
    assert not compare_mmd(profile, reference).drifted
    assert not compare_mmd(profile, correlated(13, 400, 0.7)).drifted
    assert not compare_pca_reconstruction(profile, reference).drifted
    assert not compare_pca_reconstruction(profile, correlated(13, 400, 0.7)).drifted


def test_mmd_detects_a_change_in_the_category_mix() -> None:
    profile = fit_multivariate(correlated(14, 500, 0.0), COLUMNS)
    current = correlated(15, 500, 0.0)
    current["segment"] = np.random.default_rng(16).choice(["a", "b", "c"], 500, p=[0.3, 0.3, 0.4])
    assert compare_mmd(profile, current).drifted


def test_mmd_gamma_p_value_resolves_levels_the_permutations_cannot() -> None:
    profile = fit_multivariate(correlated(17, 400, 0.8), COLUMNS)
    flipped = with_marginals_of(correlated(18, 400, 0.8), correlated(19, 400, -0.8))
    at_1e4 = compare_mmd(profile, flipped, alpha=1e-4)
    assert at_1e4.details["p_value_method"] == "gamma"
    assert at_1e4.p_value is not None
    assert at_1e4.p_value == at_1e4.details["p_value_gamma"] and at_1e4.p_value < 1e-4
    assert at_1e4.details["p_value_permutation"] == pytest.approx(1 / 501)
    assert at_1e4.drifted and "p-value" in at_1e4.reason and "floor" in at_1e4.reason
    at_1e2 = compare_mmd(profile, flipped, alpha=0.01)
    assert at_1e2.details["p_value_method"] == "permutation"
    assert at_1e2.p_value == pytest.approx(1 / 501)
    # 0.0099 * 501 < 5: the permutations resolve too little below that level.
    assert compare_mmd(profile, flipped, alpha=0.0099).details["p_value_method"] == "gamma"


def test_gamma_tail_follows_the_permutation_tail() -> None:
    # The null of one pooled sample, read off 4,000 permutations, against the shifted
    # gamma fitted to the first 500 of them (what compare_mmd uses): at the 1% and 0.25%
    # points of the permutation null the gamma p-value is within a factor of 2.5.
    from detectors.multivariate._kernel import permuted_mmd2, rbf_kernel
    from detectors.multivariate.mmd import _gamma_p_value

    profile = fit_multivariate(stationary(50, 400), STATIONARY_COLUMNS)
    pooled = np.concatenate([profile.reference_rows, profile.encode(stationary(51, 200))])
    rng = np.random.default_rng(52)
    n_permutations = 4000
    splits = np.zeros((pooled.shape[0], n_permutations), dtype=np.float64)
    shuffled = rng.permuted(np.tile(np.arange(pooled.shape[0]), (n_permutations, 1)), axis=1)
    splits[shuffled[:, :400].ravel(), np.repeat(np.arange(n_permutations), 400)] = 1.0
    unbiased, biased = permuted_mmd2(rbf_kernel(pooled, profile.bandwidth), 400, splits)
    for tail in (0.01, 0.0025):
        point = float(np.quantile(unbiased, 1 - tail))
        p_gamma = _gamma_p_value(point, unbiased[:500], biased[:500])[0]
        assert tail / 2.5 <= p_gamma <= tail * 2.5, (tail, p_gamma)


def test_mmd_effect_floor_keeps_a_negligible_change_from_drifting() -> None:
    reference = stationary(53, 5000)
    profile = fit_multivariate(reference, STATIONARY_COLUMNS)
    assert 0.0 < profile.mmd_effect_floor < 0.01
    # Every numeric column 0.1 sd higher in 2,000 rows: highly significant, but below the
    # floor (which also moves 5% of the tiers); 0.2 sd is above it.
    shifted = stationary(54, 2000)
    twice = stationary(55, 2000)
    for column in (f"n{i}" for i in range(5)):
        shifted[column] += 0.1 * reference[column].std()
        twice[column] += 0.2 * reference[column].std()
    small = compare_mmd(profile, shifted, alpha=1e-3, n_permutations=200)
    assert small.p_value is not None and small.p_value < 1e-3 and not small.drifted
    assert small.effect is not None and small.effect_floor == profile.mmd_effect_floor
    assert small.effect < small.effect_floor
    assert small.reason.endswith("significant but too small to call drift")
    large = compare_mmd(profile, twice, alpha=1e-4, n_permutations=200)
    assert large.drifted and large.effect is not None and large.effect >= profile.mmd_effect_floor


# --- Calibration on stationary data and detection at budget levels ---------------------
#
# Reference 5,000 rows, windows of 500 and 1,000 rows of the same stationary process.
# Tolerances are binomial: at level 0.01 the alarm count may not exceed the 99.9% point
# of Binomial(windows, 0.01); at 1e-3 at most the stated count, which Binomial(windows,
# 1e-3) exceeds with probability < 0.2%.


def test_pca_false_alarm_rate_is_calibrated() -> None:
    # The bounds account for the reference's own sampling error only on average over
    # references (a given reference's held-out mean error is itself a draw), so the
    # windows come from ten references, ten windows of each size per reference.
    windows = alarms_1e2 = alarms_1e3 = 0
    for reference_seed in range(10):
        profile = fit_multivariate(stationary(100 + reference_seed, 5000), STATIONARY_COLUMNS)
        for window in range(10):
            for n_rows in (500, 1000):
                current = stationary(1000 + 100 * reference_seed + 2 * window + n_rows, n_rows)
                windows += 1
                alarms_1e2 += compare_pca_reconstruction(profile, current, level=0.01).drifted
                alarms_1e3 += compare_pca_reconstruction(profile, current, level=1e-3).drifted
    assert windows == 200
    assert alarms_1e2 <= stats.binom.ppf(0.999, windows, 0.01), alarms_1e2
    assert alarms_1e3 <= 2, alarms_1e3


def test_mmd_false_alarm_rate_at_small_levels() -> None:
    # Reference rows capped at 500 to keep each pooled kernel small; at level 0.01 the
    # permutation p-value decides (exact), at 1e-3 the gamma one. Significance alone is
    # counted (the effect floor only removes alarms).
    profile = fit_multivariate(stationary(200, 5000), STATIONARY_COLUMNS, max_rows=500)
    windows = significant_1e2 = significant_1e3 = 0
    for window in range(12):
        for n_rows in (500, 1000):
            current = stationary(2000 + 2 * window + n_rows, n_rows)
            result = compare_mmd(profile, current, alpha=0.01, seed=window)
            assert result.details["p_value_method"] == "permutation"
            windows += 1
            significant_1e2 += result.details["p_value_permutation"] < 0.01
            significant_1e3 += result.details["p_value_gamma"] < 1e-3
    assert significant_1e2 <= stats.binom.ppf(0.999, windows, 0.01), significant_1e2
    assert significant_1e3 <= 1, significant_1e3


def test_gamma_p_value_is_calibrated_on_many_small_windows() -> None:
    # 200 null windows of 100 rows against a 300-row reference: enough windows to see a
    # gamma tail that is too light (the two-moment gamma gave 3 below 1e-3 in 400). Only
    # 200 permutations, for speed: a noisier fit than the default 500 gives.
    p_values = []
    for window in range(200):
        if window % 20 == 0:
            profile = fit_multivariate(stationary(300 + window, 300), STATIONARY_COLUMNS)
        current = stationary(3000 + window, 100)
        result = compare_mmd(profile, current, alpha=1e-3, n_permutations=200, seed=window)
        assert result.details["p_value_method"] == "gamma"
        p_values.append(result.details["p_value_gamma"])
    below = np.array(p_values)
    assert (below < 0.01).sum() <= stats.binom.ppf(0.999, 200, 0.01)
    assert (below < 1e-3).sum() <= 1


def test_pca_catches_drift_that_lowers_the_reconstruction_error() -> None:
    profile = fit_multivariate(stationary(400, 5000), STATIONARY_COLUMNS)
    quieter = stationary(401, 500, noise=0.3)  # rows nearer the two-factor subspace
    result = compare_pca_reconstruction(profile, quieter, level=1e-4)
    assert result.drifted and result.details["side"] == "lower"
    assert result.threshold == result.details["lower_bound"]
    assert result.details["bound_method"] == "normal"
    assert result.reason.startswith("mean reconstruction error ")
    assert (
        " < lower bound " in result.reason and "(two-sided, level 0.0001; upper " in result.reason
    )
    one_tier = stationary(402, 500).assign(tier="a")  # a category column collapses
    collapsed = compare_pca_reconstruction(profile, one_tier, level=1e-4)
    assert collapsed.drifted and collapsed.details["side"] == "lower"
    assert not compare_pca_reconstruction(profile, stationary(403, 500), level=1e-4).drifted


def test_mmd_catches_a_correlation_flip_at_a_budget_level() -> None:
    profile = fit_multivariate(stationary(500, 5000), STATIONARY_COLUMNS)
    flipped = stationary(501, 1000)
    flipped["n3"] = -flipped["n3"]  # symmetric marginal; its correlations change sign
    result = compare_mmd(profile, flipped, alpha=1e-4)
    assert result.drifted and result.details["p_value_method"] == "gamma"
    assert result.p_value is not None and result.p_value < 1e-4
    assert result.effect is not None and result.effect >= profile.mmd_effect_floor


# --- PCA reconstruction -----------------------------------------------------------------


def test_pca_reconstruction_detects_a_correlation_break() -> None:
    profile = fit_multivariate(correlated(20, 1000, 0.9), COLUMNS)
    result = compare_pca_reconstruction(profile, correlated(21, 300, 0.0))
    assert result.drifted and result.status == "ok"
    assert result.statistic is not None and result.statistic > result.threshold
    assert result.details["side"] == "upper"
    assert result.threshold == result.details["upper_bound"]
    assert (result.column, result.method, result.p_value) == ("*", "pca_reconstruction", None)
    assert result.details["effect"] > 1.5
    unchanged = compare_pca_reconstruction(profile, correlated(22, 300, 0.9))
    assert not unchanged.drifted and unchanged.details["effect"] < 1.2


def test_pca_bounds_are_two_sided_and_named_in_the_result() -> None:
    profile = fit_multivariate(correlated(23, 300, 0.9), COLUMNS)
    current = correlated(24, 100, 0.9)
    result = compare_pca_reconstruction(profile, current, level=1e-4)
    bounds = profile.reconstruction_bounds(100, 1e-4)
    assert (result.details["lower_bound"], result.details["upper_bound"]) == (
        bounds.lower,
        bounds.upper,
    )
    assert result.details["level"] == 1e-4 and result.details["bound_method"] == "normal"
    assert result.statistic is not None and bounds.lower <= result.statistic <= bounds.upper
    assert result.threshold in (bounds.lower, bounds.upper)
    assert result.reason.startswith("mean reconstruction error ")
    assert "within bounds" in result.reason and "two-sided, level 0.0001" in result.reason
    assert compare_pca_reconstruction(profile, current).details["bound_method"] == "bootstrap"


def test_pca_bounds_widen_as_the_level_falls_and_narrow_with_the_window() -> None:
    profile = fit_multivariate(correlated(25, 2000, 0.9), COLUMNS)
    reference_mean = float(profile.pca_reference_errors.mean())
    widths = []
    for n_rows in (10, 100, 1000):
        previous = None
        for level in (0.05, 0.01, 1e-3, 1e-5):
            bounds = profile.reconstruction_bounds(n_rows, level)
            assert bounds.lower < reference_mean < bounds.upper
            if previous is not None:
                assert bounds.lower <= previous.lower and bounds.upper >= previous.upper
            previous = bounds
        assert previous is not None
        widths.append(previous.upper - previous.lower)
    assert widths == sorted(widths, reverse=True)


def test_normal_bounds_are_never_narrower_than_the_empirical_99_percent_interval() -> None:
    # One row per window: a mean of one skewed error is far from normal, and the
    # normal interval at level 0.02 is narrower than the bootstrap's 99% one.
    profile = fit_multivariate(correlated(26, 500, 0.8), COLUMNS)
    resolved = profile.reconstruction_bounds(1, 0.01)
    assert resolved.method == "bootstrap"
    tiny = profile.reconstruction_bounds(1, 0.009)
    assert tiny.method == "normal"
    assert tiny.lower <= resolved.lower and tiny.upper >= resolved.upper


def test_exact_linear_structure_is_not_rounding_noise() -> None:
    # x, y = 2x and a one-hot block span an exact subspace: every reference error is ~0.
    rng = np.random.default_rng(26)
    x = rng.normal(size=200)
    reference = pd.DataFrame({"x": x, "y": 2 * x, "segment": rng.choice(["a", "b"], 200)})
    profile = fit_multivariate(reference, COLUMNS, variance_explained=0.99)
    assert float(profile.pca_reference_errors.max()) < 1e-20
    x = rng.normal(size=100)
    same = pd.DataFrame({"x": x, "y": 2 * x, "segment": rng.choice(["a", "b"], 100)})
    for level in (0.01, 1e-5):
        unchanged = compare_pca_reconstruction(profile, same, level=level)
        assert not unchanged.drifted  # in particular not "below" a rounding-noise bound
        assert unchanged.details["lower_bound"] == 0.0
    broken = same.assign(y=-2 * same["x"])
    assert compare_pca_reconstruction(profile, broken).drifted


# --- Profiles ---------------------------------------------------------------------------


def test_profile_round_trip_is_exact_and_tests_identically() -> None:
    reference = correlated(30, 2500, 0.5)
    reference.loc[::7, "x"] = np.nan
    profile = fit_multivariate(reference, COLUMNS, max_rows=400, seed=4)
    restored = round_trip(profile)
    assert restored == profile
    assert restored.to_dict() == profile.to_dict()
    current = correlated(31, 300, 0.2)
    assert compare_mmd(restored, current).to_dict() == compare_mmd(profile, current).to_dict()
    assert (
        compare_pca_reconstruction(restored, current).to_dict()
        == compare_pca_reconstruction(profile, current).to_dict()
    )


def test_profile_subsamples_uniformly_and_reproducibly() -> None:
    reference = correlated(32, 3000, 0.5)
    profile = fit_multivariate(reference, COLUMNS, max_rows=500, seed=1)
    assert profile.subsampled and profile.reference_rows.shape == (500, profile.width)
    assert profile.n_rows == 3000
    assert fit_multivariate(reference, COLUMNS, max_rows=500, seed=1) == profile
    assert fit_multivariate(reference, COLUMNS, max_rows=500, seed=2) != profile


def test_encoding_standardises_and_one_hot_encodes() -> None:
    reference = pd.DataFrame(
        {
            "x": [1.0, 2.0, 3.0, np.nan] * 5,
            "y": [10.0] * 20,
            "segment": ["a", "a", "b", None] * 5,
        }
    )
    profile = fit_multivariate(reference, COLUMNS, max_categories=1)
    current = pd.DataFrame(
        {"x": [2.0, np.nan, np.inf], "y": [10.0, 11.0, 9.0], "segment": ["a", "b", None]}
    )
    encoded = profile.encode(current)
    std = float(np.std([1.0, 2.0, 3.0]))
    # x: standardised value, then the missing indicator (the reference has missing x);
    # y: constant in the reference, so scale 1 and no indicator; segment: "a", then "other".
    assert encoded.tolist() == [
        [0.0, 0.0, 0.0, 1.0, 0.0],
        [0.0, 1.0, 1.0, 0.0, 1.0],
        [0.0, 1.0, -1.0, 0.0, 0.0],
    ]
    assert profile.encode(pd.DataFrame({"x": [3.0], "y": [10.0], "segment": ["a"]}))[0, 0] == (
        pytest.approx(1.0 / std)
    )


def test_a_format_1_profile_still_loads() -> None:
    # Stored before the MMD floor: a threshold_quantile and no mmd_effect_floor.
    profile = fit_multivariate(correlated(35, 300, 0.5), COLUMNS)
    old = {key: value for key, value in profile.to_dict().items() if key != "mmd_effect_floor"}
    old.update(format=1, threshold_quantile=0.99)
    restored = MultivariateProfile.from_dict(json.loads(json.dumps(old)))
    assert restored == profile
    assert restored.mmd_effect_floor == profile.mmd_effect_floor
    current = correlated(36, 200, -0.5)
    assert compare_mmd(restored, current).to_dict() == compare_mmd(profile, current).to_dict()


def test_from_dict_rejects_unknown_layouts() -> None:
    data = fit_multivariate(correlated(33, 50, 0.5), COLUMNS).to_dict()
    with pytest.raises(ValueError, match="format"):
        MultivariateProfile.from_dict({**data, "format": 99})
    with pytest.raises(ValueError, match="unexpected"):
        MultivariateProfile.from_dict({**data, "extra": 1})


@pytest.mark.parametrize(
    ("reference", "columns", "message"),
    [
        (correlated(34, 5, 0.5), COLUMNS, "at least 10 reference rows"),
        (correlated(34, 50, 0.5), [*COLUMNS, ("age", "numeric")], r"lacks columns \['age'\]"),
        (correlated(34, 50, 0.5), [("x", "numeric"), ("x", "numeric")], "more than once"),
        (correlated(34, 50, 0.5), [("x", "ordinal")], "unknown column kind"),
        (correlated(34, 50, 0.5), [], "at least one column"),
        (correlated(34, 50, 0.5), [("segment", "numeric")], "not numbers"),
    ],
)
def test_bad_reference_raises(
    reference: pd.DataFrame, columns: list[tuple[str, str]], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        fit_multivariate(reference, columns)  # type: ignore[arg-type]


# --- Bad data and inputs ---------------------------------------------------------------


@pytest.fixture(scope="module")
def profile() -> MultivariateProfile:
    return fit_multivariate(correlated(40, 300, 0.7), COLUMNS)


@pytest.mark.parametrize("test", [compare_mmd, compare_pca_reconstruction])
def test_missing_columns_raise_naming_them(profile: MultivariateProfile, test: object) -> None:
    current = correlated(41, 50, 0.7).drop(columns=["y", "segment"])
    with pytest.raises(ValueError, match=r"\['y', 'segment'\]"):
        test(profile, current)  # type: ignore[operator]


@pytest.mark.parametrize(
    ("current", "status"),
    [
        (correlated(42, 0, 0.7), "empty"),
        (pd.DataFrame({"x": [np.nan] * 5, "y": [None] * 5, "segment": [None] * 5}), "all_missing"),
        (correlated(42, 20, 0.7).assign(x=["1.5", "oops"] * 10), "invalid_values"),
    ],
)
@pytest.mark.parametrize("test", [compare_mmd, compare_pca_reconstruction])
def test_bad_current_data_is_a_status(
    profile: MultivariateProfile, current: pd.DataFrame, status: str, test: object
) -> None:
    result = test(profile, current)  # type: ignore[operator]
    assert (result.status, result.drifted, result.statistic, result.p_value) == (
        status,
        False,
        None,
        None,
    )
    assert result.reason
    json.dumps(result.to_dict(), allow_nan=False)


def test_one_row_is_too_few_for_mmd_but_not_for_pca(profile: MultivariateProfile) -> None:
    one_row = correlated(43, 1, 0.7)
    assert compare_mmd(profile, one_row).status == "insufficient_data"
    assert compare_pca_reconstruction(profile, one_row).status == "ok"


def test_infinities_unseen_categories_and_missing_values_are_counted(
    profile: MultivariateProfile,
) -> None:
    current = correlated(44, 100, 0.7)
    current.loc[:4, "x"] = np.inf
    current.loc[5:9, "y"] = np.nan
    current.loc[10:12, "segment"] = "never-seen"
    for result in (compare_mmd(profile, current), compare_pca_reconstruction(profile, current)):
        assert result.status == "ok"
        assert result.details["n_infinite_current"] == {"x": 5}
        assert result.details["n_missing_current"] == {"x": 0, "y": 5, "segment": 0}


def test_current_is_subsampled_to_max_rows(profile: MultivariateProfile) -> None:
    current = correlated(45, 900, 0.7)
    for result in (
        compare_mmd(profile, current, max_rows=200, n_permutations=20),
        compare_pca_reconstruction(profile, current, max_rows=200),
    ):
        assert result.n_current == 200
        assert result.details["current_subsampled"] and result.details["n_rows_current"] == 900
    assert compare_mmd(profile, current, max_rows=200, n_permutations=20).n_reference == 200


def test_inputs_are_not_mutated() -> None:
    reference = correlated(46, 300, 0.5)
    reference.loc[::9, "x"] = np.nan
    current = correlated(47, 200, -0.5)
    current.loc[::5, "segment"] = None
    current["segment"] = current["segment"].astype("category")
    reference_copy, current_copy = reference.copy(deep=True), current.copy(deep=True)
    profile = fit_multivariate(reference, COLUMNS)
    stored = profile.to_dict()
    compare_mmd(profile, current, n_permutations=20)
    compare_pca_reconstruction(profile, current)
    pd.testing.assert_frame_equal(reference, reference_copy)
    pd.testing.assert_frame_equal(current, current_copy)
    assert profile.to_dict() == stored


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"alpha": 0.0}, "alpha"),
        ({"alpha": 1.0}, "alpha"),
        ({"n_permutations": 0}, "n_permutations"),
        ({"max_rows": 1}, "max_rows"),
    ],
)
def test_bad_mmd_parameters_raise(
    profile: MultivariateProfile, arguments: dict[str, float], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        compare_mmd(profile, correlated(48, 10, 0.7), **arguments)  # type: ignore[arg-type]


@pytest.mark.parametrize("level", [0.0, 1.0, -0.1, math.nan])
def test_bad_pca_level_raises(profile: MultivariateProfile, level: float) -> None:
    with pytest.raises(ValueError, match="level"):
        compare_pca_reconstruction(profile, correlated(49, 10, 0.7), level=level)


# --- Docstring examples -----------------------------------------------------------------


@pytest.mark.parametrize(
    "module_name",
    [
        "detectors.multivariate.profile",
        "detectors.multivariate.mmd",
        "detectors.multivariate.pca",
    ],
)
def test_docstring_examples(module_name: str) -> None:
    module = importlib.import_module(module_name)
    outcome = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False)
    assert outcome.failed == 0


@pytest.mark.parametrize("module_name", ["profile", "mmd", "pca"])
def test_seeded_examples_exist(module_name: str) -> None:
    module = importlib.import_module(f"detectors.multivariate.{module_name}")
    assert doctest.DocTestFinder().find(module)[0].examples
