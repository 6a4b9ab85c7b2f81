"""Performance metrics equal scikit-learn's; bad input is a ValueError naming the argument.

Equality is to 1e-12 (absolute) on seeded data: the values come from the
same scikit-learn functions, so only the label encoding could differ.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as sk

import detectors
from detectors.performance import (
    METRICS,
    UnknownMetricError,
    default_metrics,
    estimated_method,
    fit_performance,
    get_metric,
    parse_method,
    performance_metrics,
)
from detectors.performance._noise import _counts_metric

TOLERANCE = 1e-12


def binary_case(seed: int, n: int = 3_000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    scores = rng.random(n)
    truth = (rng.random(n) < scores).astype(np.int64)
    return truth, (scores >= 0.5).astype(np.int64), scores


def test_binary_metrics_equal_scikit_learn() -> None:
    truth, predicted, scores = binary_case(1)
    values = performance_metrics(
        truth,
        predicted,
        scores,
        task="classification",
        metrics=[*default_metrics("classification", scores=True), "log_loss"],
    )
    expected = {
        "accuracy": sk.accuracy_score(truth, predicted),
        "precision": sk.precision_score(truth, predicted),
        "recall": sk.recall_score(truth, predicted),
        "f1": sk.f1_score(truth, predicted),
        "roc_auc": sk.roc_auc_score(truth, scores),
        "average_precision": sk.average_precision_score(truth, scores),
        "log_loss": sk.log_loss(truth, scores),
    }
    assert values.keys() == expected.keys()
    for name, value in expected.items():
        assert values[name] == pytest.approx(value, abs=TOLERANCE), name


@pytest.mark.parametrize(
    ("labels", "positive"), [(["no", "yes"], "yes"), ([False, True], True), ([3, 7], 7)]
)
def test_positive_label_is_true_or_one_else_the_larger(
    labels: list[object], positive: object
) -> None:
    truth01, predicted01, _ = binary_case(2, n=500)
    as_labels = np.array(labels, dtype=object)
    truth, predicted = as_labels[truth01], as_labels[predicted01]
    values = performance_metrics(truth, predicted, task="classification")
    assert values["f1"] == pytest.approx(
        sk.f1_score(truth.tolist(), predicted.tolist(), pos_label=positive), abs=TOLERANCE
    )
    assert fit_performance(truth, predicted, task="classification", column="y").positive_label == (
        positive
    )


def test_positive_label_is_configurable() -> None:
    truth, predicted, scores = binary_case(3, n=500)
    values = performance_metrics(
        truth, predicted, 1 - scores, task="classification", positive_label=0
    )
    assert values["recall"] == pytest.approx(
        sk.recall_score(truth, predicted, pos_label=0), abs=TOLERANCE
    )
    assert values["roc_auc"] == pytest.approx(
        sk.roc_auc_score(truth == 0, 1 - scores), abs=TOLERANCE
    )


def test_multiclass_uses_macro_averages() -> None:
    rng = np.random.default_rng(4)
    truth = rng.choice(["a", "b", "c", "d"], 2_000, p=[0.4, 0.3, 0.2, 0.1])
    predicted = np.where(rng.random(2_000) < 0.7, truth, rng.choice(["a", "b", "c", "d"], 2_000))
    values = performance_metrics(truth, predicted, task="classification")
    assert set(values) == {"accuracy", "precision", "recall", "f1"}
    assert values["accuracy"] == pytest.approx(sk.accuracy_score(truth, predicted), abs=TOLERANCE)
    for name, function in (
        ("precision", sk.precision_score),
        ("recall", sk.recall_score),
        ("f1", sk.f1_score),
    ):
        assert values[name] == pytest.approx(
            function(truth, predicted, average="macro"), abs=TOLERANCE
        ), name


def test_regression_metrics_equal_scikit_learn() -> None:
    rng = np.random.default_rng(5)
    truth = rng.gamma(2.0, 10.0, 4_000) + 1
    predicted = truth + rng.normal(0, 3, 4_000)
    values = performance_metrics(truth, predicted, task="regression")
    expected = {
        "mae": sk.mean_absolute_error(truth, predicted),
        "rmse": math.sqrt(sk.mean_squared_error(truth, predicted)),
        "mape": sk.mean_absolute_percentage_error(truth, predicted),
        "r2": sk.r2_score(truth, predicted),
    }
    assert values == pytest.approx(expected, abs=TOLERANCE)


def test_rows_with_a_missing_value_are_dropped() -> None:
    values = performance_metrics(
        pd.Series([1.0, None, 3.0, 4.0]),
        pd.Series([2.0, 2.0, np.nan, 4.0]),
        task="regression",
        metrics=["mae", "rmse"],
    )
    assert values == pytest.approx({"mae": 0.5, "rmse": math.sqrt(0.5)})


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=1, max_size=60),
    st.booleans(),
)
def test_labels_metrics_equal_scikit_learn_on_any_rows(
    pairs: list[tuple[int, int]], binary: bool
) -> None:
    truth = np.array([t % 2 if binary else t for t, _ in pairs])
    predicted = np.array([p % 2 if binary else p for _, p in pairs])
    values = performance_metrics(truth, predicted, task="classification")
    labels = sorted(set(truth) | set(predicted))
    positive = 1 if set(labels) <= {0, 1} else labels[-1]  # the documented rule
    options: dict[str, object] = (
        {"pos_label": positive} if len(labels) <= 2 else {"average": "macro", "labels": labels}
    )
    assert values["accuracy"] == pytest.approx(sk.accuracy_score(truth, predicted), abs=TOLERANCE)
    for name, function in (
        ("precision", sk.precision_score),
        ("recall", sk.recall_score),
        ("f1", sk.f1_score),
    ):
        expected = function(truth, predicted, zero_division=1.0, **options)
        assert values[name] == pytest.approx(expected, abs=TOLERANCE), name


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2)), min_size=1, max_size=60),
    st.sampled_from(["binary", "multiclass"]),
)
def test_noise_model_formulas_equal_scikit_learn(pairs: list[tuple[int, int]], kind: str) -> None:
    """The vectorised confusion-matrix metrics of the noise model are scikit-learn's."""
    width = 2 if kind == "binary" else 3
    truth = np.array([t % width for t, _ in pairs])
    predicted = np.array([p % width for _, p in pairs])
    cells = np.zeros((1, width, width))
    np.add.at(cells[0], (truth, predicted), 1)
    options: dict[str, object] = (
        {"pos_label": 1} if kind == "binary" else {"average": "macro", "labels": [0, 1, 2]}
    )
    for name, function in (
        ("precision", sk.precision_score),
        ("recall", sk.recall_score),
        ("f1", sk.f1_score),
    ):
        value = _counts_metric(name, cells, 1, kind == "binary")[0]
        assert value == pytest.approx(
            function(truth, predicted, zero_division=1.0, **options), abs=TOLERANCE
        ), name
    assert _counts_metric("accuracy", cells, 1, kind == "binary")[0] == pytest.approx(
        sk.accuracy_score(truth, predicted), abs=TOLERANCE
    )


