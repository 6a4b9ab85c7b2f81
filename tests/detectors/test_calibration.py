"""Calibration: honest false-alarm rates under no drift, seeded so every run is the same.

* Each p-value test in the registry (whoever added it): over 2,000 seeded
  null trials the share of p-values below alpha = 0.05 lies in the binomial
  99% interval around alpha. Small samples keep this fast.
* Benjamini-Hochberg keeps the false discovery rate at or below its level.
* The default monitor-level decision (per-column default method, BH at 0.05,
  effect floors, "any column" rule) raises a false alarm on at most 1% of
  200 seeded no-drift pairs of 25 columns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import detectors

ALPHA = 0.05
TRIALS = 2_000
LOW, HIGH = (int(v) for v in stats.binom.interval(0.99, TRIALS, ALPHA))
"""Binomial 99% interval of the number of p-values below alpha in TRIALS null trials: 75..126."""

P_VALUE_CASES = [
    (name, kind)
    for name, spec in sorted(detectors.METHODS.items())
    if spec.has_p_value
    for kind in sorted(spec.kinds)
]

N_REFERENCE, N_CURRENT = 300, 200
"""Unequal sizes keep discrete statistics (KS, Fisher) on a fine lattice."""


def null_pair(kind: str, seed: int) -> tuple[pd.Series, pd.Series]:
    rng = np.random.default_rng(seed)
    if kind == "numeric":
        return (
            pd.Series(rng.normal(0, 1, N_REFERENCE), name="x"),
            pd.Series(rng.normal(0, 1, N_CURRENT)),
        )
    # Binary, so that the binary-only tests (fisher, ztest) take the same data.
    return (
        pd.Series(rng.choice(["a", "b"], N_REFERENCE, p=[0.4, 0.6]), name="x"),
        pd.Series(rng.choice(["a", "b"], N_CURRENT, p=[0.4, 0.6])),
    )


@pytest.mark.parametrize(
    ("method", "kind"), P_VALUE_CASES, ids=[f"{m}-{k}" for m, k in P_VALUE_CASES]
)
def test_false_alarm_rate_of_each_p_value_test(method: str, kind: str) -> None:
    alarms = drifted = 0
    for trial in range(TRIALS):
        reference, current = null_pair(kind, 1_000_000 + trial)
        profile = detectors.fit_profile(reference, kind)  # type: ignore[arg-type]
        result = detectors.compare_column(profile, current, method=method, threshold=ALPHA)
        assert result.status == "ok", result.reason
        assert result.p_value is not None
        alarms += result.p_value < ALPHA
        drifted += result.drifted
    assert LOW <= alarms <= HIGH, f"{method}: {alarms} of {TRIALS} null p-values < {ALPHA}"
    # The effect floor can only remove alarms.
    assert drifted <= alarms


def test_benjamini_hochberg_keeps_the_false_discovery_rate() -> None:
    """20 columns, 15 without drift (uniform p) and 5 drifted (one-sided z, shift 3), 2,000 runs."""
    rng = np.random.default_rng(7)
    n_null, n_drift, runs = 15, 5, 2_000
    proportions = []
    for _ in range(runs):
        null_p = rng.uniform(size=n_null)
        drift_p = stats.norm.sf(rng.normal(3.0, 1.0, n_drift))
        results = [
            detectors.ColumnResult(
                column=f"c{i}",
                method="ks",
                statistic=0.1,
                p_value=float(p),
                threshold=ALPHA,
                drifted=bool(p < ALPHA),
                n_reference=100,
                n_current=100,
                status="ok",
                reason="",
            )
            for i, p in enumerate(np.concatenate([null_p, drift_p]))
        ]
        corrected = detectors.apply_correction(results, alpha=ALPHA, correction="bh")
        flags = np.array([r.drifted for r in corrected])
        discoveries = int(flags.sum())
        false = int(flags[:n_null].sum())
        proportions.append(false / discoveries if discoveries else 0.0)
    fdr = float(np.mean(proportions))
    # BH's FDR is (n_null / n) * alpha = 0.0375 here; the Monte Carlo error is about 0.002.
    assert fdr <= ALPHA, f"FDR {fdr:.4f} > {ALPHA}"
    assert fdr > 0.02  # and it is not trivially conservative


REFERENCE_ROWS, CURRENT_ROWS = 20_000, 5_000
"""Daemon-like sizes (a reference larger than the window), small enough to keep this fast."""
CATEGORY_COUNTS = (3, 10, 50, 200, 1_000)
PAIRS = 200
MAX_FALSE_ALARMS = 2
"""1% of 200 pairs: the stated tolerance of the monitor-level false-alarm rate."""


def no_drift_pair(seed: int) -> tuple[dict[str, pd.Series], dict[str, pd.Series]]:
    """25 columns: 20 numeric (1% missing), 5 categorical with 3 to 1,000 categories."""
    rng = np.random.default_rng(seed)
    reference: dict[str, pd.Series] = {}
    current: dict[str, pd.Series] = {}
    sides = ((reference, REFERENCE_ROWS), (current, CURRENT_ROWS))
    for index in range(20):
        for side, rows in sides:
            values = rng.normal(0, 1, rows)
            values[rng.random(rows) < 0.01] = np.nan
            side[f"num_{index}"] = pd.Series(values, name=f"num_{index}")
    for count in CATEGORY_COUNTS:
        weights = rng.dirichlet(np.ones(count))
        for side, rows in sides:
            side[f"cat_{count}"] = pd.Series(
                rng.choice(count, rows, p=weights), name=f"cat_{count}"
            )
    return reference, current


def default_decision(reference: dict[str, pd.Series], current: dict[str, pd.Series]) -> bool:
    results = [
        detectors.compare_column(
            detectors.fit_profile(values, "numeric" if name.startswith("num_") else "categorical"),
            current[name],
        )
        for name, values in reference.items()
    ]
    return detectors.decide(detectors.apply_correction(results)).drifted


def test_default_monitor_level_false_alarm_rate() -> None:
    alarms = sum(default_decision(*no_drift_pair(seed)) for seed in range(PAIRS))
    assert alarms <= MAX_FALSE_ALARMS, f"{alarms} false alarms in {PAIRS} no-drift runs"
