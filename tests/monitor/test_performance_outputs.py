"""Where a window's performance goes: store, /api/runs/{id}, /metrics, sink payloads, run page.

A seeded binary classifier with scores: hourly windows of 2,000 predictions
in a Parquet file, labels in an SQLite table arriving 40 minutes after each
prediction. Each window's own run has a third of its labels (below the
80 % coverage), the next run counts the rest. The last window's inputs
shift where the model is unsure, so its accuracy falls, estimated at once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from monitor.api import create_app
from monitor.backfill import label_sources
from monitor.config import MonitorSettings, parse_settings
from monitor.metrics import Metrics
from monitor.runner import RunContext, run_check
from monitor.sinks import RUN_COMPLETED
from monitor.sources import build_source
from monitor.store.models import OutboxRow
from tests.support import Clock, serving

START = datetime(2026, 6, 1, tzinfo=UTC)
ROWS = 2000
DELAY = timedelta(minutes=40)


def scored(rng: np.random.Generator, n: int, spread: float) -> pd.DataFrame:
    """Calibrated scores of an input ``x``; a narrower ``x`` gives less certain predictions."""
    x = rng.normal(0, spread, n)
    probability = 1 / (1 + np.exp(-2.5 * x))
    truth = rng.random(n) < probability
    return pd.DataFrame(
        {"x": x, "score": probability, "predicted": (probability >= 0.5).astype(int), "y": truth}
    )


def build(tmp_path: Path) -> MonitorSettings:
    rng = np.random.default_rng(12)
    reference = scored(rng, 20_000, 1.0)
    reference.assign(y=reference["y"].astype(int)).to_parquet(tmp_path / "reference.parquet")
    windows = []
    for hour, spread in enumerate([1.0, 1.0, 1.0, 0.3]):
        frame = scored(rng, ROWS, spread)
        frame["id"] = np.arange(ROWS) + hour * ROWS
        frame["ts"] = START + timedelta(hours=hour) + pd.to_timedelta(np.arange(ROWS) * 1.8, "s")
        windows.append(frame)
    rows = pd.concat(windows, ignore_index=True)
    rows.drop(columns=["y"]).to_parquet(tmp_path / "predictions.parquet")
    outcomes = pd.DataFrame(
        {
            "id": rows["id"],
            "y": rows["y"].astype(int),
            "arrived_at": (rows["ts"] + DELAY).dt.strftime("%F %T.%f"),
        }
    )
    engine = sa.create_engine(f"sqlite:///{tmp_path}/labels.db")
    outcomes.to_sql("outcomes", engine, index=False)
    engine.dispose()
    settings = parse_settings(
        {
            "monitors": [
                {
                    "name": "scored",
                    "schedule": "every 1h",
                    "source": {
                        "type": "file",
                        "path": str(tmp_path / "predictions.parquet"),
                        "timestamp_column": "ts",
                    },
                    "reference": {"type": "file", "path": str(tmp_path / "reference.parquet")},
                    "columns": [{"name": "x", "kind": "numeric"}],
                    "performance": {
                        "task": "classification",
                        "prediction": "predicted",
                        "score": "score",
                        "id_column": "id",
                        "metrics": ["accuracy", "roc_auc"],
                        "labels": {
                            "type": "sql",
                            "url": f"sqlite:///{tmp_path}/labels.db",
                            "table": "outcomes",
                            "id_column": "id",
                            "label_column": "y",
                            "arrived_at_column": "arrived_at",
                        },
                    },
                    "sinks": ["ml"],
                    "thresholds": {"sequential_scales": []},
                }
            ],
            "receivers": [
                {
                    "name": "ml",
                    "type": "mlflow",
                    "tracking_uri": "http://127.0.0.1:1",
                    "run_id": "r",
                }
            ],
        }
    )
    return settings.monitors[0]


def replay(engine: Engine, monitor: MonitorSettings, metrics: Metrics) -> list[int]:
    clock = Clock(START)
    ctx = RunContext(
        engine=engine,
        metrics=metrics,
        sources={monitor.name: build_source(monitor.source)},
        labels=label_sources([monitor]),
        worker_id="outputs",
        base_url="http://127.0.0.1:8470",
        clock=clock,
    )
    runs = []
    for hour in range(1, 5):
        clock.now = START + timedelta(hours=hour)
        outcome = run_check(ctx, monitor, clock.now, "schedule")
        assert outcome is not None and outcome.status == "succeeded"
        runs.append(outcome.run_id)
    return runs


def samples(text: str) -> dict[tuple[str, str, str], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.startswith("driftwarden_performance_"):
                labels = sample.labels
                key = (sample.name, labels["metric"], labels["kind"])
                found[key] = sample.value
    return found


def test_performance_in_the_api_metrics_sinks_and_page(engine: Engine, tmp_path: Path) -> None:
    monitor = build(tmp_path)
    metrics = Metrics()
    runs = replay(engine, monitor, metrics)
    app = create_app(engine, metrics, lambda: {}, "http://127.0.0.1:8470")
    with serving(app) as client:
        second = client.get(f"/api/runs/{runs[1]}").json()
        last = client.get(f"/api/runs/{runs[3]}").json()
        page = client.get(f"/runs/{runs[0]}").text
        exported = client.get("/metrics").text

    # The run's own window: estimated at once, realized once the next run had its labels.
    window = {(m["metric"], m["kind"]): m for m in second["performance"]["window"]}
    assert set(window) == {
        ("accuracy", "realized"),
        ("roc_auc", "realized"),
        ("accuracy", "estimated"),
        ("roc_auc", "estimated"),
    }
    realized = window[("accuracy", "realized")]
    assert realized["coverage"] == 1.0 and realized["n_labelled"] == ROWS
    assert realized["evaluated_run_id"] == runs[2] and realized["final"] is True
    assert realized["status"] == "ok" and realized["lower"] < realized["value"]
    assert window[("accuracy", "estimated")]["method"] == "estimated_accuracy"
    assert [(h["status"], h["evaluated_run_id"]) for h in second["performance"]["history"]] == [
        ("awaiting_labels", runs[1]),
        ("awaiting_labels", runs[1]),
        ("ok", runs[2]),
        ("ok", runs[2]),
    ]
    first_coverage = second["performance"]["history"][0]["coverage"]
    assert 0.3 < first_coverage < 0.4
    # ... and a run lists the past windows it evaluated again.
    assert {(b["window_run_id"], b["metric"]) for b in last["performance"]["backfilled"]} == {
        (runs[2], "accuracy"),
        (runs[2], "roc_auc"),
    }
    own = {(r["method"], r["status"]) for r in last["results"] if r["check"] == "performance"}
    assert own == {
        ("accuracy", "awaiting_labels"),
        ("roc_auc", "awaiting_labels"),
        ("estimated_accuracy", "ok"),
        ("estimated_roc_auc", "ok"),
    }
    # x drifted; the estimates alert only through a rule that asks for them
    assert last["drifted"] is True and "performance" not in last["reason"]

    # /metrics: per metric, realized (newest counted window) and estimated, with coverage.
    found = samples(exported)
    assert found[("driftwarden_performance_label_coverage", "accuracy", "realized")] == 1.0
    end = found[("driftwarden_performance_window_end_timestamp_seconds", "accuracy", "realized")]
    assert end == (START + timedelta(hours=3)).timestamp()
    newest = (START + timedelta(hours=4)).timestamp()
    assert (
        found[("driftwarden_performance_window_end_timestamp_seconds", "roc_auc", "estimated")]
        == newest
    )
    assert found[("driftwarden_performance_degraded", "accuracy", "estimated")] == 1.0
    assert found[("driftwarden_performance_degraded", "accuracy", "realized")] == 0.0
    assert 'column="y"' not in exported  # performance is not a drift statistic

    # The run page: realized next to estimated, the coverage, how the labels came in.
    assert "Labels: 2,000 of 2,000 predictions (100%), final" in page
    assert 'data-metric="roc_auc"' in page and "As labels arrived" in page

    # run.completed: every window the run evaluated.
    with Session(engine) as session:
        payloads = session.scalars(
            select(OutboxRow.payload).where(
                OutboxRow.event_type == RUN_COMPLETED, OutboxRow.run_id == runs[3]
            )
        ).all()
    [payload] = payloads
    performance: list[dict[str, Any]] = payload["performance"]
    assert [(w["window_run_id"], w["final"]) for w in performance] == [
        (runs[3], False),
        (runs[2], True),
    ]
    assert performance[1]["coverage"] == 1.0 and performance[1]["n_labelled"] == ROWS
    assert {(m["metric"], m["kind"], m["status"]) for m in performance[0]["metrics"]} == {
        ("accuracy", "realized", "awaiting_labels"),
        ("roc_auc", "realized", "awaiting_labels"),
        ("accuracy", "estimated", "ok"),
        ("roc_auc", "estimated", "ok"),
    }
