"""False alarms per 30 days and detection delays under the default budget, via `backtest`.

Each case writes seeded windows of mixed columns (``tests.support.mixed_rows``:
normal, integer-valued, heavy-tailed, boolean, categorical) and a 50,000-row
reference to Parquet, and backtests a monitor with the defaults. Stationary
cases count drifted runs and fired alerts over 30 days; shift cases report
how many runs after the onset the first alert fired.

    .venv/bin/python tests/benchmarks/verdicts.py
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.support import MIXED_START, backtest_mixed, mixed_rows  # noqa: E402

Rows = Callable[[np.random.Generator, int, int], pd.DataFrame]


def backtest(period: timedelta, windows: int, rows: int, make: Rows, seed: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as name:
        _, report = backtest_mixed(
            Path(name), period=period, windows=windows, rows=rows, make=make, seed=seed
        )
        return report


def stationary() -> None:
    print("| schedule | rows a window | seed | runs | drifted runs | alerts fired |")
    print("|---|---|---|---|---|---|")
    for minutes, rows, seeds in ((60, 1_000, (1, 2, 3)), (60, 300, (4,)), (15, 300, (5,))):
        period = timedelta(minutes=minutes)
        windows = int(timedelta(days=30) / period)
        for seed in seeds:
            report = backtest(period, windows, rows, lambda rng, _, n: mixed_rows(rng, n), seed)
            drifted = sum(r["drifted"] for r in report["runs"])
            fired = sum(a["state"] == "firing" for a in report["alerts"])
            print(f"| every {minutes}m | {rows:,} | {seed} | {windows} | {drifted} | {fired} |")


def delays() -> None:
    print("| shift | rows a window | seed | first alert, runs after onset |")
    print("|---|---|---|---|")
    onset = 24
    cases: list[tuple[str, int, Rows, int]] = [
        (
            "0.3 sd, one column",
            1_000,
            lambda r, w, n: mixed_rows(r, n, amount_shift=0.3 * (w >= onset)),
            8,
        ),
        (
            "binary 70/30 -> 60/40",
            1_000,
            lambda r, w, n: mixed_rows(r, n, returning=0.4 if w >= onset else 0.3),
            8,
        ),
        (
            "0.15 sd, persistent",
            300,
            lambda r, w, n: mixed_rows(r, n, amount_shift=0.15 * (w >= onset)),
            48,
        ),
    ]
    for name, rows, make, after in cases:
        for seed in (11, 12, 13):
            report = backtest(timedelta(hours=1), onset + after, rows, make, seed)
            firing = [a["at"] for a in report["alerts"] if a["state"] == "firing"]
            delay = (
                "none"
                if not firing
                else str(
                    int((datetime.fromisoformat(firing[0]) - MIXED_START) / timedelta(hours=1))
                    - onset
                )
            )
            print(f"| {name} | {rows:,} | {seed} | {delay} |")


if __name__ == "__main__":
    stationary()
    print()
    delays()
