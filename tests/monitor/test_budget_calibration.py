"""The false-alarm budget holds: drifted runs on stationary data stay within it.

Each case runs the daemon's own decision code (``evaluation.evaluate`` for the
single window, ``sequential.pooled_results`` for the pools, with the
history kept in a list instead of the store) over a long stretch of
stationary windows of mixed columns. The budgets are chosen so the per-run
level is a few percent and the count of false alarms is large enough to
check: the expected count under the budget is ``runs * level``, and a case
passes when the observed count is below the Poisson 99.9 % upper bound of
that expectation. Tiny levels (the daemon's real ones) are covered by each
method's own calibration and by the 30-day backtest in test_backtest.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from detectors.sequential import WindowSketch
from monitor.config import MonitorSettings, parse_settings
from monitor.evaluation import evaluate, prepare_window, run_verdict
from monitor.levels import monitor_levels
from monitor.profiles import fit_reference
from monitor.sequential import history_rows, pooled_results, sketch_columns
from tests.support import MIXED_COLUMNS, mixed_rows

RUNS = 400


def _monitor(schedule: str, budget: str) -> MonitorSettings:
    return parse_settings(
        {
            "monitors": [
                {
                    "name": "calibration",
                    "schedule": schedule,
                    "source": {"type": "demo"},
                    "reference": {"type": "window", "start": "2026-01-01", "end": "2026-01-02"},
                    "columns": [{"name": n, "kind": k} for n, k in MIXED_COLUMNS],
                    "thresholds": {"false_alarms": budget},
                }
            ]
        }
    ).monitors[0]


@pytest.mark.parametrize(
    ("schedule", "budget", "rows"),
    [
        ("every 1h", "1/1d", 1_000),
        ("every 15m", "1/6h", 300),
        ("every 1d", "1/30d", 100),
    ],
)
def test_drifted_runs_on_stationary_data_stay_within_the_budget(
    schedule: str, budget: str, rows: int
) -> None:
    monitor = _monitor(schedule, budget)
    levels = monitor_levels(monitor)
    rng = np.random.default_rng(rows)
    profile = fit_reference(monitor, mixed_rows(rng, 20_000))
    history: list[dict[str, WindowSketch]] = []
    alarms = 0
    for _ in range(RUNS):
        current = mixed_rows(rng, rows)
        prepared = prepare_window(monitor, profile, current)
        results = evaluate(monitor, profile, current, prepared, levels)
        sketches = sketch_columns(profile.columns, prepared, results)
        results += pooled_results(monitor, profile.columns, sketches, history, levels)
        history.insert(0, sketches)
        del history[history_rows(levels) :]
        drifted, _ = run_verdict(monitor, results)
        alarms += drifted
    expected = RUNS * levels.total
    bound = stats.poisson.ppf(0.999, expected)
    print(f"{schedule} {rows} rows: {alarms} drifted runs of {RUNS}; budget allows {expected:.1f}")
    assert alarms <= bound
