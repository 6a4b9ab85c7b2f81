"""Each window's model performance: written by the runs that evaluate it, read by API and rules.

A window is evaluated by its own run and again by later runs while its
labels keep arriving (``monitor.backfill``). ``save_window`` appends a row
per metric whose result changed and clears ``latest`` on the row it
replaces; a metric that did not change keeps its row and only its
``checked_at`` (and ``final``) move. So the latest state of any window is
one indexed read, and its history (how a metric moved as labels came in)
stays for the report. Rows go with the window's run when retention prunes
it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from detectors import ColumnResult, ResultStatus, finite_or_none
from detectors.performance import parse_method
from monitor.store.models import MonitorRow, PerformanceRow

AWAITING_LABELS: Final[ResultStatus] = "awaiting_labels"
"""The status of a realized metric whose window lacks the labels its coverage needs."""


@dataclass(frozen=True)
class Coverage:
    """How many of a window's predictions have a label, and how many must.

    ``required`` is the share ``performance.labels.coverage`` asks for; None
    for labels in the window's own rows, where whatever is there counts.
    """

    n_predictions: int
    n_labelled: int
    required: float | None = None

    @property
    def share(self) -> float | None:
        return self.n_labelled / self.n_predictions if self.n_predictions else None

    @property
    def reached(self) -> bool:
        if self.required is None:
            return True
        return self.n_predictions > 0 and self.n_labelled >= self.required * self.n_predictions

    @property
    def complete(self) -> bool:
        return self.n_predictions > 0 and self.n_labelled >= self.n_predictions


@dataclass(frozen=True)
class WindowPerformance:
    """One window's metrics as one evaluation found them.

    ``window_run_id`` is the window's own run (its slot); ``final`` says no
    later run will evaluate it again (labels all in, or ``max_wait`` past).
    """

    window_run_id: int
    scheduled_for: datetime
    window_start: datetime
    window_end: datetime
    coverage: Coverage
    realized: tuple[ColumnResult, ...]
    estimated: tuple[ColumnResult, ...] = ()
    final: bool = False

    @property
    def counted(self) -> bool:
        """Whether its realized metrics count: its labels reached their coverage."""
        return self.coverage.reached and bool(self.realized)


@dataclass(frozen=True)
class OpenWindow:
    """A past window whose labels may still arrive: what a run needs to evaluate it again."""

    window_run_id: int
    scheduled_for: datetime
    window_start: datetime
    window_end: datetime
    checked_at: datetime


@dataclass(frozen=True)
class PerformanceView:
    """One stored metric of one window (one version of it)."""

    window_run_id: int
    evaluated_run_id: int | None
    scheduled_for: datetime
    window_start: datetime
    window_end: datetime
    column: str
    method: str
    metric: str
    estimated: bool
    statistic: float | None
    threshold: float | None
    degraded: bool
    effect: float | None
    effect_floor: float | None
    n_reference: int
    n_current: int
    status: str
    reason: str
    details: Mapping[str, Any]
    coverage: float | None
    n_predictions: int
    n_labelled: int | None
    evaluated_at: datetime
    checked_at: datetime
    latest: bool
    final: bool

    @property
    def reference_value(self) -> float | None:
        return _number(self.details.get("reference_value"))

    @property
    def lower(self) -> float | None:
        return _number(self.details.get("lower"))

    @property
    def upper(self) -> float | None:
        return _number(self.details.get("upper"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "window_start": _iso(self.window_start),
            "window_end": _iso(self.window_end),
            "window_run_id": self.window_run_id,
            "evaluated_run_id": self.evaluated_run_id,
            "column": self.column,
            "metric": self.metric,
            "kind": "estimated" if self.estimated else "realized",
            "method": self.method,
            "value": finite_or_none(self.statistic),
            "reference_value": self.reference_value,
            "lower": self.lower,
            "upper": self.upper,
            "threshold": finite_or_none(self.threshold),
            "degraded": self.degraded,
            "effect": finite_or_none(self.effect),
            "effect_floor": finite_or_none(self.effect_floor),
            "status": self.status,
            "reason": self.reason,
            "coverage": finite_or_none(self.coverage),
            "n_predictions": self.n_predictions,
            "n_labelled": self.n_labelled,
            "n_current": self.n_current,
            "evaluated_at": _iso(self.evaluated_at),
            "final": self.final,
        }


def _number(value: Any) -> float | None:
    return finite_or_none(float(value)) if isinstance(value, int | float) else None


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def _changed(row: PerformanceRow, result: ColumnResult, n_labelled: int | None) -> bool:
    return (
        row.status != result.status
        or row.statistic != result.statistic
        or row.degraded != result.drifted
        or row.n_current != result.n_current
        or row.n_labelled != n_labelled
    )


def save_window(
    session: Session,
    monitor_id: int,
    evaluated_run_id: int,
    now: datetime,
    window: WindowPerformance,
) -> None:
    """Record one evaluation of a window in the run's transaction (see the module)."""
    results = [*window.realized, *window.estimated]
    previous = {
        row.method: row
        for row in session.scalars(
            select(PerformanceRow).where(
                PerformanceRow.window_run_id == window.window_run_id,
                PerformanceRow.latest.is_(True),
                PerformanceRow.method.in_([r.method for r in results]),
            )
        )
    }
    coverage = window.coverage
    for result in results:
        estimated = result in window.estimated
        n_labelled = None if estimated else coverage.n_labelled
        row = previous.get(result.method)
        if row is not None and not _changed(row, result, n_labelled):
            row.checked_at = now
            row.final = window.final
            continue
        if row is not None:
            row.latest = False
        parsed = parse_method(result.method)
        session.add(
            PerformanceRow(
                monitor_id=monitor_id,
                window_run_id=window.window_run_id,
                evaluated_run_id=evaluated_run_id,
                scheduled_for=window.scheduled_for,
                window_start=window.window_start,
                window_end=window.window_end,
                column=result.column,
                method=result.method,
                metric=parsed[0] if parsed else result.method,
                estimated=estimated,
                statistic=finite_or_none(result.statistic),
                threshold=finite_or_none(result.threshold),
                degraded=result.drifted,
                effect=finite_or_none(result.effect),
                effect_floor=finite_or_none(result.effect_floor),
                n_reference=result.n_reference,
                n_current=result.n_current,
                status=result.status,
                reason=result.reason,
                details=dict(result.details),
                coverage=coverage.share,
                n_predictions=coverage.n_predictions,
                n_labelled=n_labelled,
                evaluated_at=now,
                checked_at=now,
                latest=True,
                final=window.final or estimated,
            )
        )
    session.flush()


