"""/metrics series keep their label sets from run to run (what rules and dashboards rely on)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine

from monitor.metrics import Metrics
from monitor.runner import run_check
from monitor.store.queries import ResultView
from tests.monitor.test_runner import QUIET, SHIFTED, context, demo_monitor

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def result(column: str, method: str, **fields: Any) -> ResultView:
    values: dict[str, Any] = {
        "check": "drift",
        "column": column,
        "method": method,
        "statistic": 0.5,
        "p_value": 0.01,
        "p_value_adjusted": 0.02,
        "threshold": 0.05,
        "drifted": False,
        "n_reference": 1000,
        "n_current": 300,
        "status": "ok",
        "reason": "",
        "details": {},
    }
    values.update(fields)
    return ResultView(**values)


def series(metrics: Metrics, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """Every sample of one metric family, keyed by its sorted labels."""
    text = generate_latest(metrics.registry).decode()
    return {
        tuple(sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    }


def column(name: str, windows: str = "1") -> tuple[tuple[str, str], ...]:
    return (("column", name), ("monitor", "m"), ("windows", windows))


def test_a_column_whose_automatic_method_changes_keeps_one_series() -> None:
    metrics = Metrics()
    metrics.show_latest("m", False, T0, [result("device", "fisher", p_value=0.2)])
    metrics.show_latest(
        "m", True, T0 + timedelta(hours=1), [result("device", "chi2", p_value=1e-6, drifted=True)]
    )
    assert series(metrics, "driftwarden_column_p_value") == {column("device"): 1e-6}
    assert series(metrics, "driftwarden_column_drifted") == {column("device"): 1.0}
    assert series(metrics, "driftwarden_column_method_info") == {
        (("column", "device"), ("method", "chi2"), ("monitor", "m"), ("windows", "1")): 1.0
    }


def test_a_series_the_latest_run_lacks_shows_nan_never_an_older_value() -> None:
    metrics = Metrics()
    metrics.show_latest(
        "m",
        True,
        T0,
        [
            result("x", "ks", statistic=0.3, drifted=True),
            result("x", "ks@4", check="sequential", statistic=0.1, details={"pooled_windows": 4}),
            result("c", "psi", statistic=0.4, p_value=None),
        ],
    )
    metrics.show_latest(
        "m",
        False,
        T0 + timedelta(hours=1),
        [
            result("x", "ks", statistic=None, p_value=None, status="all_missing"),
            result("c", "psi", statistic=0.05, p_value=None),
        ],
    )
    statistic = series(metrics, "driftwarden_column_statistic")
    assert statistic.keys() == {column("x"), column("x", "4"), column("c")}
    assert math.isnan(statistic[column("x")]) and math.isnan(statistic[column("x", "4")])
    assert statistic[column("c")] == 0.05
    drifted = series(metrics, "driftwarden_column_drifted")
    assert drifted[column("x")] == 0.0 and math.isnan(drifted[column("x", "4")])
    # A distance never has a p-value series; a test that had one shows NaN when untested.
    p_values = series(metrics, "driftwarden_column_p_value")
    assert p_values.keys() == {column("x"), column("x", "4")}
    assert all(math.isnan(value) for value in p_values.values())
    # The method info says what tested a column in the latest run, and nothing else.
    assert set(series(metrics, "driftwarden_column_method_info")) == {
        (("column", "x"), ("method", "ks"), ("monitor", "m"), ("windows", "1")),
        (("column", "c"), ("method", "psi"), ("monitor", "m"), ("windows", "1")),
    }


def test_declared_monitors_and_receivers_have_their_series_from_the_start() -> None:
    metrics = Metrics()
    metrics.declare_monitor("m", timedelta(minutes=5))
    metrics.declare_receiver("hook")
    assert series(metrics, "driftwarden_runs_total") == {
        (("monitor", "m"), ("outcome", outcome)): 0.0
        for outcome in ("drift", "no_drift", "empty", "failed")
    }
    assert series(metrics, "driftwarden_monitor_schedule_period_seconds") == {
        (("monitor", "m"),): 300.0
    }
    assert series(metrics, "driftwarden_run_duration_seconds_count") == {(("monitor", "m"),): 0.0}
    assert series(metrics, "driftwarden_monitor_run_hung") == {(("monitor", "m"),): 0.0}
    assert series(metrics, "driftwarden_deliveries_total") == {
        (("outcome", outcome), ("receiver", "hook")): 0.0
        for outcome in ("delivered", "retry", "dead")
    }
    assert series(metrics, "driftwarden_delivery_dead_letters_total") == {
        (("receiver", "hook"),): 0.0
    }
    assert series(metrics, "driftwarden_delivery_deferred_total") == {(("receiver", "hook"),): 0.0}


def test_runs_fill_drift_and_performance_gauges_apart(engine: Engine) -> None:
    monitor = demo_monitor()
    metrics = Metrics()
    ctx = context(engine, monitor, metrics)
    run_check(ctx, monitor, QUIET, "schedule")
    run_check(ctx, monitor, SHIFTED, "schedule")

    drifted = series(metrics, "driftwarden_column_drifted")
    labels = {(dict(key)["column"], dict(key)["windows"]) for key in drifted}
    assert {name for name, _ in labels} == {"age", "income", "device", "region"}
    assert drifted[(("column", "income"), ("monitor", "demo"), ("windows", "1"))] == 1.0
    performance = series(metrics, "driftwarden_performance_value")
    assert set(performance) == {
        (("kind", "realized"), ("metric", metric), ("monitor", "demo"))
        for metric in ("accuracy", "precision", "recall", "f1")
    }
    assert all(0.0 < value <= 1.0 for value in performance.values())
    assert set(series(metrics, "driftwarden_performance_degraded")) == set(performance)


def test_an_empty_window_is_its_own_outcome_and_leaves_the_gauges_alone(
    engine: Engine, tmp_path: Path
) -> None:
    rng = np.random.default_rng(11)
    pd.DataFrame({"x": rng.normal(size=500)}).to_parquet(tmp_path / "reference.parquet")
    start = QUIET - timedelta(minutes=30)
    pd.DataFrame(
        {"ts": [start + timedelta(seconds=i) for i in range(300)], "x": rng.normal(3, 1, 300)}
    ).to_parquet(tmp_path / "live.parquet")
    monitor = demo_monitor(
        window="1h",
        performance=None,
        source={"type": "file", "path": str(tmp_path / "live.parquet"), "timestamp_column": "ts"},
        reference={"type": "file", "path": str(tmp_path / "reference.parquet")},
        columns=[{"name": "x", "kind": "numeric"}],
    )
    metrics = Metrics()
    ctx = context(engine, monitor, metrics)
    run_check(ctx, monitor, QUIET, "schedule")
    before = series(metrics, "driftwarden_last_successful_run_timestamp_seconds")
    drifted_before = series(metrics, "driftwarden_column_drifted")
    assert drifted_before == {(("column", "x"), ("monitor", "demo"), ("windows", "1")): 1.0}

    empty = run_check(ctx, monitor, QUIET + timedelta(days=1), "schedule")

    assert empty is not None and empty.status == "empty"
    runs = series(metrics, "driftwarden_runs_total")
    assert runs == {
        (("monitor", "demo"), ("outcome", "drift")): 1.0,
        (("monitor", "demo"), ("outcome", "empty")): 1.0,
    }
    assert series(metrics, "driftwarden_last_successful_run_timestamp_seconds") == before
    assert series(metrics, "driftwarden_column_drifted") == drifted_before
