"""A run's results as the alert rules and messages see them: column facts, drifted columns.

Read from the results before the run's transaction opens
(``monitor.runner``): a column drifted over recent windows counts as drifted
for the rules, and a column that drifted inside a segment is named with it.
"""

from __future__ import annotations

from collections.abc import Sequence

from detectors import ColumnResult
from monitor.alerts.event import DriftedColumn
from monitor.alerts.rules import ColumnFact
from monitor.config import MonitorSettings
from monitor.evaluation import result_check
from monitor.segments import SegmentResult


def drifted_columns(
    results: Sequence[ColumnResult], segments: Sequence[SegmentResult]
) -> tuple[DriftedColumn, ...]:
    """The drifted columns of the whole window, then those of each segment (named)."""
    pairs = [(r, None) for r in results] + [(s.result, s.segment) for s in segments]
    return tuple(
        DriftedColumn(
            column=r.column,
            method=r.method,
            statistic=r.statistic,
            p_value=r.p_value,
            p_value_adjusted=r.p_value_adjusted,
            threshold=r.threshold,
            segment=segment,
        )
        for r, segment in pairs
        if r.drifted
    )


def _share(part: float, whole: float) -> float | None:
    return part / whole if whole > 0 else None


def column_fact(
    monitor: MonitorSettings, result: ColumnResult, persistent: frozenset[str]
) -> ColumnFact:
    """A rule's view of one result; a column drifted over recent windows counts as drifted."""
    details = result.details
    missing = details.get("n_missing_current")
    reference_counts = details.get("reference_counts")
    current_counts = details.get("current_counts")
    new_rows = (
        sum(n for c, n in current_counts.items() if not reference_counts.get(c))
        if isinstance(reference_counts, dict) and isinstance(current_counts, dict)
        else None
    )
    check = result_check(monitor, result)
    return ColumnFact(
        column=result.column,
        method=result.method,
        check=check,
        drifted=result.drifted or (check == "drift" and result.column in persistent),
        status=result.status,
        missing_share=_share(missing, missing + result.n_current)
        if isinstance(missing, int)
        else None,
        new_category_share=_share(new_rows, result.n_current) if new_rows is not None else None,
    )
