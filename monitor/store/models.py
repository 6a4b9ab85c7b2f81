"""The tables. Column names mirror the detector results field for field.

Timestamps are stored as timezone-aware UTC; SQLite keeps them as naive text,
so ``UtcDateTime`` restores the zone on the way out.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from monitor.vocabulary import AlertState, GroupStatus, OutboxStatus, ResultCheck, RunStatus

SEGMENT_NAME_LENGTH = 320
"""``results.segment``: a column name (200) and a value cut to 100 characters, with "="."""


class UtcDateTime(TypeDecorator[datetime]):
    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UtcDateTime, dict[str, Any]: JSON, list[str]: JSON}


class InstallationRow(Base):
    """The store's identity: one row, written by migration 0008 and never changed.

    Its random ``installation_id`` is mixed into every message id and
    idempotency key (``monitor.alerting``, ``monitor.sinks``): one store derives
    the same id for the same event on every retry, replica and restart, and a
    fresh store never reuses another's ids for different events.
    """

    __tablename__ = "installation"
    __table_args__ = (CheckConstraint("id = 1", name="ck_installation_one_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    installation_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MonitorRow(Base):
    __tablename__ = "monitors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RunRow(Base):
    """One check run. ``(monitor_id, scheduled_for)`` is the claim: one row per slot.

    A claim is a lease: ``lease_until`` is renewed while the run is in progress,
    and a ``running`` row whose lease ran out is failed by whichever process
    sweeps it (``monitor.store.runs``). ``attempt`` counts the claims of the
    slot: a retry of an expired claim reuses the row under a new claimant.
    """

    __tablename__ = "runs"
    __table_args__ = (
        UniqueConstraint("monitor_id", "scheduled_for", name="uq_runs_monitor_slot"),
        Index("ix_runs_monitor_started", "monitor_id", "started_at"),
        Index("ix_runs_status_lease", "status", "lease_until"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    monitor_id: Mapped[int] = mapped_column(ForeignKey("monitors.id", ondelete="CASCADE"))
    scheduled_for: Mapped[datetime]
    trigger: Mapped[str] = mapped_column(String(20))
    status: Mapped[RunStatus] = mapped_column(String(20))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    drifted: Mapped[bool | None] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(Text)
    n_reference: Mapped[int | None]
    n_current: Mapped[int | None]
    claimed_by: Mapped[str] = mapped_column(String(200))
    lease_until: Mapped[datetime | None]
    attempt: Mapped[int] = mapped_column(default=1, server_default="1")
    # The reference the run was tested against (monitor.store.references); none
    # for a failed run or one stored before runs stated it.
    reference_key: Mapped[str | None] = mapped_column(String(64))
    reference_type: Mapped[str | None] = mapped_column(String(20))
    reference_origin: Mapped[str | None] = mapped_column(Text)
    reference_start: Mapped[datetime | None]
    reference_end: Mapped[datetime | None]
    # What the run did with its segments (monitor.segments.SegmentReport): tested and
    # skipped with the reason; NULL for a monitor without segments or a failed run.
    segments: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)

    monitor: Mapped[MonitorRow] = relationship()
    results: Mapped[list[ResultRow]] = relationship(
        back_populates="run", order_by="ResultRow.id", cascade="all, delete-orphan"
    )


class ResultRow(Base):
    __tablename__ = "results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    check: Mapped[ResultCheck] = mapped_column(String(20))
    column: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(50))
    statistic: Mapped[float | None] = mapped_column(Float)
    p_value: Mapped[float | None] = mapped_column(Float)
    p_value_adjusted: Mapped[float | None] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    drifted: Mapped[bool] = mapped_column(Boolean)
    n_reference: Mapped[int]
    n_current: Mapped[int]
    status: Mapped[str] = mapped_column(String(30))
    reason: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]]
    effect: Mapped[float | None] = mapped_column(Float, default=None)
    effect_floor: Mapped[float | None] = mapped_column(Float, default=None)
    # The segment tested (monitor.segments, "country=DE"); NULL for the whole window.
    segment: Mapped[str | None] = mapped_column(String(SEGMENT_NAME_LENGTH), default=None)

    run: Mapped[RunRow] = relationship(back_populates="results")


class ProfileRow(Base):
    """A fitted reference, reused by every run until its key (reference + columns) changes."""

    __tablename__ = "profiles"
    __table_args__ = (UniqueConstraint("monitor_id", "reference_key", name="uq_profiles_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    monitor_id: Mapped[int] = mapped_column(ForeignKey("monitors.id", ondelete="CASCADE"))
    reference_key: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    n_rows: Mapped[int]
    data: Mapped[bytes] = mapped_column(LargeBinary)


class AlertRow(Base):
    """Current state of one (monitor, rule); ``fingerprint`` is stable across restarts."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    monitor_id: Mapped[int] = mapped_column(ForeignKey("monitors.id", ondelete="CASCADE"))
    rule: Mapped[str] = mapped_column(String(100))
    state: Mapped[AlertState] = mapped_column(String(20))
    episode: Mapped[int] = mapped_column(default=0)
    since: Mapped[datetime]
    last_run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"))
    # Migration 0003 filled these in on existing rows through a server default
    # of 0, which stays in the database; declared here so models and migrations
    # agree. Dropping it instead would rebuild `alerts` on SQLite, where the
    # implicit delete cascades to alert_transitions.
    hits: Mapped[int] = mapped_column(default=0, server_default="0")
    clears: Mapped[int] = mapped_column(default=0, server_default="0")
    started_at: Mapped[datetime | None]


