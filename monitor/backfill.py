"""Labels joined to windows, now and as they arrive late: the I/O side of ``monitor.performance``.

A run evaluates its own window's performance. When its monitor's labels
come from a label source (``performance.labels``), it also evaluates again
the past windows whose labels may still be arriving (backfill), so a
window judged on the few labels of its first day is judged again once the
rest come in, and the rules see it (``performance_facts``).

**Which labels count.** A window counts the labels known at
``min(now, its end + max_wait)`` (with ``arrived_at_column``; without one,
every label the source holds now): labels later than ``max_wait`` never
count, so a window's final result does not depend on when runs happened,
and a backtest, whose clock is each slot, sees the labels as they arrived.

**Which past windows.** A window stays open until its labels are all in or
``max_wait`` has passed since it ended (the run that finds so stores it
``final``). An open window is evaluated again when its age (time since it
ended) has at least doubled since its last evaluation, and once after
``max_wait``: with hourly runs and a 7-day wait, about ten evaluations per
window and a handful of windows re-read per run, instead of 168. Re-reading
a window samples its predictions again with its own run's seed, so the
same rows where the source repeats a seed's sample (files, PostgreSQL, any
window within ``sample_limit``) and a fresh uniform sample elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import Engine

from detectors import ColumnResult, PerformanceProfile
from monitor.alerts.rules import PerformanceFacts
from monitor.config import MonitorSettings, PerformanceSettings
from monitor.performance import judge_window, performance_facts
from monitor.sources import LabelSource, build_label_source, join_labels
from monitor.sources.base import Source, Window
from monitor.store.performance import (
    OpenWindow,
    WindowPerformance,
    newest_counted_end,
    open_windows,
)


@dataclass(frozen=True)
class PerformanceOutcome:
    """A run's performance: its own window, the past windows it evaluated again, the facts."""

    current: WindowPerformance | None
    backfilled: tuple[WindowPerformance, ...] = ()
    facts: PerformanceFacts = PerformanceFacts()

    @property
    def results(self) -> list[ColumnResult]:
        """The run's own results (stored in ``results``): its window's realized and estimated."""
        if self.current is None:
            return []
        return [*self.current.realized, *self.current.estimated]

    @property
    def evaluations(self) -> list[WindowPerformance]:
        return ([self.current] if self.current is not None else []) + list(self.backfilled)


@dataclass(frozen=True)
class WindowSlot:
    """Which window a run evaluates: its own run's id and slot, and its span."""

    run_id: int
    scheduled_for: datetime
    window: Window


def label_sources(monitors: Iterable[MonitorSettings]) -> dict[str, LabelSource]:
    """The label source of every monitor whose ``performance.labels`` names one, by monitor."""
    return {
        monitor.name: build_label_source(monitor.performance.labels)
        for monitor in monitors
        if monitor.performance is not None and monitor.performance.labels is not None
    }


def label_cutoff(perf: PerformanceSettings, window_end: datetime, now: datetime) -> datetime | None:
    """The moment whose known labels a window counts; None: all the source holds."""
    if perf.labels is None or perf.labels.arrived_at_column is None:
        return None
    return min(now, window_end + perf.labels.max_wait)


def is_due(window: OpenWindow, now: datetime, max_wait: timedelta) -> bool:
    """Whether a run at ``now`` evaluates an open window again (see the module).

    >>> from datetime import UTC
    >>> end = datetime(2026, 1, 1, tzinfo=UTC)
    >>> checked = OpenWindow(1, end, end - timedelta(hours=1), end, end + timedelta(hours=4))
    >>> [is_due(checked, end + timedelta(hours=h), timedelta(days=7)) for h in (5, 7, 8)]
    [False, False, True]
    """
    if now >= window.window_end + max_wait:
        return True
    return now - window.window_end >= 2 * (window.checked_at - window.window_end)


def evaluate_window(
    perf: PerformanceSettings,
    profile: PerformanceProfile,
    labels: LabelSource | None,
    slot: WindowSlot,
    rows: pd.DataFrame,
    level: float,
    now: datetime,
    *,
    estimate: bool,
) -> WindowPerformance:
    """One window's performance with the labels known now (joined by id, or in its rows)."""
    joined = None
    end = slot.window.end
    if perf.labels is not None:
        if labels is None:
            raise ValueError("performance.labels is set but no label source was built for it")
        assert perf.id_column is not None
        ids = rows[perf.id_column] if perf.id_column in rows else pd.Series([], dtype=object)
        known = labels.labels(ids.tolist(), label_cutoff(perf, end, now))
        joined = join_labels(ids, known)
    coverage, realized, estimated = judge_window(
        perf, profile, rows, joined, level, estimate=estimate
    )
    waited = perf.labels is None or now >= end + perf.labels.max_wait
    return WindowPerformance(
        window_run_id=slot.run_id,
        scheduled_for=slot.scheduled_for,
        window_start=slot.window.start,
        window_end=end,
        coverage=coverage,
        realized=realized,
        estimated=estimated,
        final=waited or coverage.complete,
    )


def run_performance(
    engine: Engine,
    monitor: MonitorSettings,
    monitor_id: int,
    source: Source,
    labels: LabelSource | None,
    profile: PerformanceProfile,
    slot: WindowSlot,
    current: pd.DataFrame,
    level: float,
    now: datetime,
) -> PerformanceOutcome:
    """The run's own window (unless empty), every due open window again, and the facts."""
    perf = monitor.performance
    assert perf is not None
    evaluated: list[WindowPerformance] = []
    own = None
    if len(current):
        own = evaluate_window(perf, profile, labels, slot, current, level, now, estimate=True)
        evaluated.append(own)
    backfilled: list[WindowPerformance] = []
    if perf.labels is not None:
        newest_stored = newest_counted_end(engine, monitor_id)
        for window in _due(engine, monitor_id, slot.run_id, now, perf.labels.max_wait):
            past = WindowSlot(
                window.window_run_id,
                window.scheduled_for,
                Window(window.window_start, window.window_end),
            )
            seed = int(window.scheduled_for.timestamp())
            rows = source.sample(past.window, monitor.sample_limit, seed=seed)
            backfilled.append(
                evaluate_window(perf, profile, labels, past, rows, level, now, estimate=False)
            )
    else:
        newest_stored = None
    facts = performance_facts(own, evaluated + backfilled, newest_stored)
    return PerformanceOutcome(current=own, backfilled=tuple(backfilled), facts=facts)


def _due(
    engine: Engine, monitor_id: int, run_id: int, now: datetime, max_wait: timedelta
) -> Sequence[OpenWindow]:
    return [w for w in open_windows(engine, monitor_id, run_id) if is_due(w, now, max_wait)]
