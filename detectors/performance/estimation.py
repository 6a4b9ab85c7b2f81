"""Estimated performance of a window before its labels arrive (CBPE), against sampling noise.

The window's scores, calibrated by the profile's isotonic map, give the
expected confusion matrix and ROC curve (``detectors.performance.cbpe``);
each estimate is then judged like a realized metric, against the band
that windows of this many rows of the reference's scores give
(``detectors.performance._judge``). Results are ColumnResults shaped like
the realized ones; their ``method`` is ``"estimated_" + metric``
(``registry.estimated_method``), which is how a store or an exporter tells
them apart (``registry.parse_method``).

The estimates assume that calibration holds in the window: the inputs may
shift, P(label | score) may not (no concept drift).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from detectors._kinds import ResultStatus
from detectors.performance._judge import check_arguments, judged, unjudged
from detectors.performance._rows import as_series, check_lengths, missing, parse_numbers
from detectors.performance.cbpe import estimated_metrics
from detectors.performance.profile import PerformanceProfile
from detectors.performance.registry import METRICS, estimated_method
from detectors.result import ColumnResult


def estimate_performance(
    profile: PerformanceProfile,
    y_pred: Any,
    scores: Any,
    *,
    threshold: float | None = None,
    level: float,
    direction: str = "worse",
    allowed_drop: float | None = None,
) -> list[ColumnResult]:
    """One result per estimable metric of ``profile``, estimated from the window's scores.

    ``y_pred`` are the predicted labels (positive when equal to the
    profile's positive label); pass ``y_pred=None`` and a ``threshold`` to
    predict positive where ``score >= threshold`` instead. ``level``,
    ``direction`` and ``allowed_drop`` work as in ``compare_performance``;
    the band is centred on the reference's own estimate and its width is
    the spread of the estimate over windows of the reference's rows.
    ``n_current`` counts the scored rows used.

    >>> rng = np.random.default_rng(3)
    >>> def scored(n, shift):
    ...     x = rng.normal(shift, 1, n)
    ...     p = 1 / (1 + np.exp(-2 * x))
    ...     return rng.random(n) < p, p
    >>> from detectors.performance.profile import fit_performance
    >>> truth, scores = scored(20_000, 0.0)
    >>> profile = fit_performance(truth, scores >= 0.5, scores, task="classification",
    ...     metrics=["accuracy", "roc_auc"], column="label", n_resamples=50)
    >>> truth, scores = scored(5_000, 1.0)
    >>> estimated = estimate_performance(profile, scores >= 0.5, scores, level=1e-3)
    >>> [(r.method, round(r.statistic, 3)) for r in estimated]
    [('estimated_accuracy', 0.839), ('estimated_roc_auc', 0.866)]
    """
    criteria = check_arguments(level, direction, allowed_drop)
    calibration = profile.calibration
    if calibration is None:
        raise ValueError(
            "profile: fitted without scores or on more than two labels, so it cannot estimate"
        )
    if (y_pred is None) == (threshold is None):
        raise ValueError("y_pred: pass the predicted labels, or y_pred=None and a threshold")
    score_series = as_series(scores, "scores")
    predicted = None if y_pred is None else as_series(y_pred, "y_pred")
    n_total = check_lengths(scores=score_series, y_pred=predicted)
    parsed, problem = parse_numbers(score_series, "scores")
    keep = ~np.isnan(parsed)
    if predicted is not None:
        keep &= ~missing(predicted)
    status: ResultStatus = "ok"
    if n_total == 0:
        status, problem = "empty", "the window has no rows"
    elif problem is not None:
        status = "invalid_values"
    elif not keep.any():
        status, problem = "all_missing", "no row has both a score and a prediction"
    names = list(profile.estimated)
    n_dropped = 0 if status in ("empty", "invalid_values") else int(n_total - keep.sum())
    values: dict[str, float | None] = {}
    n_rows = int(keep.sum()) if status == "ok" else 0
    if status == "ok":
        probabilities = calibration.calibrated(parsed[keep])
        positive = (
            _is_positive(predicted[keep], profile)
            if predicted is not None
            else parsed[keep] >= float(threshold or 0)
        )
        values = estimated_metrics(probabilities, positive, names)
    results = []
    for name in names:
        method = estimated_method(name)
        value = values.get(name)
        if value is None:
            reason = problem if status != "ok" else "the calibrated scores expect one class only"
            results.append(
                unjudged(
                    column=profile.column,
                    method=method,
                    status=status if status != "ok" else "single_class",
                    reason=f"estimated {name}: {reason}",
                    reference_value=profile.estimated[name],
                    n_reference=profile.n,
                    n_current=n_rows,
                    criteria=criteria,
                    n_dropped_missing=n_dropped,
                )
            )
            continue
        results.append(
            judged(
                column=profile.column,
                method=method,
                label=f"estimated {name}",
                spec=METRICS[name],
                value=value,
                reference_value=profile.estimated[name],
                spread=profile.estimated_spread[name],
                sizes=profile.sizes,
                n=n_rows,
                n_reference=profile.n,
                rows_word="scored rows",
                criteria=criteria,
                n_dropped_missing=n_dropped,
            )
        )
    return results


def _is_positive(predicted: pd.Series, profile: PerformanceProfile) -> npt.NDArray[np.bool_]:
    labels = pd.Index(list(profile.labels), dtype=object)
    codes = labels.get_indexer(pd.Index(predicted.to_numpy(dtype=object), dtype=object))
    positive_code = list(profile.labels).index(profile.positive_label)  # type: ignore[arg-type]
    positive: npt.NDArray[np.bool_] = codes == positive_code
    return positive
