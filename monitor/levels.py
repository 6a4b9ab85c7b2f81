"""The significance levels one run of a monitor is tested at.

With the false-alarm budget (the default), the levels follow from the
budget and the schedule (``detectors.budget``); with ``thresholds.alpha`` a
run is tested at that level window by window, as before budgets existed,
and no pooled-window tests run. A monitor with ``performance`` shares its
single-window level between its columns and its metrics (``window_levels``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from detectors.budget import RunLevels, run_levels
from monitor.config import MonitorSettings


def monitor_levels(monitor: MonitorSettings) -> RunLevels:
    """The levels of every run of ``monitor``.

    >>> from monitor.config import parse_settings
    >>> settings = parse_settings({"monitors": [{
    ...     "name": "m", "schedule": "every 1h", "source": {"type": "demo"},
    ...     "reference": {"type": "window", "start": "2026-01-01", "end": "2026-01-02"},
    ...     "columns": [{"name": "age", "kind": "numeric"}]}]})
    >>> levels = monitor_levels(settings.monitors[0])
    >>> round(levels.total, 6), round(levels.window, 6), sorted(levels.pooled)
    (0.001389, 0.000694, [4, 16])
    """
    thresholds = monitor.thresholds
    budget = thresholds.budget()
    if budget is None:
        assert thresholds.alpha is not None
        return RunLevels(total=thresholds.alpha, window=thresholds.alpha)
    period_hours = monitor.schedule.period().total_seconds() / 3600
    return run_levels(budget, period_hours=period_hours, scales=thresholds.sequential_scales)


PERFORMANCE_SHARE: Final = 0.5
"""Share of a run's single-window level its performance tests spend, when it has any."""


@dataclass(frozen=True)
class WindowLevels:
    """A run's single-window level, split between the columns' tests and performance."""

    columns: float
    performance: float


def window_levels(monitor: MonitorSettings, levels: RunLevels) -> WindowLevels:
    """Split ``levels.window`` between drift and performance by the union bound.

    A monitor without ``performance`` gives its columns the whole level.
    With it, the performance tests get ``PERFORMANCE_SHARE``, shared by
    Bonferroni between every metric tested in a run, realized and
    estimated (``monitor.performance.metric_level``), and the columns the
    rest, shared as before (``monitor.evaluation``): a run on stationary
    data still false-alarms with probability at most ``levels.total``.

    >>> from monitor.config import parse_settings
    >>> settings = parse_settings({"monitors": [{
    ...     "name": "m", "schedule": "every 1h", "source": {"type": "demo"},
    ...     "reference": {"type": "window", "start": "2026-01-01", "end": "2026-01-02"},
    ...     "columns": [{"name": "age", "kind": "numeric"}],
    ...     "performance": {"task": "classification", "prediction": "p", "label": "y"}}]})
    >>> monitor = settings.monitors[0]
    >>> split = window_levels(monitor, monitor_levels(monitor))
    >>> round(split.columns, 6), round(split.performance, 6)
    (0.000347, 0.000347)
    """
    if monitor.performance is None:
        return WindowLevels(columns=levels.window, performance=0.0)
    return WindowLevels(
        columns=levels.window * (1 - PERFORMANCE_SHARE),
        performance=levels.window * PERFORMANCE_SHARE,
    )
