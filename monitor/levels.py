"""The significance levels one run of a monitor is tested at.

With the false-alarm budget (the default), the levels follow from the
budget and the schedule (``detectors.budget``); with ``thresholds.alpha`` a
run is tested at that level window by window, as before budgets existed,
and no pooled-window tests run.
"""

from __future__ import annotations

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
