"""Writes of one check run: the claim, the profile cache, and the run's outcome.

The outcome is written into the session of the run's own transaction
(``runner.run_check`` opens it), together with the alert work, sink
messages and window sketches of that run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from monitor.store.models import (
    MonitorRow,
    ProfileRow,
    ResultRow,
    RunRow,
    utcnow,
)
from monitor.store.queries import ResultView
from monitor.vocabulary import RunStatus


@dataclass(frozen=True)
class Claim:
    """A slot this process won; only the claimant finishes the run row."""

    run_id: int
    monitor_id: int
    scheduled_for: datetime


def ensure_monitor(engine: Engine, name: str) -> int:
    with Session(engine) as session:
        found = session.scalar(select(MonitorRow.id).where(MonitorRow.name == name))
        if found is not None:
            return found
        session.add(MonitorRow(name=name))
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
        monitor_id = session.scalar(select(MonitorRow.id).where(MonitorRow.name == name))
        assert monitor_id is not None
        return monitor_id


def claim_run(
    engine: Engine,
    monitor_id: int,
    scheduled_for: datetime,
    trigger: str,
    window_start: datetime,
    window_end: datetime,
    worker_id: str,
) -> Claim | None:
    """Insert the run row for a slot; None when another process already claimed it.

    The unique key (monitor, scheduled_for) is the lock: whichever insert
    commits first owns the slot, on SQLite and on PostgreSQL alike.
    """
    with Session(engine) as session:
        row = RunRow(
            monitor_id=monitor_id,
            scheduled_for=scheduled_for,
            trigger=trigger,
            status="running",
            started_at=utcnow(),
            window_start=window_start,
            window_end=window_end,
            claimed_by=worker_id,
        )
        session.add(row)
        try:
            session.commit()
        except IntegrityError:
            return None
        return Claim(run_id=row.id, monitor_id=monitor_id, scheduled_for=scheduled_for)


def load_profile(engine: Engine, monitor_id: int, reference_key: str) -> bytes | None:
    with Session(engine) as session:
        return session.scalar(
            select(ProfileRow.data).where(
                ProfileRow.monitor_id == monitor_id, ProfileRow.reference_key == reference_key
            )
        )


def save_profile(
    engine: Engine, monitor_id: int, reference_key: str, n_rows: int, data: bytes
) -> None:
    """Store a fitted profile; a concurrent fit of the same key by another replica is fine."""
    with Session(engine) as session:
        session.add(
            ProfileRow(monitor_id=monitor_id, reference_key=reference_key, n_rows=n_rows, data=data)
        )
        try:
            session.commit()
        except IntegrityError:
            session.rollback()


def fail_run(session: Session, claim: Claim, reason: str) -> None:
    session.execute(
        update(RunRow)
        .where(RunRow.id == claim.run_id)
        .values(status="failed", reason=reason, finished_at=utcnow())
    )


def finish_run(
    session: Session,
    claim: Claim,
    *,
    status: RunStatus,
    drifted: bool,
    reason: str,
    n_reference: int,
    n_current: int,
    results: Sequence[ResultView],
) -> None:
    """Record the outcome and every result of a claimed run in the run's transaction."""
    session.execute(
        update(RunRow)
        .where(RunRow.id == claim.run_id)
        .values(
            status=status,
            drifted=drifted,
            reason=reason,
            n_reference=n_reference,
            n_current=n_current,
            finished_at=utcnow(),
        )
    )
    session.add_all(ResultRow(run_id=claim.run_id, **result.__dict__) for result in results)


def latest_scheduled_slot(engine: Engine, monitor: str) -> datetime | None:
    with Session(engine) as session:
        return session.scalar(
            select(RunRow.scheduled_for)
            .join(MonitorRow, MonitorRow.id == RunRow.monitor_id)
            .where(MonitorRow.name == monitor, RunRow.trigger.in_(("schedule", "catch_up")))
            .order_by(RunRow.scheduled_for.desc())
            .limit(1)
        )


def fail_unfinished_runs(engine: Engine, worker_id: str, reason: str) -> int:
    """Mark this process's runs still "running" as failed (used when stopping mid-run)."""
    with Session(engine) as session, session.begin():
        result = session.execute(
            update(RunRow)
            .where(RunRow.claimed_by == worker_id, RunRow.status == "running")
            .values(status="failed", reason=reason, finished_at=utcnow())
        )
        return int(result.rowcount)  # type: ignore[attr-defined]
