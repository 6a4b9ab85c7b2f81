"""The report pages as pure functions from what ``monitor.pages.queries`` read to HTML.

Templates are package data, rendered with autoescaping on: column names,
categories, reasons and monitor names come from users' data and config,
and reach the page only as text. Pages carry their CSS inline and draw
their charts as inline SVG, so they work offline and without JavaScript.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from jinja2 import Environment, PackageLoader, StrictUndefined

from monitor.evaluation import MULTIVARIATE_COLUMN
from monitor.pages import formatting
from monitor.pages.charts import BarChart, Sparkline, bar_chart, sparkline
from monitor.pages.queries import (
    TREND_RUNS,
    WINDOW_TEST,
    ColumnTrend,
    MonitorPage,
    RunPage,
    TrendPoint,
)
from monitor.segment_report import SKIP_REASONS
from monitor.store.performance import PerformanceView, RunPerformance
from monitor.store.queries import ResultView, RunDetail

SECTIONS: Final = (
    (WINDOW_TEST, "Columns"),
    ("sequential", "Pooled windows"),
    ("performance", "Performance"),
)
"""Result checks in the order a run page shows them, each in a table of its own (performance
from ``results`` only for runs stored before per-window performance was: see
``PerformanceSection``)."""


@dataclass(frozen=True)
class MetricRow:
    """One metric of a window: its realized and estimated values side by side."""

    metric: str
    reference: float | None
    realized: PerformanceView | None
    estimated: PerformanceView | None


@dataclass(frozen=True)
class PerformanceSection:
    """A run page's performance: its window's metrics now, how they got there, what it backfilled.

    ``coverage`` is the window's latest label coverage (labelled rows /
    predictions); ``history`` the versions of its realized metrics, one row
    per evaluation; ``backfilled`` the past windows this run evaluated again.
    """

    rows: tuple[MetricRow, ...]
    coverage: PerformanceView | None
    history: tuple[tuple[PerformanceView, ...], ...]
    backfilled: tuple[PerformanceView, ...]


def performance_section(performance: RunPerformance) -> PerformanceSection | None:
    if not performance.window:
        return None
    realized = {v.metric: v for v in performance.window if not v.estimated}
    estimated = {v.metric: v for v in performance.window if v.estimated}
    names = list(dict.fromkeys([*realized, *estimated]))
    rows = tuple(
        MetricRow(
            metric=name,
            reference=(realized.get(name) or estimated[name]).reference_value,
            realized=realized.get(name),
            estimated=estimated.get(name),
        )
        for name in names
    )
    evaluations: dict[datetime, list[PerformanceView]] = {}
    for view in performance.history:
        evaluations.setdefault(view.evaluated_at, []).append(view)
    return PerformanceSection(
        rows=rows,
        coverage=next(iter(realized.values()), None),
        history=tuple(tuple(views) for views in evaluations.values()),
        backfilled=performance.backfilled,
    )


_ENVIRONMENT = Environment(
    loader=PackageLoader("monitor.pages", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENVIRONMENT.filters.update(
    number=formatting.number,
    share=formatting.share,
    count=formatting.count,
    when=formatting.when,
    span=formatting.span,
    segment=formatting.path_segment,
)
_ENVIRONMENT.globals.update(
    verdict=formatting.verdict, result_verdict=formatting.result_verdict, trend_runs=TREND_RUNS
)


@dataclass(frozen=True)
class ColumnPanel:
    """One column of a run page: its window test, its histograms and its trend."""

    result: ResultView
    chart: BarChart | None
    trend: Sparkline | None


@dataclass(frozen=True)
class TrendRow:
    """One column of a monitor page: its trend and its latest tested value."""

    trend: ColumnTrend
    line: Sparkline
    latest: TrendPoint | None
    """The newest run in which the column was tested."""


def render_run_page(page: RunPage) -> str:
    run = page.run
    trends = {trend.column: trend for trend in page.trends}
    panels = [
        ColumnPanel(
            result=result,
            chart=bar_chart(result),
            trend=sparkline(trends[result.column], run.summary.id)
            if result.column in trends
            else None,
        )
        for result in run.results
        if result.check == WINDOW_TEST
        and result.column != MULTIVARIATE_COLUMN
        and result.segment is None
    ]
    performance = performance_section(run.performance)
    tables = [
        (title, rows)
        for check, title in SECTIONS
        if (rows := [r for r in run.results if r.check == check and r.segment is None])
        and not (check == "performance" and performance is not None)
    ]
    return _ENVIRONMENT.get_template("run.html").render(
        run=run.summary,
        panels=panels,
        tables=tables,
        performance=performance,
        segment_tables=segment_tables(run),
        skip_reasons=SKIP_REASONS,
    )


@dataclass(frozen=True)
class SegmentTable:
    """One tested segment of a run: its results, and whether any of its columns drifted."""

    segment: str
    drifted: bool
    results: tuple[ResultView, ...]


def segment_tables(run: RunDetail) -> list[SegmentTable]:
    """A table per tested segment, drifted segments first, then in the order they were tested."""
    by_segment: dict[str, list[ResultView]] = {}
    for result in run.results:
        if result.segment is not None:
            by_segment.setdefault(result.segment, []).append(result)
    tables = [
        SegmentTable(segment, any(r.drifted for r in rows), tuple(rows))
        for segment, rows in by_segment.items()
    ]
    return sorted(tables, key=lambda table: not table.drifted)


def render_monitor_page(page: MonitorPage) -> str:
    rows = [
        TrendRow(trend, sparkline(trend), _latest_tested(trend.points)) for trend in page.trends
    ]
    return _ENVIRONMENT.get_template("monitor.html").render(
        monitor=page.monitor, runs=page.runs, trends=rows
    )


def _latest_tested(points: Sequence[TrendPoint]) -> TrendPoint | None:
    return next((p for p in reversed(points) if p.value is not None), None)


def render_not_found(what: str) -> str:
    """The 404 page: ``what`` (e.g. "run 42") is named as the user wrote it."""
    return _ENVIRONMENT.get_template("not_found.html").render(what=what)
