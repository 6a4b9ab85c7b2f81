from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from scipy import stats

from monitor.config import parse_settings
from monitor.settings_base import ConfigError
from monitor.sources import DemoSource, DemoSourceSettings, Window
from monitor.sources.demo import CATEGORICAL_COLUMNS, COLUMNS, DRIFTABLE_COLUMNS

T0 = datetime(2024, 1, 1, tzinfo=UTC)
# T0 is a multiple of the default 2-minute cycle, so its phase is 0.
CALM = Window(T0 - timedelta(seconds=30), T0 + timedelta(seconds=30))
SHIFTED = Window(T0 + timedelta(seconds=60), T0 + timedelta(seconds=90))


def _source(**settings: object) -> DemoSource:
    return DemoSource(DemoSourceSettings.model_validate({"type": "demo", **settings}))


def _differ_p_value(column: str, left: pd.DataFrame, right: pd.DataFrame) -> float:
    if column in CATEGORICAL_COLUMNS:
        table = pd.crosstab(
            pd.concat([left[column], right[column]], ignore_index=True),
            [0] * len(left) + [1] * len(right),
        )
        return float(stats.chi2_contingency(table).pvalue)
    return float(stats.ks_2samp(left[column], right[column]).pvalue)


def test_same_window_gives_the_same_frame() -> None:
    source = _source()
    frame = source.sample(CALM, 5000, seed=3)
    assert frame.equals(source.sample(CALM, 5000, seed=3))
    assert list(frame.columns) == list(COLUMNS)
    assert not frame.equals(source.sample(CALM, 5000, seed=4))
    assert not frame.equals(_source(seed=1).sample(CALM, 5000, seed=3))
    later = Window(CALM.start + timedelta(seconds=1), CALM.end + timedelta(seconds=1))
    assert not frame.equals(source.sample(later, 5000, seed=3))


@pytest.mark.parametrize(
    ("phase_seconds", "shifted"),
    [(0, False), (59.999999, False), (60, True), (90, True), (119.999999, True), (120, False)],
)
def test_shifted_is_decided_by_the_phase_of_the_window_end(
    phase_seconds: float, shifted: bool
) -> None:
    end = T0 + timedelta(seconds=phase_seconds)
    window = Window(end - timedelta(minutes=5), end)
    assert _source().is_shifted(window) is shifted


def test_a_reference_is_never_shifted_and_is_repeatable() -> None:
    source = _source()
    assert source.is_shifted(None) is False
    reference = source.sample(None, 100_000, seed=0)
    assert len(reference) == 2000
    assert reference.equals(source.sample(None, 100_000, seed=0))
    calm = source.sample(CALM, 100_000, seed=0)
    for column in DRIFTABLE_COLUMNS:
        assert _differ_p_value(column, reference, calm) > 0.001, column


@pytest.mark.parametrize(
    "drift_columns", [("income", "device"), ("age", "credit_score", "tenure_months", "region")]
)
def test_only_the_drift_columns_shift(drift_columns: tuple[str, ...]) -> None:
    source = _source(rows_per_window=5000, drift_columns=drift_columns)
    calm = source.sample(CALM, 5000, seed=0)
    shifted = source.sample(SHIFTED, 5000, seed=0)
    for column in DRIFTABLE_COLUMNS:
        p_value = _differ_p_value(column, calm, shifted)
        if column in drift_columns:
            assert p_value < 1e-6, column
        else:
            assert p_value > 0.001, column


def test_numeric_drift_moves_the_mean_by_about_one_standard_deviation() -> None:
    source = _source(rows_per_window=20_000, drift_columns=("age", "income", "tenure_months"))
    calm = source.sample(CALM, 20_000, seed=0)
    shifted = source.sample(SHIFTED, 20_000, seed=0)
    for column in ("age", "income", "tenure_months"):
        moved = (shifted[column].mean() - calm[column].mean()) / calm[column].std()
        assert 0.8 < moved < 1.2, (column, moved)


def test_accuracy_drops_about_fifteen_points_when_shifted() -> None:
    source = _source(rows_per_window=20_000, drift_columns=())
    calm = source.sample(CALM, 20_000, seed=0)
    shifted = source.sample(SHIFTED, 20_000, seed=0)
    calm_accuracy = (calm["prediction"] == calm["label"]).mean()
    shifted_accuracy = (shifted["prediction"] == shifted["label"]).mean()
    assert calm_accuracy == pytest.approx(0.90, abs=0.01)
    assert shifted_accuracy == pytest.approx(0.75, abs=0.01)
    assert 0.1 < calm["prediction"].mean() < 0.3


def test_rows_per_window_and_limit_bound_the_rows() -> None:
    source = _source(rows_per_window=300)
    assert len(source.sample(CALM, 1000, seed=0)) == 300
    assert len(source.sample(CALM, 40, seed=0)) == 40
    empty = source.sample(CALM, 0, seed=0)
    assert empty.empty
    assert list(empty.columns) == list(COLUMNS)


def test_timestamps_are_sorted_utc_inside_the_window() -> None:
    frame = _source().sample(CALM, 2000, seed=0)
    timestamps = frame["timestamp"]
    assert str(timestamps.dt.tz) == "UTC"
    assert timestamps.is_monotonic_increasing
    assert timestamps.min() >= pd.Timestamp(CALM.start)
    assert timestamps.max() < pd.Timestamp(CALM.end)
    assert frame.index.tolist() == list(range(2000))


def test_an_empty_window_has_no_rows() -> None:
    assert _source().sample(Window(T0, T0), 100, seed=0).empty


def test_unknown_drift_column_is_a_config_error() -> None:
    with pytest.raises(
        ConfigError, match=r"monitors\[0\].source.drift_columns\[0\]: Input should be 'age'"
    ):
        parse_settings(
            {
                "monitors": [
                    {
                        "name": "m",
                        "schedule": "every 1m",
                        "source": {"type": "demo", "drift_columns": ["salary"]},
                        "reference": {"type": "file", "path": "x.parquet"},
                        "columns": [{"name": "age", "kind": "numeric"}],
                    }
                ]
            }
        )
