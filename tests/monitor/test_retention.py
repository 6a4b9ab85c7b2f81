"""Retention prunes finished history and keeps what is live, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from monitor.store.engine import make_engine, upgrade
from monitor.store.models import (
    AlertRow,
    MonitorRow,
    OutboxRow,
    ResultRow,
    RunRow,
)
from monitor.store.retention import prune

OLD = datetime(2026, 1, 1, tzinfo=UTC)
NEW = datetime(2026, 11, 1, tzinfo=UTC)


def run_row(monitor_id: int, at: datetime, status: str = "succeeded") -> RunRow:
    return RunRow(
        monitor_id=monitor_id,
        scheduled_for=at,
        trigger="schedule",
        status=status,
        started_at=at,
        window_start=at - timedelta(hours=1),
        window_end=at,
        claimed_by="t",
    )


def result_row() -> ResultRow:
    return ResultRow(
        check="drift",
        column="x",
        method="ks",
        statistic=0.1,
        p_value=0.5,
        p_value_adjusted=0.5,
        threshold=0.05,
        drifted=False,
        n_reference=10,
        n_current=10,
        status="ok",
        reason="",
        details={},
    )


def test_prune_keeps_recent_pending_and_alerted(store_url: str) -> None:
    engine = make_engine(store_url)
    upgrade(engine)
    with Session(engine) as session, session.begin():
        monitor = MonitorRow(name="m")
        session.add(monitor)
        session.flush()
        old, old_alerted, recent = (
            run_row(monitor.id, OLD),
            run_row(monitor.id, OLD + timedelta(hours=1)),
            run_row(monitor.id, NEW),
        )
        for run in (old, old_alerted, recent):
            run.results.append(result_row())
            session.add(run)
        session.flush()
        session.add(
            AlertRow(
                fingerprint="f",
                monitor_id=monitor.id,
                rule="drift",
                state="firing",
                episode=1,
                since=OLD,
                last_run_id=old_alerted.id,
            )
        )
        for message_id, status in (("a", "delivered"), ("b", "dead"), ("c", "pending")):
            session.add(
                OutboxRow(
                    message_id=message_id,
                    receiver="r",
                    event_type="e",
                    payload={},
                    run_id=old.id,
                    created_at=OLD,
                    status=status,
                    next_attempt_at=OLD,
                )
            )
    pruned = prune(engine, NEW - timedelta(days=90))
    assert (pruned.runs, pruned.deliveries) == (1, 2)
    with Session(engine) as session:
        assert session.scalars(select(RunRow.started_at).order_by(RunRow.id)).all() == [
            OLD + timedelta(hours=1),
            NEW,
        ]
        assert session.scalar(select(func.count()).select_from(ResultRow)) == 2
        outbox = session.execute(select(OutboxRow.message_id, OutboxRow.run_id)).all()
        assert [tuple(row) for row in outbox] == [("c", None)]
    engine.dispose()
