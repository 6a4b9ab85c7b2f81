"""What a report page reads from the store, in a fixed number of queries whatever the history.

A run page is the run with its results (``monitor.store.queries.get_run``)
and each column's window test over the monitor's last runs up to that run; a
monitor page is its last runs and the same trends. Each trend costs one
query for the results of all the runs shown, so a page with 30 runs and 50
columns reads the store as often as one with a single run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from monitor.store import queries
from monitor.store.models import MonitorRow, ResultRow
from monitor.store.queries import RunDetail, RunSummary
from monitor.vocabulary import ResultCheck

TREND_RUNS: Final = 30
"""Runs a trend spans and a monitor page lists: a day of hourly runs and then some."""

WINDOW_TEST: Final[ResultCheck] = "drift"
"""``results.check`` of a column's single-window test, the one a trend follows."""


@dataclass(frozen=True)
class TrendPoint:
    """One run's window test of one column; ``value`` is None when the run has no tested value.

    ``value`` is the effect (the statistic when a method has none), the
    number compared with ``floor``: on that scale the drifted points of a
    trend stand above the line whatever the method.
    """

    run_id: int
    scheduled_for: datetime
    run_status: str
    value: float | None
    floor: float | None
    drifted: bool
    method: str | None
    status: str | None
    """The result's status; None when the run stored no result for the column (a failed run)."""


@dataclass(frozen=True)
class ColumnTrend:
    column: str
    points: tuple[TrendPoint, ...]
    """Oldest run first."""


@dataclass(frozen=True)
class RunPage:
    run: RunDetail
    trends: tuple[ColumnTrend, ...]
    """Over the monitor's last ``TREND_RUNS`` runs up to and including this one."""


@dataclass(frozen=True)
class MonitorPage:
    monitor: str
    runs: tuple[RunSummary, ...]
    """Newest first."""
    trends: tuple[ColumnTrend, ...]


def load_run_page(engine: Engine, run_id: int, *, runs: int = TREND_RUNS) -> RunPage | None:
    """The run ``run_id`` and its trends; None when there is no such run (or id it could have)."""
    run = queries.get_run(engine, run_id)
    if run is None:
        return None
    recent = queries.list_runs(engine, run.summary.monitor, runs, before_id=run_id + 1)
    return RunPage(run=run, trends=_trends(engine, recent))


def load_monitor_page(engine: Engine, name: str, *, runs: int = TREND_RUNS) -> MonitorPage | None:
    """The monitor's last ``runs`` runs and its trends; None when no monitor has that name."""
    if not queries.is_storable_name(name):
        return None
    with Session(engine) as session:
        if session.scalar(select(MonitorRow.id).where(MonitorRow.name == name)) is None:
            return None
    recent = queries.list_runs(engine, name, runs, before_id=None)
    return MonitorPage(monitor=name, runs=tuple(recent), trends=_trends(engine, recent))


def _trends(engine: Engine, runs: Sequence[RunSummary]) -> tuple[ColumnTrend, ...]:
    """Each column's window test over ``runs`` (newest first), in the newest run's column order."""
    query = (
        select(
            ResultRow.run_id,
            ResultRow.column,
            ResultRow.method,
            ResultRow.statistic,
            ResultRow.effect,
            ResultRow.effect_floor,
            ResultRow.drifted,
            ResultRow.status,
        )
        .where(
            ResultRow.run_id.in_([run.id for run in runs]),
            ResultRow.check == WINDOW_TEST,
            ResultRow.segment.is_(None),
        )
        .order_by(ResultRow.run_id.desc(), ResultRow.id)
    )
    by_column: dict[str, dict[int, TrendPoint]] = {}
    summaries = {run.id: run for run in runs}
    if runs:
        with Session(engine) as session:
            for row in session.execute(query):
                run = summaries[row.run_id]
                points = by_column.setdefault(row.column, {})
                points.setdefault(
                    row.run_id,
                    TrendPoint(
                        run_id=row.run_id,
                        scheduled_for=run.scheduled_for,
                        run_status=run.status,
                        value=row.effect if row.effect is not None else row.statistic,
                        floor=row.effect_floor,
                        drifted=row.drifted,
                        method=row.method,
                        status=row.status,
                    ),
                )
    oldest_first = list(reversed(runs))
    return tuple(
        ColumnTrend(
            column=column,
            points=tuple(points.get(run.id) or _no_result(run) for run in oldest_first),
        )
        for column, points in by_column.items()
    )


def _no_result(run: RunSummary) -> TrendPoint:
    return TrendPoint(
        run_id=run.id,
        scheduled_for=run.scheduled_for,
        run_status=run.status,
        value=None,
        floor=None,
        drifted=False,
        method=None,
        status=None,
    )
