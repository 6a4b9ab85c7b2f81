"""Regression performance through ``run_check``: scikit-learn's MAE and RMSE, two-sided rules.

NannyML's synthetic car-price regressor (``tests.public_data``) gets better
halfway through its analysis period: its MAE falls from about 850 to 700.
A ``direction = "worse"`` monitor says nothing, a ``"both"`` one alerts:
a model that suddenly errs less has met a population it was not built for.
Its targets sit in a label file joined by id, without arrival times (every
label known at once). A seeded synthetic series, labels in its rows, moves
the error up and then down, and the two-sided rule fires on both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as sk
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from monitor.backfill import label_sources
from monitor.config import MonitorSettings, parse_settings
from monitor.metrics import Metrics
from monitor.runner import RunContext, run_check
from monitor.sources import build_source
from monitor.store.models import AlertRow, AlertTransitionRow, PerformanceRow
from tests.public_data import REGRESSION, nannyml_files
from tests.support import Clock

SLOT_ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)


def run_slots(engine: Engine, monitor: MonitorSettings, slots: list[datetime]) -> list[int]:
    """Each slot through ``run_check`` with the clock at the slot; the run ids."""
    clock = Clock(slots[0])
    source = build_source(monitor.source)
    labels = label_sources([monitor])
    ctx = RunContext(
        engine=engine,
        metrics=Metrics(),
        sources={monitor.name: source},
        labels=labels,
        worker_id="regression",
        base_url="http://127.0.0.1:8470",
        clock=clock,
    )
    runs = []
    for slot in slots:
        clock.now = slot
        outcome = run_check(ctx, monitor, slot, "schedule")
        assert outcome is not None and outcome.status == "succeeded", outcome
        runs.append(outcome.run_id)
    source.close()
    for label_source in labels.values():
        label_source.close()
    return runs


def stored(engine: Engine, run_id: int) -> dict[str, PerformanceRow]:
    with Session(engine) as session:
        rows = session.scalars(
            select(PerformanceRow).where(
                PerformanceRow.window_run_id == run_id, PerformanceRow.latest.is_(True)
            )
        ).all()
        session.expunge_all()
    return {row.method: row for row in rows}


def firing_runs(engine: Engine, monitor: str) -> list[int]:
    """Runs on which a rule of ``monitor`` started firing (its alert's transitions)."""
    with Session(engine) as session:
        return list(
            session.scalars(
                select(AlertTransitionRow.run_id)
                .join(AlertRow, AlertRow.id == AlertTransitionRow.alert_id)
                .where(AlertRow.rule == f"{monitor}-error", AlertTransitionRow.to_state == "firing")
                .order_by(AlertTransitionRow.id)
            )
        )


@dataclass(frozen=True)
class CarPrices:
    reference: Path
    predictions: Path
    targets: Path
    rows: pd.DataFrame
    """Analysis rows with their target, timestamps parsed."""


@pytest.fixture(scope="module")
def car_prices() -> CarPrices:
    files = nannyml_files(REGRESSION)
    reference, analysis, targets = (files[name] for name in REGRESSION)
    rows = pd.read_csv(analysis).merge(pd.read_csv(targets), on="id", validate="one_to_one")
    rows["timestamp"] = pd.to_datetime(rows["timestamp"], utc=True)
    return CarPrices(reference, analysis, targets, rows)


def price_monitor(prices: CarPrices, name: str, direction: str) -> dict[str, Any]:
    return {
        "name": name,
        "schedule": "every 2d",
        "window": "2d",
        "source": {
            "type": "file",
            "path": str(prices.predictions),
            "timestamp_column": "timestamp",
        },
        "reference": {"type": "file", "path": str(prices.reference)},
        "columns": [{"name": "car_age", "kind": "numeric"}],
        "performance": {
            "task": "regression",
            "prediction": "y_pred",
            "id_column": "id",
            # MAPE rises as MAE falls (the cheap cars' relative error grows): the claim is
            # about the error in the target's units.
            "metrics": ["mae", "rmse"],
            "direction": direction,
            "labels": {
                "type": "file",
                "path": str(prices.targets),
                "id_column": "id",
                "label_column": "y_true",
            },
        },
        "rules": [{"name": f"{name}-error", "type": "performance"}],
    }


def test_car_prices_mae_rmse_and_the_two_sided_rule(car_prices: CarPrices, engine: Engine) -> None:
    settings = parse_settings(
        {
            "monitors": [
                price_monitor(car_prices, "prices-both", "both"),
                price_monitor(car_prices, "prices-worse", "worse"),
            ]
        }
    )
    stamps = car_prices.rows["timestamp"]
    first = stamps.min().to_pydatetime()
    period = timedelta(days=2)
    slot = SLOT_ORIGIN + ((first - SLOT_ORIGIN) // period + 2) * period
    slots = []
    while slot <= stamps.max().to_pydatetime():
        slots.append(slot)
        slot += period
    both, worse = (run_slots(engine, monitor, slots) for monitor in settings.monitors)

    fell = []
    for run_id, end in zip(both, slots, strict=True):
        rows = car_prices.rows[(stamps >= end - period) & (stamps < end)]
        metrics = stored(engine, run_id)
        mae = sk.mean_absolute_error(rows["y_true"], rows["y_pred"])
        rmse = float(np.sqrt(sk.mean_squared_error(rows["y_true"], rows["y_pred"])))
        assert metrics["mae"].statistic == pytest.approx(mae, rel=1e-12)
        assert metrics["rmse"].statistic == pytest.approx(rmse, rel=1e-12)
        assert metrics["mae"].coverage == 1.0 and metrics["mae"].n_current == len(rows)
        fell.append(metrics["mae"].degraded)
        assert metrics["mae"].details["direction"] == "both"
    # The error falls from the 2017-03-01 window on (MAE about 700 against 846).
    onset = slots.index(datetime(2017, 3, 2, tzinfo=UTC))
    assert fell[onset:] == [True] * (len(slots) - onset) and not any(fell[: onset - 1])
    assert firing_runs(engine, "prices-both") == [both[onset - 1]] or firing_runs(
        engine, "prices-both"
    ) == [both[onset]]
    assert firing_runs(engine, "prices-worse") == []
    assert not any(stored(engine, run_id)["mae"].degraded for run_id in worse)


def synthetic_rows(start: datetime, windows: list[float], rows: int, seed: int) -> pd.DataFrame:
    """Hourly windows of ``rows`` rows whose prediction error is scaled by each factor."""
    rng = np.random.default_rng(seed)
    frames = []
    for index, factor in enumerate(windows):
        truth = rng.normal(100, 20, rows)
        stamps = start + timedelta(hours=index) + pd.to_timedelta(np.arange(rows) * 3, unit="s")
        frames.append(
            pd.DataFrame(
                {
                    "timestamp": stamps,
                    "x": rng.normal(0, 1, rows),
                    "target": truth,
                    "estimate": truth + factor * rng.normal(0, 10, rows),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def test_a_two_sided_rule_fires_when_the_error_moves_either_way(
    engine: Engine, tmp_path: Path
) -> None:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    reference = tmp_path / "reference.parquet"
    synthetic_rows(start - timedelta(days=30), [1.0] * 10, 1000, seed=1).to_parquet(reference)
    factors = [1.0, 1.0, 1.4, 1.4, 1.0, 1.0, 1.0, 0.6, 0.6, 1.0, 1.0, 1.0]
    current = tmp_path / "current.parquet"
    synthetic_rows(start, factors, 1000, seed=2).to_parquet(current)
    settings = parse_settings(
        {
            "monitors": [
                {
                    "name": "synthetic",
                    "schedule": "every 1h",
                    "source": {
                        "type": "file",
                        "path": str(current),
                        "timestamp_column": "timestamp",
                    },
                    "reference": {"type": "file", "path": str(reference)},
                    "columns": [{"name": "x", "kind": "numeric"}],
                    "performance": {
                        "task": "regression",
                        "prediction": "estimate",
                        "label": "target",
                        "metrics": ["mae", "rmse"],
                        "direction": "both",
                    },
                    "rules": [{"name": "synthetic-error", "type": "performance", "metric": "mae"}],
                }
            ]
        }
    )
    slots = [start + timedelta(hours=index + 1) for index in range(len(factors))]
    runs = run_slots(engine, settings.monitors[0], slots)
    moved = [stored(engine, run_id)["mae"] for run_id in runs]
    assert [row.degraded for row in moved] == [factor != 1.0 for factor in factors]
    rose, fell = moved[2], moved[7]
    assert rose.statistic is not None and rose.threshold is not None
    assert rose.statistic > rose.threshold > rose.details["reference_value"]
    assert fell.statistic is not None and fell.threshold is not None
    assert fell.statistic < fell.threshold < fell.details["reference_value"]
    assert rose.coverage == 1.0 and rose.final
    # Firing on each move, resolved after two clear runs in between.
    assert firing_runs(engine, "synthetic") == [runs[2], runs[7]]
