"""Numeric p-value tests and the energy distance: parity with scipy (relative 1e-9).

Each method runs against a fitted profile (the sorted reference is never
re-sorted) and must give scipy's numbers on the raw samples: continuous data,
heavy ties, tiny samples (scipy's exact paths), unequal sizes, sizes past the
exact cut-offs, and a subsampled profile.
"""

from __future__ import annotations

import dataclasses
import doctest
import importlib
import json
import warnings
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
from scipy import stats
from scipy._lib._array_api import array_namespace
from scipy.stats._hypotests import _pval_cvm_2samp_asymptotic

import detectors
from detectors._outcome import MethodOutcome
from detectors._pooled import pool_sorted
from detectors._prepare import prepare_numeric
from detectors.anderson import anderson_darling_a2kn, weighted_ecdf_gap
from detectors.cramervonmises import rms_ecdf_gap

REL = 1e-9
FloatArray = npt.NDArray[np.float64]
Sampler = Callable[[np.random.Generator, int], FloatArray]


def normal(rng: np.random.Generator, n: int) -> FloatArray:
    return rng.normal(0.0, 2.0, n)


def shifted_normal(rng: np.random.Generator, n: int) -> FloatArray:
    return rng.normal(0.15, 2.3, n)


def few_integers(rng: np.random.Generator, n: int) -> FloatArray:
    return rng.integers(0, 5, n).astype(np.float64)


def more_integers(rng: np.random.Generator, n: int) -> FloatArray:
    return rng.integers(0, 6, n).astype(np.float64)


# (seed, reference size, current size, reference sampler, current sampler)
CASES = [
    (0, 50, 40, normal, normal),
    (1, 500, 300, normal, shifted_normal),
    (2, 3000, 12000, normal, shifted_normal),  # past KS's exact cut-off (10,000)
    (3, 10, 7, normal, shifted_normal),  # every exact path
    (4, 400, 300, few_integers, more_integers),  # heavy ties
    (5, 6, 9, few_integers, few_integers),  # tiny with ties
    (6, 20, 20, normal, normal),  # CvM's largest exact case
    (7, 21, 15, normal, shifted_normal),  # CvM's smallest asymptotic case
    (8, 15000, 15000, normal, normal),  # equal sizes, asymptotic
    (9, 2000, 5, normal, shifted_normal),  # tiny window, large reference
    (10, 3, 2, normal, normal),  # Anderson-Darling's smallest case
]
CASE_IDS = [f"seed{case[0]}-{case[1]}x{case[2]}-{case[3].__name__}" for case in CASES]


def samples(
    seed: int, n_ref: int, n_cur: int, ref_sampler: Sampler, cur_sampler: Sampler
) -> tuple[FloatArray, FloatArray]:
    rng = np.random.default_rng(seed)
    return ref_sampler(rng, n_ref), cur_sampler(rng, n_cur)


def run(
    method: str, reference: FloatArray, current: FloatArray, **fit: int
) -> tuple[detectors.ColumnResult, detectors.ColumnProfile]:
    profile = detectors.fit_profile(pd.Series(reference, name="x"), "numeric", **fit)
    return detectors.compare_column(profile, pd.Series(current), method=method), profile


def assert_close(actual: float | None, expected: float) -> None:
    assert actual is not None
    assert actual == pytest.approx(float(expected), rel=REL, abs=0.0)


def scipy_anderson(reference: FloatArray, current: FloatArray) -> tuple[float, float]:
    # scipy warns whenever it caps the p-value; the cap itself is what we compare.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        result = stats.anderson_ksamp([reference, current], variant="midrank")
    return float(result.statistic), float(result.pvalue)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_ks_matches_scipy(case: tuple[int, int, int, Sampler, Sampler]) -> None:
    reference, current = samples(*case)
    result, _ = run("ks", reference, current)
    expected = stats.ks_2samp(reference, current)
    assert_close(result.statistic, expected.statistic)
    assert_close(result.p_value, expected.pvalue)
    exact = max(reference.size, current.size) <= 10_000
    assert result.details["p_value_method"] == ("exact" if exact else "asymptotic")


