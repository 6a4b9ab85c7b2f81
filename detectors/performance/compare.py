"""Realized performance of a window against its reference profile, tested against sampling noise.

A 0.03 drop of accuracy means something on 5,000 labelled rows and
nothing on 200: each metric is compared with the band that the
reference's own variability gives a window of this many rows
(``detectors.performance._noise``), not with a fixed limit.
"""

from __future__ import annotations

from typing import Any

from detectors.performance._judge import check_arguments, judged, unjudged
from detectors.performance._rows import (
    PreparedWindow,
    as_series,
    prepare_classification,
    prepare_regression,
)
from detectors.performance.metrics import metric_values
from detectors.performance.profile import PerformanceProfile
from detectors.performance.registry import METRICS
from detectors.result import ColumnResult


def compare_performance(
    profile: PerformanceProfile,
    y_true: Any,
    y_pred: Any,
    scores: Any = None,
    *,
    level: float,
    direction: str = "worse",
    allowed_drop: float | None = None,
) -> list[ColumnResult]:
    """One result per metric of ``profile``: the window's value against its noise band.

    ``level`` is the probability that one metric of a window of the
    reference's population is called degraded by sampling alone (its
    false-alarm level; a caller testing several metrics in one run shares
    its run's level between them, as ``detectors.budget`` does for
    columns). ``direction="worse"`` tests the worse side only (accuracy
    down, MAE up), ``"both"`` either side at ``level / 2`` each (an error
    that falls may mean the population changed too). ``allowed_drop`` is an
    optional floor: a metric is degraded only when outside the band AND
    moved by more than it (in the metric's units; for MAE and RMSE a share
    of the reference value).

    ``statistic`` is the window's metric (scikit-learn's), ``threshold`` the
    limit it was held to (the band's bound on the tested side, or the floor
    if further), ``effect`` the move from the reference (worse-ward for
    ``"worse"``, absolute for ``"both"``) and ``effect_floor`` the floor;
    ``details`` has ``reference_value``, the band ``lower`` and ``upper``,
    ``sd`` (of window - reference), ``level``, ``direction``,
    ``allowed_drop`` and ``n_dropped_missing``; ``n_current`` counts the
    labelled rows used and ``n_reference`` the reference's. A window with no
    usable rows, or one that leaves a metric undefined, gives that metric a
    status (``empty``, ``all_missing``, ``invalid_values``, ``single_class``,
    ``insufficient_data``) and is never degraded. Misuse raises ValueError
    naming the argument.

    >>> import numpy as np
    >>> from detectors.performance.profile import fit_performance
    >>> rng = np.random.default_rng(1)
    >>> truth = rng.random(50_000) < 0.4
    >>> profile = fit_performance(truth, truth ^ (rng.random(50_000) < 0.06),
    ...     task="classification", metrics=["accuracy"], column="churned")
    >>> window = rng.random(5_000) < 0.4
    >>> [result] = compare_performance(profile, window, window ^ (rng.random(5_000) < 0.09),
    ...                                level=1e-4)
    >>> result.drifted
    True
    >>> print(result.reason.replace(", ", ",\\n"))
    accuracy 0.9096 < 0.9273,
    the lower bound of what 5,000 labelled rows of the reference give at level 0.0001
    """
    criteria = check_arguments(level, direction, allowed_drop)
    truth, predicted = as_series(y_true, "y_true"), as_series(y_pred, "y_pred")
    given_scores = None if scores is None else as_series(scores, "scores")
    _check_scores(profile, given_scores is not None)
    window = _prepare(profile, truth, predicted, given_scores)
    results = []
    values = {} if window.rows is None else metric_values(profile.metrics, window.rows)
    for name in profile.metrics:
        reference_value = profile.reference[name]
        value = values.get(name)
        if value is None or isinstance(value, tuple):
            status, reason = (window.status, window.reason) if value is None else value
            results.append(
                unjudged(
                    column=profile.column,
                    method=name,
                    status=status,
                    reason=f"{name}: {reason}",
                    reference_value=reference_value,
                    n_reference=profile.n,
                    n_current=0 if window.rows is None else window.rows.n,
                    criteria=criteria,
                    n_dropped_missing=window.n_dropped_missing,
                )
            )
            continue
        assert window.rows is not None
        results.append(
            judged(
                column=profile.column,
                method=name,
                label=name,
                spec=METRICS[name],
                value=value,
                reference_value=reference_value,
                spread=profile.spread[name],
                sizes=profile.sizes,
                n=window.rows.n,
                n_reference=profile.n,
                rows_word="labelled rows",
                criteria=criteria,
                n_dropped_missing=window.n_dropped_missing,
            )
        )
    return results


def _check_scores(profile: PerformanceProfile, given: bool) -> None:
    if profile.has_scores and not given:
        needing = [name for name in profile.metrics if METRICS[name].needs_scores]
        raise ValueError(f"scores: the profile's {needing} need the window's scores")
    if given and not profile.has_scores:
        raise ValueError("scores: the profile was fitted without scores; pass none")


def _prepare(
    profile: PerformanceProfile, truth: Any, predicted: Any, scores: Any
) -> PreparedWindow:
    if profile.task == "classification":
        return prepare_classification(
            truth, predicted, scores, labels=profile.labels, positive=profile.positive_label
        )
    return prepare_regression(truth, predicted)
