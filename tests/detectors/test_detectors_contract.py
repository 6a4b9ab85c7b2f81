"""Contract every registered method must keep, parametrised over the registry."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import detectors

CASES = [(name, kind) for name, spec in detectors.METHODS.items() for kind in sorted(spec.kinds)]
CASE_IDS = [f"{name}-{kind}" for name, kind in CASES]
NUMERIC_CASES = [case for case in CASES if case[1] == "numeric"]
BINARY_ONLY = frozenset({"fisher", "ztest"})
"""Methods for two-category columns: their categorical data has only "a" and "b"."""


def reference_series(kind: detectors.ColumnKind, method: str = "") -> pd.Series:
    rng = np.random.default_rng(1)
    if kind == "numeric":
        return pd.Series(rng.normal(0.0, 1.0, 2000), name="feature")
    if method in BINARY_ONLY:
        return pd.Series(rng.choice(["a", "b"], p=[0.6, 0.4], size=2000), name="feature")
    return pd.Series(rng.choice(["a", "b", "c"], p=[0.5, 0.3, 0.2], size=2000), name="feature")


def shifted_series(kind: detectors.ColumnKind, method: str = "") -> pd.Series:
    rng = np.random.default_rng(2)
    if kind == "numeric":
        return pd.Series(rng.normal(1.0, 1.0, 1000))
    if method in BINARY_ONLY:
        return pd.Series(rng.choice(["a", "b"], p=[0.4, 0.6], size=1000))
    return pd.Series(rng.choice(["a", "b", "c"], p=[0.2, 0.3, 0.5], size=1000))


def run(method: str, kind: detectors.ColumnKind, current: pd.Series) -> detectors.ColumnResult:
    profile = detectors.fit_profile(reference_series(kind, method), kind)
    return detectors.compare_column(profile, current, method=method)


@pytest.mark.parametrize(("method", "kind"), CASES, ids=CASE_IDS)
def test_identical_data_is_not_drift(method: str, kind: detectors.ColumnKind) -> None:
    result = run(method, kind, reference_series(kind, method))
    assert result.status == "ok"
    assert not result.drifted
    assert result.method == method
    assert result.column == "feature"
    assert result.n_current == 2000
    default = detectors.get_method(method).default_threshold
    if detectors.get_method(method).has_p_value:
        assert result.threshold == default
    else:  # a distance is compared with max(configured threshold, noise floor)
        assert result.details["configured_threshold"] == default
        assert result.threshold == max(default, result.details["noise_floor"] or 0.0)


@pytest.mark.parametrize(("method", "kind"), CASES, ids=CASE_IDS)
def test_shifted_sample_is_drift(method: str, kind: detectors.ColumnKind) -> None:
    result = run(method, kind, shifted_series(kind, method))
    assert result.status == "ok"
    assert result.drifted
    assert result.statistic is not None
    assert (result.p_value is not None) == detectors.get_method(method).has_p_value
    assert result.reason


@pytest.mark.parametrize(("method", "kind"), CASES, ids=CASE_IDS)
def test_inputs_are_not_mutated(method: str, kind: detectors.ColumnKind) -> None:
    reference = reference_series(kind)
    if kind == "numeric":
        current = pd.Series([0.5, np.nan, np.inf, -1.0, 2.0, 3.0])
    else:
        current = pd.Series(["a", None, "z", "b", "b"], dtype=object)
    reference_copy, current_copy = reference.copy(), current.copy()
    profile = detectors.fit_profile(reference, kind)
    detectors.compare_column(profile, current, method=method)
    pd.testing.assert_series_equal(reference, reference_copy)
    pd.testing.assert_series_equal(current, current_copy)


@pytest.mark.parametrize(("method", "kind"), CASES, ids=CASE_IDS)
def test_result_is_json_safe(method: str, kind: detectors.ColumnKind) -> None:
    for current in (shifted_series(kind), pd.Series([], dtype=object)):
        result = run(method, kind, current)
        encoded = json.dumps(result.to_dict(), allow_nan=False)
        assert json.loads(encoded)["method"] == method


@pytest.mark.parametrize(("method", "kind"), CASES, ids=CASE_IDS)
def test_tested_result_carries_both_histograms(method: str, kind: detectors.ColumnKind) -> None:
    """What a report page draws: the two histograms over the same bins, counting every value."""
    current = shifted_series(kind, method)
    profile = detectors.fit_profile(reference_series(kind, method), kind)
    result = detectors.compare_column(profile, current, method=method)
    reference_counts = result.details["reference_counts"]
    current_counts = result.details["current_counts"]
    if kind == "numeric":
        assert profile.bin_edges is not None and profile.bin_counts is not None
        assert result.details["bin_edges"] == profile.bin_edges.tolist()
        assert reference_counts == profile.bin_counts.tolist()
        assert len(current_counts) == len(reference_counts) == len(profile.bin_edges) + 1
    else:
        assert reference_counts == profile.category_counts
        assert current_counts == current.value_counts().to_dict()
    assert sum(_counts(reference_counts)) == result.n_reference == 2000
    assert sum(_counts(current_counts)) == result.n_current == 1000


def _counts(counts: list[int] | dict[str, int]) -> list[int]:
    return list(counts.values()) if isinstance(counts, dict) else counts


@pytest.mark.parametrize(("method", "kind"), CASES, ids=CASE_IDS)
def test_empty_window(method: str, kind: detectors.ColumnKind) -> None:
    result = run(method, kind, pd.Series([], dtype="float64" if kind == "numeric" else object))
    assert (result.status, result.drifted) == ("empty", False)
    assert result.statistic is None and result.p_value is None
    assert result.reason == "current window is empty"


@pytest.mark.parametrize(("method", "kind"), CASES, ids=CASE_IDS)
def test_all_missing_window(method: str, kind: detectors.ColumnKind) -> None:
    result = run(method, kind, pd.Series([None, np.nan, None], dtype=object))
    assert (result.status, result.drifted) == ("all_missing", False)
    assert result.details["n_missing_current"] == 3


@pytest.mark.parametrize(("method", "kind"), NUMERIC_CASES, ids=[m for m, _ in NUMERIC_CASES])
def test_non_numeric_values_are_invalid(method: str, kind: detectors.ColumnKind) -> None:
    result = run(method, kind, pd.Series(["1.5", "abc", "2"]))
    assert (result.status, result.drifted) == ("invalid_values", False)
    assert "'feature'" in result.reason and "abc" in result.reason


@pytest.mark.parametrize(("method", "kind"), NUMERIC_CASES, ids=[m for m, _ in NUMERIC_CASES])
def test_infinities_are_excluded_and_reported(method: str, kind: detectors.ColumnKind) -> None:
    only_infinite = run(method, kind, pd.Series([np.inf, -np.inf]))
    assert (only_infinite.status, only_infinite.drifted) == ("invalid_values", False)
    assert only_infinite.details["n_infinite_current"] == 2

    values = reference_series(kind).to_numpy()
    with_infinite = run(method, kind, pd.Series(np.append(values, [np.inf, np.inf, -np.inf])))
    assert with_infinite.status == "ok" and not with_infinite.drifted
    assert with_infinite.n_current == values.size
    assert with_infinite.details["n_infinite_current"] == 3


@pytest.mark.parametrize(("method", "kind"), CASES, ids=CASE_IDS)
def test_too_few_values(method: str, kind: detectors.ColumnKind) -> None:
    spec = detectors.get_method(method)
    one_value = pd.Series([0.1] if kind == "numeric" else ["a"])
    result = run(method, kind, one_value)
    if spec.min_samples > 1:
        assert (result.status, result.drifted) == ("insufficient_data", False)
        assert method in result.reason
    else:
        assert result.status == "ok"


@pytest.mark.parametrize(("method", "kind"), CASES, ids=CASE_IDS)
def test_missing_values_are_counted_and_excluded(method: str, kind: detectors.ColumnKind) -> None:
    current = reference_series(kind, method).astype(object)
    current = pd.concat([current, pd.Series([None] * 7, dtype=object)], ignore_index=True)
    result = run(method, kind, current)
    assert result.status == "ok" and not result.drifted
    assert result.n_current == 2000
    assert result.details["n_missing_current"] == 7


@pytest.mark.parametrize("method", sorted(detectors.METHODS))
def test_incompatible_kind_raises_naming_method_column_and_kind(method: str) -> None:
    spec = detectors.get_method(method)
    all_kinds: set[detectors.ColumnKind] = {"numeric", "categorical"}
    for kind in all_kinds - spec.kinds:
        profile = detectors.fit_profile(reference_series(kind), kind)
        with pytest.raises(ValueError, match=rf"{method}.*'feature'.*{kind}"):
            detectors.compare_column(profile, reference_series(kind), method=method)


def test_unknown_method_lists_known_names() -> None:
    profile = detectors.fit_profile(reference_series("numeric"), "numeric")
    with pytest.raises(detectors.UnknownMethodError, match=r"chi2, .*ks, .*psi, .*wasserstein"):
        detectors.compare_column(profile, reference_series("numeric"), method="kolmogorov")
    assert issubclass(detectors.UnknownMethodError, ValueError)


def test_defaults_by_kind() -> None:
    assert detectors.default_method("numeric") == "ks"
    assert detectors.default_method("categorical") == "chi2"
    categorical = detectors.fit_profile(reference_series("categorical"), "categorical")
    assert detectors.compare_column(categorical, shifted_series("categorical")).method == "chi2"


@pytest.mark.parametrize("threshold", [0.0, -1.0, float("nan"), 1.5])
def test_bad_threshold_raises(threshold: float) -> None:
    profile = detectors.fit_profile(reference_series("numeric"), "numeric")
    with pytest.raises(ValueError, match="threshold"):
        detectors.compare_column(profile, shifted_series("numeric"), threshold=threshold)


def test_explicit_threshold_is_used() -> None:
    profile = detectors.fit_profile(reference_series("numeric"), "numeric")
    result = detectors.compare_column(
        profile, shifted_series("numeric"), method="psi", threshold=50
    )
    assert result.threshold == 50 and not result.drifted
    assert result.reason.startswith("PSI ") and "< 50" in result.reason


def test_constant_columns() -> None:
    profile = detectors.fit_profile(pd.Series([3.0] * 20, name="flag"), "numeric")
    same = pd.Series([3.0] * 10)
    ks = detectors.compare_column(profile, same, method="ks")
    assert (ks.status, ks.statistic, ks.drifted) == ("constant", None, False)
    wasserstein = detectors.compare_column(profile, same, method="wasserstein")
    assert (wasserstein.status, wasserstein.drifted) == ("constant", False)
    assert "one and the same value (3)" in wasserstein.reason
    # Values outside a constant reference fall into a tail bin, so PSI still sees them.
    assert detectors.compare_column(profile, pd.Series([1.0] * 10), method="psi").drifted
    assert detectors.compare_column(profile, pd.Series([5.0] * 10), method="psi").drifted
    assert not detectors.compare_column(profile, same, method="psi").drifted


def test_unseen_and_vanished_categories_are_reported() -> None:
    profile = detectors.fit_profile(pd.Series(list("aabbcc"), name="c"), "categorical")
    for method in ("chi2", "psi"):
        result = detectors.compare_column(profile, pd.Series(list("aabbdd")), method=method)
        assert result.status == "ok"
        assert result.details["unseen_categories"] == ["d"]
        assert result.details["vanished_categories"] == ["c"]
        assert result.details["current_counts"] == {"a": 2, "b": 2, "c": 0, "d": 2}


def test_integral_floats_and_integers_are_the_same_category() -> None:
    profile = detectors.fit_profile(pd.Series([1, 2, 2, 1], name="code"), "categorical")
    current = pd.Series([1.0, 2.0, np.nan, 2.0, 1.0])
    result = detectors.compare_column(profile, current, method="chi2")
    assert result.details["unseen_categories"] == []
    assert result.statistic == 0.0 and not result.drifted


def test_numeric_strings_are_parsed() -> None:
    profile = detectors.fit_profile(pd.Series([1.0, 2.0, 3.0], name="n"), "numeric")
    result = detectors.compare_column(profile, pd.Series(["1", "2", "3"]))
    assert result.status == "ok" and result.statistic == 0.0


@pytest.mark.parametrize("method", sorted(detectors.METHODS))
def test_every_method_declares_its_floor(method: str) -> None:
    """Drift is significant AND large enough: p-value tests need an effect floor,
    distances a noise floor (DESIGN.md, "Defaults users rely on")."""
    spec = detectors.get_method(method)
    if spec.has_p_value:
        assert spec.effect_floor is not None, f"{method}: MethodSpec.effect_floor is not set"
        assert spec.effect_name != "effect", f"{method}: MethodSpec.effect_name is not set"
    else:
        assert spec.noise_floor is not None, f"{method}: MethodSpec.noise_floor is not set"


@pytest.mark.parametrize(("method", "kind"), CASES, ids=CASE_IDS)
def test_result_says_which_condition_held(method: str, kind: detectors.ColumnKind) -> None:
    spec = detectors.get_method(method)
    for current in (shifted_series(kind, method), reference_series(kind, method)):
        result = run(method, kind, current)
        assert result.status == "ok"
        assert result.effect is not None, f"{method} reports no effect size"
        assert result.effect_floor is not None
        large_enough = result.effect >= result.effect_floor
        if spec.has_p_value:
            assert result.p_value is not None
            significant = result.p_value < result.threshold
            assert result.drifted == (significant and large_enough)
            if significant and not large_enough:
                assert "too small to call drift" in result.reason
        else:
            assert result.effect_floor == result.threshold
            assert result.drifted == large_enough
        assert spec.effect_name in result.reason


def test_effect_floor_override_and_bad_values() -> None:
    profile = detectors.fit_profile(reference_series("numeric"), "numeric")
    shifted = shifted_series("numeric")
    strict = detectors.compare_column(profile, shifted, method="ks", effect_floor=0.9)
    assert (strict.effect_floor, strict.drifted) == (0.9, False)
    assert strict.reason.endswith("< floor 0.9: significant but too small to call drift")
    assert detectors.compare_column(profile, shifted, method="ks", effect_floor=0).drifted
    with pytest.raises(ValueError, match="effect_floor"):
        detectors.compare_column(profile, shifted, method="ks", effect_floor=-0.1)
    with pytest.raises(ValueError, match="'psi' is a distance"):
        detectors.compare_column(profile, shifted, method="psi", effect_floor=0.1)
