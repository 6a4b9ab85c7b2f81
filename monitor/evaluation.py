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
    ColumnResult,
    PreparedColumn,
    apply_correction,
    compare_mmd,
    compare_pca_reconstruction,
    compare_prepared,
    prepare_column,
)
from detectors import decide as decide_dataset
from detectors.budget import RunLevels, corrected_level
from detectors.performance import METRICS, estimated_method, parse_method
from detectors.sequential import pooled_windows
from monitor.columns import require_columns
from monitor.config import MonitorSettings
from monitor.levels import window_levels
from monitor.profiles import ReferenceProfile
from monitor.vocabulary import ResultCheck

MULTIVARIATE_COLUMN = "*"
"""The column name multivariate results carry: the whole row."""


def prepare_window(
    monitor: MonitorSettings, profile: ReferenceProfile, current: pd.DataFrame
) -> dict[str, PreparedColumn]:
    """Every configured column of the window, cleaned and counted once for all its tests."""
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
    current: pd.DataFrame,
    prepared: Mapping[str, PreparedColumn],
    levels: RunLevels,
) -> list[ColumnResult]:
    """Per-column drift (corrected across columns) and the multivariate test.

    ``prepared`` is ``prepare_window`` of ``current``. Performance is
    ``monitor.performance``'s, as it may need labels from elsewhere.

    The columns' part of ``levels`` (the monitor's, see
    ``monitor.levels.window_levels``) is shared out between the columns and
    the multivariate test by ``corrected_level``: the p-value tests are
    corrected together at their share, and each distance and the
    multivariate test is held to a Bonferroni share.
    """
    level = window_levels(monitor, levels).columns
    multivariate = profile.multivariate is not None and len(current) > 0
    n_tests = len(monitor.columns) + (1 if multivariate else 0)
    single = level / n_tests
    drift = [
        compare_prepared(
            profile.columns[column.name],
            prepared[column.name],
            method=column.method,
            threshold=column.threshold,
            effect_floor=column.effect_floor,
            noise_level=single,
        )
        for column in monitor.columns
    ]
    thresholds = monitor.thresholds
    n_p_value = sum(r.p_value is not None for r in drift)
    alpha = corrected_level(level, n_p_value=n_p_value, n_tests=n_tests)
    results = apply_correction(drift, alpha=alpha, correction=thresholds.correction)
    if profile.multivariate is not None and multivariate:
        names = [column.name for column in monitor.columns]
        if thresholds.multivariate == "mmd":
            results.append(compare_mmd(profile.multivariate, current[names], alpha=single))
        else:
            results.append(
                compare_pca_reconstruction(profile.multivariate, current[names], level=single)
            )
    return results


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
