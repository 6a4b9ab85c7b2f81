"""Sequential tests over runs: state in the store, kept over restarts, reset by a new reference."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from monitor.config import MonitorSettings, parse_settings
from monitor.metrics import Metrics
from monitor.runner import RunContext, RunOutcome, run_check
from monitor.sources import build_source
from monitor.store.models import ResultRow, WindowSketchRow

START = datetime(2026, 3, 1, tzinfo=UTC)
ROWS_PER_HOUR = 300


def _write_data(directory: Path, shift_sd: float, hours: int = 24) -> tuple[Path, Path]:
    """A 20k-row reference and ``hours`` hours of 300 rows shifted by ``shift_sd`` sd."""
    rng = np.random.default_rng(2026)
    reference = pd.DataFrame({"x": rng.normal(0, 1, 20_000), "y": rng.normal(0, 1, 20_000)})
    reference_path = directory / "reference.parquet"
    reference.to_parquet(reference_path)
    n = hours * ROWS_PER_HOUR
    offsets = np.sort(rng.uniform(0, hours * 3600, n))
    current = pd.DataFrame(
        {
            "ts": pd.to_datetime(START) + pd.to_timedelta(offsets, unit="s"),
            "x": rng.normal(shift_sd, 1, n),
            "y": rng.normal(0, 1, n),
        }
    )
    current_path = directory / "current.parquet"
    current.to_parquet(current_path)
    return reference_path, current_path


def _monitor(reference: Path, current: Path, **thresholds: object) -> MonitorSettings:
    settings = parse_settings(
        {
            "monitors": [
                {
                    "name": "slow-shift",
                    "schedule": "every 1h",
                    "window": str(thresholds.pop("window", "1h")),
                    "source": {"type": "file", "path": str(current), "timestamp_column": "ts"},
                    "reference": {"type": "file", "path": str(reference)},
                    "columns": [
                        {"name": "x", "kind": "numeric"},
                        {"name": "y", "kind": "numeric"},
                    ],
                    "thresholds": {"sequential_scales": [4, 16], **thresholds},
                }
            ]
        }
    )
    return settings.monitors[0]


def _context(engine: Engine, monitor: MonitorSettings) -> RunContext:
    return RunContext(
        engine=engine,
        metrics=Metrics(),
        sources={monitor.name: build_source(monitor.source)},
        worker_id="test",
        base_url="http://127.0.0.1:8470",
    )


def _run(ctx: RunContext, monitor: MonitorSettings, hour: int) -> RunOutcome:
    outcome = run_check(ctx, monitor, START + timedelta(hours=hour), "schedule")
    assert outcome is not None and outcome.status == "succeeded", outcome
    return outcome


def test_a_persistent_small_shift_is_caught_by_a_pool_and_says_which_scale(
    engine: Engine, tmp_path: Path
) -> None:
    reference, current = _write_data(tmp_path, shift_sd=0.15)
    monitor = _monitor(reference, current)
    ctx = _context(engine, monitor)
    outcomes = [_run(ctx, monitor, hour) for hour in range(1, 21)]
    window_drift = [
        [r.column for r in o.results if r.drifted and "@" not in r.method] for o in outcomes
    ]
    # One 300-row window sees a 0.15 sd shift only now and then at the budget's level ...
    assert sum(bool(columns) for columns in window_drift) <= 5
    # ... the pools see it: 4 windows (1,200 rows) most of the time, 16 windows on every run.
    pooled = [[r for r in o.results if r.drifted and "@" in r.method] for o in outcomes]
    assert {r.column for results in pooled for r in results} == {"x"}
    assert sum(bool(results) for results in pooled[3:15]) >= 8
    assert all(any(r.method == "ks@16" for r in results) for results in pooled[15:])
    fourth = outcomes[3]
    assert [r.method for r in pooled[3]] == ["ks@4"]
    assert "drift over recent windows: x (ks@4)" in fourth.reason
    with Session(engine) as session:
        stored = session.scalars(
            select(ResultRow).where(
                ResultRow.run_id == outcomes[-1].run_id, ResultRow.method == "ks@16"
            )
        ).all()
        assert {(r.column, r.check, r.drifted) for r in stored} == {
            ("x", "sequential", True),
            ("y", "sequential", False),
        }
        assert stored[0].details["pooled_windows"] == 16
        # Windows are kept up to twice the largest scale (32 here): all 20 so far.
        assert session.scalar(select(func.count()).select_from(WindowSketchRow)) == 20


def test_state_survives_a_restart_and_resets_with_a_new_reference(
    engine: Engine, tmp_path: Path
) -> None:
    reference, current = _write_data(tmp_path, shift_sd=0.0, hours=12)
    monitor = _monitor(reference, current)
    for hour in range(1, 4):
        _run(_context(engine, monitor), monitor, hour)  # a new process every run
    fourth = _run(_context(engine, monitor), monitor, 4)
    assert sorted(r.method for r in fourth.results if "@" in r.method) == ["ks@4", "ks@4"]

    other = tmp_path / "other-reference.parquet"
    pd.read_parquet(reference).iloc[:10_000].to_parquet(other)
    refitted = _monitor(other, current)
    after = [_run(_context(engine, refitted), refitted, hour) for hour in range(5, 9)]
    pooled = [[r.method for r in o.results if "@" in r.method] for o in after]
    assert pooled == [[], [], [], ["ks@4", "ks@4"]]


def test_overlapping_windows_are_never_pooled_twice(engine: Engine, tmp_path: Path) -> None:
    """A 2-hour window run hourly: only every other window joins the history."""
    reference, current = _write_data(tmp_path, shift_sd=0.0, hours=12)
    monitor = _monitor(reference, current, window="2h")
    ctx = _context(engine, monitor)
    outcomes = [_run(ctx, monitor, hour) for hour in range(2, 12)]
    with Session(engine) as session:
        rows = session.scalars(select(WindowSketchRow).order_by(WindowSketchRow.scheduled_for))
        slots = [row.scheduled_for.hour for row in rows]
    assert slots == [2, 4, 6, 8, 10]
    # The run at 8h pools 06-08h with 04-06h, 02-04h and 00-02h: the first with 4.
    pooled_at = [o.window.end.hour for o in outcomes if any("@" in r.method for r in o.results)]
    assert pooled_at[0] == 8


def test_alpha_keeps_the_per_window_meaning_without_pools(engine: Engine, tmp_path: Path) -> None:
    reference, current = _write_data(tmp_path, shift_sd=0.0, hours=6)
    settings = parse_settings(
        {
            "monitors": [
                {
                    "name": "classic",
                    "schedule": "every 1h",
                    "source": {"type": "file", "path": str(current), "timestamp_column": "ts"},
                    "reference": {"type": "file", "path": str(reference)},
                    "columns": [{"name": "x", "kind": "numeric"}],
                    "thresholds": {"alpha": 0.05},
                }
            ]
        }
    )
    monitor = settings.monitors[0]
    ctx = _context(engine, monitor)
    outcomes = [_run(ctx, monitor, hour) for hour in range(1, 6)]
    assert all(r.threshold == 0.05 for o in outcomes for r in o.results)
    assert not any("@" in r.method for o in outcomes for r in o.results)


def test_a_distance_whose_details_name_a_scale_is_a_window_test_not_a_pool(
    engine: Engine, tmp_path: Path
) -> None:
    """wasserstein and energy say which std scaled them: that is no pooled test's window count."""
    reference, current = _write_data(tmp_path, shift_sd=0.0, hours=2)
    monitor = _monitor(reference, current, sequential_scales=[])
    monitor = monitor.model_copy(
        update={
            "columns": tuple(
                column.model_copy(update={"method": method})
                for column, method in zip(monitor.columns, ("wasserstein", "energy"), strict=True)
            )
        }
    )
    outcome = _run(_context(engine, monitor), monitor, 1)
    assert [(r.method, "scale" in r.details) for r in outcome.results] == [
        ("wasserstein", True),
        ("energy", True),
    ]
    with Session(engine) as session:
        checks = session.execute(select(ResultRow.column, ResultRow.check)).all()
    assert sorted(checks) == [("x", "drift"), ("y", "drift")]
