"""A labelled reference summarised once: metric values, their sampling spread, the calibration.

``fit_performance`` reads the reference's labels, predictions and
(optionally) scores once; every later window is compared with the
``PerformanceProfile`` alone, in O(window). The profile is plain data
(``to_dict``/``from_dict`` for JSON, ``to_bytes``/``from_bytes`` for a
store), versioned by ``format`` like ``detectors.profile.ColumnProfile``.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from detectors._kinds import PerformanceTask
from detectors.performance._noise import Spread, bootstrap_spread, counts_spread, sizes_for
from detectors.performance._rows import (
    Label,
    LabelledRows,
    as_series,
    prepare_classification,
    prepare_regression,
    resolve_labels,
)
from detectors.performance.cbpe import Calibration, estimated_metrics, fit_calibration
from detectors.performance.metrics import metric_values
from detectors.performance.registry import METRICS, check_metrics, check_task

PERFORMANCE_FORMAT: Final = 1
"""Version of the ``to_dict`` layout; another one raises ValueError on load."""

DEFAULT_RESAMPLES: Final = 200
"""Bootstrap resamples per size for the metrics that are not confusion-matrix metrics."""


@dataclass(frozen=True, kw_only=True, eq=False)
class PerformanceProfile:
    """What a window's metrics are compared with.

    ``column`` is the label column (the results' ``column``); ``labels``
    the reference's sorted labels (classification; two or fewer are
    binary, with ``positive_label``); ``n`` the reference rows used (with a
    label, a prediction and, when scores were given, a score). ``reference``
    holds each of ``metrics`` on those rows and ``spread`` how it varies
    over windows of each of ``sizes`` rows (``detectors.performance._noise``).
    With scores and binary labels, ``calibration`` maps scores to
    probabilities and ``estimated``/``estimated_spread`` are the same for the
    CBPE estimates (``detectors.performance.cbpe``) of the estimable metrics.
    """

    column: str
    task: PerformanceTask
    metrics: tuple[str, ...]
    labels: tuple[Label, ...]
    positive_label: Label | None
    n: int
    sizes: tuple[int, ...]
    reference: Mapping[str, float]
    spread: Mapping[str, Spread]
    calibration: Calibration | None = None
    estimated: Mapping[str, float] = field(default_factory=dict)
    estimated_spread: Mapping[str, Spread] = field(default_factory=dict)

    @property
    def binary(self) -> bool:
        return self.task == "classification" and len(self.labels) <= 2

    @property
    def has_scores(self) -> bool:
        return any(METRICS[name].needs_scores for name in self.metrics)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PerformanceProfile):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe data; floats survive ``json.dumps``/``loads`` exactly."""
        return {
            "format": PERFORMANCE_FORMAT,
            "column": self.column,
            "task": self.task,
            "metrics": list(self.metrics),
            "labels": list(self.labels),
            "positive_label": self.positive_label,
            "n": self.n,
            "sizes": list(self.sizes),
            "reference": dict(self.reference),
            "spread": {name: spread.to_dict() for name, spread in self.spread.items()},
            "calibration": None if self.calibration is None else self.calibration.to_dict(),
            "estimated": dict(self.estimated),
            "estimated_spread": {
                name: spread.to_dict() for name, spread in self.estimated_spread.items()
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PerformanceProfile:
        """Rebuild a profile from ``to_dict`` output; another layout raises ValueError."""
        if not isinstance(data, Mapping) or data.get("format") != PERFORMANCE_FORMAT:
            found = data.get("format") if isinstance(data, Mapping) else type(data).__name__
            raise ValueError(
                f"unsupported performance profile format {found!r}; expected {PERFORMANCE_FORMAT}"
            )
        expected = set(_EMPTY.to_dict())
        if set(data) != expected:
            raise ValueError(
                "performance profile keys differ from the expected ones: "
                f"missing {sorted(expected - set(data))}, unexpected {sorted(set(data) - expected)}"
            )
        calibration = data["calibration"]
        return cls(
            column=str(data["column"]),
            task=check_task(data["task"]),
            metrics=tuple(data["metrics"]),
            labels=tuple(data["labels"]),
            positive_label=data["positive_label"],
            n=int(data["n"]),
            sizes=tuple(int(size) for size in data["sizes"]),
            reference={str(k): float(v) for k, v in data["reference"].items()},
            spread={str(k): Spread.from_dict(v) for k, v in data["spread"].items()},
            calibration=None if calibration is None else Calibration.from_dict(calibration),
            estimated={str(k): float(v) for k, v in data["estimated"].items()},
            estimated_spread={
                str(k): Spread.from_dict(v) for k, v in data["estimated_spread"].items()
            },
        )

    def to_bytes(self) -> bytes:
        return zlib.compress(json.dumps(self.to_dict(), allow_nan=False).encode())

    @classmethod
    def from_bytes(cls, data: bytes) -> PerformanceProfile:
        return cls.from_dict(json.loads(zlib.decompress(data)))


_EMPTY: Final = PerformanceProfile(
    column="",
    task="regression",
    metrics=(),
    labels=(),
    positive_label=None,
    n=0,
    sizes=(),
    reference={},
    spread={},
)


def fit_performance(
    y_true: Any,
    y_pred: Any,
    scores: Any = None,
    *,
    task: PerformanceTask,
    metrics: Sequence[str] | None = None,
    positive_label: Label | None = None,
    column: str | None = None,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> PerformanceProfile:
    """Fit a performance profile on a labelled reference.

    ``metrics`` defaults to the task's (``registry.default_metrics``; score
    metrics need ``scores``, the positive class's score or probability).
    ``column`` names the label column in results (default: ``y_true.name``).
    The positive label is ``positive_label``, else 1/True when the labels
    are 0/1 or booleans, else the larger label. The spread is measured with
    ``seed``, so refitting gives the same profile.

    A reference that cannot give every metric (no rows, one class with a
    score metric, text in a regression target) raises ValueError: a
    reference is chosen deliberately, and a bad one is a configuration error.

    >>> rng = np.random.default_rng(0)
    >>> truth = rng.random(2_000) < 0.3
    >>> profile = fit_performance(truth, truth ^ (rng.random(2_000) < 0.1),
    ...     task="classification", metrics=["accuracy"], column="churned")
    >>> profile.positive_label, profile.n, profile.sizes, round(profile.reference["accuracy"], 4)
    (True, 2000, (200, 1000), 0.8975)
    """
    task = check_task(task)
    if n_resamples < 2:
        raise ValueError(f"n_resamples must be at least 2, got {n_resamples}")
    truth, predicted = as_series(y_true, "y_true"), as_series(y_pred, "y_pred")
    given_scores = None if scores is None else as_series(scores, "scores")
    name = column if column is not None else truth.name
    if name is None:
        raise ValueError("column: name the label column, or pass y_true as a named Series")
    labels: tuple[Label, ...] = ()
    positive: Label | None = None
    if task == "classification":
        labels, positive = resolve_labels(truth, predicted, positive_label)
        window = prepare_classification(
            truth, predicted, given_scores, labels=labels, positive=positive
        )
    else:
        if given_scores is not None:
            raise ValueError("scores: regression takes no scores")
        if positive_label is not None:
            raise ValueError("positive_label: regression has no positive label")
        window = prepare_regression(truth, predicted)
    binary = task == "classification" and len(labels) <= 2
    if given_scores is not None and not binary:
        raise ValueError("scores: score metrics are for binary labels; y_true has more")
    names = check_metrics(metrics, task, scores=given_scores is not None, binary=binary)
    if window.rows is None:
        raise ValueError(f"reference: {window.reason}")
    rows = window.rows
    reference = {}
    for metric, value in metric_values(names, rows).items():
        if isinstance(value, tuple):
            raise ValueError(f"reference: {value[1]}")
        reference[metric] = value
    sizes = sizes_for(rows.n)
    rng = np.random.default_rng(seed)
    spread = _spread(rows, names, sizes, n_resamples, rng)
    profile = PerformanceProfile(
        column=str(name),
        task=task,
        metrics=names,
        labels=labels,
        positive_label=positive,
        n=rows.n,
        sizes=sizes,
        reference=reference,
        spread=spread,
    )
    if rows.scores is None or not binary:
        return profile
    return _with_estimation(profile, rows, rows.scores, n_resamples, rng)


def _spread(
    rows: LabelledRows,
    names: Sequence[str],
    sizes: Sequence[int],
    n_resamples: int,
    rng: np.random.Generator,
) -> dict[str, Spread]:
    counted = [name for name in names if METRICS[name].reads == "labels"]
    resampled = [name for name in names if name not in counted]
    spread: dict[str, Spread] = {}
    if counted:
        width = max(rows.n_labels, int(rows.truth.max()) + 1, int(rows.predicted.max()) + 1)
        cells = np.bincount(rows.truth * width + rows.predicted, minlength=width * width)
        spread |= counts_spread(
            cells.reshape(width, width),
            counted,
            sizes=sizes,
            positive=rows.positive,
            binary=rows.binary,
            rng=rng,
        )
    if resampled:

        def evaluate(index: npt.NDArray[np.intp]) -> dict[str, float | None]:
            values = metric_values(resampled, rows.take(index))
            return {name: None if isinstance(v, tuple) else v for name, v in values.items()}

        spread |= bootstrap_spread(
            rows.n, evaluate, resampled, sizes=sizes, n_resamples=n_resamples, rng=rng
        )
    return {name: spread[name] for name in names}


def _with_estimation(
    profile: PerformanceProfile,
    rows: LabelledRows,
    scores: npt.NDArray[np.float64],
    n_resamples: int,
    rng: np.random.Generator,
) -> PerformanceProfile:
    names = [name for name in profile.metrics if METRICS[name].estimable]
    if not names:
        return profile
    calibration = fit_calibration(scores, rows.truth_positive())
    probabilities = calibration.calibrated(scores)
    predicted = rows.predicted_positive()
    estimated = estimated_metrics(probabilities, predicted, names)
    if any(value is None for value in estimated.values()):
        raise ValueError("reference: the calibrated scores expect one class only")

    def evaluate(index: npt.NDArray[np.intp]) -> dict[str, float | None]:
        return estimated_metrics(probabilities[index], predicted[index], names)

    spread = bootstrap_spread(
        rows.n, evaluate, names, sizes=profile.sizes, n_resamples=n_resamples, rng=rng
    )
    return replace(
        profile,
        calibration=calibration,
        estimated={name: float(value) for name, value in estimated.items() if value is not None},
        estimated_spread=spread,
    )
