"""Runs of a monitor whose window is profiled in PostgreSQL: stored, pooled, same verdicts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from monitor.config import MonitorSettings, parse_settings
from monitor.metrics import Metrics
from monitor.runner import RunContext, run_check
from monitor.sources import build_source
from monitor.store.models import ResultRow, RunRow

pytestmark = pytest.mark.postgres

T0 = datetime(2024, 3, 1, tzinfo=UTC)
QUIET, SHIFTED = T0 + timedelta(hours=1), T0 + timedelta(hours=2)

# A day of reference before T0, then two hours: the second with score shifted by 0.5 sd
# and the web share doubled. A row every 2 s, normal scores by Box-Muller from a seeded random().
EVENTS = """
SELECT setseed(0.25);
CREATE TABLE events AS
SELECT ts,
       sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())
           + CASE WHEN ts >= :shifted_from THEN 0.5 ELSE 0 END AS score,
       CASE WHEN random() < CASE WHEN ts >= :shifted_from THEN 0.4 ELSE 0.2 END THEN 'web'
            ELSE 'app' END AS device
FROM generate_series(:start, :end, interval '2 seconds') AS ts;
"""


@pytest.fixture
def events_url(postgres_url: str) -> Iterator[str]:
    engine = sa.create_engine(postgres_url)
    with engine.begin() as connection:
        for statement in EVENTS.split(";\n")[:-1]:
            connection.execute(
                sa.text(statement),
                {
                    "start": T0 - timedelta(days=1),
                    "end": SHIFTED - timedelta(seconds=2),
                    "shifted_from": QUIET,
                },
            )
    engine.dispose()
    yield postgres_url


def _monitor(url: str, name: str = "profiled", **source: Any) -> MonitorSettings:
    settings = parse_settings(
        {
            "monitors": [
                {
                    "name": name,
                    "schedule": "every 1h",
                    "window": "1h",
                    "sample_limit": 500,
                    "source": {
                        "type": "sql",
                        "url": url,
                        "table": "events",
                        "timestamp_column": "ts",
                        **source,
                    },
                    "reference": {
                        "type": "window",
                        "start": (T0 - timedelta(days=1)).isoformat(),
                        "end": T0.isoformat(),
                    },
                    "columns": [
                        {"name": "score", "kind": "numeric"},
                        {"name": "device", "kind": "categorical"},
                    ],
                    "thresholds": {"sequential_scales": [2]},
                }
            ]
        }
    )
    return settings.monitors[0]


def _runs(engine: Engine, monitor: MonitorSettings) -> list[tuple[RunRow, list[ResultRow]]]:
    ctx = RunContext(
        engine=engine,
        metrics=Metrics(),
        sources={monitor.name: build_source(monitor.source)},
        worker_id="test-worker",
        base_url="http://127.0.0.1:8470",
    )
    try:
        outcomes = [run_check(ctx, monitor, slot, "manual") for slot in (QUIET, SHIFTED)]
    finally:
        ctx.sources[monitor.name].close()
    stored = []
    with Session(engine) as session:
        for outcome in outcomes:
            assert outcome is not None
            run = session.get_one(RunRow, outcome.run_id)
            results = session.scalars(
                select(ResultRow).where(ResultRow.run_id == run.id).order_by(ResultRow.id)
            ).all()
            stored.append((run, list(results)))
    return stored


def test_a_profiled_run_tests_the_whole_window_on_counts(
    events_url: str, sqlite_engine: Engine
) -> None:
    (quiet, quiet_results), (shifted, shifted_results) = _runs(
        sqlite_engine, _monitor(events_url, profile_in_database=True)
    )
    assert (quiet.status, quiet.drifted, shifted.status, shifted.drifted) == (
        "succeeded",
        False,
        "succeeded",
        True,
    )
    assert quiet.n_current == shifted.n_current == 1_800  # the whole window, not 500 sampled
    single = {r.column: r for r in shifted_results if r.check == "drift"}
    assert {name: r.drifted for name, r in single.items()} == {"score": True, "device": True}
    assert single["score"].method == "ks"
    assert single["score"].details["form"] == "counts"
    assert single["score"].details["resolution"] > 1_000
    assert single["score"].n_current == 1_800
    assert single["score"].reason.endswith(
        f"; tested on a sketch: the window's 1,800 values counted in "
        f"{single['score'].details['resolution']:,} reference-quantile cells"
    )
    assert single["device"].method == "chi2"
    assert single["device"].reason.endswith("; tested on the window's exact counts of 2 categories")
    pooled = {r.column: r for r in shifted_results if r.check == "sequential"}
    assert {name: (r.method, r.n_current) for name, r in pooled.items()} == {
        "score": ("ks@2", 3_600),
        "device": ("chi2@2", 3_600),
    }


def test_profiled_and_pulled_runs_reach_the_same_verdicts(
    events_url: str, sqlite_engine: Engine
) -> None:
    profiled = _runs(sqlite_engine, _monitor(events_url, profile_in_database=True))
    pulled = _runs(sqlite_engine, _monitor(events_url, name="pulled"))

    def verdicts(runs: list[tuple[RunRow, list[ResultRow]]]) -> list[dict[str, bool]]:
        return [{r.column: r.drifted for r in results if r.check == "drift"} for _, results in runs]

    assert verdicts(profiled) == verdicts(pulled)
    assert [run.n_current for run, _ in pulled] == [500, 500]
    assert all("form" not in r.details for _, results in pulled for r in results)
