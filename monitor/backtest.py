"""`driftwarden backtest`: the daemon's own run code over past slots, sending nothing.

Every scheduled slot of one monitor in [start, end) goes through
``runner.run_check`` exactly as the daemon would run it (same sampling,
reference, tests, decision and alert rules with ``for`` / ``resolve_after``),
against a store of its own in memory and a clock that reads the slot being
run, so hysteresis and staleness count runs and time as they would have.
The configured store is never opened and no delivery worker runs: outbox
rows stay in memory and are dropped at the end.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.pool import StaticPool

from monitor.backfill import label_sources
from monitor.columns import DataError
from monitor.config import MonitorSettings, Settings
from monitor.evaluation import result_check
from monitor.metrics import Metrics
from monitor.notifiers.registry import refresh_receivers
from monitor.runner import RunContext, run_check
from monitor.scheduler import build_trigger, fire_times
from monitor.segments import drifted_segments
from monitor.sinks import performance_payload
from monitor.sources import build_source
from monitor.sources.base import Source, SourceError
from monitor.store import runs as store
from monitor.store.alerts import transitions
from monitor.store.engine import upgrade
from monitor.store.performance import AWAITING_LABELS, WindowPerformance
from monitor.store.queries import DRIFT_CHECKS, DriftedSegment
from monitor.store.references import RunReference

TRIGGER = "backtest"
"""``runs.trigger`` of a backtest run (in the in-memory store only)."""

WORKER_ID = "backtest"

REPORTED_STATES = ("firing", "resolved")
"""Alert transitions a backtest reports; pending and back to inactive are not news."""


class BacktestError(Exception):
    """The backtest cannot run as asked; the message says which argument or setting."""


@dataclass(frozen=True)
class RunLine:
    """One slot's decision, as the daemon would have stored it.

    ``performance``: every window whose performance the run evaluated (its
    own, and past windows whose late labels it counted), as sinks get them.
    """

    scheduled_for: datetime
    status: str
    drifted: bool | None
    drifted_columns: tuple[str, ...]
    reason: str
    drifted_segments: tuple[DriftedSegment, ...] = ()
    """The segments with drifted columns (``monitor.segments``), each with them."""
    performance: tuple[WindowPerformance, ...] = ()
    reference: RunReference | None = None
    """The reference the slot was tested against: for ``trailing``, read from data before it."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "scheduled_for": _iso(self.scheduled_for),
            "status": self.status,
            "drifted": self.drifted,
            "drifted_columns": list(self.drifted_columns),
            "drifted_segments": [segment.to_dict() for segment in self.drifted_segments],
            "reason": self.reason,
            "performance": [performance_payload(window) for window in self.performance],
            "reference": self.reference.to_dict() if self.reference else None,
        }


@dataclass(frozen=True)
class AlertChange:
    """An alert that started firing or resolved; ``at`` is the slot of the run that did it."""

    rule: str
    state: str
    at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "state": self.state, "at": _iso(self.at)}


