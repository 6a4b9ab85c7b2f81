"""Per-segment series with a bounded number of label values: the largest segments, then "other".

A segment column may hold hundreds of values, and each run may test other
ones; a series per segment would grow Prometheus' label cardinality
without bound. So only the ``metrics_segments`` segments with the most
window rows in the latest run have series of their own, and the rest are
pooled into ``segment="other"``: a column there is drifted when it drifted
in any of the pooled segments, and their rows are summed. How many were
pooled is a gauge of its own. The whole window's series are not touched.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from monitor.store.queries import ResultView

OTHER: Final = "other"
"""The ``segment`` label of the segments pooled beyond ``metrics_segments``."""


@dataclass(frozen=True)
class SegmentSeries:
    """The values of the segment gauges for one run."""

    drifted: dict[tuple[str, ...], float] = field(default_factory=dict)
    """(segment, column) -> 1.0 when drifted."""
    rows: dict[tuple[str, ...], float] = field(default_factory=dict)
    """(segment,) -> its window rows."""
    pooled: int = 0


def segment_series(results: Iterable[ResultView], top: int) -> SegmentSeries:
    """The series of a run's segment results: the ``top`` largest by rows, the rest "other".

    >>> def result(segment, column, rows, drifted=False):
    ...     return ResultView("drift", column, "ks", 0.1, 0.5, 0.5, 0.01, drifted, 1000, rows,
    ...                       "ok", "", {}, segment=segment)
    >>> series = segment_series([result("c=DE", "age", 900), result("c=FR", "age", 500, True),
    ...                          result("c=IT", "age", 300)], top=1)
    >>> series.drifted, series.rows, series.pooled
    ({('c=DE', 'age'): 0.0, ('other', 'age'): 1.0}, {('c=DE',): 900.0, ('other',): 800.0}, 2)
    """
    by_segment: dict[str, list[ResultView]] = {}
    for result in results:
        if result.segment is not None and result.check == "drift":
            by_segment.setdefault(result.segment, []).append(result)
    rows = {segment: max(r.n_current for r in found) for segment, found in by_segment.items()}
    ranked = sorted(by_segment, key=lambda segment: (-rows[segment], segment))
    kept = set(ranked[:top])
    series = SegmentSeries(pooled=len(ranked) - len(kept))
    for segment in ranked:
        label = segment if segment in kept else OTHER
        series.rows[(label,)] = series.rows.get((label,), 0.0) + rows[segment]
        for result in by_segment[segment]:
            key = (label, result.column)
            series.drifted[key] = max(series.drifted.get(key, 0.0), float(result.drifted))
    return series