def test_metric_input_errors_name_the_argument() -> None:
    with pytest.raises(ValueError, match="y_pred has 1 rows but y_true has 2"):
        performance_metrics([1, 0], [1], task="classification")
    with pytest.raises(ValueError, match="no row has both a label and a prediction"):
        performance_metrics(pd.Series([None]), pd.Series([1]), task="classification")
    with pytest.raises(ValueError, match="^task: unknown task 'ranking'"):
        performance_metrics([1], [1], task="ranking")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="^metrics: 'roc_auc' needs scores"):
        performance_metrics([1, 0], [1, 0], task="classification", metrics=["roc_auc"])
    with pytest.raises(ValueError, match="^metrics: 'mae' is a regression metric"):
        performance_metrics([1, 0], [1, 0], task="classification", metrics=["mae"])
    with pytest.raises(ValueError, match="^scores: score metrics are for binary labels"):
        performance_metrics([0, 1, 2], [0, 1, 2], [0.1, 0.2, 0.3], task="classification")
    with pytest.raises(ValueError, match="^scores: regression takes no scores"):
        performance_metrics([1.0], [1.0], [0.5], task="regression")
    with pytest.raises(ValueError, match="y_true has 1 values that are not finite numbers"):
        performance_metrics(["a", 2.0], [1.0, 2.0], task="regression")
    with pytest.raises(ValueError, match="^positive_label: 'maybe' is none of the labels"):
        performance_metrics(
            ["no", "yes"], ["no", "yes"], task="classification", positive_label="maybe"
        )
    with pytest.raises(ValueError, match="y_true holds one class only, so roc_auc is undefined"):
        performance_metrics([1, 1], [1, 0], [0.9, 0.2], task="classification")
    with pytest.raises(ValueError, match="must be one-dimensional"):
        performance_metrics(np.zeros((2, 2)), [1, 0], task="classification")
    with pytest.raises(UnknownMetricError, match="unknown performance metric 'auc'; known"):
        performance_metrics([1, 0], [1, 0], task="classification", metrics=["auc"])


def test_registry_describes_every_metric_once() -> None:
    assert set(METRICS) == {
        "accuracy",
        "precision",
        "recall",
        "f1",
        "roc_auc",
        "average_precision",
        "log_loss",
        "mae",
        "rmse",
        "mape",
        "r2",
    }
    for name, spec in METRICS.items():
        assert spec.name == name
        assert spec.sklearn.startswith("sklearn.metrics."), name
        assert parse_method(name) == (name, False)
        if spec.estimable:
            assert parse_method(estimated_method(name)) == (name, True)
    assert [n for n, s in METRICS.items() if s.estimable] == list(detectors.performance.ESTIMABLE)
    assert default_metrics("regression", scores=False) == ("mae", "rmse", "mape", "r2")
    assert parse_method("estimated_mae") is None
    assert get_metric("roc_auc").needs_scores and not get_metric("accuracy").needs_scores
    assert detectors.PERFORMANCE_METRICS is METRICS
    json.dumps({n: [s.task, s.higher_is_better, s.sklearn, s.bounds] for n, s in METRICS.items()})
