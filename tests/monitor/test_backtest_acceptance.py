"""Verdicts that hold for months, shown the way a user tunes a monitor: `driftwarden backtest`.

Each case writes seeded hourly windows of mixed columns (normal,
integer-valued, heavy-tailed, boolean, categorical: ``tests.support.mixed_rows``)
to Parquet with a 50,000-row reference of the same distribution, and
backtests an hourly monitor with the defaults: the false-alarm budget
("1/30d"), pooled windows of 4 and 16, the default drift rule
(``tests.support.backtest_mixed``). A shift from window ``w`` is first seen
by the run at ``MIXED_START + (w + 1)h``: a delay of 1 run.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.support import MIXED_START, backtest_mixed, mixed_rows

HOUR = timedelta(hours=1)

Rows = Callable[[np.random.Generator, int, int], pd.DataFrame]
"""(rng, window index, rows) -> that window's rows."""


def _delay(report: dict[str, Any], onset: int) -> int | None:
    """Runs from the onset to the first firing alert (1: the first run that saw the change)."""
    firing = [a["at"] for a in report["alerts"] if a["state"] == "firing"]
    if not firing:
        return None
    return int((datetime.fromisoformat(firing[0]) - MIXED_START) / HOUR) - onset


def test_thirty_stationary_days_raise_at_most_one_alarm(tmp_path: Path) -> None:
    code, report = backtest_mixed(
        tmp_path,
        period=HOUR,
        windows=720,
        rows=1_000,
        make=lambda rng, _, n: mixed_rows(rng, n),
        seed=720 * 7 + 1_000,
    )
    firing = [a for a in report["alerts"] if a["state"] == "firing"]
    drifted = [r["scheduled_for"] for r in report["runs"] if r["drifted"]]
    print(f"30 stationary days: {len(drifted)} drifted runs, {len(firing)} alerts fired")
    assert len(report["runs"]) == 720
    assert all(r["status"] == "succeeded" for r in report["runs"])
    assert len(firing) <= 1, firing
    assert code == (1 if firing else 0)


ONSET = 24


@pytest.mark.parametrize(
    ("case", "make"),
    [
        (
            "0.3 sd in one column",
            lambda rng, w, n: mixed_rows(rng, n, amount_shift=0.3 if w >= ONSET else 0.0),
        ),
        (
            "binary 70/30 -> 60/40",
            lambda rng, w, n: mixed_rows(rng, n, returning=0.4 if w >= ONSET else 0.3),
        ),
    ],
)
def test_a_clear_shift_fires_within_three_runs_of_its_onset(
    case: str, make: Rows, tmp_path: Path
) -> None:
    code, report = backtest_mixed(
        tmp_path,
        period=HOUR,
        windows=ONSET + 6,
        rows=1_000,
        make=make,
        seed=(ONSET + 6) * 7 + 1_000,
    )
    delay = _delay(report, ONSET)
    print(f"{case}: fired {delay} run(s) after its onset")
    assert code == 1 and delay is not None, case
    assert 1 <= delay <= 3, case


def test_a_persistent_small_shift_fires_within_48_runs(tmp_path: Path) -> None:
    """0.15 sd in 300-row windows: too small for one window, caught by the pools."""
    onset = 8
    code, report = backtest_mixed(
        tmp_path,
        period=HOUR,
        windows=onset + 48,
        rows=300,
        make=lambda rng, w, n: mixed_rows(rng, n, amount_shift=0.15 if w >= onset else 0.0),
        seed=(onset + 48) * 7 + 300,
    )
    delay = _delay(report, onset)
    print(f"0.15 sd at 300 rows: fired {delay} runs after its onset")
    assert code == 1 and delay is not None
    assert 1 <= delay <= 48
    before = [
        r
        for r in report["runs"]
        if datetime.fromisoformat(r["scheduled_for"]) <= MIXED_START + onset * HOUR
    ]
    assert not any(r["drifted"] for r in before)
