"""The report pages as pure functions from what ``monitor.pages.queries`` read to HTML.

Templates are package data, rendered with autoescaping on: column names,
categories, reasons and monitor names come from users' data and config,
and reach the page only as text. Pages carry their CSS inline and draw
their charts as inline SVG, so they work offline and without JavaScript.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
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
from monitor.store.queries import ResultView

SECTIONS: Final = (
    (WINDOW_TEST, "Columns"),
    ("sequential", "Pooled windows"),
    ("performance", "Performance"),
)
"""Result checks in the order a run page shows them, each in a table of its own."""

_ENVIRONMENT = Environment(
    loader=PackageLoader("monitor.pages", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENVIRONMENT.filters.update(
    number=formatting.number,
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
        if result.check == WINDOW_TEST and result.column != MULTIVARIATE_COLUMN
    ]
    tables = [
        (title, rows)
        for check, title in SECTIONS
        if (rows := [r for r in run.results if r.check == check])
    ]
    return _ENVIRONMENT.get_template("run.html").render(
        run=run.summary, panels=panels, tables=tables
    )


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
