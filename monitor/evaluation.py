"""One run's statistics and verdict: the window's tests at the run's levels, then the decision.

Pure functions of the monitor's settings, its reference profile and the
current window (and, for the verdict, the pooled results of
``monitor.sequential``): no store, no clock, so a calibration test or a
notebook can call them on their own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from detectors import (
    ColumnProfile,
    ColumnResult,
    PreparedColumn,
    WindowSummary,
    apply_correction,
    compare_mmd,
    compare_pca_reconstruction,
    compare_prepared,
    prepare_column,
)
from detectors import decide as decide_dataset
from detectors.budget import RunLevels, SegmentLevels, corrected_level, segment_levels
from detectors.performance import METRICS, estimated_method, parse_method
from detectors.sequential import pooled_windows
from monitor.columns import require_columns
from monitor.config import ColumnSettings, MonitorSettings
from monitor.levels import window_levels
from monitor.profiles import ReferenceProfile
from monitor.vocabulary import ResultCheck

MULTIVARIATE_COLUMN = "*"
"""The column name multivariate results carry: the whole row."""


def prepare_window(
    monitor: MonitorSettings, profile: ReferenceProfile, current: pd.DataFrame | WindowSummary
) -> dict[str, PreparedColumn]:
    """Every configured column of the window, cleaned and counted once for all its tests.

    A window summarised where it lives (``monitor.windows``) already is.
    """
    if isinstance(current, WindowSummary):
        return {column.name: current.columns[column.name] for column in monitor.columns}
    if len(current):
        require_columns(current, [column.name for column in monitor.columns], "current window")
    return {
        column.name: prepare_column(
            profile.columns[column.name],
            current[column.name] if column.name in current else pd.Series([], name=column.name),
        )
        for column in monitor.columns
    }


def evaluate(
    monitor: MonitorSettings,
    profile: ReferenceProfile,
    current: pd.DataFrame | WindowSummary,
    prepared: Mapping[str, PreparedColumn],
    levels: RunLevels,
    *,
    segments: int = 0,
) -> list[ColumnResult]:
    """Per-column drift (corrected across columns) and the multivariate test.

    ``prepared`` is ``prepare_window`` of ``current``. Performance is
    ``monitor.performance``'s, as it may need labels from elsewhere. A
    summarised window has no rows for the multivariate test (the config
    refuses it with ``profile_in_database``).

    The columns' part of ``levels`` (the monitor's, see
    ``monitor.levels.window_levels``) is the whole window's, or, when the
    run tests ``segments`` segments too, its share of it
    (``detectors.budget.segment_levels``). It is shared out between the
    columns and the multivariate test by ``column_family``.
    """
    level = columns_level(monitor, levels, segments).window
    rows = current if isinstance(current, pd.DataFrame) else None
    multivariate = profile.multivariate is not None and rows is not None and len(rows) > 0
    columns = [(column, profile.columns[column.name]) for column in monitor.columns]
    results, single = column_family(
        monitor, columns, prepared, level, extra_tests=int(multivariate)
    )
    if profile.multivariate is not None and rows is not None and multivariate:
        names = [column.name for column in monitor.columns]
        if monitor.thresholds.multivariate == "mmd":
            results.append(compare_mmd(profile.multivariate, rows[names], alpha=single))
        else:
            results.append(
                compare_pca_reconstruction(profile.multivariate, rows[names], level=single)
            )
    return results


def columns_level(monitor: MonitorSettings, levels: RunLevels, segments: int) -> SegmentLevels:
    """The columns' level of a run that tests ``segments`` segments: the window's and each's."""
    return segment_levels(window_levels(monitor, levels).columns, n_segments=segments)


def column_family(
    monitor: MonitorSettings,
    columns: Sequence[tuple[ColumnSettings, ColumnProfile]],
    prepared: Mapping[str, PreparedColumn],
    level: float,
    *,
    extra_tests: int = 0,
) -> tuple[list[ColumnResult], float]:
    """One family of column tests at ``level``, and the level of each of its single tests.

    The family is ``columns`` and ``extra_tests`` other tests (the
    multivariate one) that share ``level`` by ``corrected_level``: the
    p-value tests are corrected together at their share, and each distance
    and each extra test is held to a Bonferroni share.
    """
    n_tests = len(columns) + extra_tests
    single = level / n_tests if n_tests else level
    drift = [
        compare_prepared(
            column_profile,
            prepared[column.name],
            method=column.method,
            threshold=column.threshold,
            effect_floor=column.effect_floor,
            noise_level=single,
        )
        for column, column_profile in columns
    ]
    n_p_value = sum(r.p_value is not None for r in drift)
    alpha = corrected_level(level, n_p_value=n_p_value, n_tests=n_tests)
    return apply_correction(drift, alpha=alpha, correction=monitor.thresholds.correction), single


def run_verdict(monitor: MonitorSettings, results: Sequence[ColumnResult]) -> tuple[bool, str]:
    """Monitor-level decision and the sentence that explains it (``detectors.decide``).

    Single-window column results and the multivariate test decide as the
    thresholds say; a drifted pooled-window (sequential) test or a degraded
    realized metric of the run's own window also makes the run drift.
    Estimates alert only through a rule that asks for them (``estimated``).
    """
    multivariate = next((r for r in results if r.column == MULTIVARIATE_COLUMN), None)
    checks = [(result_check(monitor, r), r) for r in results]
    thresholds = monitor.thresholds
    decision = decide_dataset(
        [r for check, r in checks if check == "drift" and r is not multivariate],
        rule="any" if thresholds.drift_share is None else "share",
        share=thresholds.drift_share,
        key_columns=thresholds.key_columns,
        multivariate=multivariate,
        pooled=[r for check, r in checks if check == "sequential"],
        performance=[
            r for check, r in checks if check == "performance" and not is_estimated(r.method)
        ],
    )
    return decision.drifted, decision.reason


def _performance_methods(monitor: MonitorSettings) -> frozenset[str]:
    if monitor.performance is None:
        return frozenset()
    names = monitor.performance.metric_names()
    return frozenset(names) | {estimated_method(n) for n in names if METRICS[n].estimable}


def is_estimated(method: str) -> bool:
    """Whether a performance result's ``method`` is a CBPE estimate (``estimated_<metric>``)."""
    parsed = parse_method(method)
    return parsed is not None and parsed[1]


def result_check(monitor: MonitorSettings, result: ColumnResult) -> ResultCheck:
    """ "performance", "sequential" (a pooled-window test) or "drift" (one window)."""
    if result.method in _performance_methods(monitor):
        return "performance"
    if pooled_windows(result) is not None:
        return "sequential"
    return "drift"
