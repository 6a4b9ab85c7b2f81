"""Confidence-based performance estimation (CBPE): expected metrics from calibrated scores.

Before labels arrive, a binary classifier's scores still say how often it
is right, if they are calibrated probabilities: a row predicted positive
with probability p of being positive is a true positive with probability
p and a false positive with 1 - p. Summing these over a window gives the
expected confusion matrix, and from it accuracy, precision, recall and F1;
the expected ROC curve counts every row as a positive of weight p and a
negative of weight 1 - p at each threshold, and its area is the estimated
ROC AUC (as NannyML's CBPE defines them).

The scores are calibrated on the labelled reference by isotonic regression
(scikit-learn's ``IsotonicRegression``, kept as its thresholds so that it
serialises; ``Calibration.probabilities`` interpolates them exactly as
``IsotonicRegression.predict`` does). The estimates hold when that
calibration holds in the window: the inputs may shift (covariate shift,
within the region the reference covers), but P(label | score) must not
change (no concept drift). Only labels can show that it did.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from sklearn.isotonic import IsotonicRegression

ESTIMABLE: Final = ("accuracy", "precision", "recall", "f1", "roc_auc")
"""The metrics CBPE estimates (``MetricSpec.estimable``)."""


@dataclass(frozen=True, eq=False)
class Calibration:
    """An isotonic map from raw scores to probabilities of the positive label."""

    scores: npt.NDArray[np.float64]
    """Increasing thresholds (``IsotonicRegression.X_thresholds_``)."""
    probabilities: npt.NDArray[np.float64]
    """Their probabilities (``IsotonicRegression.y_thresholds_``)."""

    def calibrated(self, scores: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Probabilities of ``scores``: linear between thresholds, clipped beyond them."""
        result: npt.NDArray[np.float64] = np.interp(scores, self.scores, self.probabilities)
        return result

    def to_dict(self) -> dict[str, list[float]]:
        return {"scores": self.scores.tolist(), "probabilities": self.probabilities.tolist()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Calibration:
        scores = np.asarray(data["scores"], dtype=np.float64)
        probabilities = np.asarray(data["probabilities"], dtype=np.float64)
        if scores.ndim != 1 or scores.shape != probabilities.shape or scores.size == 0:
            raise ValueError(
                "a calibration needs equally long, non-empty 'scores' and 'probabilities'"
            )
        return cls(scores, probabilities)


def fit_calibration(
    scores: npt.NDArray[np.float64], positive: npt.NDArray[np.bool_]
) -> Calibration:
    """Isotonic regression of the label on the score (probabilities in [0, 1]).

    >>> calibration = fit_calibration(np.array([0.1, 0.4, 0.35, 0.8]),
    ...                               np.array([False, False, True, True]))
    >>> calibration.calibrated(np.array([0.0, 0.375, 1.0])).tolist()
    [0.0, 0.5, 1.0]
    """
    model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
    model.fit(scores, positive.astype(np.float64))
    return Calibration(
        np.asarray(model.X_thresholds_, dtype=np.float64),
        np.asarray(model.y_thresholds_, dtype=np.float64),
    )


def estimated_metrics(
    probabilities: npt.NDArray[np.float64],
    predicted_positive: npt.NDArray[np.bool_],
    names: Sequence[str],
) -> dict[str, float | None]:
    """Each of ``names`` (among ``ESTIMABLE``) expected from calibrated probabilities.

    Precision with nothing predicted positive, recall with no positive
    expected, and F1 with neither are 1, as the realized ones
    (``zero_division=1``). ROC AUC is None when every probability is 0 or
    every one is 1 (one class only is expected).

    >>> probabilities = np.array([0.9, 0.8, 0.3, 0.1])
    >>> estimated = estimated_metrics(probabilities, probabilities >= 0.5, ESTIMABLE)
    >>> {name: round(value, 4) for name, value in estimated.items()}
    {'accuracy': 0.825, 'precision': 0.85, 'recall': 0.8095, 'f1': 0.8293, 'roc_auc': 0.8634}
    """
    true_positive = float(probabilities[predicted_positive].sum())
    false_positive = float(predicted_positive.sum()) - true_positive
    positives = float(probabilities.sum())
    false_negative = positives - true_positive
    n = probabilities.size
    true_negative = n - positives - false_positive
    values: dict[str, float | None] = {}
    for name in names:
        if name == "accuracy":
            values[name] = (true_positive + true_negative) / n
        elif name == "precision":
            values[name] = _ratio(true_positive, true_positive + false_positive)
        elif name == "recall":
            values[name] = _ratio(true_positive, positives)
        elif name == "f1":
            values[name] = _ratio(
                2 * true_positive, 2 * true_positive + false_positive + false_negative
            )
        elif name == "roc_auc":
            values[name] = expected_roc_auc(probabilities)
        else:
            raise ValueError(f"CBPE does not estimate {name!r}; it estimates {list(ESTIMABLE)}")
    return values


def expected_roc_auc(probabilities: npt.NDArray[np.float64]) -> float | None:
    """Area under the expected ROC curve, rows as positives of weight p and negatives of 1 - p.

    The thresholds are the distinct probabilities (tied rows move the curve
    together, by a straight segment). It equals scikit-learn's
    ``roc_auc_score`` of the rows doubled, labelled 1 with weight p and 0 with
    weight 1 - p; ranking by the raw score gives the same area, because the
    calibration is monotone and constant where it merges scores.
    """
    descending = np.sort(probabilities)[::-1]
    positive = np.cumsum(descending)
    negative = np.cumsum(1.0 - descending)
    if positive[-1] <= 0 or negative[-1] <= 0:
        return None
    last_of_tie = np.r_[np.flatnonzero(np.diff(descending)), descending.size - 1]
    tpr = np.r_[0.0, positive[last_of_tie] / positive[-1]]
    fpr = np.r_[0.0, negative[last_of_tie] / negative[-1]]
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1])) / 2)


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else 1.0
