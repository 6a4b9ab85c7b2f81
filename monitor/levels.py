"""The significance levels one run of a monitor is tested at.

With the false-alarm budget (the default), the levels follow from the
budget and the schedule (``detectors.budget``); with ``thresholds.alpha`` a
run is tested at that level window by window, as before budgets existed,
and no pooled-window tests run. A monitor with ``performance`` shares its
single-window level between its columns and its metrics (``window_levels``).

A pool holds windows sketched against one profile only (its sketches are
counts in the cells of that profile's grid), so under a reference that is
refitted as runs go by (``trailing``) each refit starts the pools afresh.
A scale longer than the windows that share one profile would never fill:
it is left out, and its share of the budget goes to the scales that can.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from detectors.budget import RunLevels, run_levels
from monitor.config import MonitorSettings
from monitor.references import reference_refits


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
    period = monitor.schedule.period()
    return run_levels(
        budget, period_hours=period.total_seconds() / 3600, scales=pooled_scales(monitor)
    )


def pooled_scales(monitor: MonitorSettings) -> tuple[int, ...]:
    """The configured scales a pool can fill: under a moving reference, those within one profile.

    >>> from monitor.config import parse_settings
    >>> settings = parse_settings({"monitors": [{
    ...     "name": "m", "schedule": "every 1h", "source": {"type": "demo"},
    ...     "reference": {"type": "trailing", "span": "28d", "refit": "6h"},
    ...     "columns": [{"name": "age", "kind": "numeric"}]}]})
    >>> pooled_scales(settings.monitors[0])  # 6 hourly windows share a profile
    (4,)
    """
    scales = monitor.thresholds.sequential_scales
    refits = reference_refits(monitor.reference)
    if refits is None:
        return scales
    most = refits.windows(monitor.reference, monitor.window, monitor.schedule.period())
    return tuple(scale for scale in scales if scale <= most)


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
