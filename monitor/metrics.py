"""Prometheus collectors on a registry of the daemon's own (never the global one).

Series keep their label sets from run to run, so that rules and dashboards
can rely on them:

- a monitor's run counters and a receiver's delivery counters exist at 0 from
  start-up (``declare_monitor``, ``declare_receiver``), so that ``increase()``
  sees the first failed run or dead letter, not only the second;
- the gauges of the latest successful run are labelled by what stays put:
  the column and how many windows its test pooled (``windows``: "1" for one
  window, "4", "16" for pooled tests), never by the method, which the
  automatic choice may change between a quiet and a busy window; the method
  is an info series of its own (``driftwarden_column_method_info``);
- performance metrics (accuracy, F1, ...) have gauges of their own, apart
  from the drift statistics;
- a series shown once stays: when the latest run did not produce it (a
  column without a statistic, a window without labels) it shows NaN rather
  than a number from an older run.
- segments have series of their own only for the ``metrics_segments``
  largest of a run, the rest pooled into ``segment="other"``
  (``monitor.segment_metrics``); the whole window's series keep their labels.

An empty window is a run of its own outcome (``empty``): it neither counts as
a success nor changes the gauges, as the alert rules and the start-up
restore from the store see it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Final, get_args

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from monitor.segment_metrics import segment_series
from monitor.segment_settings import DEFAULT_METRICS_SEGMENTS
from monitor.store.outbox import STATUSES, Outcome, QueueStats
from monitor.store.performance import PerformanceView
from monitor.store.queries import ResultView

logger = logging.getLogger("driftwarden.metrics")

RUN_OUTCOMES: Final = ("drift", "no_drift", "empty", "failed")
DELIVERY_OUTCOMES: Final[tuple[Outcome, ...]] = get_args(Outcome)

SeriesKey = tuple[str, ...]


def windows_tested(method: str) -> str:
    """How many windows a result's test saw: a pooled test's method is ``<method>@<windows>``.

    >>> windows_tested("ks@16"), windows_tested("chi2")
    ('16', '1')
    """
    return method.partition("@")[2] or "1"


class _LatestGauge:
    """A gauge of each monitor's latest run: every label set shown once keeps its series.

    ``show`` sets the values of one monitor's run; a label set seen before
    that the run lacks (or gives no value) shows NaN, never an older run's number.
    """

    def __init__(self, gauge: Gauge) -> None:
        self._gauge = gauge
        self._seen: dict[str, set[SeriesKey]] = {}

    def show(self, monitor: str, values: Mapping[SeriesKey, float | None]) -> None:
        seen = self._seen.setdefault(monitor, set())
        seen.update(key for key, value in values.items() if value is not None)
        for key in seen:
            value = values.get(key)
            self._gauge.labels(monitor, *key).set(math.nan if value is None else value)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.runs = Counter(
            "driftwarden_runs",
            "Check runs by outcome (drift, no_drift, empty, failed).",
            ["monitor", "outcome"],
            registry=r,
        )
        self.run_duration = Histogram(
            "driftwarden_run_duration_seconds",
            "Wall time of one check run.",
            ["monitor"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
            registry=r,
        )
        self.schedule_period = Gauge(
            "driftwarden_monitor_schedule_period_seconds",
            "Typical time between two scheduled runs of the monitor.",
            ["monitor"],
            registry=r,
        )
        self.last_success = Gauge(
            "driftwarden_last_successful_run_timestamp_seconds",
            "Unix time at which the latest successful run finished.",
            ["monitor"],
            registry=r,
        )
        self.monitor_drifted = Gauge(
            "driftwarden_monitor_drifted",
            "1 when the latest successful run drifted.",
            ["monitor"],
            registry=r,
        )
        column_labels = ["monitor", "column", "windows"]
        self.column_statistic = _LatestGauge(
            Gauge(
                "driftwarden_column_statistic",
                "Test statistic of the column in the latest successful run.",
                column_labels,
                registry=r,
            )
        )
        self.column_p_value = _LatestGauge(
            Gauge(
                "driftwarden_column_p_value",
                "P-value of the column in the latest successful run (tests that have one).",
                column_labels,
                registry=r,
            )
        )
        self.column_drifted = _LatestGauge(
            Gauge(
                "driftwarden_column_drifted",
                "1 when the column drifted in the latest successful run.",
                column_labels,
                registry=r,
            )
        )
        self.column_method = Info(
            "driftwarden_column_method",
            "The method that tested the column in the latest successful run.",
            column_labels,
            registry=r,
        )
        self._methods: dict[str, set[SeriesKey]] = {}
        self.segment_column_drifted = _LatestGauge(
            Gauge(
                "driftwarden_segment_column_drifted",
                "1 when the column drifted in the segment in the latest successful run; "
                'segment="other" pools the segments beyond metrics_segments (1: in any of them).',
                ["monitor", "segment", "column"],
                registry=r,
            )
        )
        self.segment_rows = _LatestGauge(
            Gauge(
                "driftwarden_segment_rows",
                "Window rows of the segment in the latest successful run (other: summed).",
                ["monitor", "segment"],
                registry=r,
            )
        )
        self.segments_pooled = Gauge(
            "driftwarden_segments_pooled",
            'Segments tested in the latest successful run whose series are pooled into "other".',
            ["monitor"],
            registry=r,
        )
        self._metrics_segments: dict[str, int] = {}
        performance_labels = ["monitor", "metric", "kind"]
        self.performance_value = Gauge(
            "driftwarden_performance_value",
            "Latest value of a model metric: kind realized (the newest window whose labels "
            "reached their coverage) or estimated (CBPE, the newest window with scores).",
            performance_labels,
            registry=r,
        )
        self.performance_degraded = Gauge(
            "driftwarden_performance_degraded",
            "1 when that metric is beyond its noise band (and allowed_drop floor, if set).",
            performance_labels,
            registry=r,
        )
        self.performance_lower = Gauge(
            "driftwarden_performance_lower",
            "Lower bound of the metric's noise band for that window.",
            performance_labels,
            registry=r,
        )
        self.performance_upper = Gauge(
            "driftwarden_performance_upper",
            "Upper bound of the metric's noise band for that window.",
            performance_labels,
            registry=r,
        )
        self.performance_coverage = Gauge(
            "driftwarden_performance_label_coverage",
            "Share of that window's predictions with a label when the metric was computed.",
            performance_labels,
            registry=r,
        )
        self.performance_window_end = Gauge(
            "driftwarden_performance_window_end_timestamp_seconds",
            "Unix time at which the window the metric is of ended.",
            performance_labels,
            registry=r,
        )
        self.run_hung = Gauge(
            "driftwarden_monitor_run_hung",
            "1 while a run of the monitor is past scheduler.run_timeout and has not returned.",
            ["monitor"],
            registry=r,
        )
        self.deliveries = Counter(
            "driftwarden_deliveries",
            "Delivery attempts by receiver and outcome (delivered, retry, dead).",
            ["receiver", "outcome"],
            registry=r,
        )
        self.delivery_duration = Histogram(
            "driftwarden_delivery_attempt_duration_seconds",
            "Wall time of one delivery attempt (build, sign, send, answer).",
            ["receiver"],
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=r,
        )
        self.delivery_attempts = Histogram(
            "driftwarden_delivery_attempts_per_message",
            "Attempts a message took, observed when it is delivered or dead.",
            ["receiver", "outcome"],
            buckets=(1, 2, 3, 5, 8, 13, 21, 34),
            registry=r,
        )
        self.dead_letters = Counter(
            "driftwarden_delivery_dead_letters",
            "Messages that became dead letters (permanent failure or too old).",
            ["receiver"],
            registry=r,
        )
        self.deferrals = Counter(
            "driftwarden_delivery_deferred",
            "Messages put back unattempted because the receiver's rate limit was reached.",
            ["receiver"],
            registry=r,
        )

    def declare_monitor(
        self,
        monitor: str,
        schedule_period: timedelta,
        metrics_segments: int | None = None,
    ) -> None:
        """Create the monitor's run series at 0 and export its schedule's period.

        ``metrics_segments``: the monitor's, when it tests segments (``monitor.segment_metrics``).
        """
        if metrics_segments is not None:
            self._metrics_segments[monitor] = metrics_segments
            self.segments_pooled.labels(monitor=monitor).set(0)
        for outcome in RUN_OUTCOMES:
            self.runs.labels(monitor=monitor, outcome=outcome)
        self.run_duration.labels(monitor=monitor)
        self.run_hung.labels(monitor=monitor).set(0)
        self.schedule_period.labels(monitor=monitor).set(schedule_period.total_seconds())

    def declare_receiver(self, receiver: str) -> None:
        """Create the receiver's delivery series at 0."""
        for outcome in DELIVERY_OUTCOMES:
            self.deliveries.labels(receiver=receiver, outcome=outcome)
        for outcome in ("delivered", "dead"):
            self.delivery_attempts.labels(receiver=receiver, outcome=outcome)
        self.delivery_duration.labels(receiver=receiver)
        self.dead_letters.labels(receiver=receiver)
        self.deferrals.labels(receiver=receiver)

    def record_failed_run(self, monitor: str, duration_seconds: float) -> None:
        self.runs.labels(monitor=monitor, outcome="failed").inc()
        self.run_duration.labels(monitor=monitor).observe(duration_seconds)

    def record_empty_run(self, monitor: str, duration_seconds: float) -> None:
        """An empty window: counted, but the gauges keep showing the latest successful run."""
        self.runs.labels(monitor=monitor, outcome="empty").inc()
        self.run_duration.labels(monitor=monitor).observe(duration_seconds)

    def show_hung(self, monitor: str, hung: bool) -> None:
        self.run_hung.labels(monitor=monitor).set(1 if hung else 0)

    def record_successful_run(
        self,
        monitor: str,
        drifted: bool,
        duration_seconds: float,
        finished_at: datetime,
        results: Iterable[ResultView],
    ) -> None:
        self.runs.labels(monitor=monitor, outcome="drift" if drifted else "no_drift").inc()
        self.run_duration.labels(monitor=monitor).observe(duration_seconds)
        self.show_latest(monitor, drifted, finished_at, results)

    def show_latest(
        self, monitor: str, drifted: bool, finished_at: datetime, results: Iterable[ResultView]
    ) -> None:
        """Set the gauges from a stored run (also used at start-up to restore them)."""
        results = list(results)
        self.last_success.labels(monitor=monitor).set(finished_at.timestamp())
        self.monitor_drifted.labels(monitor=monitor).set(1 if drifted else 0)
        # Performance results have gauges of their own (``show_performance``), filled
        # from the store, where late labels also change past windows.
        columns: dict[SeriesKey, ResultView] = {
            (result.column, windows_tested(result.method)): result
            for result in results
            if result.check != "performance" and result.segment is None
        }
        self.column_statistic.show(monitor, {k: r.statistic for k, r in columns.items()})
        self.column_p_value.show(monitor, {k: r.p_value for k, r in columns.items()})
        self.column_drifted.show(monitor, {k: float(r.drifted) for k, r in columns.items()})
        self._show_methods(monitor, columns)
        self._show_segments(monitor, results)

    def _show_segments(self, monitor: str, results: Iterable[ResultView]) -> None:
        top = self._metrics_segments.get(monitor, DEFAULT_METRICS_SEGMENTS)
        series = segment_series(results, top)
        if not series.rows and monitor not in self._metrics_segments:
            return
        self.segment_column_drifted.show(monitor, series.drifted)
        self.segment_rows.show(monitor, series.rows)
        self.segments_pooled.labels(monitor=monitor).set(series.pooled)

    def _show_methods(self, monitor: str, columns: Mapping[SeriesKey, ResultView]) -> None:
        shown = self._methods.setdefault(monitor, set())
        for key in shown - columns.keys():
            self.column_method.remove(monitor, *key)
        for key, result in columns.items():
            self.column_method.labels(monitor, *key).info({"method": result.method})
        shown.clear()
        shown.update(columns)

    def show_performance(self, monitor: str, latest: Iterable[PerformanceView]) -> None:
        """Set the performance gauges from a monitor's latest stored metrics.

        Drift statistics stay in the ``column_*`` gauges; a metric that a
        window left undefined keeps its last value.
        """
        for view in latest:
            labels = {
                "monitor": monitor,
                "metric": view.metric,
                "kind": "estimated" if view.estimated else "realized",
            }
            gauges = (
                (self.performance_value, view.statistic),
                (self.performance_lower, view.lower),
                (self.performance_upper, view.upper),
                (self.performance_coverage, view.coverage),
            )
            for gauge, value in gauges:
                if value is not None:
                    gauge.labels(**labels).set(value)
            self.performance_degraded.labels(**labels).set(1 if view.degraded else 0)
            self.performance_window_end.labels(**labels).set(view.window_end.timestamp())

    def record_delivery(
        self, receiver: str, outcome: str, duration_seconds: float | None = None, attempt: int = 0
    ) -> None:
        """One attempt's outcome; ``attempt`` (from 1) when it ended the message's journey."""
        self.deliveries.labels(receiver=receiver, outcome=outcome).inc()
        if duration_seconds is not None:
            self.delivery_duration.labels(receiver=receiver).observe(duration_seconds)
        if outcome in ("delivered", "dead") and attempt > 0:
            self.delivery_attempts.labels(receiver=receiver, outcome=outcome).observe(attempt)
        if outcome == "dead":
            self.dead_letters.labels(receiver=receiver).inc()

    def record_deferral(self, receiver: str) -> None:
        self.deferrals.labels(receiver=receiver).inc()

    def watch_outbox(self, read: Callable[[], QueueStats]) -> None:
        """Report queue depth and oldest pending age from ``read()``, called at each scrape."""
        self.registry.register(OutboxCollector(read))


