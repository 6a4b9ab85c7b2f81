"""Read-only repository functions: what the API and start-up read from the store.

Every function returns frozen dataclasses built from the rows, never ORM
objects, so nothing outside this module holds a session or lazy-loads. Each
call issues a fixed number of queries (runs, then the results of all those
runs at once), whatever the number of runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import Engine, Row, func, select
from sqlalchemy.orm import Session

from detectors import finite_or_none
from monitor.segment_report import SegmentReport
from monitor.store.alert_queries import TransitionView, run_transitions
from monitor.store.models import MonitorRow, ResultRow, RunRow
from monitor.store.performance import RunPerformance, run_performance
from monitor.store.references import RunReference, stored_reference
from monitor.vocabulary import ResultCheck

RUN_SUCCEEDED = "succeeded"
"""``runs.status`` of a run that finished and stored its results."""

MAX_ROW_ID = 2**31 - 1
"""Row ids are ``Integer`` columns: 32 bits on PostgreSQL. No row has an id outside 1..this,
so a lookup outside it answers "none" without asking a store that would refuse the number."""


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def _json_safe(value: Any) -> Any:
    if isinstance(value, float):
        return finite_or_none(value)
    if isinstance(value, dict):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    return value


@dataclass(frozen=True)
class ResultView:
    """One stored result row; ``check`` says which test made it (``ResultCheck``)."""

    check: ResultCheck
    column: str
    method: str
    statistic: float | None
    p_value: float | None
    p_value_adjusted: float | None
    threshold: float
    drifted: bool
    n_reference: int
    n_current: int
    status: str
    reason: str
    details: dict[str, Any]
    effect: float | None = None
    effect_floor: float | None = None
    segment: str | None = None
    """The segment it tested (``country=DE``, ``monitor.segments``); None for the whole window."""

    def redacted(self, redact: Callable[[str], str]) -> ResultView:
        """This result as shown: its reason through ``redact`` (``monitor.redaction``)."""
        return replace(self, reason=redact(self.reason))

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "column": self.column,
            "method": self.method,
            "statistic": finite_or_none(self.statistic),
            "p_value": finite_or_none(self.p_value),
            "p_value_adjusted": finite_or_none(self.p_value_adjusted),
            "threshold": finite_or_none(self.threshold),
            "effect": finite_or_none(self.effect),
            "effect_floor": finite_or_none(self.effect_floor),
            "drifted": self.drifted,
            "n_reference": self.n_reference,
            "n_current": self.n_current,
            "status": self.status,
            "reason": self.reason,
            "details": _json_safe(self.details),
            "segment": self.segment,
        }


@dataclass(frozen=True)
class DriftedSegment:
    """A segment in which columns drifted, and those columns."""

    segment: str
    columns: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"segment": self.segment, "columns": list(self.columns)}


@dataclass(frozen=True)
class RunSummary:
    id: int
    monitor: str
    scheduled_for: datetime
    trigger: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    window_start: datetime
    window_end: datetime
    drifted: bool | None
    reason: str | None
    n_reference: int | None
    n_current: int | None
    drifted_columns: tuple[str, ...]
    reference: RunReference | None = None
    """The reference the run was tested against; None when it states none (failed runs)."""
    alert_transitions: tuple[TransitionView, ...] = ()
    """The alert changes this run made (rule, from, to), in the order it made them."""
    drifted_segments: tuple[DriftedSegment, ...] = ()
    """The segments with a drifted column, each with them; ``drifted_columns`` are the whole
    window's."""
    segments: SegmentReport | None = None
    """What the run did with its segments; None for a monitor without segments."""

    def redacted(self, redact: Callable[[str], str]) -> RunSummary:
        """This run as shown: its reason through ``redact`` (``monitor.redaction``)."""
        return replace(self, reason=None if self.reason is None else redact(self.reason))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "monitor": self.monitor,
            "scheduled_for": _iso(self.scheduled_for),
            "trigger": self.trigger,
            "status": self.status,
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "window_start": _iso(self.window_start),
            "window_end": _iso(self.window_end),
            "drifted": self.drifted,
            "reason": self.reason,
            "n_reference": self.n_reference,
            "n_current": self.n_current,
            "drifted_columns": list(self.drifted_columns),
            "reference": self.reference.to_dict() if self.reference else None,
            "alert_transitions": [change.change() for change in self.alert_transitions],
            "drifted_segments": [segment.to_dict() for segment in self.drifted_segments],
            "segments": self.segments.to_dict() if self.segments else None,
        }


