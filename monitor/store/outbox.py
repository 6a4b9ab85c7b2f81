"""Repository functions over the outbox: queue messages, claim due ones, record each attempt.

A claim is committed before any HTTP is sent, so a message is only ever in
flight with one worker at a time. A claim is a lease: a worker that dies
mid-send leaves the row in "sending" until ``claimed_until`` passes, and then
the row is due again. Receivers de-duplicate the rare resend on ``message_id``.

Messages of one alert group (``group_key``: one monitor and one receiver) go
in the order they were queued, whatever their retries: a message is not
claimed while an older one of its group is pending or sending, so a late
"firing" never follows its "resolved". The row id is the order: a run queues
its group's message while it holds the group's row lock, so a later message of
a group always has a higher id. When a message is queued, older ones of its
group that are still pending and *supersedable* (a repeat or a change of a
still-firing episode, which the newer message makes redundant) become
"superseded" and are never sent. An episode's first firing and its
resolution are never superseded: a pager needs both, in order, and a
retraining trigger starts its pipeline on the first firing.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, get_args

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    and_,
    exists,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session, aliased

from monitor.store.models import DeliveryAttemptRow, OutboxRow
from monitor.vocabulary import OutboxStatus

Outcome = Literal["delivered", "retry", "dead"]
Status = OutboxStatus
STATUSES: tuple[Status, ...] = get_args(OutboxStatus)
UNFINISHED: tuple[Status, ...] = ("pending", "sending")

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
    replayed_at: datetime | None = None

    @property
    def age_counted_from(self) -> datetime:
        """``max_age`` runs from creation, or from the latest replay: a replay is a fresh start."""
        return self.replayed_at if self.replayed_at is not None else self.created_at


@dataclass(frozen=True)
class AttemptRecord:
    """What one attempt did; ``next_attempt_at`` is required when the outcome is "retry"."""

    outcome: Outcome
    status_code: int | None
    error: str | None
    duration_ms: float
    next_attempt_at: datetime | None = None


def add_outbox(
    session: Session,
    *,
    message_id: str,
    receiver: str,
    event_type: str,
    payload: dict[str, Any],
    run_id: int | None,
    now: datetime,
    group_key: str | None = None,
    supersedable: bool = False,
) -> None:
    """Queue a message in the caller's transaction; it supersedes what it makes redundant."""
    if group_key is not None:
        session.execute(
            update(OutboxRow)
            .where(
                OutboxRow.receiver == receiver,
                OutboxRow.group_key == group_key,
                OutboxRow.status == "pending",
                OutboxRow.supersedable.is_(True),
            )
            .values(status="superseded", last_error=f"superseded by {message_id}")
        )
    session.add(
        OutboxRow(
            message_id=message_id,
            receiver=receiver,
            event_type=event_type,
            payload=payload,
            run_id=run_id,
            created_at=now,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            group_key=group_key,
            supersedable=supersedable,
        )
    )


def _due(now: datetime) -> ColumnElement[bool]:
    """Due, and not behind an older message of its group that is still on its way."""
    older = aliased(OutboxRow)
    ahead = exists().where(
        older.receiver == OutboxRow.receiver,
        older.group_key == OutboxRow.group_key,
        older.id < OutboxRow.id,
        older.status.in_(UNFINISHED),
    )
    return and_(
        or_(
            and_(OutboxRow.status == "pending", OutboxRow.next_attempt_at <= now),
            and_(OutboxRow.status == "sending", OutboxRow.claimed_until < now),
        ),
        ~ahead,
    )


@dataclass(frozen=True)
class ReceiverScope:
    """The receivers a claim takes messages for: ``names``, and every receiver outside
    ``known`` (messages for a receiver no longer configured)."""

    names: frozenset[str]
    known: frozenset[str]

    def where(self) -> ColumnElement[bool]:
        return or_(
            OutboxRow.receiver.in_(sorted(self.names)),
            OutboxRow.receiver.not_in(sorted(self.known)),
        )


def _claim_ids_postgresql(
    connection: Connection, now: datetime, limit: int, scope: list[ColumnElement[bool]]
) -> list[int]:
    # Rows locked by another worker's open claim are skipped, not waited for.
    query = (
        select(OutboxRow.id)
        .where(_due(now), *scope)
        .order_by(OutboxRow.next_attempt_at, OutboxRow.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=OutboxRow)
    )
    return list(connection.execute(query).scalars())


def _not_for(receivers: Collection[str]) -> list[ColumnElement[bool]]:
    return [OutboxRow.receiver.not_in(sorted(receivers))] if receivers else []


def _claim_ids_conditional(
    connection: Connection,
    now: datetime,
    limit: int,
    claim: dict[str, Any],
    scope: list[ColumnElement[bool]],
) -> list[int]:
    # No row locks: every candidate is taken by a conditional UPDATE that
    # re-checks it is still due, so of two workers only one sees rowcount 1.
    query = (
        select(OutboxRow.id)
        .where(_due(now), *scope)
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
    engine: Engine,
    worker_id: str,
    now: datetime,
    lease: timedelta,
    limit: int,
    exclude_receivers: Collection[str] = (),
    receivers: ReceiverScope | None = None,
) -> list[ClaimedMessage]:
    """Claim up to ``limit`` due messages for ``worker_id`` and commit the claim.

    Only messages for ``receivers`` (all, when None) are claimed; those for
    ``exclude_receivers`` (rate-limited right now) are left where they are.
    """
    claim: dict[str, Any] = {
        "status": "sending",
        "claimed_by": worker_id,
        "claimed_until": now + lease,
    }
    scope = _not_for(exclude_receivers) + ([receivers.where()] if receivers is not None else [])
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            ids = _claim_ids_postgresql(connection, now, limit, scope)
            if ids:
                connection.execute(update(OutboxRow).where(OutboxRow.id.in_(ids)).values(**claim))
        else:
            ids = _claim_ids_conditional(connection, now, limit, claim, scope)
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
                OutboxRow.replayed_at,
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


