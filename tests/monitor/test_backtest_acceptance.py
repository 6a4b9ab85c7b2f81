"""Verdicts that hold for months, shown the way a user tunes a monitor: `driftwarden backtest`.

Each case writes seeded hourly windows of mixed columns (normal,
integer-valued, heavy-tailed, boolean, categorical: ``tests.support.mixed_rows``)
to Parquet with a 50,000-row reference of the same distribution, and
backtests an hourly monitor with the defaults: the false-alarm budget
("1/30d"), pooled windows of 4 and 16, the default drift rule. The run at
slot ``k`` examines window ``k - 1``; a shift with onset at window ``w`` is
first seen by the run at ``T0 + (w + 1)h``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from monitor.cli import main
from tests.support import MIXED_COLUMNS, mixed_rows

T0 = datetime(2026, 6, 1, tzinfo=UTC)

Rows = Callable[[np.random.Generator, int, int], pd.DataFrame]
"""(rng, window index, rows) -> that window's rows."""


def _backtest(
    directory: Path, windows: int, rows: int, make: Rows, capsys: pytest.CaptureFixture[str]
) -> tuple[int, dict[str, Any]]:
    rng = np.random.default_rng(windows * 7 + rows)
    frames = []
    for window in range(windows):
        frame = make(rng, window, rows)
        offsets = np.sort(rng.integers(0, 3_600_000_000, rows))
        frame.insert(
            0,
            "ts",
            pd.Timestamp(T0 + timedelta(hours=window)) + pd.to_timedelta(offsets, unit="us"),
        )
        frames.append(frame)
    pd.concat(frames, ignore_index=True).to_parquet(directory / "events.parquet")
    mixed_rows(rng, 50_000).to_parquet(directory / "reference.parquet")
    columns = "".join(
        f'[[monitors.columns]]\nname = "{name}"\nkind = "{kind}"\n\n'
        for name, kind in MIXED_COLUMNS
    )
    config = directory / "config.toml"
    config.write_text(
        f"""
[store]
url = "sqlite:///{directory}/store.db"

[[monitors]]
name = "shop"
schedule = "every 1h"
window = "1h"

[monitors.source]
type = "file"
path = "{directory}/events.parquet"
timestamp_column = "ts"

[monitors.reference]
type = "file"
path = "{directory}/reference.parquet"

{columns}"""
    )
    capsys.readouterr()
    code = main(
        [
            "backtest",
            "--config",
            str(config),
            "--monitor",
            "shop",
            "--from",
            (T0 + timedelta(hours=1)).isoformat(),
            "--to",
            (T0 + timedelta(hours=windows + 1)).isoformat(),
            "--format",
            "json",
        ]
    )
    return code, json.loads(capsys.readouterr().out)


def _first_firing(report: dict[str, Any]) -> datetime | None:
    firing = [a["at"] for a in report["alerts"] if a["state"] == "firing"]
    return datetime.fromisoformat(firing[0]) if firing else None


def test_thirty_stationary_days_raise_at_most_one_alarm(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = _backtest(tmp_path, 720, 1_000, lambda rng, _, n: mixed_rows(rng, n), capsys)
    firing = [a for a in report["alerts"] if a["state"] == "firing"]
    drifted = [r["scheduled_for"] for r in report["runs"] if r["drifted"]]
    print(f"30 stationary days: {len(drifted)} drifted runs, {len(firing)} alerts fired")
    assert len(report["runs"]) == 720
    assert all(r["status"] == "succeeded" for r in report["runs"])
    assert len(firing) <= 1, firing
    assert code == (1 if firing else 0)


ONSET = 24


@pytest.mark.parametrize(
    ("case", "make", "rows"),
    [
        (
            "0.3 sd in one column",
            lambda rng, w, n: mixed_rows(rng, n, amount_shift=0.3 if w >= ONSET else 0.0),
            1_000,
        ),
        (
            "binary 70/30 -> 60/40",
            lambda rng, w, n: mixed_rows(rng, n, returning=0.4 if w >= ONSET else 0.3),
            1_000,
        ),
    ],
)
def test_a_clear_shift_fires_within_three_runs_of_its_onset(
    case: str, make: Rows, rows: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = _backtest(tmp_path, ONSET + 6, rows, make, capsys)
    first = _first_firing(report)
    assert code == 1 and first is not None, case
    delay = int((first - T0) / timedelta(hours=1)) - ONSET
    print(f"{case}: fired {delay} run(s) after its onset")
    assert 1 <= delay <= 3, (case, first)


def test_a_persistent_small_shift_fires_within_48_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """0.15 sd in 300-row windows: too small for one window, caught by the pools."""
    onset = 8
    code, report = _backtest(
        tmp_path,
        onset + 48,
        300,
        lambda rng, w, n: mixed_rows(rng, n, amount_shift=0.15 if w >= onset else 0.0),
        capsys,
    )
    first = _first_firing(report)
    assert code == 1 and first is not None
    delay = int((first - T0) / timedelta(hours=1)) - onset
    print(f"0.15 sd at 300 rows: fired {delay} runs after its onset")
    assert 1 <= delay <= 48
    before = [
        r
        for r in report["runs"]
        if datetime.fromisoformat(r["scheduled_for"]) <= T0 + timedelta(hours=onset)
    ]
    assert not any(r["drifted"] for r in before)