def open_windows(engine: Engine, monitor_id: int, exclude_run_id: int) -> list[OpenWindow]:
    """The monitor's windows whose realized metrics are not final, oldest first."""
    query = (
        select(
            PerformanceRow.window_run_id,
            PerformanceRow.scheduled_for,
            PerformanceRow.window_start,
            PerformanceRow.window_end,
            func.min(PerformanceRow.checked_at),
        )
        .where(
            PerformanceRow.monitor_id == monitor_id,
            PerformanceRow.latest.is_(True),
            PerformanceRow.estimated.is_(False),
            PerformanceRow.final.is_(False),
            PerformanceRow.window_run_id != exclude_run_id,
        )
        .group_by(
            PerformanceRow.window_run_id,
            PerformanceRow.scheduled_for,
            PerformanceRow.window_start,
            PerformanceRow.window_end,
        )
        .order_by(PerformanceRow.window_end)
    )
    with Session(engine) as session:
        return [OpenWindow(*row) for row in session.execute(query)]


def newest_counted_end(engine: Engine, monitor_id: int) -> datetime | None:
    """The end of the newest window whose realized metrics count (labels reached coverage)."""
    with Session(engine) as session:
        return session.scalar(
            select(func.max(PerformanceRow.window_end)).where(
                PerformanceRow.monitor_id == monitor_id,
                PerformanceRow.latest.is_(True),
                PerformanceRow.estimated.is_(False),
                PerformanceRow.status != AWAITING_LABELS,
            )
        )