def defer(engine: Engine, message: ClaimedMessage, worker_id: str, until: datetime) -> bool:
    """Give the claim back unattempted, due again at ``until``; False if the claim was lost.

    A deferral (the receiver's rate limit) is not an attempt: ``attempts`` and
    ``last_error`` stay as they are and no attempt row is written.
    """
    with engine.begin() as connection:
        moved = connection.execute(
            update(OutboxRow)
            .where(
                OutboxRow.id == message.id,
                OutboxRow.status == "sending",
                OutboxRow.claimed_by == worker_id,
            )
            .values(status="pending", next_attempt_at=until, claimed_by=None, claimed_until=None)
        )
    return moved.rowcount == 1


# --- what operators see and do (driftwarden deliveries list|replay) -----------


@dataclass(frozen=True)
class OutboxView:
    """One outbox row as shown to an operator: no payload, no claim internals.

    ``last_error`` was redacted when it was written (no URL, header or secret).
    """

    id: int
    message_id: str
    receiver: str
    event_type: str
    status: OutboxStatus
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    last_error: str | None
    delivered_at: datetime | None
    replayed_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {
            key: value.isoformat() if isinstance(value, datetime) else value
            for key, value in asdict(self).items()
        }


_VIEW_COLUMNS = (
    OutboxRow.id,
    OutboxRow.message_id,
    OutboxRow.receiver,
    OutboxRow.event_type,
    OutboxRow.status,
    OutboxRow.attempts,
    OutboxRow.created_at,
    OutboxRow.next_attempt_at,
    OutboxRow.last_error,
    OutboxRow.delivered_at,
    OutboxRow.replayed_at,
)


class MessageNotFound(LookupError):
    """No outbox row has that id or message_id."""


class NotReplayable(ValueError):
    """The message is still on its way (pending or sending); only finished ones are replayed."""


def list_outbox(engine: Engine, status: Status | None = None, limit: int = 50) -> list[OutboxView]:
    """The newest ``limit`` outbox rows, optionally of one status, newest first."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    query = select(*_VIEW_COLUMNS).order_by(OutboxRow.id.desc()).limit(limit)
    if status is not None:
        query = query.where(OutboxRow.status == status)
    with engine.connect() as connection:
        return [OutboxView(*row) for row in connection.execute(query)]


def _key_filter(key: str) -> ColumnElement[bool]:
    """A row id ("42") or a message_id (what the logs print)."""
    if key.isdigit():
        return or_(OutboxRow.id == int(key), OutboxRow.message_id == key)
    return OutboxRow.message_id == key


def replay(engine: Engine, key: str, now: datetime) -> OutboxView:
    """Put a dead or delivered message back to pending, due ``now``, with the same message_id.

    Its attempt rows and ``attempts`` count stay (they are its history);
    ``replayed_at`` restarts its ``max_age``. Receivers that de-duplicate on
    ``webhook-id`` may drop a replay of a message they already have.
    """
    with engine.begin() as connection:
        found = connection.execute(
            select(OutboxRow.id, OutboxRow.status).where(_key_filter(key)).limit(1)
        ).first()
        if found is None:
            raise MessageNotFound(f'no delivery with id or message_id "{key}"')
        row_id, status = found
        moved = connection.execute(
            update(OutboxRow)
            .where(OutboxRow.id == row_id, OutboxRow.status.in_(("dead", "delivered")))
            .values(
                status="pending",
                next_attempt_at=now,
                replayed_at=now,
                delivered_at=None,
                claimed_by=None,
                claimed_until=None,
            )
        )
        if moved.rowcount != 1:
            raise NotReplayable(
                f"delivery {row_id} is {status}: only dead or delivered messages can be replayed"
            )
        view = connection.execute(select(*_VIEW_COLUMNS).where(OutboxRow.id == row_id)).one()
    return OutboxView(*view)


# --- queue metrics -------------------------------------------------------------


@dataclass(frozen=True)
class QueueStats:
    """Rows by status, and the age of the oldest message not yet delivered nor dead."""

    by_status: dict[str, int]
    oldest_pending_age: timedelta | None


def queue_stats(engine: Engine, now: datetime, timeout_seconds: float = 2.0) -> QueueStats:
    """Counted at scrape time: two grouped queries, bounded by ``timeout_seconds`` on PostgreSQL.

    (SQLite readers in WAL mode never wait for writers, so there is nothing to bound.)
    """
    counts: dict[str, int] = dict.fromkeys(STATUSES, 0)
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            milliseconds = max(1, int(timeout_seconds * 1000))
            connection.execute(text(f"SET LOCAL statement_timeout = {milliseconds}"))
        for status, count in connection.execute(
            select(OutboxRow.status, func.count()).group_by(OutboxRow.status)
        ):
            counts[status] = int(count)
        oldest = connection.execute(
            select(func.min(OutboxRow.created_at)).where(OutboxRow.status.in_(UNFINISHED))
        ).scalar_one_or_none()
    return QueueStats(counts, max(now - oldest, timedelta(0)) if oldest is not None else None)