class OutboxCollector(Collector):
    """Queue depth by status and the oldest pending age, read from the store at scrape time.

    Read at scrape time rather than kept in gauges by the worker: the outbox
    is written by runs and drained by every worker and replica, so only the
    table knows its depth, and a gauge set by a worker that stopped would go
    on showing its last value. A store that does not answer yields
    ``driftwarden_outbox_up 0`` instead of failing the whole scrape.
    """

    def __init__(self, read: Callable[[], QueueStats]) -> None:
        self._read = read

    def describe(self) -> Iterator[Metric]:
        return iter(())  # nothing to read at registration time

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("driftwarden_outbox_up", "1 when the outbox could be read.")
        try:
            stats = self._read()
        except Exception as exc:
            logger.warning("outbox metrics unavailable (%s)", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        depth = GaugeMetricFamily(
            "driftwarden_outbox_messages", "Outbox messages by status.", labels=["status"]
        )
        for status in STATUSES:
            depth.add_metric([status], stats.by_status.get(status, 0))
        yield depth
        age = stats.oldest_pending_age
        yield GaugeMetricFamily(
            "driftwarden_outbox_oldest_pending_age_seconds",
            "Age of the oldest message not yet delivered nor dead (0 when there is none).",
            value=age.total_seconds() if age is not None else 0.0,
        )
