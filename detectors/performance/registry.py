"""The one table of performance metrics: what each means, how it is computed, how it moves.

Every metric a monitor can compute, compare or estimate is one
``MetricSpec`` in ``_SPECS``, so listing, validating and exporting them
(config, API, Prometheus) reads one table. Values always come from the
scikit-learn function named in ``sklearn``, called by ``function`` on the
rows of one window (``detectors.performance._rows.LabelledRows``).

Realized results carry the metric's ``name`` as their ``method``;
estimated ones (CBPE, before labels arrive) carry
``estimated_method(name)``, i.e. ``"estimated_" + name``. That prefix is the
one spelling that tells them apart: ``parse_method`` reads either back.

>>> [name for name in default_metrics("classification", scores=True)]
['accuracy', 'precision', 'recall', 'f1', 'roc_auc', 'average_precision']
>>> parse_method("estimated_roc_auc")
('roc_auc', True)
>>> parse_method("ks") is None
True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal

import numpy as np
from sklearn import metrics as sk

from detectors._kinds import PerformanceTask
from detectors.performance._rows import LabelledRows

MetricFunction = Callable[[LabelledRows], float]
"""A metric: the rows of one window -> its value (by scikit-learn)."""

MetricInput = Literal["labels", "scores", "values"]
"""What a metric reads: predicted labels, scores of the positive class, or numbers."""

FloorScale = Literal["absolute", "relative"]
"""How ``allowed_drop`` reads for a metric: in its own units, or as a share of the reference."""

ESTIMATED_PREFIX: Final = "estimated_"


class UnknownMetricError(ValueError):
    """A metric name that is not in the table (the message lists the known ones)."""


@dataclass(frozen=True, kw_only=True)
class MetricSpec:
    """One performance metric.

    ``reads`` says which inputs it needs: ``"labels"`` (truth and predicted
    labels), ``"scores"`` (truth and a score of the positive class: binary
    only) or ``"values"`` (regression). ``multiclass`` metrics also take more
    than two labels (macro averages). ``bounds`` are the values the metric
    can take (None: unbounded), used to clip noise bands. ``floor``: how
    ``allowed_drop`` reads (``"absolute"`` in the metric's units,
    ``"relative"`` as a share of the reference value, for errors in the
    target's units). ``estimable``: CBPE estimates it from scores alone.
    ``default``: fitted when no metrics are named (log loss is opt-in: it
    needs probabilities, not any score). ``probabilities``: the scores must
    lie in [0, 1]. ``both_classes``: undefined when the window's labels hold
    one class. ``min_rows``: fewer rows leave it undefined.
    """

    name: str
    task: PerformanceTask
    reads: MetricInput
    higher_is_better: bool
    sklearn: str
    function: MetricFunction
    description: str
    bounds: tuple[float | None, float | None]
    floor: FloorScale = "absolute"
    multiclass: bool = False
    estimable: bool = False
    default: bool = True
    probabilities: bool = False
    both_classes: bool = False
    min_rows: int = 1

    @property
    def needs_scores(self) -> bool:
        return self.reads == "scores"


_UNDEFINED_AS: Final = 1.0
"""Precision with nothing predicted positive, recall with no positive to find, and F1 with
neither: nothing was missed and nothing was falsely flagged (scikit-learn's zero_division)."""


def _accuracy(rows: LabelledRows) -> float:
    return float(sk.accuracy_score(rows.truth, rows.predicted))


def _averaged(index: int) -> MetricFunction:
    """Precision (0), recall (1) or F1 (2) of scikit-learn's precision_recall_fscore_support.

    Binary: of the positive label. More labels: macro averages over the
    reference's labels. The three share one call per set of rows.
    """

    def metric(rows: LabelledRows) -> float:
        return float(rows.memo("prf", lambda: _precision_recall_f1(rows))[index])

    return metric


def _precision_recall_f1(rows: LabelledRows) -> tuple[float, float, float]:
    if rows.binary:
        truth, predicted, options = rows.truth_positive(), rows.predicted_positive(), {}
    else:
        truth, predicted = rows.truth, rows.predicted
        options = {"labels": np.arange(rows.n_labels), "average": "macro"}
    precision, recall, f1, _ = sk.precision_recall_fscore_support(
        truth, predicted, zero_division=_UNDEFINED_AS, **({"average": "binary"} | options)
    )
    return float(precision), float(recall), float(f1)


def _roc_auc(rows: LabelledRows) -> float:
    return float(sk.roc_auc_score(rows.truth_positive(), rows.require_scores()))


def _average_precision(rows: LabelledRows) -> float:
    return float(sk.average_precision_score(rows.truth_positive(), rows.require_scores()))


def _log_loss(rows: LabelledRows) -> float:
    return float(sk.log_loss(rows.truth_positive(), rows.require_scores(), labels=[False, True]))


def _mae(rows: LabelledRows) -> float:
    return float(sk.mean_absolute_error(rows.truth, rows.predicted))


def _rmse(rows: LabelledRows) -> float:
    # root_mean_squared_error is scikit-learn >= 1.4; the square root of its MSE is the same.
    return math.sqrt(float(sk.mean_squared_error(rows.truth, rows.predicted)))


def _mape(rows: LabelledRows) -> float:
    return float(sk.mean_absolute_percentage_error(rows.truth, rows.predicted))


def _r2(rows: LabelledRows) -> float:
    return float(sk.r2_score(rows.truth, rows.predicted))


_SPECS: Final = (
    MetricSpec(
        name="accuracy",
        task="classification",
        reads="labels",
        higher_is_better=True,
        sklearn="sklearn.metrics.accuracy_score",
        function=_accuracy,
        description="share of rows whose predicted label is the true one",
        bounds=(0.0, 1.0),
        multiclass=True,
        estimable=True,
    ),
    MetricSpec(
        name="precision",
        task="classification",
        reads="labels",
        higher_is_better=True,
        sklearn="sklearn.metrics.precision_score (zero_division=1)",
        function=_averaged(0),
        description="share of predicted positives that are positive (macro over labels)",
        bounds=(0.0, 1.0),
        multiclass=True,
        estimable=True,
    ),
    MetricSpec(
        name="recall",
        task="classification",
        reads="labels",
        higher_is_better=True,
        sklearn="sklearn.metrics.recall_score (zero_division=1)",
        function=_averaged(1),
        description="share of positives predicted positive (macro over labels)",
        bounds=(0.0, 1.0),
        multiclass=True,
        estimable=True,
    ),
    MetricSpec(
        name="f1",
        task="classification",
        reads="labels",
        higher_is_better=True,
        sklearn="sklearn.metrics.f1_score (zero_division=1)",
        function=_averaged(2),
        description="harmonic mean of precision and recall (macro over labels)",
        bounds=(0.0, 1.0),
        multiclass=True,
        estimable=True,
    ),
    MetricSpec(
        name="roc_auc",
        task="classification",
        reads="scores",
        higher_is_better=True,
        sklearn="sklearn.metrics.roc_auc_score",
        function=_roc_auc,
        description="area under the ROC curve of the positive class's score",
        bounds=(0.0, 1.0),
        both_classes=True,
        estimable=True,
    ),
    MetricSpec(
        name="average_precision",
        task="classification",
        reads="scores",
        higher_is_better=True,
        sklearn="sklearn.metrics.average_precision_score",
        function=_average_precision,
        description="average precision (area under the precision-recall curve) of the score",
        bounds=(0.0, 1.0),
        both_classes=True,
    ),
    MetricSpec(
        name="log_loss",
        task="classification",
        reads="scores",
        higher_is_better=False,
        sklearn="sklearn.metrics.log_loss",
        function=_log_loss,
        description="cross-entropy of the score read as the positive class's probability",
        bounds=(0.0, None),
        default=False,
        probabilities=True,
    ),
    MetricSpec(
        name="mae",
        task="regression",
        reads="values",
        higher_is_better=False,
        sklearn="sklearn.metrics.mean_absolute_error",
        function=_mae,
        description="mean absolute error, in the target's units",
        bounds=(0.0, None),
        floor="relative",
    ),
    MetricSpec(
        name="rmse",
        task="regression",
        reads="values",
        higher_is_better=False,
        sklearn="sklearn.metrics.mean_squared_error, square root",
        function=_rmse,
        description="root mean squared error, in the target's units",
        bounds=(0.0, None),
        floor="relative",
    ),
    MetricSpec(
        name="mape",
        task="regression",
        reads="values",
        higher_is_better=False,
        sklearn="sklearn.metrics.mean_absolute_percentage_error",
        function=_mape,
        description="mean absolute error as a share of the true value (0.1 = 10 %)",
        bounds=(0.0, None),
    ),
    MetricSpec(
        name="r2",
        task="regression",
        reads="values",
        higher_is_better=True,
        sklearn="sklearn.metrics.r2_score",
        function=_r2,
        description="coefficient of determination: 1 - residual / total sum of squares",
        bounds=(None, 1.0),
        min_rows=2,
    ),
)

METRICS: Final[Mapping[str, MetricSpec]] = MappingProxyType({spec.name: spec for spec in _SPECS})
"""Read-only map from metric name to spec."""


def get_metric(name: str) -> MetricSpec:
    """Return the spec of ``name``, or raise UnknownMetricError listing the known ones.

    >>> get_metric("auc")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    detectors.performance.registry.UnknownMetricError: unknown performance metric 'auc'; ...
    """
    try:
        return METRICS[name]
    except KeyError:
        known = ", ".join(METRICS)
        raise UnknownMetricError(
            f"unknown performance metric {name!r}; known metrics: {known}"
        ) from None


def default_metrics(task: PerformanceTask, *, scores: bool) -> tuple[str, ...]:
    """The metrics fitted when none are named: the task's defaults, score metrics with scores."""
    check_task(task)
    return tuple(
        spec.name
        for spec in _SPECS
        if spec.task == task and spec.default and (scores or not spec.needs_scores)
    )


def check_task(task: str) -> PerformanceTask:
    """Return ``task`` typed, or raise ValueError naming the choices."""
    if task == "classification":
        return "classification"
    if task == "regression":
        return "regression"
    raise ValueError(f"task: unknown task {task!r}; expected 'classification' or 'regression'")


def estimated_method(name: str) -> str:
    """The ``method`` of an estimated (CBPE) result of metric ``name``."""
    return ESTIMATED_PREFIX + get_metric(name).name


def parse_method(method: str) -> tuple[str, bool] | None:
    """``(metric, estimated)`` of a result's ``method``, or None if it is no performance metric."""
    estimated = method.startswith(ESTIMATED_PREFIX)
    name = method.removeprefix(ESTIMATED_PREFIX) if estimated else method
    spec = METRICS.get(name)
    if spec is None or (estimated and not spec.estimable):
        return None
    return name, estimated


def check_metrics(
    names: Sequence[str] | None, task: PerformanceTask, *, scores: bool, binary: bool
) -> tuple[str, ...]:
    """Validate the metrics to fit (None: the defaults); errors name ``metrics`` or ``scores``.

    ``binary`` (classification): two labels or fewer; more take multiclass metrics only.
    """
    multiclass = task == "classification" and not binary
    if names is None:
        chosen = default_metrics(task, scores=scores)
        return tuple(n for n in chosen if not multiclass or METRICS[n].multiclass)
    if isinstance(names, str):
        raise ValueError(f"metrics: expected a sequence of metric names, got the string {names!r}")
    if not names:
        raise ValueError("metrics: name at least one metric")
    specs = [get_metric(name) for name in names]
    if len(set(names)) != len(names):
        raise ValueError(f"metrics: {list(names)} names a metric twice")
    for spec in specs:
        if spec.task != task:
            raise ValueError(f"metrics: {spec.name!r} is a {spec.task} metric, not {task}")
        if spec.needs_scores and not scores:
            raise ValueError(f"metrics: {spec.name!r} needs scores; pass the score column")
        if multiclass and not spec.multiclass:
            raise ValueError(f"metrics: {spec.name!r} is for binary labels; y_true has more")
    return tuple(spec.name for spec in specs)
