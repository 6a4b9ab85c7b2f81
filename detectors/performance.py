"""Model performance from labels, and its comparison with a reference.

Drift in inputs matters because it may hurt the model; when true labels
arrive, the loss of performance can be measured directly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

import numpy as np
import pandas as pd

from detectors._json import finite_or_none
from detectors._kinds import PerformanceTask, ResultStatus
from detectors._outcome import format_number
from detectors.result import ColumnResult

_HIGHER_IS_BETTER: Final[Mapping[str, bool]] = {
    "accuracy": True,
    "f1": True,
    "mae": False,
    "rmse": False,
}
TASK_METRICS: Final[Mapping[PerformanceTask, tuple[str, ...]]] = {
    "classification": ("accuracy", "f1"),
    "regression": ("mae", "rmse"),
}


def performance_metrics(
    y_true: pd.Series, y_pred: pd.Series, task: PerformanceTask
) -> dict[str, float]:
    """Return accuracy and F1 (classification) or MAE and RMSE (regression).

    The two series are paired by position (they must have the same length),
    because a join on the index would silently misalign them. Rows where
    either value is missing are dropped; no rows left raises ValueError.

    F1 is binary when at most two labels occur (in either series): the
    positive label is 1/True when the labels are 0/1 or booleans, otherwise
    the larger label. With more labels it is the macro average over every
    label that occurs. A binary window where neither the truth nor the
    prediction contains the positive label has F1 1.0: nothing was missed
    and nothing was falsely flagged.

    >>> performance_metrics(pd.Series([1, 0, 1, 1]), pd.Series([1, 0, 0, 1]), "classification")
    {'accuracy': 0.75, 'f1': 0.8}
    >>> performance_metrics(pd.Series([1.0, 2.0]), pd.Series([2.0, 4.0]), "regression")
    {'mae': 1.5, 'rmse': 1.5811388300841898}
    """
    truth, predicted = _paired(y_true, y_pred)
    if truth.size == 0:
        raise ValueError("no rows with both a label and a prediction")
    if task == "classification":
        return {"accuracy": float(np.mean(truth == predicted)), "f1": _f1(truth, predicted)}
    if task == "regression":
        errors = _as_float(truth, "y_true") - _as_float(predicted, "y_pred")
        return {
            "mae": float(np.mean(np.abs(errors))),
            "rmse": float(np.sqrt(np.mean(errors**2))),
        }
    raise ValueError(f"unknown task {task!r}; expected 'classification' or 'regression'")


def compare_performance(
    reference_metrics: Mapping[str, float],
    y_true: pd.Series,
    y_pred: pd.Series,
    task: PerformanceTask,
    *,
    allowed_drop: float,
    column: str,
) -> list[ColumnResult]:
    """Compare the current window's metrics with reference values, one result per metric.

    For accuracy and F1 the limit is ``reference - allowed_drop`` (an
    absolute drop, since both live on [0, 1]). For MAE and RMSE, which are in
    the target's units, the limit is ``reference * (1 + allowed_drop)``: a
    relative worsening, so one setting fits targets of any scale. A metric is
    drifted when it is strictly worse than its limit. ``n_reference`` is 0
    because only the reference values, not their sample size, are known.

    >>> [r.drifted for r in compare_performance({"accuracy": 0.9, "f1": 0.9},
    ...     pd.Series([1, 0, 1, 1]), pd.Series([1, 0, 0, 1]), "classification",
    ...     allowed_drop=0.1, column="label")]
    [True, False]
    """
    if not math.isfinite(allowed_drop) or allowed_drop < 0:
        raise ValueError(f"allowed_drop must be a non-negative number, got {allowed_drop}")
    if task not in TASK_METRICS:
        raise ValueError(f"unknown task {task!r}; expected 'classification' or 'regression'")
    names = TASK_METRICS[task]
    missing = [name for name in names if name not in reference_metrics]
    if missing:
        raise ValueError(f"reference_metrics for {column!r} lack {missing}")
    truth, predicted = _paired(y_true, y_pred)
    bad = _bad_data(y_true, truth, column)
    if bad is None and task == "regression":
        try:
            _as_float(truth, "y_true")
            _as_float(predicted, "y_pred")
        except ValueError as error:
            bad = ("invalid_values", f"column {column!r}: {error}")
    current = None if bad else performance_metrics(y_true, y_pred, task)
    results = []
    for name in names:
        reference_value = float(reference_metrics[name])
        higher_is_better = _HIGHER_IS_BETTER[name]
        limit = (
            reference_value - allowed_drop
            if higher_is_better
            else reference_value * (1 + allowed_drop)
        )
        details: dict[str, Any] = {
            "reference_value": finite_or_none(reference_value),
            "allowed_drop": allowed_drop,
            "n_dropped_missing": int(y_true.size - truth.size),
        }
        if current is None:
            assert bad is not None
            status, reason = bad
            results.append(_result(column, name, None, limit, False, 0, status, reason, details))
            continue
        value = current[name]
        drifted = value < limit if higher_is_better else value > limit
        worse, not_worse = ("<", ">=") if higher_is_better else (">", "<=")
        relation = worse if drifted else not_worse
        reason = f"{name} {format_number(value)} {relation} limit {format_number(limit)}"
        results.append(
            _result(column, name, value, limit, drifted, int(truth.size), "ok", reason, details)
        )
    return results


def _result(
    column: str,
    metric: str,
    value: float | None,
    limit: float,
    drifted: bool,
    n_current: int,
    status: ResultStatus,
    reason: str,
    details: Mapping[str, Any],
) -> ColumnResult:
    return ColumnResult(
        column=column,
        method=metric,
        statistic=value,
        p_value=None,
        threshold=limit,
        drifted=drifted,
        n_reference=0,
        n_current=n_current,
        status=status,
        reason=reason,
        details=details,
    )


def _bad_data(
    y_true: pd.Series, kept: np.ndarray[Any, Any], column: str
) -> tuple[ResultStatus, str] | None:
    if y_true.size == 0:
        return "empty", f"current window for {column!r} is empty"
    if kept.size == 0:
        return "all_missing", f"no row of {column!r} has both a label and a prediction"
    return None


def _paired(
    y_true: pd.Series, y_pred: pd.Series
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    if y_true.size != y_pred.size:
        raise ValueError(
            f"y_true and y_pred must have the same length, got {y_true.size} and {y_pred.size}"
        )
    keep = ~(y_true.isna().to_numpy(dtype=bool) | y_pred.isna().to_numpy(dtype=bool))
    truth = y_true.to_numpy(dtype=object)[keep]
    predicted = y_pred.to_numpy(dtype=object)[keep]
    return truth, predicted


def _as_float(values: np.ndarray[Any, Any], name: str) -> np.ndarray[Any, Any]:
    parsed: np.ndarray[Any, Any] = pd.to_numeric(
        pd.Series(values, dtype=object), errors="coerce"
    ).to_numpy(dtype=np.float64, na_value=np.nan)
    if not np.all(np.isfinite(parsed)):
        raise ValueError(f"{name} has values that are not finite numbers")
    return parsed


def _f1(truth: np.ndarray[Any, Any], predicted: np.ndarray[Any, Any]) -> float:
    labels = _sorted_labels(np.concatenate([truth, predicted]))
    if len(labels) <= 2:
        positive = _positive_label(labels)
        return _binary_f1(truth == positive, predicted == positive, if_undefined=1.0)
    scores = [_binary_f1(truth == label, predicted == label, if_undefined=0.0) for label in labels]
    return float(np.mean(scores))


def _binary_f1(
    truth: np.ndarray[Any, Any], predicted: np.ndarray[Any, Any], *, if_undefined: float
) -> float:
    true_positive = int(np.sum(truth & predicted))
    denominator = int(np.sum(truth)) + int(np.sum(predicted))
    return if_undefined if denominator == 0 else 2 * true_positive / denominator


def _sorted_labels(values: np.ndarray[Any, Any]) -> list[Any]:
    unique = list(pd.unique(pd.Series(values, dtype=object)))
    try:
        return sorted(unique)
    except TypeError:  # mixed types: order by text so the choice is still deterministic
        return sorted(unique, key=str)


def _positive_label(labels: list[Any]) -> Any:
    if all(isinstance(label, bool | np.bool_) for label in labels):
        return True
    if all(label in (0, 1) for label in labels):
        return 1
    return labels[-1]