class AlertTransitionRow(Base):
    __tablename__ = "alert_transitions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    # Indexed: a run's page and the API list the alert changes of the runs they show.
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    from_state: Mapped[AlertState] = mapped_column(String(20))
    to_state: Mapped[AlertState] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class NotificationGroupRow(Base):
    """What one receiver was last told about one monitor (see monitor.alerts.grouping)."""

    __tablename__ = "notification_groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    monitor_id: Mapped[int] = mapped_column(ForeignKey("monitors.id", ondelete="CASCADE"))
    receiver: Mapped[str] = mapped_column(String(200))
    status: Mapped[GroupStatus] = mapped_column(String(20))
    episode: Mapped[int] = mapped_column(default=0)
    members: Mapped[list[str]]
    started_at: Mapped[datetime | None]
    last_sent_at: Mapped[datetime | None]
    sent: Mapped[int] = mapped_column(default=0)


class SilenceRow(Base):
    __tablename__ = "silences"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    matchers: Mapped[list[str]]
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    comment: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboxRow(Base):
    """A message to deliver. Written in the run's transaction; sent by the delivery worker.

    ``message_id`` is the idempotency key receivers de-duplicate on; it never
    changes across retries or restarts. Messages of one ``group_key`` (an alert
    group, which names its receiver) are sent in the order of ``id``: none
    while an older one of its group is pending or sending. Sink messages have
    no group and no order.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        Index("ix_outbox_group", "group_key", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[str] = mapped_column(String(100), unique=True)
    receiver: Mapped[str] = mapped_column(String(200))
    event_type: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]]
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[OutboxStatus] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_until: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None]
    # Set by `driftwarden deliveries replay`; max_age counts from here after a replay.
    replayed_at: Mapped[datetime | None]
    group_key: Mapped[str | None] = mapped_column(String(64))
    # A newer message of the group makes this one redundant (a repeat or a change
    # of a still-firing episode): superseded while pending, instead of sent late.
    supersedable: Mapped[bool] = mapped_column(default=False, server_default=false())


class DeliveryAttemptRow(Base):
    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id", ondelete="CASCADE"), index=True)
    attempted_at: Mapped[datetime] = mapped_column(default=utcnow)
    status_code: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[float] = mapped_column(Float)
    outcome: Mapped[str] = mapped_column(String(20))


class WindowSketchRow(Base):
    """One run's windows reduced to counts, pooled by the sequential tests of later runs.

    Keyed by the reference they were sketched against: a new reference starts
    a new history. Only the newest few per monitor are kept (see
    ``monitor.store.sketches``).
    """

    __tablename__ = "window_sketches"
    __table_args__ = (Index("ix_window_sketches_monitor_slot", "monitor_id", "scheduled_for"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    monitor_id: Mapped[int] = mapped_column(ForeignKey("monitors.id", ondelete="CASCADE"))
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), unique=True)
    reference_key: Mapped[str] = mapped_column(String(64))
    scheduled_for: Mapped[datetime]
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    columns: Mapped[dict[str, Any]]


class PerformanceRow(Base):
    """One metric of one window, realized or estimated, as one evaluation found it.

    A window's metrics are evaluated by its own run and, as late labels
    arrive, again by later runs (``evaluated_run_id``) until its labels are
    all in or ``max_wait`` has passed (``final``). An evaluation that changes
    a metric appends a row and clears ``latest`` on the one it replaces, so
    the API reads the latest state and a report the history; one that
    changes nothing only moves ``checked_at``. The columns of the result
    mirror ``ResultRow``; ``method`` is the metric's name, or
    ``estimated_<metric>`` for a CBPE estimate.
    """

    __tablename__ = "performance_results"
    __table_args__ = (
        Index("ix_performance_monitor_latest", "monitor_id", "latest", "window_end"),
        Index("ix_performance_window_run", "window_run_id"),
        Index("ix_performance_evaluated_run", "evaluated_run_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    monitor_id: Mapped[int] = mapped_column(ForeignKey("monitors.id", ondelete="CASCADE"))
    window_run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    evaluated_run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"))
    scheduled_for: Mapped[datetime]
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    column: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(50))
    metric: Mapped[str] = mapped_column(String(50))
    estimated: Mapped[bool] = mapped_column(Boolean)
    statistic: Mapped[float | None] = mapped_column(Float)
    threshold: Mapped[float | None] = mapped_column(Float)
    degraded: Mapped[bool] = mapped_column(Boolean)
    effect: Mapped[float | None] = mapped_column(Float)
    effect_floor: Mapped[float | None] = mapped_column(Float)
    n_reference: Mapped[int]
    n_current: Mapped[int]
    status: Mapped[str] = mapped_column(String(30))
    reason: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]]
    coverage: Mapped[float | None] = mapped_column(Float)
    n_predictions: Mapped[int]
    n_labelled: Mapped[int | None]
    evaluated_at: Mapped[datetime]
    checked_at: Mapped[datetime]
    latest: Mapped[bool] = mapped_column(Boolean)
    final: Mapped[bool] = mapped_column(Boolean)
