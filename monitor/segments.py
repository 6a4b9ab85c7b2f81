"""Drift per segment: which segments a run tests, their tests, and what it skipped and why.

A segment is one value of one column named in ``segments`` (``country=DE``).
A run tests each segment with at least ``segment_min_rows`` rows in its
window and in the reference (``monitor.segment_profiles`` fitted the
reference's), at most ``max_segments`` of them: those with the most window
rows. The others are reported with the reason, never dropped silently:
too few rows, a value the reference does not have, or beyond the cap.

Each segment is a family of its own: its columns (all the monitor's but
the segment column itself) corrected together, as the whole window's are,
at a share of the run's level (``detectors.budget.segment_levels``), so the
false-alarm budget holds however many segments a run tests. Segments test
columns only: the multivariate test, performance and the pooled-window
(sequential) tests stay the whole window's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from detectors import ColumnResult, WindowSummary, prepare_column
from detectors import decide as decide_dataset
from detectors.budget import RunLevels
from monitor.config import MonitorSettings
from monitor.evaluation import column_family, columns_level, run_verdict
from monitor.profiles import ReferenceProfile
from monitor.segment_profiles import require_segment_columns, row_groups, segment_labels
from monitor.segment_report import (
    MAX_NAMED,
    Segment,
    SegmentReport,
    SkippedSegments,
    SkipReason,
)


@dataclass(frozen=True)
class SegmentResult:
    """A column's result inside one segment."""

    segment: str
    result: ColumnResult


def _skipped(reason: SkipReason, segments: Sequence[Segment]) -> SkippedSegments:
    return SkippedSegments(reason, len(segments), tuple(s.name for s in segments[:MAX_NAMED]))


def _by_rows(segments: list[Segment]) -> list[Segment]:
    return sorted(segments, key=lambda s: (-s.n_current, s.name))


@dataclass(frozen=True)
class SegmentPlan:
    """What a run tests of its segments (``report``, stored) and the window's rows of each
    value of each segment column (``rows``), split once for the plan and the tests."""

    report: SegmentReport = SegmentReport()
    rows: Mapping[str, Mapping[str, npt.NDArray[np.intp]]] = field(default_factory=dict)


def plan_segments(
    monitor: MonitorSettings, profile: ReferenceProfile, current: pd.DataFrame | WindowSummary
) -> SegmentPlan:
    """The segments of ``current`` a run tests, and those it skips with the reason."""
    if not monitor.segments or not isinstance(current, pd.DataFrame) or not len(current):
        return SegmentPlan()
    require_segment_columns(current, monitor.segments, "the current window")
    eligible: list[Segment] = []
    small: list[Segment] = []
    new: list[Segment] = []
    rows: dict[str, dict[str, npt.NDArray[np.intp]]] = {}
    for column in monitor.segments:
        reference = profile.segments[column]
        codes, names = segment_labels(current[column])
        rows[column] = dict(zip(names, row_groups(codes, len(names)), strict=True))
        for name, group in rows[column].items():
            n_current = len(group)
            n_reference = reference.rows.get(name, 0)
            segment = Segment(column, name, int(n_current), n_reference)
            if n_reference == 0:
                new.append(segment)
            elif n_current < monitor.segment_min_rows or name not in reference.profiles:
                small.append(segment)
            else:
                eligible.append(segment)
    ranked = _by_rows(eligible)
    skipped = [
        _skipped("too_few_rows", _by_rows(small)),
        _skipped("not_in_reference", _by_rows(new)),
        _skipped("over_max_segments", ranked[monitor.max_segments :]),
    ]
    report = SegmentReport(
        tested=tuple(ranked[: monitor.max_segments]),
        skipped=tuple(group for group in skipped if group.count),
    )
    return SegmentPlan(report, rows)


def evaluate_segments(
    monitor: MonitorSettings,
    profile: ReferenceProfile,
    current: pd.DataFrame | WindowSummary,
    plan: SegmentPlan,
    levels: RunLevels,
) -> list[SegmentResult]:
    """The column tests of every tested segment, each segment at its share of the level."""
    tested = plan.report.tested
    if not tested or not isinstance(current, pd.DataFrame):
        return []
    level = columns_level(monitor, levels, len(tested)).each
    results = []
    for segment in tested:
        rows = current.iloc[plan.rows[segment.column][segment.value]]
        profiles = profile.segments[segment.column].profiles[segment.value]
        columns = [(c, profiles[c.name]) for c in monitor.columns if c.name != segment.column]
        prepared = {c.name: prepare_column(p, rows[c.name]) for c, p in columns}
        family, _ = column_family(monitor, columns, prepared, level)
        results += [SegmentResult(segment.name, result) for result in family]
    return results


def drifted_segments(
    monitor: MonitorSettings, results: Sequence[SegmentResult]
) -> dict[str, tuple[str, ...]]:
    """Per drifted segment, its drifted columns: decided as the whole window's columns are."""
    by_segment: dict[str, list[ColumnResult]] = {}
    for entry in results:
        by_segment.setdefault(entry.segment, []).append(entry.result)
    thresholds = monitor.thresholds
    drifted = {}
    for segment, family in by_segment.items():
        names = {r.column for r in family}
        decision = decide_dataset(
            family,
            rule="any" if thresholds.drift_share is None else "share",
            share=thresholds.drift_share,
            key_columns=[name for name in thresholds.key_columns if name in names],
        )
        if decision.drifted:
            drifted[segment] = decision.drifted_columns
    return drifted


def segments_reason(drifted: Mapping[str, Sequence[str]]) -> str:
    """The sentence a run's reason gains from its drifted segments.

    >>> segments_reason({"country=DE": ("age", "income"), "device=ios": ("age",)})
    '2 segments drifted: country=DE (age, income), device=ios (age)'
    """
    named = list(drifted.items())[:MAX_NAMED]
    text = ", ".join(f"{segment} ({', '.join(columns)})" for segment, columns in named)
    more = f" and {len(drifted) - len(named)} more" if len(drifted) > len(named) else ""
    noun = "segment" if len(drifted) == 1 else "segments"
    return f"{len(drifted)} {noun} drifted: {text}{more}"


def segmented_verdict(
    monitor: MonitorSettings, results: Sequence[ColumnResult], segments: Sequence[SegmentResult]
) -> tuple[bool, str]:
    """The run's verdict (``run_verdict``) and reason, with the segments that drifted.

    A drifted segment makes the run drift, as a drifted column of the whole
    window does.
    """
    drifted, reason = run_verdict(monitor, results)
    by_segment = drifted_segments(monitor, segments)
    if not by_segment:
        return drifted, reason
    if drifted:
        return True, f"{reason}; {segments_reason(by_segment)}"
    return True, f"drift: {segments_reason(by_segment)} (whole window: {reason})"
