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
    fit_multivariate,
    test_mmd,
    test_pca_reconstruction,
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
    result = test_mmd(profile, current, n_permutations=50)
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
    result = test_mmd(profile, correlated(5, 30, 0.5), n_permutations=n_permutations, seed=3)
    assert result.p_value is not None
    count = result.p_value * (1 + n_permutations)
    assert count == pytest.approx(round(count)) and 1 <= round(count) <= 1 + n_permutations
    again = test_mmd(profile, correlated(5, 30, 0.5), n_permutations=n_permutations, seed=3)
    assert again == result


def test_mmd_false_alarm_rate_is_calibrated() -> None:
    # 199 permutations: p < 0.05 exactly when at most 8 of 199 permuted statistics reach
    # the observed one, which under no drift has probability 9/200 = 0.045.
    trials, alpha = 200, 0.05
    alarms = 0
    p_values = []
    for trial in range(trials):
        profile = fit_multivariate(correlated(1000 + trial, 20, 0.6), COLUMNS, seed=trial)
        result = test_mmd(
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
        column_result = detectors.test_column(column_profile, current[column])
        assert not column_result.drifted, column_result
    ks_x = stats.ks_2samp(reference["x"], current["x"])
    ks_y = stats.ks_2samp(reference["y"], current["y"])
    assert ks_x.pvalue > 0.05 and ks_y.pvalue > 0.05
    result = test_mmd(fit_multivariate(reference, COLUMNS), current)
    assert result.drifted and result.p_value is not None and result.p_value < 0.01


def test_same_data_is_not_drift() -> None:
    reference = correlated(12, 500, 0.7)
    profile = fit_multivariate(reference, COLUMNS)
    assert not test_mmd(profile, reference).drifted
    assert not test_mmd(profile, correlated(13, 400, 0.7)).drifted
    assert not test_pca_reconstruction(profile, reference).drifted
    assert not test_pca_reconstruction(profile, correlated(13, 400, 0.7)).drifted


def test_mmd_detects_a_change_in_the_category_mix() -> None:
    profile = fit_multivariate(correlated(14, 500, 0.0), COLUMNS)
    current = correlated(15, 500, 0.0)
    current["segment"] = np.random.default_rng(16).choice(["a", "b", "c"], 500, p=[0.3, 0.3, 0.4])
    assert test_mmd(profile, current).drifted


# --- PCA reconstruction -----------------------------------------------------------------


def test_pca_reconstruction_detects_a_correlation_break() -> None:
    profile = fit_multivariate(correlated(20, 1000, 0.9), COLUMNS)
    result = test_pca_reconstruction(profile, correlated(21, 300, 0.0))
    assert result.drifted and result.status == "ok"
    assert result.statistic is not None and result.statistic > result.threshold
    assert (result.column, result.method, result.p_value) == ("*", "pca_reconstruction", None)
    assert result.details["effect"] > 1.5
    unchanged = test_pca_reconstruction(profile, correlated(22, 300, 0.9))
    assert not unchanged.drifted and unchanged.details["effect"] < 1.2


def test_pca_threshold_can_be_overridden() -> None:
    profile = fit_multivariate(correlated(23, 300, 0.9), COLUMNS)
    current = correlated(24, 100, 0.9)
    default = test_pca_reconstruction(profile, current)
    assert default.threshold == pytest.approx(profile.reconstruction_threshold(100))
    assert default.statistic is not None
    lowered = test_pca_reconstruction(profile, current, threshold=default.statistic / 2)
    assert lowered.drifted and lowered.threshold == default.statistic / 2


def test_pca_threshold_shrinks_with_the_window() -> None:
    profile = fit_multivariate(correlated(25, 2000, 0.9), COLUMNS)
    thresholds = [profile.reconstruction_threshold(n) for n in (10, 100, 1000)]
    assert thresholds == sorted(thresholds, reverse=True)
    assert thresholds[-1] > float(profile.pca_reference_errors.mean())


def test_pca_false_alarm_rate_is_near_its_quantile() -> None:
    # Not a p-value test: the threshold is a bootstrap estimate, so only a loose bound.
    alarms = sum(
        test_pca_reconstruction(
            fit_multivariate(correlated(3000 + trial, 200, 0.8), COLUMNS, seed=trial),
            correlated(4000 + trial, 200, 0.8),
        ).drifted
        for trial in range(100)
    )
    assert alarms <= 6


def test_exact_linear_structure_is_not_rounding_noise() -> None:
    # x, y = 2x and a one-hot block span an exact subspace: every reference error is ~0.
    rng = np.random.default_rng(26)
    x = rng.normal(size=200)
    reference = pd.DataFrame({"x": x, "y": 2 * x, "segment": rng.choice(["a", "b"], 200)})
    profile = fit_multivariate(reference, COLUMNS)
    x = rng.normal(size=100)
    same = pd.DataFrame({"x": x, "y": 2 * x, "segment": rng.choice(["a", "b"], 100)})
    assert not test_pca_reconstruction(profile, same).drifted
    broken = same.assign(y=-2 * same["x"])
    assert test_pca_reconstruction(profile, broken).drifted


# --- Profiles ---------------------------------------------------------------------------


def test_profile_round_trip_is_exact_and_tests_identically() -> None:
    reference = correlated(30, 2500, 0.5)
    reference.loc[::7, "x"] = np.nan
    profile = fit_multivariate(reference, COLUMNS, max_rows=400, seed=4)
    restored = round_trip(profile)
    assert restored == profile
    assert restored.to_dict() == profile.to_dict()
    current = correlated(31, 300, 0.2)
    assert test_mmd(restored, current).to_dict() == test_mmd(profile, current).to_dict()
    assert (
        test_pca_reconstruction(restored, current).to_dict()
        == test_pca_reconstruction(profile, current).to_dict()
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


@pytest.mark.parametrize("test", [test_mmd, test_pca_reconstruction])
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
@pytest.mark.parametrize("test", [test_mmd, test_pca_reconstruction])
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
    assert test_mmd(profile, one_row).status == "insufficient_data"
    assert test_pca_reconstruction(profile, one_row).status == "ok"


def test_infinities_unseen_categories_and_missing_values_are_counted(
    profile: MultivariateProfile,
) -> None:
    current = correlated(44, 100, 0.7)
    current.loc[:4, "x"] = np.inf
    current.loc[5:9, "y"] = np.nan
    current.loc[10:12, "segment"] = "never-seen"
    for result in (test_mmd(profile, current), test_pca_reconstruction(profile, current)):
        assert result.status == "ok"
        assert result.details["n_infinite_current"] == {"x": 5}
        assert result.details["n_missing_current"] == {"x": 0, "y": 5, "segment": 0}


def test_current_is_subsampled_to_max_rows(profile: MultivariateProfile) -> None:
    current = correlated(45, 900, 0.7)
    for result in (
        test_mmd(profile, current, max_rows=200, n_permutations=20),
        test_pca_reconstruction(profile, current, max_rows=200),
    ):
        assert result.n_current == 200
        assert result.details["current_subsampled"] and result.details["n_rows_current"] == 900
    assert test_mmd(profile, current, max_rows=200, n_permutations=20).n_reference == 200


def test_inputs_are_not_mutated() -> None:
    reference = correlated(46, 300, 0.5)
    reference.loc[::9, "x"] = np.nan
    current = correlated(47, 200, -0.5)
    current.loc[::5, "segment"] = None
    current["segment"] = current["segment"].astype("category")
    reference_copy, current_copy = reference.copy(deep=True), current.copy(deep=True)
    profile = fit_multivariate(reference, COLUMNS)
    stored = profile.to_dict()
    test_mmd(profile, current, n_permutations=20)
    test_pca_reconstruction(profile, current)
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
        test_mmd(profile, correlated(48, 10, 0.7), **arguments)  # type: ignore[arg-type]


def test_bad_pca_threshold_raises(profile: MultivariateProfile) -> None:
    with pytest.raises(ValueError, match="threshold"):
        test_pca_reconstruction(profile, correlated(49, 10, 0.7), threshold=-1.0)


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
