"""Histogram distances: parity with scipy where it has them, hand formulas for the rest."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial import distance

import detectors
from detectors import ColumnKind
from detectors._binning import bin_counts
from detectors._histograms import EMPTY_BIN_SHARE
from detectors._outcome import MethodOutcome
from detectors._prepare import prepare_categorical, prepare_numeric
from detectors.hellinger import hellinger_distance
from detectors.jensenshannon import jensen_shannon_distance
from detectors.kl import kl_divergence

REL = 1e-9
MINE = ["hellinger", "jensenshannon", "kl", "linf", "tv"]
NUMERIC = ["hellinger", "jensenshannon", "kl"]


def test_registry_kinds() -> None:
    for name in MINE:
        spec = detectors.get_method(name)
        assert not spec.has_p_value and spec.default_threshold == 0.1
        expected = {"numeric", "categorical"} if name in NUMERIC else {"categorical"}
        assert spec.kinds == expected, name


def run(method: str, reference: pd.Series, current: pd.Series, kind: ColumnKind) -> MethodOutcome:
    spec = detectors.get_method(method)
    profile = detectors.fit_profile(reference, kind)
    prepared = prepare_numeric(current) if kind == "numeric" else prepare_categorical(current)
    return spec.function(profile, prepared, spec.default_threshold)


def shares_of(reference: list[str], current: list[str]) -> tuple[np.ndarray, np.ndarray]:
    names = sorted(set(reference) | set(current))
    p = np.array([reference.count(n) for n in names], dtype=float) / len(reference)
    q = np.array([current.count(n) for n in names], dtype=float) / len(current)
    return p, q


CATEGORICAL_EXAMPLES = [
    (list("aaaabbbbcc"), list("abbbbbbccc")),
    (list("aabbcc"), list("aabbdd")),  # "c" vanished, "d" unseen
    (list("ab"), list("cd")),  # nothing in common
    (list("aaab"), list("aaab")),
]


@pytest.mark.parametrize(("reference", "current"), CATEGORICAL_EXAMPLES)
def test_jensenshannon_matches_scipy_on_categories(
    reference: list[str], current: list[str]
) -> None:
    p, q = shares_of(reference, current)
    result = run("jensenshannon", pd.Series(reference, name="x"), pd.Series(current), "categorical")
    assert result.statistic == pytest.approx(distance.jensenshannon(p, q, base=2), rel=REL, abs=0)
    assert result.effect == result.statistic and result.p_value is None


@pytest.mark.parametrize(("seed", "shift", "scale"), [(0, 0.0, 1.0), (1, 0.3, 1.0), (2, 0.0, 3.0)])
def test_jensenshannon_matches_scipy_on_numeric_bins(seed: int, shift: float, scale: float) -> None:
    rng = np.random.default_rng(seed)
    reference = pd.Series(rng.normal(0, 1, 3000), name="x")
    current = pd.Series(rng.normal(shift, scale, 2000))
    profile = detectors.fit_profile(reference, "numeric")
    assert profile.bin_edges is not None and profile.bin_counts is not None
    # Reference counts recomputed from the raw reference: the profile stands in for it.
    reference_counts = bin_counts(profile.bin_edges, np.sort(reference.to_numpy()))
    current_counts = bin_counts(profile.bin_edges, np.sort(current.to_numpy()))
    result = detectors.compare_column(profile, current, method="jensenshannon")
    expected = distance.jensenshannon(reference_counts, current_counts, base=2)
    assert result.statistic == pytest.approx(expected, rel=REL)
    assert result.details["current_counts"] == current_counts.tolist()
    assert result.details["bin_edges"] == profile.bin_edges.tolist()


@pytest.mark.parametrize(("reference", "current"), CATEGORICAL_EXAMPLES)
def test_hellinger_hand_formula(reference: list[str], current: list[str]) -> None:
    p, q = shares_of(reference, current)
    expected = math.sqrt(max(1.0 - float(np.sum(np.sqrt(p * q))), 0.0))
    result = run("hellinger", pd.Series(reference, name="x"), pd.Series(current), "categorical")
    assert result.statistic == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert result.effect == result.statistic


def test_hellinger_worked_example() -> None:
    # p = (0.5, 0.5), q = (0.9, 0.1): H^2 = 1 - (sqrt(0.45) + sqrt(0.05)).
    value = hellinger_distance(np.array([5, 5]), np.array([9, 1]))
    assert value == pytest.approx(math.sqrt(1 - math.sqrt(0.45) - math.sqrt(0.05)), rel=REL)
    assert value == pytest.approx(0.32492, abs=1e-5)


def test_kl_without_empty_bins_matches_scipy_entropy() -> None:
    reference, current = list("aaaabbbbcc"), list("abbbbbbccc")
    p, q = shares_of(reference, current)
    result = run("kl", pd.Series(reference, name="x"), pd.Series(current), "categorical")
    assert result.statistic == pytest.approx(stats.entropy(p, q), rel=REL)
    # KL is not symmetric: swapping sides gives the other direction.
    swapped = run("kl", pd.Series(current, name="x"), pd.Series(reference), "categorical")
    assert swapped.statistic == pytest.approx(stats.entropy(q, p), rel=REL)
    assert swapped.statistic != pytest.approx(result.statistic, rel=1e-3)


def test_kl_floors_empty_bins_and_renormalises() -> None:
    # Reference (0.5, 0.5, 0), current (1, 0, 0) over categories a, b, c.
    eps = EMPTY_BIN_SHARE
    p = np.array([0.5, 0.5, eps]) / (1 + eps)
    q = np.array([1.0, eps, eps]) / (1 + 2 * eps)
    expected = float(np.sum(p * np.log(p / q)))
    assert kl_divergence(np.array([1, 1, 0]), np.array([2, 0, 0])) == pytest.approx(
        expected, rel=REL
    )
    assert math.isfinite(expected) and expected == pytest.approx(
        0.5 * math.log(0.5 / 1.0) + 0.5 * math.log(0.5 / 1e-4), rel=1e-3
    )
    result = run("kl", pd.Series(list("ab"), name="x"), pd.Series(list("aac")), "categorical")
    assert result.details["empty_bin_share"] == eps
    assert result.details["unseen_categories"] == ["c"]
    assert result.statistic is not None and math.isfinite(result.statistic) and result.drifted


def test_linf_and_tv_hand_examples() -> None:
    reference, current = list("aaaabbbbcc"), list("abbbbbbccc")
    # shares a: 0.4 -> 0.1, b: 0.4 -> 0.6, c: 0.2 -> 0.3
    linf = run("linf", pd.Series(reference, name="x"), pd.Series(current), "categorical")
    tv = run("tv", pd.Series(reference, name="x"), pd.Series(current), "categorical")
    assert linf.statistic == pytest.approx(0.3, rel=REL)
    assert linf.details["largest_change"] == "a"
    assert tv.statistic == pytest.approx((0.3 + 0.2 + 0.1) / 2, rel=REL)
    assert linf.effect == linf.statistic and tv.effect == tv.statistic


@pytest.mark.parametrize("method", ["hellinger", "jensenshannon", "linf", "tv"])
def test_bounded_distances_are_0_for_same_and_1_for_disjoint(method: str) -> None:
    same = run(method, pd.Series(list("aabc"), name="x"), pd.Series(list("abca")), "categorical")
    assert same.statistic == 0.0 and not same.drifted
    disjoint = run(method, pd.Series(list("ab"), name="x"), pd.Series(list("cd")), "categorical")
    assert disjoint.statistic == pytest.approx(1.0 if method != "linf" else 0.5, rel=REL)
    assert disjoint.drifted


@pytest.mark.parametrize("seed", range(5))
def test_tv_is_at_least_linf(seed: int) -> None:
    rng = np.random.default_rng(seed)
    reference = pd.Series(rng.choice(list("abcdef"), size=300), name="x")
    current = pd.Series(rng.choice(list("abcdeg"), size=200))
    tv = run("tv", reference, current, "categorical").statistic
    linf = run("linf", reference, current, "categorical").statistic
    assert tv is not None and linf is not None and tv >= linf - 1e-15


@pytest.mark.parametrize("method", NUMERIC)
def test_numeric_distance_uses_profile_bins_and_sees_the_tails(method: str) -> None:
    rng = np.random.default_rng(6)
    reference = pd.Series(rng.uniform(0, 1, 1000), name="x")
    inside = run(method, reference, pd.Series(rng.uniform(0, 1, 1000)), "numeric")
    outside = run(method, reference, pd.Series(rng.uniform(2, 3, 1000)), "numeric")
    assert inside.status == "ok" and not inside.drifted
    assert outside.drifted
    # The outer bins are open: every current value lands in the top decile's bin,
    # which holds a tenth of the reference, whatever the reference's maximum.
    assert outside.details["reference_counts"][-1] == 100
    assert outside.details["current_counts"][-1] == 1000
    assert outside.statistic is not None and outside.statistic > 0.5


@pytest.mark.parametrize("method", NUMERIC)
def test_numeric_distance_on_a_constant_reference(method: str) -> None:
    profile = detectors.fit_profile(pd.Series([3.0] * 20, name="flag"), "numeric")
    assert not detectors.compare_column(profile, pd.Series([3.0] * 10), method=method).drifted
    assert detectors.compare_column(profile, pd.Series([5.0] * 10), method=method).drifted


def test_js_helper_never_goes_negative_or_nan_on_near_identical_histograms() -> None:
    rng = np.random.default_rng(7)
    counts = rng.integers(1, 10**9, size=1000)
    nudged = counts.copy()
    nudged[0] += 1
    value = jensen_shannon_distance(counts, nudged)
    assert math.isfinite(value) and 0.0 <= value < 1e-4
