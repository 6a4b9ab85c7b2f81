"""Pooled-window tests: sketches add up, the pooled KS errs on the safe side, a pool sees more."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from detectors import fit_profile
from detectors.sequential import (
    GRID_CELLS,
    MAX_CATEGORIES,
    OTHER,
    WindowSketch,
    pooled_test,
    sketch_window,
)


@pytest.fixture(scope="module")
def normal_profile() -> object:
    rng = np.random.default_rng(11)
    return fit_profile(pd.Series(rng.normal(0, 1, 20_000), name="x"), "numeric")


def test_sketches_round_trip_and_add_up(normal_profile: object) -> None:
    rng = np.random.default_rng(1)
    window = pd.Series(rng.normal(0, 1, 1_000))
    sketch = sketch_window(normal_profile, window)  # type: ignore[arg-type]
    assert sketch.counts is not None and sketch.counts.size == GRID_CELLS  # 99 edges, 100 cells
    assert int(sketch.counts.sum()) == 1_000
    again = WindowSketch.from_dict("x", sketch.to_dict())
    assert again.counts is not None
    assert again.counts.tolist() == sketch.counts.tolist()


def test_pooled_ks_statistic_is_the_exact_one_taken_at_the_grid(normal_profile: object) -> None:
    """Never above the exact KS statistic of the pooled rows, and within a cell's mass of it."""
    rng = np.random.default_rng(2)
    windows = [pd.Series(rng.normal(0.2, 1.1, 400)) for _ in range(5)]
    sketches = [sketch_window(normal_profile, w) for w in windows]  # type: ignore[arg-type]
    pooled = pooled_test(normal_profile, sketches, level=0.05)  # type: ignore[arg-type]
    reference = normal_profile.sorted_values  # type: ignore[attr-defined]
    exact = stats.ks_2samp(reference, pd.concat(windows).to_numpy())
    assert pooled.statistic is not None
    assert pooled.statistic <= exact.statistic + 1e-12
    assert pooled.statistic >= exact.statistic - 2.0 / GRID_CELLS
    assert pooled.method == "ks@5" and pooled.n_current == 2_000
    assert pooled.details["pooled_windows"] == 5


def test_pooled_ks_false_alarms_at_most_its_level(normal_profile: object) -> None:
    """1,000 seeded null pools of 8 windows x 200 rows at level 0.05.

    The binned statistic is smaller than the exact one, so the rate is at
    most 5 %; the bound allows the binomial 99.9 % upper tail (5 % + 2.1 %).
    """
    rng = np.random.default_rng(3)
    alarms = 0
    for _ in range(1_000):
        sketches = [
            sketch_window(normal_profile, pd.Series(rng.normal(0, 1, 200)))  # type: ignore[arg-type]
            for _ in range(8)
        ]
        result = pooled_test(normal_profile, sketches, level=0.05, effect_floor=0.0)  # type: ignore[arg-type]
        alarms += result.drifted
    assert alarms <= 71


def test_a_shift_too_small_for_one_window_is_seen_in_the_pool(normal_profile: object) -> None:
    """0.15 sd in 300-row windows: no single window at 1e-5, the pool of 16 at 1e-5."""
    rng = np.random.default_rng(4)
    sketches = [
        sketch_window(normal_profile, pd.Series(rng.normal(0.15, 1, 300)))  # type: ignore[arg-type]
        for _ in range(16)
    ]
    singles = [pooled_test(normal_profile, [s], level=1e-5) for s in sketches]  # type: ignore[arg-type]
    assert not any(r.drifted for r in singles)
    pooled = pooled_test(normal_profile, sketches, level=1e-5)  # type: ignore[arg-type]
    assert pooled.drifted, pooled.reason
    assert pooled.reason.startswith("pooled over the last 16 windows (4,800 rows)")


def test_categorical_pool_uses_the_categorical_test_and_lumps_rare_categories() -> None:
    rng = np.random.default_rng(5)
    many = [f"c{i}" for i in range(MAX_CATEGORIES + 100)]
    reference = pd.Series(rng.choice(many, 50_000), name="merchant")
    profile = fit_profile(reference, "categorical")
    sketch = sketch_window(profile, pd.Series(["never-seen"] * 10 + list(rng.choice(many, 990))))
    assert sketch.category_counts is not None
    assert len(sketch.category_counts) <= MAX_CATEGORIES + 1
    assert sketch.category_counts[OTHER] >= 10
    binary = fit_profile(
        pd.Series(rng.choice(["a", "b"], 50_000, p=[0.7, 0.3]), name="flag"), "categorical"
    )
    shifted = [
        sketch_window(binary, pd.Series(rng.choice(["a", "b"], 300, p=[0.64, 0.36])))
        for _ in range(16)
    ]
    result = pooled_test(binary, shifted, level=1e-5)
    assert result.method.endswith("@16") and result.n_current == 4_800
    assert result.drifted, result.reason


def test_sketches_of_another_reference_are_refused(normal_profile: object) -> None:
    rng = np.random.default_rng(6)
    other = fit_profile(pd.Series(rng.integers(0, 3, 1_000).astype(float), name="x"), "numeric")
    foreign = sketch_window(other, pd.Series([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match="does not fit the reference grid"):
        pooled_test(normal_profile, [foreign], level=0.05)  # type: ignore[arg-type]
