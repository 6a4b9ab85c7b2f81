"""Writes of one check run: the claim, the profile cache, and the final transaction."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from monitor.store.models import (
    AlertRow,
    AlertTransitionRow,
    MonitorRow,
    OutboxRow,
    ProfileRow,
    ResultRow,
    RunRow,
    utcnow,
)
from monitor.store.queries import ResultView


@dataclass(frozen=True)
class Claim:
    """A slot this process won; only the claimant finishes the run row."""

    run_id: int
    monitor_id: int
    scheduled_for: datetime


@dataclass(frozen=True)
class OutboxMessage:
    message_id: str
    receiver: str
    event_type: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class AlertChange:
    """The alert state the run moved to, and what to send because of it."""

    fingerprint: str
    rule: str
    to_state: str
    messages: Sequence[OutboxMessage]


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


def fail_run(engine: Engine, claim: Claim, reason: str) -> None:
    with Session(engine) as session, session.begin():
        session.execute(
            update(RunRow)
            .where(RunRow.id == claim.run_id)
            .values(status="failed", reason=reason, finished_at=utcnow())
        )


def alert_fingerprint(monitor: str, rule: str) -> str:
    return hashlib.sha256(f"{monitor}\x00{rule}".encode()).hexdigest()[:32]


def current_alert_state(engine: Engine, fingerprint: str) -> tuple[str, int]:
    """(state, episode) of an alert; an alert never seen is "inactive" in episode 0."""
    with Session(engine) as session:
        row = session.execute(
            select(AlertRow.state, AlertRow.episode).where(AlertRow.fingerprint == fingerprint)
        ).first()
        return (row.state, row.episode) if row else ("inactive", 0)


def finish_run(
    engine: Engine,
    claim: Claim,
    *,
    status: str,
    drifted: bool,
    reason: str,
    n_reference: int,
    n_current: int,
    results: Sequence[ResultView],
    alert_change: AlertChange | None,
) -> None:
    """Store the outcome, every result, the alert transition and its outbox rows at once.

    One transaction, so a crash leaves either a finished run with its
    messages queued, or a "running" row and nothing queued.
    """
    now = utcnow()
    with Session(engine) as session, session.begin():
        session.execute(
            update(RunRow)
            .where(RunRow.id == claim.run_id)
            .values(
                status=status,
                drifted=drifted,
                reason=reason,
                n_reference=n_reference,
                n_current=n_current,
                finished_at=now,
            )
        )
        session.add_all(ResultRow(run_id=claim.run_id, **result.__dict__) for result in results)
        if alert_change is not None:
            _apply_alert_change(session, claim, alert_change, now)


def _apply_alert_change(session: Session, claim: Claim, change: AlertChange, now: datetime) -> None:
    alert = session.scalar(
        select(AlertRow).where(AlertRow.fingerprint == change.fingerprint).with_for_update()
    )
    if alert is None:
        alert = AlertRow(
            fingerprint=change.fingerprint,
            monitor_id=claim.monitor_id,
            rule=change.rule,
            state="inactive",
            episode=0,
            since=now,
        )
        session.add(alert)
        session.flush()
    from_state = alert.state
    if change.to_state == "firing":
        alert.episode += 1
    alert.state = change.to_state
    alert.since = now
    alert.last_run_id = claim.run_id
    session.add(
        AlertTransitionRow(
            alert_id=alert.id,
            run_id=claim.run_id,
            from_state=from_state,
            to_state=change.to_state,
            at=now,
        )
    )
    session.add_all(
        OutboxRow(
            message_id=message.message_id,
            receiver=message.receiver,
            event_type=message.event_type,
            payload=message.payload,
            run_id=claim.run_id,
            created_at=now,
            status="pending",
            attempts=0,
            next_attempt_at=now,
        )
        for message in change.messages
    )


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
