"""The soak, short: 50 monitors on two real daemons sharing PostgreSQL, against the soak's goals.

``tests/benchmarks/soak.py`` runs 500 monitors "every 5m" for 15 minutes
(``make bench``); here 50 monitors run "every 5s" over windows of 1,000 rows
for 24 s, on two replicas, and must meet the same goals: every slot due
completed once, lateness p95 under 60 s, RSS steady, store connections
within the pool's bound.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.benchmarks.soak import Plan, SoakError, render, run_soak
from tests.faults import postgres_bin
from tests.reliability.soak_figures import goals_missed

SHORT = Plan(
    monitors=50,
    replicas=2,
    schedule="every 5s",
    duration=24.0,
    rows_per_window=1_000,
    tables=5,
    sample_seconds=1.0,
)


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: the soak must run in CI)")
    pytest.skip(f"LOUD SKIP: {reason}")


def test_fifty_monitors_on_two_replicas_run_every_slot_once_in_time(tmp_path: Path) -> None:
    if postgres_bin() is None:
        _unavailable("no PostgreSQL server binaries (initdb, pg_ctl) for an own cluster")
    try:
        report = run_soak(SHORT, tmp_path)
    except SoakError as exc:
        _unavailable(str(exc))
        raise
    runs = report.figures["runs"]
    assert runs["slots_per_monitor"] >= 4, render(report)
    assert runs["due"] == 50 * runs["slots_per_monitor"], render(report)
    assert goals_missed(report.figures) == [], render(report)