@dataclass(frozen=True)
class RunDetail:
    summary: RunSummary
    results: tuple[ResultView, ...]
    performance: RunPerformance = RunPerformance()
    """Its window's performance (latest state and history) and the windows it backfilled."""

    def redacted(self, redact: Callable[[str], str]) -> RunDetail:
        """The run and every result as shown (``monitor.redaction``)."""
        return RunDetail(
            self.summary.redacted(redact),
            tuple(r.redacted(redact) for r in self.results),
            self.performance,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.summary.to_dict(),
            "results": [r.to_dict() for r in self.results],
            "performance": self.performance.to_dict(),
        }


_RUN_COLUMNS = (
    RunRow.id,
    MonitorRow.name,
    RunRow.scheduled_for,
    RunRow.trigger,
    RunRow.status,
    RunRow.started_at,
    RunRow.finished_at,
    RunRow.window_start,
    RunRow.window_end,
    RunRow.drifted,
    RunRow.reason,
    RunRow.n_reference,
    RunRow.n_current,
    RunRow.reference_key,
    RunRow.reference_type,
    RunRow.reference_origin,
    RunRow.reference_start,
    RunRow.reference_end,
    RunRow.segments,
)


def _summary(
    row: Row[*tuple[Any, ...]],
    drifted: Drifted,
    alert_transitions: Iterable[TransitionView] = (),
) -> RunSummary:
    columns, segments = drifted
    return RunSummary(
        id=row.id,
        monitor=row.name,
        scheduled_for=row.scheduled_for,
        trigger=row.trigger,
        status=row.status,
        started_at=row.started_at,
        finished_at=row.finished_at,
        window_start=row.window_start,
        window_end=row.window_end,
        drifted=row.drifted,
        reason=row.reason,
        n_reference=row.n_reference,
        n_current=row.n_current,
        drifted_columns=tuple(columns),
        reference=stored_reference(
            row.reference_key,
            row.reference_type,
            row.reference_origin,
            row.reference_start,
            row.reference_end,
        ),
        alert_transitions=tuple(alert_transitions),
        drifted_segments=tuple(
            DriftedSegment(segment, tuple(names)) for segment, names in segments.items()
        ),
        segments=SegmentReport.from_dict(row.segments) if row.segments is not None else None,
    )


def _view(result: ResultRow) -> ResultView:
    return ResultView(
        check=result.check,
        column=result.column,
        method=result.method,
        statistic=result.statistic,
        p_value=result.p_value,
        p_value_adjusted=result.p_value_adjusted,
        threshold=result.threshold,
        drifted=result.drifted,
        n_reference=result.n_reference,
        n_current=result.n_current,
        status=result.status,
        reason=result.reason,
        details=dict(result.details or {}),
        effect=result.effect,
        effect_floor=result.effect_floor,
        segment=result.segment,
    )


DRIFT_CHECKS: Final[tuple[ResultCheck, ...]] = ("drift", "sequential")
"""The checks whose drifted results name a drifted column; a degraded performance result
is stored under the label column, which has not drifted for it (its metric fell)."""

Drifted = tuple[list[str], dict[str, list[str]]]
"""A run's drifted columns: the whole window's, and per segment its own."""

NOTHING_DRIFTED: Drifted = ([], {})


def _drifted_columns(columns: Iterable[tuple[int, str, str | None]]) -> dict[int, Drifted]:
    by_run: dict[int, Drifted] = {}
    for run_id, column, segment in columns:
        whole, segments = by_run.setdefault(run_id, ([], {}))
        names = whole if segment is None else segments.setdefault(segment, [])
        if column not in names:
            names.append(column)
    return by_run


def _details(session: Session, rows: Sequence[Row[*tuple[Any, ...]]]) -> list[RunDetail]:
    """Attach the results of every run in ``rows`` with one query."""
    run_ids = [row.id for row in rows]
    results: dict[int, list[ResultView]] = {run_id: [] for run_id in run_ids}
    drifted: list[tuple[int, str, str | None]] = []
    if run_ids:
        query = (
            select(ResultRow)
            .where(ResultRow.run_id.in_(run_ids))
            .order_by(ResultRow.run_id, ResultRow.id)
        )
        for result in session.scalars(query):
            results[result.run_id].append(_view(result))
            if result.drifted and result.check in DRIFT_CHECKS:
                drifted.append((result.run_id, result.column, result.segment))
    columns = _drifted_columns(drifted)
    return [
        RunDetail(
            summary=_summary(row, columns.get(row.id, NOTHING_DRIFTED)),
            results=tuple(results[row.id]),
        )
        for row in rows
    ]


