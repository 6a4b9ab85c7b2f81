"""Realized performance: scikit-learn's metrics on the rows of one window.

Each metric is the scikit-learn function its ``MetricSpec`` names, so the
numbers are the ones users compare with. A metric that a window leaves
undefined is a status, not a number: ``single_class`` (ROC AUC and
average precision need both classes), ``invalid_values`` (log loss of
scores outside [0, 1]) or ``insufficient_data`` (R² of one row).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from detectors._kinds import PerformanceTask, ResultStatus
from detectors.performance._rows import (
    Label,
    LabelledRows,
    PreparedWindow,
    as_series,
    prepare_classification,
    prepare_regression,
    resolve_labels,
)
from detectors.performance.registry import METRICS, MetricSpec, check_metrics, check_task

Undefined = tuple[ResultStatus, str]
"""Why a metric has no value on some rows: a status and a sentence."""


def undefined(spec: MetricSpec, rows: LabelledRows) -> Undefined | None:
    """Why ``spec`` has no value on ``rows``, or None when it has one."""
    if rows.n < spec.min_rows:
        return "insufficient_data", f"{spec.name} needs at least {spec.min_rows} rows"
    if spec.both_classes and int(rows.truth_positive().sum()) in (0, rows.n):
        return "single_class", f"y_true holds one class only, so {spec.name} is undefined"
    if spec.probabilities:
        scores = rows.require_scores()
        if (scores < 0).any() or (scores > 1).any():
            return "invalid_values", f"scores outside [0, 1] are no probabilities for {spec.name}"
    return None


def metric_values(names: Sequence[str], rows: LabelledRows) -> dict[str, float | Undefined]:
    """Each metric's value on ``rows``, or why it has none."""
    values: dict[str, float | Undefined] = {}
    for name in names:
        spec = METRICS[name]
        values[name] = undefined(spec, rows) or spec.function(rows)
    return values


def performance_metrics(
    y_true: Any,
    y_pred: Any,
    scores: Any = None,
    *,
    task: PerformanceTask,
    metrics: Sequence[str] | None = None,
    positive_label: Label | None = None,
) -> dict[str, float]:
    """The metrics of one set of rows, as scikit-learn computes them.

    ``metrics`` defaults to the task's (``registry.default_metrics``):
    accuracy, precision, recall and F1 (macro averages over more than two
    labels), with ROC AUC and average precision when ``scores`` (of the
    positive class) are given; MAE, RMSE, MAPE and R² for regression.
    The positive label is ``positive_label``, else 1/True when the labels
    are 0/1 or booleans, else the larger label. Rows where a value is
    missing are dropped; no rows left, or a metric these rows leave
    undefined, raises ValueError.

    >>> performance_metrics([1, 0, 1, 1], [1, 0, 0, 1],
    ...                     task="classification", metrics=["accuracy", "f1"])
    {'accuracy': 0.75, 'f1': 0.8}
    >>> performance_metrics([1.0, 2.0], [2.0, 4.0], task="regression", metrics=["mae", "rmse"])
    {'mae': 1.5, 'rmse': 1.5811388300841898}
    """
    task = check_task(task)
    truth, predicted = as_series(y_true, "y_true"), as_series(y_pred, "y_pred")
    given_scores = None if scores is None else as_series(scores, "scores")
    if task == "classification":
        labels, positive = resolve_labels(truth, predicted, positive_label)
        window = prepare_classification(
            truth, predicted, given_scores, labels=labels, positive=positive
        )
        binary = len(labels) <= 2
    else:
        if given_scores is not None:
            raise ValueError("scores: regression takes no scores")
        window = prepare_regression(truth, predicted)
        binary = False
    names = check_metrics(metrics, task, scores=given_scores is not None, binary=binary)
    if given_scores is not None and not binary:
        raise ValueError("scores: score metrics are for binary labels; y_true has more")
    rows = _usable(window)
    values = metric_values(names, rows)
    return {name: _value(name, value) for name, value in values.items()}


def _usable(window: PreparedWindow) -> LabelledRows:
    if window.rows is None:
        raise ValueError(window.reason)
    return window.rows


def _value(name: str, value: float | Undefined) -> float:
    if isinstance(value, tuple):
        raise ValueError(value[1])
    return value


__all__ = ["Undefined", "metric_values", "performance_metrics", "undefined"]
