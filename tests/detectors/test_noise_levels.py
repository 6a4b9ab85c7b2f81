"""Noise floors at a given false-alarm level (``compare_column(noise_level=...)``).

At 0.01 (the default) a floor is the empirical 99th percentile of its
no-drift draws, as it always was; below 0.01 the tail is extrapolated
(``detectors.noise``) and must stay conservative: simulated no-drift pairs
must not cross the floor more often than the level allows.

Binomial tolerance: with N pairs and a true rate equal to the level, the
alarm count is Binomial(N, level); the test allows up to its 99.9th
percentile (35 for N = 20,000 at 1e-3, against 20 expected), so a floor
exactly at the level fails with probability below 0.1%. The simulations
are seeded, so the outcome is fixed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import detectors
from detectors._prepare import prepare_categorical, prepare_numeric
from detectors.jensenshannon import jensen_shannon_distance
from detectors.noise import (
    histogram_noise_floor,
    normed_energy_noise_floor,
    normed_wasserstein_noise_floor,
    percentile_label,
)
from detectors.profile import ColumnProfile
from detectors.psi import population_stability_index

LEVEL = 1e-3
PAIRS = 20_000
DISTANCES = sorted(name for name, spec in detectors.METHODS.items() if spec.noise_floor)


def allowed_alarms(pairs: int, level: float) -> int:
    return int(stats.binom.ppf(0.999, pairs, level))


def categorical_profile(counts: dict[str, int]) -> ColumnProfile:
    return ColumnProfile(
        column="c",
        kind="categorical",
        n=sum(counts.values()),
        n_missing=0,
        category_counts={name: count for name, count in counts.items() if count},
    )


@pytest.mark.parametrize(
    "distance", [population_stability_index, jensen_shannon_distance], ids=["psi", "js"]
)
def test_histogram_floor_false_alarm_rate_at_a_low_level(distance: object) -> None:
    """20,000 no-drift pairs of a three-category column, 40 reference and 30 current rows.

    The floor depends on the pooled counts only, so it is computed once per pooled vector.
    Measured: PSI 21 alarms (1.05e-3, at the level: PSI's tail is chi-squared's, which
    the gamma fits), JS 5 (2.5e-4); the bound is 35 (1.75e-3).
    """
    floor_of = histogram_noise_floor(distance)  # type: ignore[arg-type]
    names = ["a", "b", "c"]
    rng = np.random.default_rng(11)
    references = rng.multinomial(40, [0.4, 0.3, 0.3], size=PAIRS)
    currents = rng.multinomial(30, [0.4, 0.3, 0.3], size=PAIRS)
    floors: dict[tuple[int, ...], float] = {}
    alarms = 0
    for reference, current in zip(references, currents, strict=True):
        key = tuple((reference + current).tolist())
        if key not in floors:
            profile = categorical_profile(dict(zip(names, reference.tolist(), strict=True)))
            window = prepare_categorical(pd.Series(np.repeat(names, current)))
            floors[key] = floor_of(profile, window, LEVEL)
        alarms += distance(reference, current) >= floors[key]  # type: ignore[operator]
    assert alarms <= allowed_alarms(PAIRS, LEVEL), alarms


def test_wasserstein_floor_false_alarm_rate_at_a_low_level() -> None:
    """200 normal references of 200 rows, 100 windows of 100 rows each: 20,000 pairs.

    Measured: 0 alarms (the Borell-TIS bound is conservative); the bound is 35.
    At these sizes the 1% floor itself is loose (2.9% of pairs cross it), the
    Brownian-bridge approximation being asymptotic.
    """
    rng = np.random.default_rng(12)
    alarms = 0
    for _ in range(200):
        reference = np.sort(rng.normal(0.0, 1.0, 200))
        profile = detectors.fit_profile(pd.Series(reference, name="x"), "numeric")
        floor = normed_wasserstein_noise_floor(
            profile, prepare_numeric(pd.Series(np.zeros(100))), LEVEL
        )
        scale = float(np.std(reference))
        for _ in range(100):
            distance = stats.wasserstein_distance(reference, rng.normal(0.0, 1.0, 100)) / scale
            alarms += distance >= floor
    assert alarms <= allowed_alarms(PAIRS, LEVEL), alarms


def test_default_level_is_the_99th_percentile_bit_for_bit() -> None:
    rng = np.random.default_rng(13)
    profile = detectors.fit_profile(pd.Series(rng.normal(0, 1, 3000), name="x"), "numeric")
    window = prepare_numeric(pd.Series(rng.normal(0, 1, 300)))
    assert normed_wasserstein_noise_floor(profile, window, 0.01) == pytest.approx(0.2, abs=0.1)
    # Same draws, same quantile call as before the level existed.
    from detectors import noise

    bridge = noise._bridge_integrals(profile, window, power=1)
    assert bridge is not None
    integrals, scale, n_reference, n_current = bridge
    scale_n = np.sqrt(1.0 / n_reference + 1.0 / n_current)
    expected = float(np.quantile(integrals, 0.99) * scale_n / scale)
    assert normed_wasserstein_noise_floor(profile, window, 0.01) == expected
    energy = float(
        np.sqrt(2.0 * np.quantile(bridge_squared(profile, window), 0.99) * scale_n**2) / scale
    )
    assert normed_energy_noise_floor(profile, window, 0.01) == energy


def bridge_squared(profile: ColumnProfile, window: object) -> np.ndarray:
    from detectors import noise

    bridge = noise._bridge_integrals(profile, window, power=2)  # type: ignore[arg-type]
    assert bridge is not None
    return bridge[0]


@pytest.mark.parametrize("method", DISTANCES)
def test_floor_rises_as_the_level_falls_and_the_reason_names_it(method: str) -> None:
    kind: detectors.ColumnKind = (
        "numeric" if "numeric" in detectors.METHODS[method].kinds else "categorical"
    )
    rng = np.random.default_rng(14)
    if kind == "numeric":
        reference = pd.Series(rng.normal(0, 1, 2000), name="x")
        current = pd.Series(rng.normal(0, 1, 60))
    else:
        reference = pd.Series(rng.choice(list("abcdef"), size=2000), name="x")
        current = pd.Series(rng.choice(list("abcdef"), size=60))
    profile = detectors.fit_profile(reference, kind)
    floors = []
    for level in (None, 0.01, 1e-3, 1e-5):
        result = detectors.compare_column(profile, current, method=method, noise_level=level)
        assert result.status == "ok" and not result.drifted
        floors.append(result.details["noise_floor"])
        if level is not None:
            assert result.details["noise_level"] == level
    assert floors[0] == floors[1]
    assert floors[1] <= floors[2] <= floors[3]
    strict = detectors.compare_column(profile, current, method=method, noise_level=1e-5)
    if floors[3] > strict.details["configured_threshold"]:
        assert "is the 99.999th percentile of" in strict.reason


def test_percentile_labels_and_bad_levels() -> None:
    assert percentile_label(0.01) == "99th" and percentile_label(1e-5) == "99.999th"
    profile = detectors.fit_profile(pd.Series(list("aabbc") * 10, name="c"), "categorical")
    for level in (0.0, 1.0, -0.1, float("nan")):
        with pytest.raises(ValueError, match="noise_level"):
            detectors.compare_column(
                profile, pd.Series(list("abc")), method="psi", noise_level=level
            )