def is_storable_name(name: str) -> bool:
    """Whether any stored name could equal ``name``: none holds a NUL byte, which PostgreSQL
    text cannot hold (asking it would be an error, not "none")."""
    return "\x00" not in name


def _limit_iv(limit: int) -> None:
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")


def list_runs(
    engine: Engine, monitor: str | None, limit: int, before_id: int | None
) -> list[RunSummary]:
    """Runs newest first (highest id first); ``before_id`` returns the page after that run.

    ``limit`` has no upper bound here: the caller (the API) caps it. A ``monitor``
    no stored name can equal (one with a NUL byte, which PostgreSQL text cannot
    hold) or a ``before_id`` at or below the first id finds nothing.
    """
    _limit_iv(limit)
    unstorable = monitor is not None and not is_storable_name(monitor)
    if unstorable or (before_id is not None and before_id <= 1):
        return []
    if before_id is not None and before_id > MAX_ROW_ID:
        before_id = None  # every stored id is below it
    query = select(*_RUN_COLUMNS).join(MonitorRow, RunRow.monitor_id == MonitorRow.id)
    if monitor is not None:
        query = query.where(MonitorRow.name == monitor)
    if before_id is not None:
        query = query.where(RunRow.id < before_id)
    query = query.order_by(RunRow.id.desc()).limit(limit)
    with Session(engine) as session:
        rows = session.execute(query).all()
        columns: dict[int, Drifted] = {}
        if rows:
            drifted = session.execute(
                select(ResultRow.run_id, ResultRow.column, ResultRow.segment)
                .where(
                    ResultRow.run_id.in_([row.id for row in rows]),
                    ResultRow.drifted.is_(True),
                    ResultRow.check.in_(DRIFT_CHECKS),
                )
                .order_by(ResultRow.run_id, ResultRow.id)
            )
            columns = _drifted_columns(
                (run_id, column, segment) for run_id, column, segment in drifted
            )
        changes = run_transitions(session, [row.id for row in rows])
    return [
        _summary(row, columns.get(row.id, NOTHING_DRIFTED), changes.get(row.id, ())) for row in rows
    ]


def get_run(engine: Engine, run_id: int) -> RunDetail | None:
    if not 1 <= run_id <= MAX_ROW_ID:
        return None
    query = (
        select(*_RUN_COLUMNS)
        .join(MonitorRow, RunRow.monitor_id == MonitorRow.id)
        .where(RunRow.id == run_id)
    )
    with Session(engine) as session:
        row = session.execute(query).one_or_none()
        if row is None:
            return None
        detail = _details(session, [row])[0]
        changes = tuple(run_transitions(session, [run_id]).get(run_id, ()))
        return replace(
            detail,
            summary=replace(detail.summary, alert_transitions=changes),
            performance=run_performance(session, run_id),
        )


def latest_successful_runs(engine: Engine) -> list[RunDetail]:
    """The newest successful run of each monitor, ordered by monitor name.

    "Newest" is the run that finished last (then the highest id), which is the
    run whose numbers the live gauges would be showing; a catch-up run for an
    old slot that finished later wins over the slot after it.
    """
    rank = (
        func.row_number()
        .over(
            partition_by=RunRow.monitor_id,
            order_by=(RunRow.finished_at.desc(), RunRow.id.desc()),
        )
        .label("rank")
    )
    ranked = (
        select(RunRow.id.label("run_id"), rank)
        .where(RunRow.status == RUN_SUCCEEDED, RunRow.finished_at.is_not(None))
        .subquery()
    )
    query = (
        select(*_RUN_COLUMNS)
        .join(MonitorRow, RunRow.monitor_id == MonitorRow.id)
        .join(ranked, ranked.c.run_id == RunRow.id)
        .where(ranked.c.rank == 1)
        .order_by(MonitorRow.name)
    )
    with Session(engine) as session:
        rows = session.execute(query).all()
        return _details(session, rows)
