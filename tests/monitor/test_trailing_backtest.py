"""A trailing reference follows a slow drift that a fixed one alarms on, and still sees a jump.

Ten weeks of daily windows of 400 rows whose level climbs by 0.0025 sd a
day (0.19 sd in all), then jumps by 1 sd from day 70 on. Two monitors are
backtested over the windows of days 21 to 73 with the daemon's own run
code: one against a fixed training set (20,000 rows at the starting
level), one against the trailing 7 days skipping the last one, refitted
daily.

A trailing reference lags its windows by about ``skip + span / 2`` (5 days
here), so under a level moving by r a day a window differs from it by r
times that lag (0.0125 sd here), while a fixed reference falls behind by
more every day. The span is 7 days rather than the usual 28 so that this
lag stays far below what a 400-row window resolves at a budget of one false
alarm a year; with 28 days it would be 15.5 days, and the same climb would
already be 0.04 sd of drift.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from monitor.backtest import Backtest, run_backtest
from monitor.config import parse_settings

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)
DAYS = 75
ROWS_PER_DAY = 400
DRIFT_PER_DAY = 0.0025
JUMP_FROM = 70
FIRST_WINDOW = 21


def write_data(directory: Path) -> tuple[Path, Path]:
    """The daily events, and the training set they are compared with by the fixed monitor."""
    rng = np.random.default_rng(2814)
    frames = []
    for day in range(DAYS):
        level = DRIFT_PER_DAY * day + (1.0 if day >= JUMP_FROM else 0.0)
        offsets = np.sort(rng.integers(0, 86_400_000_000, ROWS_PER_DAY))
        frames.append(
            pd.DataFrame(
                {
                    "ts": pd.Timestamp(T0 + day * DAY) + pd.to_timedelta(offsets, unit="us"),
                    "x": rng.normal(level, 1.0, ROWS_PER_DAY),
                }
            )
        )
    events, training = directory / "events.parquet", directory / "training.parquet"
    pd.concat(frames, ignore_index=True).to_parquet(events)
    pd.DataFrame({"x": rng.normal(0.0, 1.0, 20_000)}).to_parquet(training)
    return events, training


def backtest(events: Path, reference: dict[str, Any]) -> Backtest:
    settings = parse_settings(
        {
            "monitors": [
                {
                    "name": "seasonal",
                    "schedule": "every 1d",
                    "window": "1d",
                    "source": {"type": "file", "path": str(events), "timestamp_column": "ts"},
                    "reference": reference,
                    "columns": [{"name": "x", "kind": "numeric"}],
                    # A false alarm a year: what a daily monitor that pages someone can afford.
                    "thresholds": {"false_alarms": "1/365d"},
                }
            ]
        }
    )
    first_slot = T0 + (FIRST_WINDOW + 1) * DAY
    return run_backtest(settings, settings.monitors[0], first_slot, T0 + DAYS * DAY)


def window_day(slot: datetime) -> int:
    """The day whose window the run at ``slot`` examines."""
    return (slot - DAY - T0) // DAY


def test_a_trailing_reference_follows_a_slow_drift_and_still_catches_a_jump(
    tmp_path: Path,
) -> None:
    events, training = write_data(tmp_path)
    fixed = backtest(events, {"type": "file", "path": str(training)})
    trailing = backtest(events, {"type": "trailing", "span": "7d", "skip": "1d", "refit": "1d"})

    days = list(range(FIRST_WINDOW, DAYS - 1))
    assert [window_day(run.scheduled_for) for run in trailing.runs] == days
    assert all(run.status == "succeeded" for run in [*fixed.runs, *trailing.runs])
    # Against the training set, the slow climb is drift weeks before the jump (its
    # pooled windows see it first) ...
    fixed_drifted = [window_day(run.scheduled_for) for run in fixed.runs if run.drifted]
    assert len([day for day in fixed_drifted if day < JUMP_FROM]) >= 15
    assert fixed.alerts[0].state == "firing"
    assert window_day(fixed.alerts[0].at) < JUMP_FROM - 14
    # ... while the trailing reference moves with it: the jump, and only the jump,
    # is drift, and the one alert fires on its first day.
    trailing_drifted = [window_day(run.scheduled_for) for run in trailing.runs if run.drifted]
    assert trailing_drifted == list(range(JUMP_FROM, DAYS - 1))
    assert [(a.rule, a.state, window_day(a.at)) for a in trailing.alerts] == [
        ("drift", "firing", JUMP_FROM)
    ]
    # Each slot was tested against the 7 days before its window, less the last day:
    # data from before it only, a profile of its own every day.
    for run in trailing.runs:
        window_start = run.scheduled_for - DAY
        assert run.reference is not None
        assert (run.reference.start, run.reference.end) == (
            window_start - 8 * DAY,
            window_start - DAY,
        )
    assert len({run.reference.key for run in trailing.runs if run.reference}) == len(days)
