"""Model performance: realized from labels, estimated from scores, tested against sampling noise.

The API the monitor builds on, in the order a run uses it:

1. ``fit_performance(y_true, y_pred, scores=None, *, task, metrics=None,
   positive_label=None, column=None)`` on the labelled reference ->
   ``PerformanceProfile``: each metric's reference value, its spread over
   windows of a few sizes, and (binary with scores) the isotonic
   calibration for CBPE. Plain data: ``to_dict``/``from_dict``,
   ``to_bytes``/``from_bytes``, versioned by ``format``; store it beside the
   column profiles, under the same reference key.
2. ``compare_performance(profile, y_true, y_pred, scores=None, *, level,
   direction="worse", allowed_drop=None)`` on a window's labelled rows ->
   one ``ColumnResult`` per metric, ``method`` = the metric's name.
3. ``estimate_performance(profile, y_pred, scores, *, level, ...)`` on a
   window's scored rows, before labels -> one ``ColumnResult`` per
   estimable metric, ``method`` = ``"estimated_" + name``.

``level`` is the false-alarm probability of one metric of one window;
share a run's level between its metrics (and between realized and
estimated, when both are tested) by the union bound, as
``detectors.budget.corrected_level`` does for distances.

``METRICS`` (``registry.py``) is the one table of metrics: name, task,
whether it needs scores, higher_is_better, the scikit-learn function,
bounds, how ``allowed_drop`` reads, whether CBPE estimates it.
``parse_method`` reads a result's method back into (metric, estimated),
so a store or exporter can tell realized from estimated results and
validate config names against the table.
"""

from detectors.performance.cbpe import ESTIMABLE, Calibration
from detectors.performance.compare import compare_performance
from detectors.performance.estimation import estimate_performance
from detectors.performance.metrics import performance_metrics
from detectors.performance.profile import PERFORMANCE_FORMAT, PerformanceProfile, fit_performance
from detectors.performance.registry import (
    ESTIMATED_PREFIX,
    METRICS,
    MetricSpec,
    UnknownMetricError,
    default_metrics,
    estimated_method,
    get_metric,
    parse_method,
)

__all__ = [
    "ESTIMABLE",
    "ESTIMATED_PREFIX",
    "METRICS",
    "PERFORMANCE_FORMAT",
    "Calibration",
    "MetricSpec",
    "PerformanceProfile",
    "UnknownMetricError",
    "compare_performance",
    "default_metrics",
    "estimate_performance",
    "estimated_method",
    "fit_performance",
    "get_metric",
    "parse_method",
    "performance_metrics",
]