@pytest.mark.parametrize("seed", range(40))
def test_ks_matches_scipy_on_random_sizes(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    n_ref, n_cur = (int(n) for n in rng.integers(1, 2500, size=2))
    if seed % 2:
        reference, current = few_integers(rng, n_ref), more_integers(rng, n_cur)
    else:
        reference, current = normal(rng, n_ref), shifted_normal(rng, n_cur)
    result, _ = run("ks", reference, current)
    expected = stats.ks_2samp(reference, current)
    assert_close(result.statistic, expected.statistic)
    assert_close(result.p_value, expected.pvalue)


@pytest.mark.parametrize("case", [c for c in CASES if c[1] + c[2] >= 4], ids=CASE_IDS)
def test_anderson_matches_scipy(case: tuple[int, int, int, Sampler, Sampler]) -> None:
    reference, current = samples(*case)
    result, _ = run("anderson", reference, current)
    statistic, p_value = scipy_anderson(reference, current)
    assert_close(result.statistic, statistic)
    assert_close(result.p_value, p_value)
    assert result.details["p_value_capped"] == (p_value in (0.25, 0.001))


def test_anderson_p_value_inside_the_table_is_interpolated() -> None:
    rng = np.random.default_rng(23)
    reference, current = rng.normal(0, 1, 800), rng.normal(0.12, 1, 600)
    result, _ = run("anderson", reference, current)
    statistic, p_value = scipy_anderson(reference, current)
    assert 0.001 < p_value < 0.25
    assert_close(result.p_value, p_value)
    assert_close(result.statistic, statistic)
    assert result.details["p_value_capped"] is False


def test_anderson_caps_are_reported_without_a_warning() -> None:
    rng = np.random.default_rng(22)
    reference = rng.normal(0, 1, 1000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        same, _ = run("anderson", reference, rng.normal(0, 1, 1000))
        far, _ = run("anderson", reference, rng.normal(2, 1, 1000))
    assert (same.p_value, same.drifted, same.details["p_value_capped"]) == (0.25, False, True)
    assert (far.p_value, far.drifted, far.details["p_value_capped"]) == (0.001, True, True)


UNTIED = [case for case in CASES if case[3] is normal]
UNTIED_IDS = [CASE_IDS[CASES.index(case)] for case in UNTIED]
TIED = [case for case in CASES if case[3] is few_integers]
TIED_IDS = [CASE_IDS[CASES.index(case)] for case in TIED]


@pytest.mark.parametrize("case", UNTIED, ids=UNTIED_IDS)
def test_cvm_matches_scipy_without_ties(case: tuple[int, int, int, Sampler, Sampler]) -> None:
    reference, current = samples(*case)
    result, _ = run("cvm", reference, current)
    expected = stats.cramervonmises_2samp(reference, current)
    assert_close(result.statistic, expected.statistic)
    assert_close(result.p_value, expected.pvalue)
    exact = max(reference.size, current.size) <= 20
    assert result.details["p_value_method"] == ("exact" if exact else "asymptotic")
    assert result.details["ties"] is False


@pytest.mark.parametrize("case", UNTIED, ids=UNTIED_IDS)
def test_cvm_ecdf_form_equals_the_rank_form_without_ties(
    case: tuple[int, int, int, Sampler, Sampler],
) -> None:
    reference, current = samples(*case)
    pooled = pool_sorted(np.sort(reference), np.sort(current))
    n, m = reference.size, current.size
    ecdf_form = n * m / (n + m) * rms_ecdf_gap(pooled) ** 2
    assert ecdf_form == pytest.approx(stats.cramervonmises_2samp(reference, current).statistic)


@pytest.mark.parametrize("case", TIED, ids=TIED_IDS)
def test_cvm_with_ties_uses_the_ecdf_form(case: tuple[int, int, int, Sampler, Sampler]) -> None:
    reference, current = samples(*case)
    result, _ = run("cvm", reference, current)
    pooled = np.concatenate([reference, current])
    gap = (
        np.searchsorted(np.sort(reference), pooled, "right") / reference.size
        - np.searchsorted(np.sort(current), pooled, "right") / current.size
    )
    n, m = reference.size, current.size
    statistic = n * m / (n + m) * float(np.mean(gap**2))
    assert_close(result.statistic, statistic)
    # scipy's own asymptotic p-value for that statistic (a private helper, test-only).
    statistic_array = np.asarray(statistic)
    expected_p = _pval_cvm_2samp_asymptotic(
        statistic_array, n + m, n, m, n * m, xp=array_namespace(statistic_array)
    )
    assert_close(result.p_value, float(expected_p))
    assert result.details["ties"] is True


def test_cvm_does_not_alarm_on_zero_inflated_columns() -> None:
    # scipy's midrank statistic calls every one of these no-drift pairs drifted.
    rng = np.random.default_rng(30)

    def zero_inflated(n: int) -> FloatArray:
        values = rng.normal(size=n)
        values[rng.random(n) < 0.9] = 0.0
        return values

    alarms = 0
    for _ in range(100):
        reference, current = zero_inflated(500), zero_inflated(400)
        alarms += run("cvm", reference, current)[0].p_value < 0.05  # type: ignore[operator]
    assert alarms <= 10


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_mannwhitney_matches_scipy(case: tuple[int, int, int, Sampler, Sampler]) -> None:
    reference, current = samples(*case)
    result, _ = run("mannwhitney", reference, current)
    expected = stats.mannwhitneyu(reference, current, alternative="two-sided")
    assert_close(result.statistic, expected.statistic)
    assert_close(result.p_value, expected.pvalue)


def test_mannwhitney_uses_the_exact_distribution_for_a_tiny_window() -> None:
    rng = np.random.default_rng(23)
    reference, current = rng.normal(0, 1, 300), rng.normal(1, 1, 6)
    result, _ = run("mannwhitney", reference, current)
    expected = stats.mannwhitneyu(reference, current, alternative="two-sided", method="exact")
    assert result.details["p_value_method"] == "exact"
    assert_close(result.p_value, expected.pvalue)


def test_mannwhitney_caps_the_exact_path_by_size() -> None:
    # scipy's "auto" would run its O((n1 n2)^2) exact recursion here.
    rng = np.random.default_rng(24)
    reference, current = rng.normal(0, 1, 5000), rng.normal(0.5, 1, 5)
    result, _ = run("mannwhitney", reference, current)
    expected = stats.mannwhitneyu(reference, current, alternative="two-sided", method="asymptotic")
    assert result.details["p_value_method"] == "asymptotic (exact would be too slow)"
    assert_close(result.statistic, expected.statistic)
    assert_close(result.p_value, expected.pvalue)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_energy_matches_scipy_normed_by_reference_std(
    case: tuple[int, int, int, Sampler, Sampler],
) -> None:
    reference, current = samples(*case)
    result, _ = run("energy", reference, current)
    distance = stats.energy_distance(reference, current)
    assert_close(result.details["distance"], distance)
    assert_close(result.statistic, distance / np.std(reference))
    assert result.p_value is None


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_welch_matches_scipy(case: tuple[int, int, int, Sampler, Sampler]) -> None:
    reference, current = samples(*case)
    result, _ = run("welch", reference, current)
    expected = stats.ttest_ind(reference, current, equal_var=False)
    assert_close(result.statistic, expected.statistic)
    assert_close(result.p_value, expected.pvalue)


SAMPLE_METHODS = {
    "ks": lambda ref, cur: stats.ks_2samp(ref, cur),
    "cvm": lambda ref, cur: stats.cramervonmises_2samp(ref, cur),
    "mannwhitney": lambda ref, cur: stats.mannwhitneyu(ref, cur, alternative="two-sided"),
}


@pytest.mark.parametrize("method", [*SAMPLE_METHODS, "anderson", "energy"])
def test_subsampled_profile_matches_scipy_on_the_subsample(method: str) -> None:
    rng = np.random.default_rng(25)
    reference, current = rng.normal(0, 1, 6000), rng.normal(0.1, 1.1, 700)
    result, profile = run(method, reference, current, max_sorted=1500, seed=4)
    subsample = profile.sorted_values
    assert profile.subsampled and subsample is not None and subsample.size == 1500
    assert result.n_reference == 1500
    assert result.details["reference_subsampled"] is True
    if method == "anderson":
        statistic, p_value = scipy_anderson(subsample, current)
    elif method == "energy":
        statistic, p_value = stats.energy_distance(subsample, current) / subsample.std(), None
    else:
        expected = SAMPLE_METHODS[method](subsample, current)
        statistic, p_value = expected.statistic, expected.pvalue
    assert_close(result.statistic, statistic)
    if p_value is not None:
        assert_close(result.p_value, p_value)


def test_welch_on_a_subsampled_profile_uses_every_reference_value() -> None:
    rng = np.random.default_rng(26)
    reference, current = rng.normal(0, 1, 6000), rng.normal(0.1, 1.1, 700)
    result, profile = run("welch", reference, current, max_sorted=1500)
    assert profile.subsampled
    expected = stats.ttest_ind(reference, current, equal_var=False)
    assert_close(result.statistic, expected.statistic)
    assert_close(result.p_value, expected.pvalue)
    assert result.n_reference == 6000


@pytest.mark.parametrize("method", ["ks", "anderson", "cvm", "mannwhitney", "energy", "welch"])
def test_stored_profile_tests_like_the_fitted_one(method: str) -> None:
    rng = np.random.default_rng(27)
    profile = detectors.fit_profile(pd.Series(rng.normal(0, 1, 900), name="x"), "numeric")
    stored = detectors.ColumnProfile.from_dict(json.loads(json.dumps(profile.to_dict())))
    current = pd.Series(rng.normal(0.1, 1, 500))
    assert detectors.compare_column(stored, current, method=method) == detectors.compare_column(
        profile, current, method=method
    )


def test_effects() -> None:
    rng = np.random.default_rng(28)
    reference, current = rng.normal(0, 1, 400), rng.normal(0.5, 1.5, 300)
    profile = detectors.fit_profile(pd.Series(reference, name="x"), "numeric")
    prepared = prepare_numeric(pd.Series(current))

    def outcome(method: str, threshold: float = 0.05) -> MethodOutcome:
        return detectors.get_method(method).function(profile, prepared, threshold)

    ks = outcome("ks")
    assert ks.effect == ks.statistic

    mannwhitney = outcome("mannwhitney")
    u = stats.mannwhitneyu(reference, current).statistic
    assert mannwhitney.effect == pytest.approx(abs(2 * u / (400 * 300) - 1), rel=REL)

    welch = outcome("welch")
    # The plain average of the two sample variances: size-free (test_effect_size_free.py).
    average_sd = np.sqrt((reference.var(ddof=1) + current.var(ddof=1)) / 2)
    cohens_d = (current.mean() - reference.mean()) / average_sd
    assert welch.effect == pytest.approx(abs(cohens_d), rel=REL)
    assert welch.details["cohens_d"] == pytest.approx(cohens_d, rel=REL)

    energy = outcome("energy", 0.1)
    assert energy.effect == energy.statistic

    cvm = outcome("cvm")

    def gap(at: np.ndarray) -> np.ndarray:
        return (
            np.searchsorted(np.sort(reference), at, "right") / 400
            - np.searchsorted(np.sort(current), at, "right") / 300
        )

    # Half the weight on each side's values, whatever the sizes.
    half_and_half = np.sqrt((np.mean(gap(reference) ** 2) + np.mean(gap(current) ** 2)) / 2)
    assert cvm.effect == pytest.approx(half_and_half, rel=REL)

    anderson = outcome("anderson")
    assert anderson.effect is not None and 0 < anderson.effect < 1


def test_effects_on_a_worked_example() -> None:
    # Reference {1, 2}, current {3, 4}: ECDF gaps at 1, 2, 3, 4 are 1/2, 1, 1/2, 0.
    pooled = pool_sorted(np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    assert rms_ecdf_gap(pooled) == pytest.approx(np.sqrt((0.25 + 1 + 0.25 + 0) / 4))
    # Scholz & Stephens eq. 7 by hand, N = 4, no ties, B_j = j - 1/2:
    # reference M_j = 1/2, 3/2, 2, 2 and current M_j = 0, 0, 1/2, 3/2; each term is
    # (4 M_j - 2 B_j)^2 / (4 (B_j (4 - B_j) - 1)), giving 1/3, 9/11, 9/11, 1/3 per side.
    per_side = (2 / 3 + 18 / 11) / 2
    assert anderson_darling_a2kn(pooled) == pytest.approx(2 * per_side * 3 / 4, rel=REL)
    # The effect on midrank ECDFs: gaps 1/4, 3/4, 3/4, 1/4 at midpoints 1/8, 3/8, 5/8, 7/8,
    # each value weighted 1/4: terms 4/7, 12/5, 12/5, 4/7.
    assert weighted_ecdf_gap(pooled) == pytest.approx(np.sqrt((8 / 7 + 24 / 5) / 4), rel=REL)


def test_pooled_counts_match_a_brute_force_count() -> None:
    rng = np.random.default_rng(29)
    for _ in range(20):
        reference = np.sort(rng.integers(0, 30, int(rng.integers(1, 60))).astype(np.float64))
        current = np.sort(rng.integers(0, 40, int(rng.integers(1, 60))).astype(np.float64))
        pooled = pool_sorted(reference, current)
        values = np.unique(np.concatenate([reference, current]))
        assert pooled.values.tolist() == values.tolist()
        assert pooled.reference_counts.tolist() == [int((reference == v).sum()) for v in values]
        assert pooled.current_counts.tolist() == [int((current == v).sum()) for v in values]


def test_constant_columns() -> None:
    profile = detectors.fit_profile(pd.Series([3.0] * 20, name="flag"), "numeric")
    same, other = pd.Series([3.0] * 10), pd.Series([5.0] * 10)

    # One and the same value on both sides: status "constant" before any method runs.
    for method in ("anderson", "welch", "energy", "mannwhitney", "cvm", "ks"):
        result = detectors.compare_column(profile, same, method=method)
        assert (result.status, result.drifted) == ("constant", False)
    # A constant reference with another value in the window is a real change.
    for method in ("anderson", "mannwhitney", "cvm", "ks"):
        assert detectors.compare_column(profile, other, method=method).drifted

    welch = detectors.compare_column(profile, other, method="welch")
    assert (welch.status, welch.drifted, welch.p_value) == ("ok", True, 0.0)
    assert "both sides are constant but differ" in welch.reason

    energy = detectors.compare_column(profile, other, method="energy")
    assert (energy.status, energy.drifted) == ("ok", True)
    # sqrt(2) * sqrt(integral of (F - G)^2) = sqrt(2) * sqrt(5 - 3); the half-and-half
    # mixture of 3s and 5s has std 1, the scale when the reference is constant.
    assert energy.details["distance"] == pytest.approx(2.0)
    assert energy.statistic == pytest.approx(2.0)
    assert energy.details["scale"] == "mixture std (constant reference)"


def test_welch_needs_two_values_on_each_side() -> None:
    profile = detectors.fit_profile(pd.Series([1.0, 2.0, 3.0], name="x"), "numeric")
    result = detectors.compare_column(profile, pd.Series([2.0]), method="welch")
    assert (result.status, result.drifted) == ("insufficient_data", False)


@pytest.mark.parametrize(
    "module_name",
    ["anderson", "cramervonmises", "energy", "mannwhitney", "welch", "ks", "_pooled"],
)
def test_seeded_examples_exist(module_name: str) -> None:
    module = importlib.import_module(f"detectors.{module_name}")
    assert doctest.DocTestFinder().find(module)[0].examples


@pytest.mark.parametrize(
    "values",
    [
        pd.Series([3.0, np.nan, -np.inf, 1.0, np.inf, 1.0, np.nan], dtype=np.float64),
        pd.Series([3.0, np.nan, -np.inf, 1.0, np.inf, 1.0, np.nan], dtype=np.float32),
        pd.Series([5, -2, 7, 5], dtype=np.int64),
        pd.Series([True, False, True]),
    ],
    ids=["float64", "float32", "int64", "bool"],
)
def test_prepare_numeric_counts_numpy_numbers_as_it_counts_the_same_objects(
    values: pd.Series,
) -> None:
    fast = prepare_numeric(values)
    parsed = prepare_numeric(values.astype(object).where(values.notna(), None))
    assert fast == dataclasses.replace(parsed, numeric=fast.numeric)
    assert fast.numeric is not None and parsed.numeric is not None
    assert fast.numeric.tolist() == parsed.numeric.tolist() == sorted(parsed.numeric.tolist())


def test_prepare_numeric_sorts_and_counts_text_numbers() -> None:
    prepared = prepare_numeric(pd.Series(["2.5", None, "x", "inf", "-1", "nan", "y", "x"]))
    assert prepared.numeric is not None and prepared.numeric.tolist() == [-1.0, 2.5]
    assert (prepared.n_missing, prepared.n_infinite, prepared.n_unparsable) == (1, 1, 4)
    assert prepared.unparsable_examples == ("x", "nan", "y")
