"""Reference profiles: fitting, subsampling, and the JSON round trip."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import detectors


def round_trip(profile: detectors.ColumnProfile) -> detectors.ColumnProfile:
    return detectors.ColumnProfile.from_dict(
        json.loads(json.dumps(profile.to_dict(), allow_nan=False))
    )


def numeric_reference() -> pd.Series:
    values = np.random.default_rng(11).lognormal(0.0, 1.0, 3000)
    return pd.Series(np.append(values, [np.nan, np.inf]), name="amount")


PROFILES = {
    "numeric": lambda: detectors.fit_profile(numeric_reference(), "numeric"),
    "numeric-subsampled": lambda: detectors.fit_profile(
        numeric_reference(), "numeric", max_sorted=500, seed=9
    ),
    "categorical": lambda: detectors.fit_profile(
        pd.Series(["x", "y", None, "y", 3, 3.0], name="kind"), "categorical"
    ),
    "empty-numeric": lambda: detectors.fit_profile(pd.Series([np.nan], name="void"), "numeric"),
}


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_round_trip_is_exact(name: str) -> None:
    profile = PROFILES[name]()
    restored = round_trip(profile)
    assert restored == profile
    assert restored.to_dict() == profile.to_dict()


@pytest.mark.parametrize("name", ["numeric", "numeric-subsampled", "categorical"])
def test_round_tripped_profile_tests_the_same(name: str) -> None:
    profile = PROFILES[name]()
    restored = round_trip(profile)
    if profile.kind == "numeric":
        current = pd.Series(np.random.default_rng(12).lognormal(0.2, 1.0, 700))
    else:
        current = pd.Series(["x", "y", "z", "3"])
    for method, spec in detectors.METHODS.items():
        if profile.kind in spec.kinds:
            original = detectors.compare_column(profile, current, method=method)
            assert detectors.compare_column(restored, current, method=method) == original


def test_numeric_profile_summary() -> None:
    profile = PROFILES["numeric"]()
    finite = numeric_reference().to_numpy()[:3000]
    assert (profile.column, profile.kind) == ("amount", "numeric")
    assert (profile.n, profile.n_missing, profile.n_infinite) == (3000, 1, 1)
    assert profile.sorted_values is not None and not profile.subsampled
    assert np.array_equal(profile.sorted_values, np.sort(finite))
    assert profile.mean == pytest.approx(finite.mean())
    assert profile.std == pytest.approx(finite.std())
    assert (profile.min, profile.max) == (finite.min(), finite.max())
    assert profile.bin_edges is not None and profile.bin_counts is not None
    assert profile.bin_edges.size == 9  # the interior deciles
    assert profile.bin_counts.size == 10
    assert profile.bin_counts.tolist() == [300] * 10
    assert profile.category_counts is None


def test_subsample_is_seeded_and_bounded() -> None:
    first = PROFILES["numeric-subsampled"]()
    assert first.subsampled and first.sorted_values is not None
    assert first.sorted_values.size == 500 and first.n == 3000
    assert first == PROFILES["numeric-subsampled"]()
    other_seed = detectors.fit_profile(numeric_reference(), "numeric", max_sorted=500, seed=10)
    assert other_seed != first
    # Moments and bins use every value, not the subsample.
    assert first.mean == PROFILES["numeric"]().mean


def test_categorical_profile_stringifies_values() -> None:
    profile = PROFILES["categorical"]()
    assert profile.category_counts == {"3": 2, "x": 1, "y": 2}
    assert (profile.n, profile.n_missing) == (5, 1)
    assert profile.sorted_values is None and profile.mean is None


def test_discrete_numeric_reference_keeps_its_values_apart() -> None:
    profile = detectors.fit_profile(pd.Series([0] * 95 + [1] * 5, name="flag"), "numeric")
    assert profile.bin_edges is not None and profile.bin_counts is not None
    assert profile.bin_edges.tolist() == [0.0]
    assert profile.bin_counts.tolist() == [95, 5]


def test_empty_reference_gives_insufficient_data() -> None:
    profile = PROFILES["empty-numeric"]()
    result = detectors.compare_column(profile, pd.Series([1.0, 2.0]))
    assert (result.status, result.drifted, result.n_reference) == ("insufficient_data", False, 0)


def test_fit_profile_input_errors() -> None:
    with pytest.raises(ValueError, match="named series"):
        detectors.fit_profile(pd.Series([1.0]), "numeric")
    with pytest.raises(ValueError, match="'price'.*not numbers"):
        detectors.fit_profile(pd.Series(["1", "cheap"], name="price"), "numeric")
    with pytest.raises(ValueError, match="unknown column kind"):
        detectors.fit_profile(pd.Series([1.0], name="x"), "ordinal")  # type: ignore[arg-type]


def test_from_dict_rejects_other_layouts() -> None:
    data = PROFILES["categorical"]().to_dict()
    with pytest.raises(ValueError, match="format"):
        detectors.ColumnProfile.from_dict({**data, "format": 99})
    with pytest.raises(ValueError, match="unexpected"):
        detectors.ColumnProfile.from_dict({**data, "extra": 1})


def test_format_1_profiles_with_listed_sorted_values_still_load() -> None:
    rng = np.random.default_rng(8)
    profile = detectors.fit_profile(pd.Series(rng.normal(size=300), name="x"), "numeric")
    data = profile.to_dict()
    assert data["format"] == 3 and isinstance(data["sorted_values"], str)
    assert profile.sorted_values is not None
    # Formats 1 and 2 had bins at the minimum and maximum; they load with today's bins.
    old_bins = {"bin_edges": [-3.0, 0.0, 3.0], "bin_counts": [0, 150, 150, 0]}
    old = {**data, **old_bins, "format": 1, "sorted_values": profile.sorted_values.tolist()}
    assert detectors.ColumnProfile.from_dict(json.loads(json.dumps(old))) == profile
    assert detectors.ColumnProfile.from_dict({**data, **old_bins, "format": 2}) == profile
    assert detectors.ColumnProfile.from_dict(json.loads(json.dumps(data))) == profile
