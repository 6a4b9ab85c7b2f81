"""Alert, notification-group and silence rows, read and written inside a run's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from monitor.alerts.grouping import Group
from monitor.alerts.silences import Matcher, Silence
from monitor.alerts.state import Alert
from monitor.store.models import (
    AlertRow,
    AlertTransitionRow,
    MonitorRow,
    NotificationGroupRow,
    RunRow,
    SilenceRow,
)


def lock_monitor(session: Session, monitor_id: int) -> None:
    """Hold the monitor's row until the transaction ends: one run at a time steps its alerts.

    Two replicas may finish runs of one monitor at once (different slots).
    Locking the alert rows is not enough: the first run of a rule finds no
    row to lock, and both would insert it. (PostgreSQL; SQLite has one
    writer at a time anyway.)
    """
    session.execute(select(MonitorRow.id).where(MonitorRow.id == monitor_id).with_for_update())


def load_alerts(session: Session, fingerprints: Sequence[str]) -> dict[str, Alert]:
    """Current state of the given alerts, locked until the transaction ends (PostgreSQL)."""
    rows = session.scalars(
        select(AlertRow).where(AlertRow.fingerprint.in_(fingerprints)).with_for_update()
    )
    return {
        row.fingerprint: Alert(
            fingerprint=row.fingerprint,
            state=row.state,
            hits=row.hits,
            clears=row.clears,
            episode=row.episode,
            since=row.since,
            started_at=row.started_at,
        )
        for row in rows
    }


def save_alert(
    session: Session, monitor_id: int, rule: str, before: Alert, after: Alert, run_id: int
) -> None:
    """Upsert the alert; a change of state is also recorded as a transition of this run."""
    row = session.scalar(select(AlertRow).where(AlertRow.fingerprint == after.fingerprint))
    if row is None:
        row = AlertRow(fingerprint=after.fingerprint, monitor_id=monitor_id, rule=rule)
        session.add(row)
    row.state = after.state
    row.hits = after.hits
    row.clears = after.clears
    row.episode = after.episode
    row.since = after.since
    row.started_at = after.started_at
    row.last_run_id = run_id
    session.flush()
    if before.state != after.state:
        session.add(
            AlertTransitionRow(
                alert_id=row.id,
                run_id=run_id,
                from_state=before.state,
                to_state=after.state,
                at=after.since,
            )
        )


def load_groups(session: Session, fingerprints: Sequence[str]) -> dict[str, Group]:
    rows = session.scalars(
        select(NotificationGroupRow)
        .where(NotificationGroupRow.fingerprint.in_(fingerprints))
        .with_for_update()
    )
    return {
        row.fingerprint: Group(
            fingerprint=row.fingerprint,
            status=row.status,
            episode=row.episode,
            members=tuple(row.members),
            started_at=row.started_at,
            last_sent_at=row.last_sent_at,
            sent=row.sent,
        )
        for row in rows
    }


def save_group(session: Session, monitor_id: int, receiver: str, group: Group) -> None:
    row = session.scalar(
        select(NotificationGroupRow).where(NotificationGroupRow.fingerprint == group.fingerprint)
    )
    if row is None:
        row = NotificationGroupRow(
            fingerprint=group.fingerprint, monitor_id=monitor_id, receiver=receiver
        )
        session.add(row)
    row.status = group.status
    row.episode = group.episode
    row.members = list(group.members)
    row.started_at = group.started_at
    row.last_sent_at = group.last_sent_at
    row.sent = group.sent


def _silence(row: SilenceRow) -> Silence:
    return Silence(
        id=row.id,
        matchers=tuple(Matcher.parse(text) for text in row.matchers),
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        comment=row.comment,
        created_by=row.created_by,
    )


def active_silences(session: Session, now: datetime) -> list[Silence]:
    rows = session.scalars(
        select(SilenceRow).where(SilenceRow.starts_at <= now, SilenceRow.ends_at > now)
    )
    return [_silence(row) for row in rows]


def last_success(engine: Engine, monitor_id: int) -> datetime | None:
    """The slot (window end) of the monitor's newest successful run: how fresh its data is."""
    with Session(engine) as session:
        return session.scalar(
            select(RunRow.scheduled_for)
            .where(RunRow.monitor_id == monitor_id, RunRow.status == "succeeded")
            .order_by(RunRow.scheduled_for.desc())
            .limit(1)
        )


def add_silence(
    engine: Engine,
    matchers: Sequence[Matcher],
    starts_at: datetime,
    ends_at: datetime,
    comment: str,
    created_by: str,
) -> Silence:
    with Session(engine) as session, session.begin():
        row = SilenceRow(
            matchers=[str(m) for m in matchers],
            starts_at=starts_at,
            ends_at=ends_at,
            comment=comment,
            created_by=created_by,
        )
        session.add(row)
        session.flush()
        return _silence(row)


def list_silences(engine: Engine, include_expired: bool, now: datetime) -> list[Silence]:
    query = select(SilenceRow).order_by(SilenceRow.id)
    if not include_expired:
        query = query.where(SilenceRow.ends_at > now)
    with Session(engine) as session:
        return [_silence(row) for row in session.scalars(query)]


def expire_silence(engine: Engine, silence_id: int, now: datetime) -> bool:
    """End a silence at ``now``; False when there is no such silence."""
    with Session(engine) as session, session.begin():
        result = session.execute(
            update(SilenceRow).where(SilenceRow.id == silence_id).values(ends_at=now)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


def transitions(engine: Engine, states: Sequence[str]) -> list[tuple[str, str, datetime]]:
    """(rule, new state, slot of the run) of every alert change into ``states``, oldest first."""
    query = (
        select(AlertRow.rule, AlertTransitionRow.to_state, RunRow.scheduled_for)
        .join(AlertRow, AlertRow.id == AlertTransitionRow.alert_id)
        .join(RunRow, RunRow.id == AlertTransitionRow.run_id)
        .where(AlertTransitionRow.to_state.in_(states))
        .order_by(RunRow.scheduled_for, AlertTransitionRow.id)
    )
    with Session(engine) as session:
        return [(rule, state, at) for rule, state, at in session.execute(query)]