@dataclass(frozen=True)
class Backtest:
    monitor: str
    start: datetime
    end: datetime
    runs: Sequence[RunLine] = field(default_factory=tuple)
    alerts: Sequence[AlertChange] = field(default_factory=tuple)

    @property
    def fired(self) -> int:
        return sum(change.state == "firing" for change in self.alerts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "monitor": self.monitor,
            "runs": [run.to_dict() for run in self.runs],
            "alerts": [change.to_dict() for change in self.alerts],
        }


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def parse_moment(text: str, option: str) -> datetime:
    """An ISO-8601 date or datetime; naive means UTC.

    >>> parse_moment("2026-11-01", "--from").isoformat()
    '2026-11-01T00:00:00+00:00'
    >>> parse_moment("2026-11-01T06:30+02:00", "--to").isoformat()
    '2026-11-01T04:30:00+00:00'
    """
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise BacktestError(
            f"{option}: expected an ISO-8601 date or datetime such as 2026-11-01 or "
            f'2026-11-01T06:00:00Z, got "{text}"'
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def slots(monitor: MonitorSettings, start: datetime, end: datetime) -> list[datetime]:
    """The monitor's fire times in [start, end), oldest first, from the scheduler's trigger."""
    return list(fire_times(build_trigger(monitor.schedule), start, end))


def memory_engine() -> Engine:
    """An empty store in memory, migrated the way the daemon migrates its own.

    One connection shared by every session (``StaticPool``): each new
    connection to ``sqlite://`` would be a new, empty database.
    """
    engine = create_engine(
        "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
    )
    event.listen(engine, "connect", _foreign_keys)
    upgrade(engine)
    return engine


def _foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    # As the daemon's SQLite store: cascades and SET NULL behave the same.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class SlotClock:
    """A clock that reads the slot being run.

    So ``for``, ``resolve_after`` and staleness count in the backtest's time,
    not in today's.
    """

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def run_backtest(
    settings: Settings, monitor: MonitorSettings, start: datetime, end: datetime
) -> Backtest:
    """Run every slot of ``monitor`` in [start, end) against an in-memory store."""
    if end <= start:
        raise BacktestError(f"--to ({_iso(end)}) must be after --from ({_iso(start)})")
    fire = slots(monitor, start, end)
    if not fire:
        raise BacktestError(
            f"monitor {monitor.name} has no scheduled slot in [{_iso(start)}, {_iso(end)})"
        )
    engine = memory_engine()
    source = build_source(monitor.source)
    labels = label_sources([monitor])
    clock = SlotClock(fire[0])
    ctx = RunContext(
        engine=engine,
        metrics=Metrics(CollectorRegistry()),
        sources={monitor.name: source},
        labels=labels,
        worker_id=WORKER_ID,
        base_url=settings.server.base_url(),
        clock=clock,
        refresh_receivers=refresh_receivers(settings.receivers),
    )
    try:
        _fit_reference(ctx, monitor, source, fire[0])
        lines = []
        for slot in fire:
            clock.now = slot
            outcome = run_check(ctx, monitor, slot, TRIGGER)
            assert outcome is not None, "a fresh in-memory store cannot hold a claim already"
            lines.append(
                RunLine(
                    scheduled_for=slot,
                    status=outcome.status,
                    drifted=outcome.drifted,
                    # A column drifted in its window and over pooled windows is named once;
                    # a metric that fell is in performance, as in the API.
                    drifted_columns=tuple(
                        dict.fromkeys(
                            r.column
                            for r in outcome.results
                            if r.drifted and result_check(monitor, r) in DRIFT_CHECKS
                        )
                    ),
                    reason=outcome.reason,
                    drifted_segments=tuple(
                        DriftedSegment(segment, tuple(columns))
                        for segment, columns in drifted_segments(monitor, outcome.segments).items()
                    ),
                    performance=tuple(outcome.performance.evaluations),
                    reference=outcome.reference,
                )
            )
        changes = alert_changes(engine)
    finally:
        source.close()
        for label_source in labels.values():
            label_source.close()
        engine.dispose()
    return Backtest(monitor.name, start, end, tuple(lines), tuple(changes))


def _fit_reference(
    ctx: RunContext, monitor: MonitorSettings, source: Source, first_slot: datetime
) -> None:
    """Fit the first slot's reference up front: without it no slot can run, so that is an error.

    A ``trailing`` reference moves on: every later slot's is read from the
    data before that slot, refitted as the daemon refits it.
    """
    monitor_id = store.ensure_monitor(ctx.engine, monitor.name)
    try:
        ctx.profiles.get(
            ctx.engine,
            monitor,
            monitor_id,
            source,
            first_slot - monitor.window,
            ctx.labels.get(monitor.name),
        )
    except (SourceError, DataError, ValueError) as exc:
        raise BacktestError(f"monitor {monitor.name}: cannot fit the reference: {exc}") from None


def alert_changes(engine: Engine) -> list[AlertChange]:
    """Every alert that started firing or resolved, in the order of the runs that did it."""
    return [
        AlertChange(rule, state, at) for rule, state, at in transitions(engine, REPORTED_STATES)
    ]


def to_json(backtest: Backtest) -> str:
    return json.dumps(backtest.to_dict(), indent=2)


def to_text(backtest: Backtest) -> str:
    """One line per run, each alert change after the run that caused it, then a summary."""
    changes: dict[datetime, list[AlertChange]] = {}
    for change in backtest.alerts:
        changes.setdefault(change.at, []).append(change)
    lines = []
    for run in backtest.runs:
        drift = {True: "DRIFT", False: "ok", None: "-"}[run.drifted]
        lines.append(
            f"{run.scheduled_for:%Y-%m-%d %H:%M:%S}Z  {run.status:<9}  {drift:<5}  {run.reason}"
        )
        lines += [f"{'':22}{_performance_text(window)}" for window in run.performance]
        for change in changes.get(run.scheduled_for, []):
            lines.append(
                f"{change.at:%Y-%m-%d %H:%M:%S}Z  alert {change.rule} {change.state.upper()}"
            )
    drifted = sum(run.drifted is True for run in backtest.runs)
    failed = sum(run.status == "failed" for run in backtest.runs)
    lines.append(
        f"monitor {backtest.monitor}, {_iso(backtest.start)} .. {_iso(backtest.end)}: "
        f"{len(backtest.runs)} runs, {drifted} drifted, {failed} failed, "
        f"{backtest.fired} {'alert' if backtest.fired == 1 else 'alerts'} fired"
    )
    return "\n".join(lines)


def _performance_text(window: WindowPerformance) -> str:
    """One evaluated window: its label coverage, then each degraded metric (or none)."""
    share = window.coverage.share
    labels = "no labels" if share is None else f"labels {share:.0%}"
    degraded = [
        f"{r.method} {r.statistic:.3g}"
        for r in (*window.realized, *window.estimated)
        if r.drifted and r.statistic is not None
    ]
    awaiting = any(r.status == AWAITING_LABELS for r in window.realized)
    state = ", ".join(degraded) if degraded else "no metric degraded"
    return (
        f"performance of {window.window_start:%Y-%m-%d %H:%M} .. {window.window_end:%Y-%m-%d %H:%M}"
        f" ({labels}{', awaiting more' if awaiting else ''}): {state}"
    )
