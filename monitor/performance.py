"""A window's model performance as a monitor judges it: realized from labels, estimated from scores.

Pure functions of the monitor's performance settings, its reference's
performance profile, a window's rows and the labels joined to them (no
store, no clock: ``monitor.backfill`` reads labels and past windows).

- **Realized** metrics (``detectors.compare_performance``) need labels:
  the window's own label column, or labels joined by id from a label
  source. A joined window counts only once ``coverage`` of its
  predictions have a label; until then each metric is
  ``awaiting_labels``. Every realized result carries the window's
  coverage in its details (``coverage``, ``n_predictions``,
  ``n_labelled``, ``required_coverage``).
- **Estimated** metrics (CBPE, ``detectors.estimate_performance``) need
  only the scores of a binary model, so every window has them at once;
  once its labels are in, its realized metrics replace them for the
  rules that read the current window, and both stay stored.

Each metric of a run is tested at ``metric_level``: the run's performance
level (``monitor.levels.window_levels``) shared by Bonferroni between the
realized and the estimated metrics.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

import pandas as pd

from detectors import ColumnResult, PerformanceProfile, estimate_performance
from detectors.performance import compare_performance, parse_method
from monitor.alerts.rules import MetricFact, PerformanceFacts
from monitor.columns import require_columns
from monitor.config import PerformanceSettings
from monitor.store.performance import AWAITING_LABELS, Coverage, WindowPerformance


def metric_level(performance_level: float, profile: PerformanceProfile) -> float:
    """The level of each metric of a window: the run's performance level, Bonferroni shared."""
    n_tests = len(profile.metrics) + len(profile.estimated)
    return performance_level / max(n_tests, 1)


def window_columns(perf: PerformanceSettings) -> list[str]:
    """The columns a window must have for its performance (the label only when in its rows)."""
    columns = [perf.prediction]
    if perf.score is not None:
        columns.append(perf.score)
    if perf.labels is not None:
        assert perf.id_column is not None
        columns.append(perf.id_column)
    else:
        columns.append(perf.label_column)
    return columns


def judge_window(
    perf: PerformanceSettings,
    profile: PerformanceProfile,
    rows: pd.DataFrame,
    joined: pd.Series | None,
    level: float,
    *,
    estimate: bool = True,
) -> tuple[Coverage, tuple[ColumnResult, ...], tuple[ColumnResult, ...]]:
    """(coverage, realized, estimated) of one window's ``rows``.

    ``joined`` holds the label of each row from the label source (missing
    where none arrived); None when the labels are a column of ``rows``.
    ``estimate=False`` skips the estimates (a past window's scores have not
    changed, so they are not estimated again).
    """
    require_columns(rows, window_columns(perf), "current window")
    truth = rows[perf.label_column] if joined is None else joined
    coverage = Coverage(
        n_predictions=len(rows),
        n_labelled=int(truth.notna().sum()),
        required=None if perf.labels is None else perf.labels.coverage,
    )
    scores = rows[perf.score] if perf.score is not None else None
    if coverage.reached:
        realized = compare_performance(
            profile,
            truth,
            rows[perf.prediction],
            scores if profile.has_scores else None,
            level=level,
            direction=perf.direction,
            allowed_drop=perf.allowed_drop,
        )
    else:
        realized = [_awaiting(profile, name, coverage) for name in profile.metrics]
    estimated: list[ColumnResult] = []
    if estimate and scores is not None and profile.calibration is not None:
        estimated = estimate_performance(
            profile,
            rows[perf.prediction],
            scores,
            level=level,
            direction=perf.direction,
            allowed_drop=perf.allowed_drop,
        )
    return coverage, tuple(_with_coverage(r, coverage) for r in realized), tuple(estimated)


def _awaiting(profile: PerformanceProfile, name: str, coverage: Coverage) -> ColumnResult:
    share = coverage.share or 0.0
    required = coverage.required or 0.0
    return ColumnResult(
        column=profile.column,
        method=name,
        statistic=None,
        p_value=None,
        threshold=profile.reference[name],
        drifted=False,
        n_reference=profile.n,
        n_current=coverage.n_labelled,
        status=AWAITING_LABELS,
        reason=(
            f"{name}: awaiting labels: {coverage.n_labelled:,} of {coverage.n_predictions:,} "
            f"predictions ({share:.0%}) have one, {required:.0%} needed (labels.coverage)"
        ),
        details={"reference_value": profile.reference[name]},
    )


def _with_coverage(result: ColumnResult, coverage: Coverage) -> ColumnResult:
    return replace(
        result,
        details={
            **result.details,
            "coverage": coverage.share,
            "n_predictions": coverage.n_predictions,
            "n_labelled": coverage.n_labelled,
            "required_coverage": coverage.required,
        },
    )


def _facts(results: Sequence[ColumnResult]) -> tuple[MetricFact, ...]:
    facts = []
    for result in results:
        parsed = parse_method(result.method)
        if parsed is not None:
            facts.append(MetricFact(parsed[0], parsed[1], result.drifted, result.status))
    return tuple(facts)


def performance_facts(
    current: WindowPerformance | None,
    evaluated: Sequence[WindowPerformance],
    newest_stored: datetime | None,
) -> PerformanceFacts:
    """What a run's performance rules judge (``monitor.alerts.rules.PerformanceFacts``).

    ``evaluated`` are the windows this run evaluated (its own and the
    backfilled ones); ``newest_stored`` is the end of the newest window
    whose realized metrics counted before this run. The realized facts are
    those of the newest counted window, if this run evaluated it.
    """
    counted = [window for window in evaluated if window.counted]
    newest = max(counted, key=lambda window: window.window_end, default=None)
    realized: tuple[MetricFact, ...] = ()
    if newest is not None and (newest_stored is None or newest.window_end >= newest_stored):
        realized = _facts(newest.realized)
    now: tuple[MetricFact, ...] = ()
    if current is not None:
        now = _facts(current.realized if current.counted else current.estimated)
    return PerformanceFacts(realized=realized, current=now)
