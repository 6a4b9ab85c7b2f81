"""Noise bands keep their level: on stationary data a metric is degraded as often as ``level`` says.

A binary model with calibrated scores, a 200,000-row reference and fresh
seeded windows of the same population. For every metric, realized and
estimated, and for windows of 200 and of 5,000 rows, the number of
windows called degraded at level 0.01 and at 1e-3 lies in the binomial
99.9% interval of (windows, level). A window not degraded at 0.01 is not
degraded at 1e-3 either (the band only widens as the level falls), so only
the windows degraded at 0.01 are compared again.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from detectors.performance import (
    PerformanceProfile,
    compare_performance,
    estimate_performance,
    fit_performance,
)

LEVELS = (0.01, 1e-3)
WINDOWS = {200: 1_500, 5_000: 400}
"""Rows a window -> windows drawn."""


def stationary(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = rng.normal(0, 1, n)
    scores = 1 / (1 + np.exp(-(-1.0 + 2.5 * x)))
    return rng.random(n) < scores, scores >= 0.5, scores


@pytest.fixture(scope="module")
def profile() -> PerformanceProfile:
    return fit_performance(
        *stationary(np.random.default_rng(60), 200_000), task="classification", column="label"
    )


def interval(windows: int, level: float) -> tuple[int, int]:
    low, high = stats.binom.interval(0.999, windows, level)
    return int(low), int(high)


def results(profile: PerformanceProfile, rows: tuple[np.ndarray, ...], level: float) -> list:  # type: ignore[type-arg]
    truth, predicted, scores = rows
    return compare_performance(profile, truth, predicted, scores, level=level) + (
        estimate_performance(profile, predicted, scores, level=level)
    )


@pytest.mark.parametrize("n_rows", sorted(WINDOWS))
def test_false_alarm_rate_of_every_metric_is_its_level(
    profile: PerformanceProfile, n_rows: int
) -> None:
    rng = np.random.default_rng(61 + n_rows)
    windows = WINDOWS[n_rows]
    counts = {
        (r.method, level): 0 for r in results(profile, stationary(rng, 50), 0.5) for level in LEVELS
    }
    for _ in range(windows):
        rows = stationary(rng, n_rows)
        first = results(profile, rows, LEVELS[0])
        assert all(r.status == "ok" for r in first), [r.reason for r in first if r.status != "ok"]
        for r in first:
            counts[(r.method, LEVELS[0])] += r.drifted
        if any(r.drifted for r in first):
            for r in results(profile, rows, LEVELS[1]):
                counts[(r.method, LEVELS[1])] += r.drifted
    outside = {
        key: count
        for key, count in counts.items()
        if not interval(windows, key[1])[0] <= count <= interval(windows, key[1])[1]
    }
    assert not outside, (outside, {level: interval(windows, level) for level in LEVELS})
