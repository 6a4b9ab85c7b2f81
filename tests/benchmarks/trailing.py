"""What fitting a trailing reference ahead saves the first run of each refit period.

Run with `python tests/benchmarks/trailing.py`. Prints one measurement of
this run; never a pass/fail test.

Data, seeded: 30 days of 1,000 rows an hour x 10 numeric columns in one
Parquet file. The monitor runs hourly on 1-hour windows against the trailing
28 days skipping the last hour, refitted daily (672,000 reference rows per
fit), with an in-memory store and a clock that reads the slot. It runs the
25 slots from 01:00 on day 29 to 01:00 on day 30 and prints the wall time
of the runs that matter: the first one (no profile stored: it fits its own),
an ordinary one, the one at 23:00 (the next day's reference is complete:
after storing its outcome it fits that one ahead) and the first run of the
next day, which finds its profile fitted.
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from prometheus_client import CollectorRegistry

from monitor.backtest import SlotClock, memory_engine
from monitor.config import parse_settings
from monitor.metrics import Metrics
from monitor.runner import RunContext, run_check
from monitor.sources import build_source

T0 = datetime(2026, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAYS = 30
ROWS_PER_HOUR = 1_000
COLUMNS = [f"x{index}" for index in range(10)]
SHOWN = {
    1: "first run: no profile stored, fits its own",
    2: "an ordinary run",
    23: "stores its outcome, then fits the next day's reference ahead",
    25: "first run of the next day: its profile was fitted ahead",
}


def write_events(path: Path) -> None:
    rng = np.random.default_rng(0)
    rows = DAYS * 24 * ROWS_PER_HOUR
    offsets = np.sort(rng.integers(0, DAYS * 86_400_000_000, rows))
    frame = pd.DataFrame(
        {
            "ts": pd.Timestamp(T0) + pd.to_timedelta(offsets, unit="us"),
            **{name: rng.normal(0.0, 1.0, rows) for name in COLUMNS},
        }
    )
    frame.to_parquet(path)


def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "events.parquet"
        write_events(path)
        settings = parse_settings(
            {
                "monitors": [
                    {
                        "name": "rolling",
                        "schedule": "every 1h",
                        "window": "1h",
                        "source": {"type": "file", "path": str(path), "timestamp_column": "ts"},
                        "reference": {
                            "type": "trailing",
                            "span": "28d",
                            "skip": "1h",
                            "refit": "1d",
                        },
                        "columns": [{"name": name, "kind": "numeric"} for name in COLUMNS],
                    }
                ]
            }
        )
        monitor = settings.monitors[0]
        day = T0 + timedelta(days=28)
        clock = SlotClock(day)
        engine = memory_engine()
        ctx = RunContext(
            engine=engine,
            metrics=Metrics(CollectorRegistry()),
            sources={monitor.name: build_source(monitor.source)},
            worker_id="bench",
            base_url="http://127.0.0.1:8470",
            clock=clock,
        )
        print(f"trailing 28d reference, {28 * 24 * ROWS_PER_HOUR:,} rows x {len(COLUMNS)} columns")
        for hour in range(1, 26):
            clock.now = day + hour * HOUR
            started = time.perf_counter()
            run_check(ctx, monitor, clock.now, "schedule")
            elapsed = time.perf_counter() - started
            if hour in SHOWN:
                print(f"  slot {clock.now:%Y-%m-%d %H:%M}Z  {elapsed:6.2f} s  {SHOWN[hour]}")
        engine.dispose()


if __name__ == "__main__":
    main()
