"""A hung source stalls only its own monitor: deadlines, one run per monitor, capacity.

The hung source is a real TCP server on 127.0.0.1 that accepts connections and
never answers, behind a SQL source whose connect timeout is an hour, so only
the run's deadline (``scheduler.run_timeout``) can end its runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from monitor.config import Settings, parse_settings
from monitor.daemon import Services, build_services
from monitor.dispatch import DueSlot, RunDispatcher
from monitor.scheduler import Scheduler
from monitor.store.models import AlertRow, MonitorRow, RunRow, utcnow
from tests.faults import TcpFault
from tests.support import wait_for

TIMED_OUT = "timed out: still running after {}s (scheduler.run_timeout); the source may be hung"


@pytest.fixture
def silent_server() -> Iterator[TcpFault]:
    server = TcpFault("hang")
    yield server
    server.close()


def demo(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "schedule": "every 1s",
        "window": "1m",
        "source": {"type": "demo", "rows_per_window": 200},
        "reference": {
            "type": "window",
            "start": "2026-01-01T00:00:00Z",
            "end": "2026-01-01T00:00:30Z",
        },
        "columns": [{"name": "age", "kind": "numeric"}],
    }


def hung(name: str, port: int) -> dict[str, Any]:
    return {
        **demo(name),
        "source": {
            "type": "sql",
            "url": f"postgresql+psycopg://postgres@127.0.0.1:{port}/test",
            "table": "events",
            "timestamp_column": "ts",
            "connect_timeout": "1h",
        },
        "rules": [{"name": "failed", "type": "run_failed"}],
    }


def runs(engine: Engine, monitor: str) -> list[tuple[datetime, str, str | None]]:
    with Session(engine) as session:
        rows = session.execute(
            select(RunRow.scheduled_for, RunRow.status, RunRow.reason)
            .join(MonitorRow)
            .where(MonitorRow.name == monitor)
            .order_by(RunRow.scheduled_for)
        ).all()
    return [(slot, status, reason) for slot, status, reason in rows]


def every_slot(slots: list[datetime]) -> list[datetime]:
    """Each second from the first slot to the last: what an every-1s monitor must have run."""
    seconds = int((slots[-1] - slots[0]).total_seconds())
    return [slots[0] + timedelta(seconds=k) for k in range(seconds + 1)]


def start(settings: Settings) -> tuple[Services, Scheduler]:
    services = build_services(settings)
    scheduler = Scheduler(
        services.context, settings.monitors, settings.scheduler, timedelta(days=1), utcnow
    )
    scheduler.start()
    return services, scheduler


def test_two_hung_monitors_leave_a_healthy_one_every_slot(
    sqlite_url: str, silent_server: TcpFault
) -> None:
    settings = parse_settings(
        {
            "store": {"url": sqlite_url},
            "scheduler": {"run_timeout": "2s"},
            "monitors": [
                hung("hung-a", silent_server.port),
                hung("hung-b", silent_server.port),
                demo("healthy"),
            ],
        }
    )
    services, scheduler = start(settings)
    engine = services.engine
    try:
        wait_for(lambda: scheduler.hung() == ["hung-a", "hung-b"], "both runs past the deadline")
        wait_for(
            lambda: [r[1] for m in ("hung-a", "hung-b") for r in runs(engine, m)] == ["failed"] * 2,
            "both runs stored as timed out",
        )
        later = utcnow().replace(microsecond=0) + timedelta(seconds=8)
        wait_for(
            lambda: any(slot >= later for slot, _, _ in runs(engine, "healthy")),
            "eight more slots of the healthy monitor",
        )
        metrics = services.metrics.registry
        gauge = "driftwarden_monitor_run_hung"
        assert [metrics.get_sample_value(gauge, {"monitor": m}) for m in ("hung-a", "hung-b")] == [
            1.0,
            1.0,
        ]
    finally:
        assert not scheduler.shutdown(timeout=5), "the hung runs' threads are still blocked"
    healthy = runs(engine, "healthy")
    slots = [slot for slot, _, _ in healthy]
    assert slots == every_slot(slots)
    assert {status for _, status, _ in healthy} == {"succeeded"}
    for name in ("hung-a", "hung-b"):
        # One run each, however many slots came due: a hung monitor starts nothing new.
        [(_, status, reason)] = runs(engine, name)
        assert (status, reason) == ("failed", TIMED_OUT.format(2))
    with Session(engine) as session:
        alerts = session.execute(select(AlertRow.rule, AlertRow.state)).all()
    assert sorted((rule, state) for rule, state in alerts) == [
        ("drift", "inactive"),
        ("failed", "firing"),
        ("failed", "firing"),
        ("no_data", "inactive"),
        ("run_failed", "inactive"),
    ]

    # The server goes away: the hung threads return, and their late outcome is discarded.
    silent_server.close()
    wait_for(lambda: scheduler.hung() == [], "the hung runs to return")
    for name in ("hung-a", "hung-b"):
        assert runs(engine, name) == [(runs(engine, name)[0][0], "failed", TIMED_OUT.format(2))]
    engine.dispose()


def test_a_run_past_its_deadline_gives_its_capacity_back(
    sqlite_url: str, silent_server: TcpFault
) -> None:
    settings = parse_settings(
        {
            "store": {"url": sqlite_url},
            "scheduler": {"run_timeout": "1s", "max_concurrent_runs": 1},
            # "a-hung" sorts first, so it takes the only unit of capacity at start.
            "monitors": [hung("a-hung", silent_server.port), demo("healthy")],
        }
    )
    services, scheduler = start(settings)
    engine = services.engine
    try:
        wait_for(lambda: scheduler.hung() == ["a-hung"], "the hung run past its deadline")
        later = utcnow().replace(microsecond=0) + timedelta(seconds=5)
        wait_for(
            lambda: any(slot >= later for slot, _, _ in runs(engine, "healthy")),
            "five more slots of the healthy monitor",
        )
    finally:
        scheduler.shutdown(timeout=5)
    healthy = runs(engine, "healthy")
    slots = [slot for slot, _, _ in healthy]
    # Its first slots waited for the deadline, then ran: late, within their grace.
    assert slots == every_slot(slots)
    assert {status for _, status, _ in healthy} == {"succeeded"}
    assert [(status, reason) for _, status, reason in runs(engine, "a-hung")] == [
        ("failed", TIMED_OUT.format(1))
    ]
    engine.dispose()


@pytest.mark.parametrize(
    ("period", "gives_way"), [(timedelta(minutes=5), True), (timedelta(seconds=1), False)]
)
def test_a_first_run_past_the_grace_gives_way_to_its_monitors_next_slot(
    sqlite_url: str, period: timedelta, gives_way: bool
) -> None:
    """Many monitors' first runs can outlast a period: the next slot, not the older one, runs;
    a first run only a moment older than the next slot (a restart) still runs as well."""
    settings = parse_settings({"store": {"url": sqlite_url}, "monitors": [demo("a"), demo("b")]})
    services = build_services(settings)
    a, b = settings.monitors
    following = utcnow().replace(microsecond=0)
    slot = following - period
    dispatcher = RunDispatcher(services.context, 2, timedelta(minutes=1), utcnow)
    # Queued before the loop starts, as if capacity had been taken until the next slot.
    dispatcher.submit(DueSlot(a, slot, "schedule", expires=None, first=True))
    dispatcher.submit(DueSlot(b, slot, "schedule", expires=None, first=True))
    dispatcher.submit(DueSlot(a, following, "schedule", expires=following + timedelta(minutes=1)))
    dispatcher.start()
    try:
        expected_a = (
            [(following, "succeeded")]
            if gives_way
            else [
                (slot, "succeeded"),
                (following, "succeeded"),
            ]
        )
        wait_for(
            lambda: (
                len(runs(services.engine, "a")) == len(expected_a)
                and len(runs(services.engine, "b")) == 1
            ),
            "the runs of each monitor",
        )
    finally:
        assert dispatcher.stop(timeout=10)
    assert sorted((s, status) for s, status, _ in runs(services.engine, "a")) == expected_a
    assert [(s, status) for s, status, _ in runs(services.engine, "b")] == [(slot, "succeeded")]
    services.engine.dispose()
