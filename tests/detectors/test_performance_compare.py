"""compare_performance: the noise band, the direction, the allowed_drop floor, statuses, storage."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from detectors import ColumnResult
from detectors.performance import (
    PERFORMANCE_FORMAT,
    PerformanceProfile,
    compare_performance,
    fit_performance,
)


def classified(
    rng: np.random.Generator, n: int, error: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels, predictions wrong with probability ``error``, and scores that rank them."""
    truth = rng.random(n) < 0.4
    predicted = truth ^ (rng.random(n) < error)
    scores = np.clip(np.where(predicted, 0.75, 0.25) + rng.normal(0, 0.2, n), 0, 1)
    return truth, predicted, scores


@pytest.fixture(scope="module")
def accuracy_profile() -> PerformanceProfile:
    """Accuracy 0.944 on 100,000 reference rows (the issue's example)."""
    truth, predicted, _ = classified(np.random.default_rng(10), 100_000, 0.056)
    return fit_performance(
        truth, predicted, task="classification", metrics=["accuracy", "f1"], column="label"
    )


def window(n: int, error: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` rows of which exactly ``round(error * n)`` are predicted wrong."""
    rng = np.random.default_rng(seed)
    truth = rng.random(n) < 0.4
    wrong = np.zeros(n, dtype=bool)
    wrong[rng.choice(n, round(error * n), replace=False)] = True
    return truth, truth ^ wrong


def by_method(results: list[ColumnResult]) -> dict[str, ColumnResult]:
    return {r.method: r for r in results}


def test_a_drop_of_three_points_is_noise_on_200_rows_and_a_drop_on_5000(
    accuracy_profile: PerformanceProfile,
) -> None:
    """The issue's example: accuracy 0.944 -> 0.915 at the run level 1e-4."""
    assert accuracy_profile.reference["accuracy"] == pytest.approx(0.944, abs=0.002)
    large = by_method(compare_performance(accuracy_profile, *window(5_000, 0.085, 1), level=1e-4))
    small = by_method(compare_performance(accuracy_profile, *window(200, 0.085, 2), level=1e-4))
    assert large["accuracy"].statistic == small["accuracy"].statistic == 0.915
    assert large["accuracy"].drifted and not small["accuracy"].drifted
    assert large["accuracy"].reason == (
        f"accuracy {large['accuracy'].statistic:.4g} < {large['accuracy'].threshold:.4g}, the "
        "lower bound of what 5,000 labelled rows of the reference give at level 0.0001"
    )
    assert small["accuracy"].reason.startswith(f"accuracy {small['accuracy'].statistic:.4g} >= ")
    assert small["accuracy"].reason.endswith(
        "the lower bound of what 200 labelled rows of the reference give at level 0.0001"
    )


def test_result_fields_carry_the_band(accuracy_profile: PerformanceProfile) -> None:
    result = by_method(compare_performance(accuracy_profile, *window(5_000, 0.085, 1), level=1e-4))[
        "accuracy"
    ]
    details = result.details
    assert (result.column, result.method, result.status, result.p_value) == (
        "label",
        "accuracy",
        "ok",
        None,
    )
    assert (result.n_current, result.n_reference) == (5_000, 100_000)
    assert details["reference_value"] == accuracy_profile.reference["accuracy"]
    assert details["lower"] < details["reference_value"] < details["upper"] <= 1.0
    assert result.threshold == details["lower"]
    assert result.effect == pytest.approx(details["reference_value"] - result.statistic)
    assert result.effect_floor is None
    assert (details["level"], details["direction"], details["allowed_drop"]) == (
        1e-4,
        "worse",
        None,
    )
    # The band's half-width is about z(1e-4) = 3.72 sd of window - reference.
    assert (details["reference_value"] - details["lower"]) / details["sd"] == pytest.approx(
        3.72, abs=0.15
    )
    json.dumps(result.to_dict(), allow_nan=False)


def test_the_band_narrows_as_one_over_root_n(accuracy_profile: PerformanceProfile) -> None:
    sds = [
        by_method(compare_performance(accuracy_profile, *window(n, 0.056, 3), level=0.01))[
            "accuracy"
        ].details["sd"]
        for n in (1_000, 4_000, 16_000)
    ]
    assert sds[0] / sds[1] == pytest.approx(2.0, rel=0.1)
    assert sds[1] / sds[2] == pytest.approx(2.0, rel=0.1)


def test_allowed_drop_is_a_floor_on_top_of_the_band(accuracy_profile: PerformanceProfile) -> None:
    truth, predicted = window(5_000, 0.085, 1)
    floored = by_method(
        compare_performance(accuracy_profile, truth, predicted, level=1e-4, allowed_drop=0.05)
    )["accuracy"]
    assert not floored.drifted
    assert floored.effect_floor == 0.05
    assert floored.threshold == pytest.approx(accuracy_profile.reference["accuracy"] - 0.05)
    assert floored.reason.endswith(
        f", but the drop {floored.effect:.4g} is within allowed_drop 0.05"
    )
    passed = by_method(
        compare_performance(accuracy_profile, truth, predicted, level=1e-4, allowed_drop=0.01)
    )["accuracy"]
    assert passed.drifted
    assert passed.reason.endswith(f", and the drop {passed.effect:.4g} > allowed_drop 0.01")


def test_worse_ignores_an_improvement_and_both_flags_it(
    accuracy_profile: PerformanceProfile,
) -> None:
    better = window(5_000, 0.02, 4)
    worse_only = by_method(compare_performance(accuracy_profile, *better, level=1e-4))["accuracy"]
    both = by_method(compare_performance(accuracy_profile, *better, level=1e-4, direction="both"))[
        "accuracy"
    ]
    assert not worse_only.drifted
    assert both.drifted
    assert both.threshold == both.details["upper"]
    assert " > " in both.reason and "the upper bound" in both.reason
    quiet = by_method(
        compare_performance(
            accuracy_profile, *window(5_000, 0.056, 5), level=1e-4, direction="both"
        )
    )["accuracy"]
    assert not quiet.drifted
    assert quiet.reason.startswith(f"accuracy {quiet.statistic:.4g} within [")


def regression_rows(
    rng: np.random.Generator, n: int, noise: float
) -> tuple[np.ndarray, np.ndarray]:
    truth = rng.gamma(3.0, 10.0, n) + 5
    return truth, truth + rng.normal(0, noise, n)


@pytest.fixture(scope="module")
def regression_profile() -> PerformanceProfile:
    truth, predicted = regression_rows(np.random.default_rng(20), 50_000, 4.0)
    return fit_performance(
        pd.Series(truth, name="price"), predicted, task="regression", n_resamples=100
    )


def test_regression_two_sided_flags_an_error_that_moves_either_way(
    regression_profile: PerformanceProfile,
) -> None:
    rng = np.random.default_rng(21)
    for noise, expected in ((4.0, False), (5.0, True), (3.0, True)):
        results = by_method(
            compare_performance(
                regression_profile,
                *regression_rows(rng, 5_000, noise),
                level=1e-4,
                direction="both",
            )
        )
        assert results["mae"].drifted is expected, (noise, results["mae"].reason)
        assert results["rmse"].drifted is expected, (noise, results["rmse"].reason)
    worse_only = by_method(
        compare_performance(regression_profile, *regression_rows(rng, 5_000, 3.0), level=1e-4)
    )
    assert not worse_only["mae"].drifted
    assert "the upper bound" in worse_only["mae"].reason


def test_regression_allowed_drop_is_a_share_of_the_reference(
    regression_profile: PerformanceProfile,
) -> None:
    rng = np.random.default_rng(22)
    mae = by_method(
        compare_performance(
            regression_profile, *regression_rows(rng, 5_000, 5.0), level=1e-4, allowed_drop=0.5
        )
    )["mae"]
    reference = regression_profile.reference["mae"]
    assert mae.effect_floor == pytest.approx(0.5 * reference)
    assert not mae.drifted
    assert mae.reason.endswith(
        f"is within allowed_drop {0.5 * reference:.4g} (50% of the reference)"
    )


@pytest.mark.parametrize(
    ("y_true", "y_pred", "status", "n_dropped"),
    [
        ([], [], "empty", 0),
        ([None, 1.0], [1.0, None], "all_missing", 2),
        (["a", 2.0], [1.0, 2.0], "invalid_values", 0),
    ],
)
def test_bad_regression_windows_are_statuses(
    regression_profile: PerformanceProfile,
    y_true: list[object],
    y_pred: list[object],
    status: str,
    n_dropped: int,
) -> None:
    results = compare_performance(
        regression_profile,
        pd.Series(y_true, dtype=object),
        pd.Series(y_pred, dtype=object),
        level=0.01,
    )
    assert [r.method for r in results] == ["mae", "rmse", "mape", "r2"]
    for result in results:
        assert (result.status, result.drifted, result.statistic) == (status, False, None)
        assert result.details["n_dropped_missing"] == n_dropped
        assert result.details["lower"] is None
        json.dumps(result.to_dict(), allow_nan=False)


def test_r2_of_one_row_is_insufficient_data(regression_profile: PerformanceProfile) -> None:
    results = by_method(compare_performance(regression_profile, [10.0], [12.0], level=0.01))
    assert results["mae"].status == "ok"
    assert (results["r2"].status, results["r2"].reason) == (
        "insufficient_data",
        "r2: r2 needs at least 2 rows",
    )


@pytest.fixture(scope="module")
def scored_profile() -> PerformanceProfile:
    truth, predicted, scores = classified(np.random.default_rng(30), 20_000, 0.1)
    return fit_performance(
        truth,
        predicted,
        scores,
        task="classification",
        metrics=["accuracy", "roc_auc", "average_precision", "log_loss"],
        column="label",
        n_resamples=50,
    )


def test_one_class_in_the_window_leaves_ranking_metrics_undefined(
    scored_profile: PerformanceProfile,
) -> None:
    results = by_method(
        compare_performance(
            scored_profile, [True] * 3, [True, False, True], [0.9, 0.2, 0.7], level=0.01
        )
    )
    assert results["accuracy"].status == "ok"
    for name in ("roc_auc", "average_precision", "log_loss"):
        assert results[name].status == ("ok" if name == "log_loss" else "single_class"), name
    assert (
        results["roc_auc"].reason == "roc_auc: y_true holds one class only, so roc_auc is undefined"
    )


def test_scores_outside_zero_one_leave_log_loss_undefined(
    scored_profile: PerformanceProfile,
) -> None:
    results = by_method(
        compare_performance(scored_profile, [True, False], [True, False], [1.5, -0.5], level=0.01)
    )
    assert results["roc_auc"].status == "ok"
    assert results["log_loss"].status == "invalid_values"


def test_non_numeric_scores_are_invalid_values(scored_profile: PerformanceProfile) -> None:
    results = compare_performance(
        scored_profile, [True, False], [True, False], pd.Series(["high", 0.1]), level=0.01
    )
    assert {r.status for r in results} == {"invalid_values"}
    assert results[0].reason == (
        "accuracy: scores has 1 values that are not finite numbers, e.g. ['high']"
    )


def test_unseen_labels_count_as_errors(accuracy_profile: PerformanceProfile) -> None:
    result = by_method(
        compare_performance(
            accuracy_profile,
            pd.Series([True, "other", "new"], dtype=object),
            pd.Series([True, "new", "other"], dtype=object),
            level=0.01,
        )
    )["accuracy"]
    assert result.statistic == pytest.approx(1 / 3)


def test_profile_serialises_and_compares_the_same(scored_profile: PerformanceProfile) -> None:
    data = scored_profile.to_dict()
    assert data["format"] == PERFORMANCE_FORMAT
    reloaded = PerformanceProfile.from_dict(json.loads(json.dumps(data, allow_nan=False)))
    assert reloaded == scored_profile
    assert PerformanceProfile.from_bytes(scored_profile.to_bytes()) == scored_profile
    truth, predicted, scores = classified(np.random.default_rng(31), 1_000, 0.12)
    assert [
        r.to_dict() for r in compare_performance(reloaded, truth, predicted, scores, level=1e-3)
    ] == [
        r.to_dict()
        for r in compare_performance(scored_profile, truth, predicted, scores, level=1e-3)
    ]


def test_refitting_with_the_same_seed_gives_the_same_profile() -> None:
    truth, predicted, scores = classified(np.random.default_rng(32), 3_000, 0.1)
    first, second = (
        fit_performance(truth, predicted, scores, task="classification", column="y", n_resamples=20)
        for _ in range(2)
    )
    assert first == second


def test_other_profile_layouts_are_refused(scored_profile: PerformanceProfile) -> None:
    with pytest.raises(ValueError, match="unsupported performance profile format 0; expected 1"):
        PerformanceProfile.from_dict(scored_profile.to_dict() | {"format": 0})
    with pytest.raises(ValueError, match="unsupported performance profile format None"):
        PerformanceProfile.from_dict({"accuracy": 0.9, "f1": 0.8})
    with pytest.raises(ValueError, match=r"missing \['n'\], unexpected \['rows'\]"):
        data = scored_profile.to_dict()
        data["rows"] = data.pop("n")
        PerformanceProfile.from_dict(data)


def test_argument_errors_name_the_argument(
    accuracy_profile: PerformanceProfile, scored_profile: PerformanceProfile
) -> None:
    truth, predicted = window(10, 0.1, 40)
    with pytest.raises(ValueError, match="^level must be a probability between 0 and 1, got 0"):
        compare_performance(accuracy_profile, truth, predicted, level=0)
    with pytest.raises(ValueError, match="^direction must be 'worse' or 'both', got 'better'"):
        compare_performance(accuracy_profile, truth, predicted, level=0.01, direction="better")
    with pytest.raises(ValueError, match="^allowed_drop must be a non-negative number"):
        compare_performance(accuracy_profile, truth, predicted, level=0.01, allowed_drop=-0.1)
    with pytest.raises(ValueError, match=r"^scores: the profile's \['roc_auc'"):
        compare_performance(scored_profile, truth, predicted, level=0.01)
    with pytest.raises(ValueError, match="^scores: the profile was fitted without scores"):
        compare_performance(accuracy_profile, truth, predicted, np.ones(10), level=0.01)
    with pytest.raises(ValueError, match="y_pred has 9 rows but y_true has 10"):
        compare_performance(accuracy_profile, truth, predicted[:9], level=0.01)


def test_fit_errors_name_the_argument() -> None:
    truth, predicted, scores = classified(np.random.default_rng(41), 100, 0.1)
    with pytest.raises(ValueError, match="^column: name the label column"):
        fit_performance(truth, predicted, task="classification")
    with pytest.raises(ValueError, match="^reference: y_true holds one class only"):
        fit_performance(
            np.ones(5, bool), predicted[:5], scores[:5], task="classification", column="y"
        )
    with pytest.raises(ValueError, match="^reference: no row has both a label and a prediction"):
        fit_performance(pd.Series([None, None], name="y"), [1, 0], task="classification")
    with pytest.raises(ValueError, match="^positive_label: regression has no positive label"):
        fit_performance([1.0], [1.0], task="regression", positive_label=1, column="y")
    with pytest.raises(ValueError, match="^positive_label: the labels are multiclass"):
        fit_performance([0, 1, 2], [0, 1, 2], task="classification", positive_label=1, column="y")
    with pytest.raises(ValueError, match="^n_resamples must be at least 2"):
        fit_performance(truth, predicted, task="classification", column="y", n_resamples=1)
    with pytest.raises(ValueError, match="^y_true: labels must be booleans, numbers or strings"):
        fit_performance(
            [pd.Timestamp(0), pd.Timestamp(1)], [1, 0], task="classification", column="y"
        )


def test_inputs_are_not_mutated(accuracy_profile: PerformanceProfile) -> None:
    truth = pd.Series([True, False, None, True], dtype=object)
    predicted = pd.Series([True, True, False, None], dtype=object)
    before = (truth.copy(), predicted.copy())
    compare_performance(accuracy_profile, truth, predicted, level=0.01)
    pd.testing.assert_series_equal(truth, before[0])
    pd.testing.assert_series_equal(predicted, before[1])
