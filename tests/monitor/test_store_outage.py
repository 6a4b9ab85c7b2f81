"""Slots due while the store is down run once it is back, oldest first, within their grace.

Two outages of a PostgreSQL store: a proxy in front of the shared test server
that cuts every connection and refuses new ones, and a restart of a cluster
of the test's own (``pg_ctl stop -m fast``, then start), never the shared one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, create_engine, select
from sqlalchemy.orm import Session

from monitor.config import Settings, parse_settings
from monitor.runner import EXPIRED_REASON
from monitor.store.models import RunRow, utcnow
from tests.faults import PostgresCluster, TcpFault, own_postgres_cluster
from tests.monitor.test_dispatch import demo, every_slot, start
from tests.support import wait_for


@pytest.fixture
def own_postgres() -> Iterator[PostgresCluster]:
    with own_postgres_cluster() as cluster:
        yield cluster


def outage_settings(store_url: str) -> Settings:
    return parse_settings(
        {
            "store": {"url": store_url},
            # A run cut mid-way is expired within seconds, and retried.
            "scheduler": {"run_lease": "1s", "misfire_grace": "60s"},
            "monitors": [demo("demo")],
        }
    )


def stored(engine: Engine) -> list[tuple[datetime, str, str | None, int]]:
    with Session(engine) as session:
        rows = session.execute(
            select(RunRow.scheduled_for, RunRow.status, RunRow.reason, RunRow.attempt).order_by(
                RunRow.scheduled_for
            )
        ).all()
    return [(slot, status, reason, attempt) for slot, status, reason, attempt in rows]


def run_through_an_outage(
    settings: Settings, observer: Engine, go_down: Callable[[], None], come_up: Callable[[], None]
) -> tuple[datetime, datetime]:
    """Run the daemon's scheduler, take the store down for five slots, bring it back."""
    services, scheduler = start(settings)
    try:
        wait_for(lambda: len(stored(observer)) >= 2, "two runs before the outage")
        down = utcnow()
        go_down()
        wait_for(lambda: utcnow() >= down + timedelta(seconds=5), "five slots in the outage")
        come_up()
        up = utcnow()

        def caught_up() -> bool:
            rows = stored(observer)
            return rows[-1][0] >= up and all(status != "running" for _, status, _, _ in rows)

        wait_for(caught_up, "every slot of the outage stored, none left running")
    finally:
        assert scheduler.shutdown(timeout=10)
        services.engine.dispose()
    return down, up


def assert_every_slot_ran(rows: list[tuple[datetime, str, str | None, int]]) -> None:
    slots = [slot for slot, _, _, _ in rows]
    assert slots == every_slot(slots)
    # A run cut by the outage is expired and run again on its own row (attempt 2).
    assert {(status, attempt) for _, status, _, attempt in rows} <= {
        ("succeeded", 1),
        ("succeeded", 2),
    }
    assert all(reason != EXPIRED_REASON for _, _, reason, _ in rows)


def test_slots_due_while_the_store_refuses_connections_run_when_it_is_back(
    postgres_url: str,
) -> None:
    proxy = TcpFault("forward", ("127.0.0.1", 5432))
    through_proxy = postgres_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    observer = create_engine(postgres_url)
    try:
        down, up = run_through_an_outage(
            outage_settings(through_proxy),
            observer,
            lambda: proxy.set_mode("refuse"),
            lambda: proxy.set_mode("forward"),
        )
        rows = stored(observer)
    finally:
        observer.dispose()
        proxy.close()
    assert_every_slot_ran(rows)
    assert sum(down < slot <= up for slot, _, _, _ in rows) >= 5


def test_slots_due_during_a_restart_of_the_store_run_when_it_is_back(
    own_postgres: PostgresCluster,
) -> None:
    observer = create_engine(own_postgres.url, pool_pre_ping=True)
    try:
        down, up = run_through_an_outage(
            outage_settings(own_postgres.url), observer, own_postgres.stop, own_postgres.start
        )
        rows = stored(observer)
    finally:
        observer.dispose()
    assert_every_slot_ran(rows)
    assert sum(down < slot <= up for slot, _, _, _ in rows) >= 5