def _view(row: PerformanceRow) -> PerformanceView:
    return PerformanceView(
        window_run_id=row.window_run_id,
        evaluated_run_id=row.evaluated_run_id,
        scheduled_for=row.scheduled_for,
        window_start=row.window_start,
        window_end=row.window_end,
        column=row.column,
        method=row.method,
        metric=row.metric,
        estimated=row.estimated,
        statistic=row.statistic,
        threshold=row.threshold,
        degraded=row.degraded,
        effect=row.effect,
        effect_floor=row.effect_floor,
        n_reference=row.n_reference,
        n_current=row.n_current,
        status=row.status,
        reason=row.reason,
        details=dict(row.details or {}),
        coverage=row.coverage,
        n_predictions=row.n_predictions,
        n_labelled=row.n_labelled,
        evaluated_at=row.evaluated_at,
        checked_at=row.checked_at,
        latest=row.latest,
        final=row.final,
    )


def latest_performance(
    engine: Engine, monitor: str | None = None
) -> dict[str, list[PerformanceView]]:
    """Per monitor, what its gauges show: the newest counted realized and newest estimated.

    The realized metrics of the newest window whose labels reached their
    coverage, and the estimates of the newest window that has estimates,
    each in their latest version.
    """
    newest = (
        select(
            PerformanceRow.monitor_id,
            PerformanceRow.estimated,
            func.max(PerformanceRow.window_end).label("window_end"),
        )
        .where(PerformanceRow.latest.is_(True), PerformanceRow.status != AWAITING_LABELS)
        .group_by(PerformanceRow.monitor_id, PerformanceRow.estimated)
        .subquery()
    )
    query = (
        select(MonitorRow.name, PerformanceRow)
        .join(MonitorRow, MonitorRow.id == PerformanceRow.monitor_id)
        .join(
            newest,
            (newest.c.monitor_id == PerformanceRow.monitor_id)
            & (newest.c.estimated == PerformanceRow.estimated)
            & (newest.c.window_end == PerformanceRow.window_end),
        )
        .where(PerformanceRow.latest.is_(True), PerformanceRow.status != AWAITING_LABELS)
        .order_by(MonitorRow.name, PerformanceRow.estimated, PerformanceRow.id)
    )
    if monitor is not None:
        query = query.where(MonitorRow.name == monitor)
    found: dict[str, list[PerformanceView]] = {}
    with Session(engine) as session:
        for name, row in session.execute(query):
            found.setdefault(name, []).append(_view(row))
    return found


@dataclass(frozen=True)
class RunPerformance:
    """What a run's page and JSON show of performance.

    ``window``: the run's own window in its latest state (later runs may
    have counted late labels since); ``history``: every version of its
    realized metrics, oldest first; ``backfilled``: the past windows this
    run evaluated again, as it found them.
    """

    window: tuple[PerformanceView, ...] = ()
    history: tuple[PerformanceView, ...] = ()
    backfilled: tuple[PerformanceView, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {
            "window": [view.to_dict() for view in self.window],
            "history": [view.to_dict() for view in self.history],
            "backfilled": [view.to_dict() for view in self.backfilled],
        }


def run_performance(session: Session, run_id: int) -> RunPerformance:
    """The performance of one run (``RunPerformance``), in one query."""
    rows = session.scalars(
        select(PerformanceRow)
        .where(
            (PerformanceRow.window_run_id == run_id) | (PerformanceRow.evaluated_run_id == run_id)
        )
        .order_by(PerformanceRow.window_end, PerformanceRow.id)
    ).all()
    own = [row for row in rows if row.window_run_id == run_id]
    return RunPerformance(
        window=tuple(_view(row) for row in own if row.latest),
        history=tuple(_view(row) for row in own if not row.estimated),
        backfilled=tuple(
            _view(row)
            for row in rows
            if row.window_run_id != run_id and row.evaluated_run_id == run_id
        ),
    )
