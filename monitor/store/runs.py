"""Writes of one check run: the claim and its lease, the profile cache, and the run's outcome.

The outcome is written into the session of the run's own transaction
(``runner.run_check`` opens it), together with the alert work, sink
messages and window sketches of that run.

**Leases.** A claim holds its slot until ``lease_until``, which the claimant
renews while the run is in progress (``renew_lease``). A process that dies
(kill -9) or loses the store stops renewing, and any process then turns the
row into a failed run (``expired_claims``, then ``fail_run`` with
``expired_before``). Every write of an outcome is conditional on the claim
still holding (same row, still ``running``, same claimant and attempt), so a
claimant that comes back after its row was expired, or after its run timed
out, finds the row is no longer its own (``ClaimLost``) and stores nothing.

**Retries.** The unique (monitor, scheduled_for) key stays the lock of a
slot, so a slot is retried on its own row: ``reclaim_run`` turns the failed
row of an expired claim back into ``running`` under the new claimant with
``attempt`` one higher, conditional on the attempt it expired at, so of two
processes retrying one slot only one wins. Only expired claims are retried:
a run that failed on its own (source down, bad data) stays failed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Engine, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from monitor.segment_report import SegmentReport
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
    """A slot held by ``claimed_by`` (its ``attempt``-th claim); only it finishes the row."""

    run_id: int
    monitor_id: int
    scheduled_for: datetime
    claimed_by: str
    attempt: int = 1
    trigger: str = "schedule"


@dataclass(frozen=True)
class ExpiredClaim:
    """A claim whose lease ran out, with what a sweeper needs to fail and retry it."""

    claim: Claim
    monitor: str
    started_at: datetime


class ClaimLost(Exception):
    """The run row is no longer held by this claim (expired, timed out, or taken over)."""


def _held(claim: Claim) -> tuple[ColumnElement[bool], ...]:
    return (
        RunRow.id == claim.run_id,
        RunRow.status == "running",
        RunRow.claimed_by == claim.claimed_by,
        RunRow.attempt == claim.attempt,
    )


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
    lease_until: datetime,
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
            lease_until=lease_until,
            attempt=1,
        )
        session.add(row)
        try:
            session.commit()
        except IntegrityError:
            return None
        return Claim(row.id, monitor_id, scheduled_for, worker_id, 1, trigger)


def reclaim_run(
    engine: Engine, expired: Claim, worker_id: str, lease_until: datetime
) -> Claim | None:
    """Take the failed row of an expired claim for another attempt; None if someone else did."""
    attempt = expired.attempt + 1
    with Session(engine) as session, session.begin():
        taken = session.execute(
            update(RunRow)
            .where(
                RunRow.id == expired.run_id,
                RunRow.status == "failed",
                RunRow.attempt == expired.attempt,
            )
            .values(
                status="running",
                claimed_by=worker_id,
                attempt=attempt,
                lease_until=lease_until,
                started_at=utcnow(),
                finished_at=None,
                reason=None,
            )
        )
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            return None
    return Claim(
        expired.run_id,
        expired.monitor_id,
        expired.scheduled_for,
        worker_id,
        attempt,
        expired.trigger,
    )


def renew_lease(engine: Engine, claim: Claim, lease_until: datetime) -> bool:
    """Extend the claim's lease; False once the row is no longer held by it."""
    with Session(engine) as session, session.begin():
        renewed = session.execute(
            update(RunRow).where(*_held(claim)).values(lease_until=lease_until)
        )
        return bool(renewed.rowcount == 1)  # type: ignore[attr-defined]


def expired_claims(engine: Engine, now: datetime, limit: int = 100) -> list[ExpiredClaim]:
    """``running`` rows whose lease ended before ``now``, oldest slot first."""
    with Session(engine) as session:
        rows = session.execute(
            select(RunRow, MonitorRow.name)
            .join(MonitorRow, MonitorRow.id == RunRow.monitor_id)
            .where(RunRow.status == "running", RunRow.lease_until < now)
            .order_by(RunRow.scheduled_for)
            .limit(limit)
        ).all()
        return [
            ExpiredClaim(
                Claim(
                    row.id,
                    row.monitor_id,
                    row.scheduled_for,
                    row.claimed_by,
                    row.attempt,
                    row.trigger,
                ),
                name,
                row.started_at,
            )
            for row, name in rows
        ]


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


def fail_run(
    session: Session, claim: Claim, reason: str, *, expired_before: datetime | None = None
) -> None:
    """Store the claimed run as failed; ``expired_before``: only if its lease ended by then.

    Raises ``ClaimLost`` when the row is no longer held by the claim, so the
    caller's transaction (and the alert work in it) is rolled back.
    """
    condition = _held(claim)
    if expired_before is not None:
        condition += (RunRow.lease_until < expired_before,)
    failed = session.execute(
        update(RunRow)
        .where(*condition)
        .values(status="failed", reason=reason, finished_at=utcnow(), lease_until=None)
    )
    if failed.rowcount != 1:  # type: ignore[attr-defined]
        raise ClaimLost(f"run {claim.run_id} is no longer held by {claim.claimed_by}")


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
    segments: SegmentReport | None = None,
) -> None:
    """Record the outcome and every result of a claimed run in the run's transaction.

    ``segments`` says what the run did with its segments (``monitor.segments``);
    None (stored as NULL) for a monitor that has none.

    Raises ``ClaimLost`` when the row is no longer held by the claim.
    """
    finished = session.execute(
        update(RunRow)
        .where(*_held(claim))
        .values(
            status=status,
            drifted=drifted,
            reason=reason,
            n_reference=n_reference,
            n_current=n_current,
            finished_at=utcnow(),
            lease_until=None,
            segments=segments.to_dict() if segments is not None else None,
        )
    )
    if finished.rowcount != 1:  # type: ignore[attr-defined]
        raise ClaimLost(f"run {claim.run_id} is no longer held by {claim.claimed_by}")
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
            .values(status="failed", reason=reason, finished_at=utcnow(), lease_until=None)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]
