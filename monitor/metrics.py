"""Prometheus collectors on a registry of the daemon's own (never the global one)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from monitor.store.outbox import STATUSES, QueueStats
from monitor.store.performance import PerformanceView

logger = logging.getLogger("driftwarden.metrics")


@dataclass(frozen=True)
class ColumnSample:
    """What /metrics shows of one stored column result."""

    column: str
    method: str
    statistic: float | None
    p_value: float | None
    drifted: bool


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.runs = Counter(
            "driftwarden_runs",
            "Check runs by outcome (drift, no_drift, failed).",
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
        self.column_statistic = Gauge(
            "driftwarden_column_statistic",
            "Latest test statistic per column.",
            ["monitor", "column", "method"],
            registry=r,
        )
        self.column_p_value = Gauge(
            "driftwarden_column_p_value",
            "Latest p-value per column (tests that have one).",
            ["monitor", "column", "method"],
            registry=r,
        )
        self.column_drifted = Gauge(
            "driftwarden_column_drifted",
            "1 when the column drifted in the latest run.",
            ["monitor", "column", "method"],
            registry=r,
        )
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
            "Delivery attempts by receiver and outcome.",
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

    def record_failed_run(self, monitor: str, duration_seconds: float) -> None:
        self.runs.labels(monitor=monitor, outcome="failed").inc()
        self.run_duration.labels(monitor=monitor).observe(duration_seconds)

    def show_hung(self, monitor: str, hung: bool) -> None:
        self.run_hung.labels(monitor=monitor).set(1 if hung else 0)

    def record_successful_run(
        self,
        monitor: str,
        drifted: bool,
        duration_seconds: float,
        finished_at: datetime,
        columns: Iterable[ColumnSample],
    ) -> None:
        self.runs.labels(monitor=monitor, outcome="drift" if drifted else "no_drift").inc()
        self.run_duration.labels(monitor=monitor).observe(duration_seconds)
        self.show_latest(monitor, drifted, finished_at, columns)

    def show_latest(
        self, monitor: str, drifted: bool, finished_at: datetime, columns: Iterable[ColumnSample]
    ) -> None:
        """Set the gauges from a stored run (also used at start-up to restore them)."""
        self.last_success.labels(monitor=monitor).set(finished_at.timestamp())
        self.monitor_drifted.labels(monitor=monitor).set(1 if drifted else 0)
        for sample in columns:
            labels = {"monitor": monitor, "column": sample.column, "method": sample.method}
            if sample.statistic is not None:
                self.column_statistic.labels(**labels).set(sample.statistic)
            if sample.p_value is not None:
                self.column_p_value.labels(**labels).set(sample.p_value)
            self.column_drifted.labels(**labels).set(1 if sample.drifted else 0)

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
