"""A false-alarm budget: how significant one run must be so a monitor pages rarely.

A per-window alpha of 0.05 is a promise about one window. A monitor that
runs every hour makes 720 such promises a month, and at 5 % each it pages
on data that never changed more than once a day. Users think in alarms per
month, so the budget is stated that way ("at most one false alarm per 30
days") and the per-run level follows from it and the schedule:

    level per run = alarms / (horizon / schedule period),  at most 0.05

That level is the probability that one run on stationary data is called
drifted, so the expected number of drifted runs in the horizon, and
therefore of alert episodes, is at most the budget (by linearity of
expectation, however the runs are correlated). The run's tests share it by
the union bound: the single-window tests get ``window_share`` of it, and
each pooled-window scale of the sequential tests (``detectors.sequential``)
an equal part of the rest. Inside one family, ``corrected_level`` shares a level
between the p-value tests (corrected together with Benjamini–Hochberg,
whose family-wise error under the global null equals its FDR level) and the
distances and multivariate tests (a Bonferroni share each).

Effect floors only ever remove alarms, so they keep the budget.

>>> budget = FalseAlarmBudget(alarms=1, horizon_hours=30 * 24)
>>> levels = run_levels(budget, period_hours=1, scales=(4, 16, 64))
>>> round(levels.total, 6), round(levels.window, 6), round(levels.pooled[16], 6)
(0.001389, 0.000694, 0.000231)
>>> run_levels(budget, period_hours=24 * 7, scales=()).window  # capped at 0.05
0.05
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

MAX_RUN_LEVEL: Final = 0.05
"""A run is never tested more loosely than the classic 5 %, however rare its runs."""

WINDOW_SHARE: Final = 0.5
"""Share of a run's level spent on the single-window tests when sequential tests run."""


@dataclass(frozen=True)
class FalseAlarmBudget:
    """At most ``alarms`` false alarms per ``horizon_hours`` on stationary data."""

    alarms: float
    horizon_hours: float

    def __post_init__(self) -> None:
        if not self.alarms > 0:
            raise ValueError(f"a false-alarm budget needs alarms > 0, got {self.alarms}")
        if not self.horizon_hours > 0:
            raise ValueError(
                f"a false-alarm budget needs a positive horizon, got {self.horizon_hours}"
            )

    def per_run(self, period_hours: float) -> float:
        """The probability a run may false-alarm when runs come every ``period_hours``."""
        if not period_hours > 0:
            raise ValueError(f"the schedule period must be positive, got {period_hours} hours")
        runs = self.horizon_hours / period_hours
        return min(self.alarms / runs, MAX_RUN_LEVEL)


@dataclass(frozen=True)
class RunLevels:
    """Family-wise levels of one run: its single-window tests and each pooled scale."""

    total: float
    window: float
    pooled: Mapping[int, float] = field(default_factory=dict)


def run_levels(
    budget: FalseAlarmBudget,
    *,
    period_hours: float,
    scales: Sequence[int],
    window_share: float = WINDOW_SHARE,
) -> RunLevels:
    """Split a budget's per-run level between the single window and the pooled scales."""
    total = budget.per_run(period_hours)
    if not scales:
        return RunLevels(total=total, window=total)
    if not 0 < window_share < 1:
        raise ValueError(f"window_share must be between 0 and 1, got {window_share}")
    each = total * (1 - window_share) / len(scales)
    return RunLevels(
        total=total, window=total * window_share, pooled={scale: each for scale in scales}
    )


def corrected_level(level: float, *, n_p_value: int, n_tests: int) -> float:
    """The BH level of the ``n_p_value`` p-value tests among ``n_tests`` that share ``level``.

    They get ``level * n_p_value / n_tests`` and every other test (a
    distance, a multivariate test) ``level / n_tests``: by the union bound
    the family errs with probability at most ``level`` when nothing changed.

    >>> corrected_level(0.01, n_p_value=3, n_tests=4)
    0.0075
    """
    if n_p_value == 0:  # nothing to correct; the BH level is never used
        return level
    return level * n_p_value / n_tests


SEGMENTS_SHARE: Final = 0.5
"""Share of the columns' level the segments spend, when a run tests any."""


@dataclass(frozen=True)
class SegmentLevels:
    """The level of the whole window's column family and of each segment's."""

    window: float
    each: float


def segment_levels(
    level: float, *, n_segments: int, segments_share: float = SEGMENTS_SHARE
) -> SegmentLevels:
    """Share ``level`` between the whole window and ``n_segments`` segments (Bonferroni).

    The whole window keeps ``1 - segments_share`` of it and every segment
    gets an equal part of the rest, each family then corrected inside as
    before (``corrected_level``): by the union bound a run on stationary data
    drifts with probability at most ``level``, however many segments it
    tests. Half for the whole window, rather than ``level / (1 + n)`` each,
    keeps the whole window's sensitivity the same whether a run tests two
    segments or fifty, and a shift that spans the whole window is what most
    monitors exist to find; a segment's own level falls as ``1 / n``, the
    price of looking at many. A run that tests no segment gives the whole
    window all of ``level``.

    >>> segment_levels(0.01, n_segments=0)
    SegmentLevels(window=0.01, each=0.0)
    >>> segment_levels(0.01, n_segments=20)
    SegmentLevels(window=0.005, each=0.00025)
    """
    if n_segments < 0:
        raise ValueError(f"n_segments must be at least 0, got {n_segments}")
    if n_segments == 0:
        return SegmentLevels(window=level, each=0.0)
    if not 0 < segments_share < 1:
        raise ValueError(f"segments_share must be between 0 and 1, got {segments_share}")
    return SegmentLevels(
        window=level * (1 - segments_share), each=level * segments_share / n_segments
    )
