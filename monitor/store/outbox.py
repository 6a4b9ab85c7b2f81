"""Repository functions over the outbox: claim due messages, record each attempt.

A claim is committed before any HTTP is sent, so a message is only ever in
flight with one worker at a time. A claim is a lease: a worker that dies
mid-send leaves the row in "sending" until ``claimed_until`` passes, and then
the row is due again. Receivers de-duplicate the rare resend on ``message_id``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, Connection, Engine, and_, insert, or_, select, update

from monitor.store.models import DeliveryAttemptRow, OutboxRow

Outcome = Literal["delivered", "retry", "dead"]

_STATUS_AFTER: dict[Outcome, str] = {"delivered": "delivered", "retry": "pending", "dead": "dead"}


@dataclass(frozen=True)
class ClaimedMessage:
    """An outbox row this worker holds until ``claimed_until``."""

    id: int
    message_id: str
    receiver: str
    event_type: str
    payload: dict[str, Any]
    created_at: datetime
    attempts: int
    claimed_until: datetime


@dataclass(frozen=True)
class AttemptRecord:
    """What one attempt did; ``next_attempt_at`` is required when the outcome is "retry"."""

    outcome: Outcome
    status_code: int | None
    error: str | None
    duration_ms: float
    next_attempt_at: datetime | None = None


def _due(now: datetime) -> ColumnElement[bool]:
    return or_(
        and_(OutboxRow.status == "pending", OutboxRow.next_attempt_at <= now),
        and_(OutboxRow.status == "sending", OutboxRow.claimed_until < now),
    )


def _claim_ids_postgresql(connection: Connection, now: datetime, limit: int) -> list[int]:
    # Rows locked by another worker's open claim are skipped, not waited for.
    query = (
        select(OutboxRow.id)
        .where(_due(now))
        .order_by(OutboxRow.next_attempt_at, OutboxRow.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(connection.execute(query).scalars())


def _claim_ids_conditional(
    connection: Connection, now: datetime, limit: int, claim: dict[str, Any]
) -> list[int]:
    # No row locks: every candidate is taken by a conditional UPDATE that
    # re-checks it is still due, so of two workers only one sees rowcount 1.
    query = (
        select(OutboxRow.id)
        .where(_due(now))
        .order_by(OutboxRow.next_attempt_at, OutboxRow.id)
        .limit(limit)
    )
    won: list[int] = []
    for row_id in connection.execute(query).scalars().all():
        taken = update(OutboxRow).where(OutboxRow.id == row_id, _due(now)).values(**claim)
        if connection.execute(taken).rowcount == 1:
            won.append(row_id)
    return won


def claim_due(
    engine: Engine, worker_id: str, now: datetime, lease: timedelta, limit: int
) -> list[ClaimedMessage]:
    """Claim up to ``limit`` due messages for ``worker_id`` and commit the claim."""
    claim: dict[str, Any] = {
        "status": "sending",
        "claimed_by": worker_id,
        "claimed_until": now + lease,
    }
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            ids = _claim_ids_postgresql(connection, now, limit)
            if ids:
                connection.execute(update(OutboxRow).where(OutboxRow.id.in_(ids)).values(**claim))
        else:
            ids = _claim_ids_conditional(connection, now, limit, claim)
        if not ids:
            return []
        rows = connection.execute(
            select(
                OutboxRow.id,
                OutboxRow.message_id,
                OutboxRow.receiver,
                OutboxRow.event_type,
                OutboxRow.payload,
                OutboxRow.created_at,
                OutboxRow.attempts,
                OutboxRow.claimed_until,
            )
            .where(OutboxRow.id.in_(ids))
            .order_by(OutboxRow.next_attempt_at, OutboxRow.id)
        ).all()
    return [ClaimedMessage(*row) for row in rows]


def record_attempt(
    engine: Engine,
    message: ClaimedMessage,
    worker_id: str,
    attempted_at: datetime,
    record: AttemptRecord,
) -> bool:
    """Store the attempt and move the row on; False if this worker no longer held the claim.

    The attempt row is stored either way (it happened). The outbox row is only
    updated while this worker still holds it, so a worker whose lease expired
    and was re-claimed cannot overwrite the new holder's outcome.
    """
    if record.outcome == "retry" and record.next_attempt_at is None:
        raise ValueError("a retry needs next_attempt_at")
    values: dict[str, Any] = {
        "status": _STATUS_AFTER[record.outcome],
        "attempts": OutboxRow.attempts + 1,
        "claimed_by": None,
        "claimed_until": None,
    }
    if record.outcome == "delivered":
        values |= {"delivered_at": attempted_at, "last_error": None}
    else:
        values["last_error"] = record.error
    if record.outcome == "retry":
        values["next_attempt_at"] = record.next_attempt_at
    with engine.begin() as connection:
        connection.execute(
            insert(DeliveryAttemptRow).values(
                outbox_id=message.id,
                attempted_at=attempted_at,
                status_code=record.status_code,
                error=record.error,
                duration_ms=record.duration_ms,
                outcome=record.outcome,
            )
        )
        moved = connection.execute(
            update(OutboxRow)
            .where(
                OutboxRow.id == message.id,
                OutboxRow.status == "sending",
                OutboxRow.claimed_by == worker_id,
            )
            .values(**values)
        )
    return moved.rowcount == 1
