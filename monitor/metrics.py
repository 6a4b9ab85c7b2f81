"""Prometheus collectors on a registry of the daemon's own (never the global one)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


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
        self.deliveries = Counter(
            "driftwarden_deliveries",
            "Delivery attempts by receiver and outcome.",
            ["receiver", "outcome"],
            registry=r,
        )

    def record_failed_run(self, monitor: str, duration_seconds: float) -> None:
        self.runs.labels(monitor=monitor, outcome="failed").inc()
        self.run_duration.labels(monitor=monitor).observe(duration_seconds)

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

    def record_delivery(self, receiver: str, outcome: str) -> None:
        self.deliveries.labels(receiver=receiver, outcome=outcome).inc()
