"""Performance metrics and their comparison with reference values, on hand-computed cases."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

import detectors


def metrics(y_true: list[object], y_pred: list[object], task: str) -> dict[str, float]:
    return detectors.performance_metrics(pd.Series(y_true), pd.Series(y_pred), task)  # type: ignore[arg-type]


def test_binary_classification() -> None:
    # tp=2, fp=1, fn=1 -> F1 = 2*2 / (2*2 + 1 + 1)
    result = metrics([1, 0, 1, 1, 0], [1, 1, 1, 0, 0], "classification")
    assert result == pytest.approx({"accuracy": 0.6, "f1": 4 / 6})


def test_binary_positive_label_is_true_or_the_larger_label() -> None:
    booleans = metrics([True, False, False], [True, True, False], "classification")
    assert booleans["f1"] == pytest.approx(2 / 3)  # tp=1, fp=1, fn=0
    words = metrics(["yes", "no", "no", "yes"], ["no", "no", "no", "yes"], "classification")
    assert words == pytest.approx({"accuracy": 0.75, "f1": 2 / 3})  # positive "yes": tp=1, fn=1


def test_binary_without_any_positive_has_f1_one() -> None:
    assert metrics([0, 0], [0, 0], "classification") == {"accuracy": 1.0, "f1": 1.0}


def test_multiclass_macro_f1() -> None:
    # class 0: F1 1; class 1: tp 0 -> 0; class 2: tp 1, 2 true, 2 predicted -> 0.5
    result = metrics([0, 1, 2, 2], [0, 2, 2, 1], "classification")
    assert result == pytest.approx({"accuracy": 0.5, "f1": 0.5})


def test_regression() -> None:
    result = metrics([1.0, 2.0, 3.0], [2.0, 2.0, 5.0], "regression")
    assert result == pytest.approx({"mae": 1.0, "rmse": math.sqrt(5 / 3)})


def test_rows_with_a_missing_value_are_dropped() -> None:
    result = metrics([1.0, None, 3.0, 4.0], [2.0, 2.0, np.nan, 4.0], "regression")
    assert result == pytest.approx({"mae": 0.5, "rmse": math.sqrt(0.5)})


def test_metric_input_errors() -> None:
    with pytest.raises(ValueError, match="same length"):
        metrics([1, 0], [1], "classification")
    with pytest.raises(ValueError, match="no rows"):
        metrics([None], [1], "classification")


def test_compare_classification_uses_absolute_drop() -> None:
    results = detectors.compare_performance(
        {"accuracy": 0.9, "f1": 0.7},
        pd.Series([1, 0, 1, 1, 0]),
        pd.Series([1, 1, 1, 0, 0]),
        "classification",
        allowed_drop=0.1,
        column="churned",
    )
    accuracy, f1 = results
    assert (accuracy.method, accuracy.column, accuracy.status) == ("accuracy", "churned", "ok")
    assert accuracy.statistic == pytest.approx(0.6)
    assert accuracy.threshold == pytest.approx(0.8)
    assert accuracy.drifted and accuracy.p_value is None
    assert accuracy.reason == "accuracy 0.6 < limit 0.8"
    assert accuracy.details["reference_value"] == 0.9
    assert f1.statistic == pytest.approx(4 / 6)
    assert not f1.drifted
    assert f1.threshold == pytest.approx(0.6)
    assert accuracy.n_current == 5
    json.dumps([r.to_dict() for r in results], allow_nan=False)


def test_compare_regression_uses_relative_increase() -> None:
    mae, rmse = detectors.compare_performance(
        {"mae": 0.9, "rmse": 1.5},
        pd.Series([1.0, 2.0, 3.0]),
        pd.Series([2.0, 2.0, 5.0]),
        "regression",
        allowed_drop=0.1,
        column="price",
    )
    assert mae.threshold == pytest.approx(0.99)
    assert mae.statistic == pytest.approx(1.0)
    assert mae.drifted
    assert mae.reason == "mae 1 > limit 0.99"
    assert rmse.threshold == pytest.approx(1.65)
    assert not rmse.drifted


@pytest.mark.parametrize(
    ("y_true", "y_pred", "status"),
    [
        ([], [], "empty"),
        ([None, 1.0], [1.0, None], "all_missing"),
        (["a"], [1.0], "invalid_values"),
    ],
)
def test_compare_bad_data_is_a_result(
    y_true: list[object], y_pred: list[object], status: str
) -> None:
    results = detectors.compare_performance(
        {"mae": 1.0, "rmse": 1.0},
        pd.Series(y_true, dtype=object),
        pd.Series(y_pred, dtype=object),
        "regression",
        allowed_drop=0.1,
        column="y",
    )
    assert [(r.status, r.drifted, r.statistic) for r in results] == [(status, False, None)] * 2


def test_compare_argument_errors() -> None:
    y = pd.Series([1, 0])
    with pytest.raises(ValueError, match="lack"):
        detectors.compare_performance(
            {"accuracy": 0.9}, y, y, "classification", allowed_drop=0.1, column="y"
        )
    with pytest.raises(ValueError, match="allowed_drop"):
        detectors.compare_performance(
            {"accuracy": 0.9, "f1": 0.9}, y, y, "classification", allowed_drop=-1, column="y"
        )
