"""One run as a plain function, on SQLite and PostgreSQL: claim, test, store, alert, outbox."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Engine, func, inspect, select
from sqlalchemy.orm import Session

from monitor.config import MonitorSettings, parse_settings
from monitor.metrics import Metrics
from monitor.runner import RunContext, run_check
from monitor.sources import build_source
from monitor.store.engine import upgrade
from monitor.store.models import (
    AlertRow,
    AlertTransitionRow,
    OutboxRow,
    ProfileRow,
    ResultRow,
    RunRow,
)

QUIET = datetime(2026, 11, 25, 12, 0, 30, tzinfo=UTC)  # demo phase 30s of 120s
SHIFTED = datetime(2026, 11, 25, 12, 1, 30, tzinfo=UTC)  # demo phase 90s of 120s


def demo_monitor(**overrides: object) -> MonitorSettings:
    monitor: dict[str, object] = {
        "name": "demo",
        "schedule": "every 20s",
        "window": "5m",
        "receivers": ["hook"],
        "source": {"type": "demo", "seed": 3},
        "reference": {
            "type": "window",
            "start": "2026-01-01T00:00:00Z",
            "end": "2026-01-01T00:00:30Z",
        },
        "columns": [
            {"name": "age", "kind": "numeric"},
            {"name": "income", "kind": "numeric"},
            {"name": "device", "kind": "categorical"},
            {"name": "region", "kind": "categorical"},
        ],
        "performance": {"task": "classification", "prediction": "prediction", "label": "label"},
    }
    monitor.update(overrides)
    settings = parse_settings(
        {
            "monitors": [monitor],
            "receivers": [{"name": "hook", "type": "webhook", "url": "http://127.0.0.1:1/"}],
        }
    )
    return settings.monitors[0]


def context(engine: Engine, monitor: MonitorSettings, metrics: Metrics | None = None) -> RunContext:
    return RunContext(
        engine=engine,
        metrics=metrics or Metrics(),
        sources={monitor.name: build_source(monitor.source)},
        worker_id="test-worker",
        base_url="http://127.0.0.1:8470",
    )


def count(engine: Engine, model: type) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_migrations_create_every_table(engine: Engine) -> None:
    assert set(inspect(engine).get_table_names()) >= {
        "monitors",
        "runs",
        "results",
        "profiles",
        "alerts",
        "alert_transitions",
        "outbox",
        "delivery_attempts",
        "alembic_version",
    }
    upgrade(engine)  # idempotent


def test_quiet_then_drift_then_recovery(engine: Engine) -> None:
    monitor = demo_monitor()
    metrics = Metrics()
    ctx = context(engine, monitor, metrics)

    quiet = run_check(ctx, monitor, QUIET, "schedule")
    assert quiet is not None and quiet.status == "succeeded" and quiet.drifted is False
    assert count(engine, OutboxRow) == 0

    shifted = run_check(ctx, monitor, SHIFTED, "schedule")
    assert shifted is not None and shifted.drifted is True
    drifted = {r.column for r in shifted.results if r.drifted and r.method in ("ks", "chi2")}
    assert drifted == {"income", "device"}

    first_clean = run_check(ctx, monitor, SHIFTED + timedelta(minutes=1), "schedule")
    assert first_clean is not None and first_clean.drifted is False
    assert count(engine, OutboxRow) == 1  # one clean run is not yet a recovery
    recovered = run_check(ctx, monitor, SHIFTED + timedelta(minutes=3), "schedule")
    assert recovered is not None and recovered.drifted is False

    with Session(engine) as session:
        runs = session.scalars(select(RunRow).order_by(RunRow.id)).all()
        assert [(r.status, r.drifted) for r in runs] == [
            ("succeeded", False),
            ("succeeded", True),
            ("succeeded", False),
            ("succeeded", False),
        ]
        results = session.scalars(select(ResultRow).where(ResultRow.run_id == shifted.run_id)).all()
        by_column = {(r.column, r.method): r for r in results}
        assert by_column[("income", "ks")].drifted is True
        assert by_column[("income", "ks")].p_value_adjusted is not None
        assert by_column[("age", "ks")].drifted is False
        assert by_column[("label", "accuracy")].check == "performance"
        assert session.scalar(select(func.count()).select_from(ProfileRow)) == 1
        transitions = session.scalars(
            select(AlertTransitionRow).order_by(AlertTransitionRow.id)
        ).all()
        assert [(t.from_state, t.to_state, t.run_id) for t in transitions] == [
            ("inactive", "firing", shifted.run_id),
            ("firing", "resolved", recovered.run_id),
        ]
        outbox = session.scalars(select(OutboxRow).order_by(OutboxRow.id)).all()
        assert [(o.event_type, o.receiver, o.status) for o in outbox] == [
            ("alert.firing", "hook", "pending"),
            ("alert.resolved", "hook", "pending"),
        ]
        assert outbox[0].payload["run"] == {
            "id": shifted.run_id,
            "url": f"http://127.0.0.1:8470/runs/{shifted.run_id}",
        }
        assert {c["column"] for c in outbox[0].payload["drifted_columns"]} >= {"income", "device"}
        # The default rules: drift fired and resolved; no_data and run_failed never fired.
        alerts = session.scalars(select(AlertRow).order_by(AlertRow.rule)).all()
        assert [(a.rule, a.state, a.episode) for a in alerts] == [
            ("drift", "resolved", 1),
            ("no_data", "inactive", 0),
            ("run_failed", "inactive", 0),
        ]

    assert (
        metrics.registry.get_sample_value(
            "driftwarden_runs_total", {"monitor": "demo", "outcome": "drift"}
        )
        == 1
    )
    assert (
        metrics.registry.get_sample_value(
            "driftwarden_runs_total", {"monitor": "demo", "outcome": "no_drift"}
        )
        == 3
    )


def test_two_claims_of_one_slot_make_one_run(engine: Engine) -> None:
    monitor = demo_monitor()
    ctx = context(engine, monitor)
    run_check(ctx, monitor, QUIET - timedelta(hours=1), "schedule")  # profile fitted once first
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def claim() -> None:
        barrier.wait()
        outcomes.append(run_check(ctx, monitor, QUIET, "schedule"))

    threads = [threading.Thread(target=claim) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(o is None for o in outcomes) == [False, True]
    with Session(engine) as session:
        slots = session.scalars(
            select(RunRow.scheduled_for).where(RunRow.scheduled_for == QUIET)
        ).all()
    assert slots == [QUIET]


def test_missing_column_fails_the_run_with_a_reason_and_keeps_history(engine: Engine) -> None:
    monitor = demo_monitor()
    ctx = context(engine, monitor)
    assert run_check(ctx, monitor, QUIET, "schedule") is not None
    broken = demo_monitor(columns=[{"name": "agee", "kind": "numeric"}])
    outcome = run_check(context(engine, broken), broken, QUIET + timedelta(minutes=2), "schedule")
    assert outcome is not None and outcome.status == "failed"
    assert outcome.reason.startswith(
        'reference has no column "agee" (columns found: timestamp, age'
    )
    with Session(engine) as session:
        rows = session.execute(select(RunRow.status, RunRow.reason).order_by(RunRow.id)).all()
    assert [row.status for row in rows] == ["succeeded", "failed"]
    assert rows[1].reason == outcome.reason


def test_unreachable_source_is_a_failed_run(engine: Engine, tmp_path: Path) -> None:
    monitor = demo_monitor(
        source={
            "type": "file",
            "path": str(tmp_path / "absent-*.parquet"),
            "timestamp_column": "ts",
        },
        reference={"type": "file", "path": str(tmp_path / "absent.parquet")},
        performance=None,
    )
    outcome = run_check(context(engine, monitor), monitor, QUIET, "schedule")
    assert outcome is not None and outcome.status == "failed"
    assert "absent" in outcome.reason
    with Session(engine) as session:
        assert session.scalar(select(RunRow.status)) == "failed"


def test_empty_window_and_bad_values_are_results(engine: Engine, tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    pd.DataFrame({"x": rng.normal(size=500), "c": rng.choice(["a", "b"], 500)}).to_parquet(
        tmp_path / "reference.parquet"
    )
    start = QUIET - timedelta(minutes=30)
    pd.DataFrame(
        {
            "ts": [start + timedelta(seconds=i) for i in range(200)],
            "x": ["not a number"] * 200,
            "c": [None] * 200,
        }
    ).to_parquet(tmp_path / "live.parquet")
    monitor = demo_monitor(
        window="1h",
        performance=None,
        source={"type": "file", "path": str(tmp_path / "live.parquet"), "timestamp_column": "ts"},
        reference={"type": "file", "path": str(tmp_path / "reference.parquet")},
        columns=[{"name": "x", "kind": "numeric"}, {"name": "c", "kind": "categorical"}],
    )
    ctx = context(engine, monitor)
    outcome = run_check(ctx, monitor, QUIET, "schedule")
    assert outcome is not None and outcome.status == "succeeded" and outcome.drifted is False
    assert {r.column: r.status for r in outcome.results} == {
        "x": "invalid_values",
        "c": "all_missing",
    }

    empty = run_check(ctx, monitor, QUIET + timedelta(days=1), "schedule")
    assert empty is not None and empty.status == "empty" and empty.drifted is False
    assert empty.reason.startswith("no data: the window")
    assert {r.status for r in empty.results} == {"empty"}
    with Session(engine) as session:
        assert session.scalars(select(RunRow.status).order_by(RunRow.id)).all() == [
            "succeeded",
            "empty",
        ]


def test_multivariate_and_key_columns_decide_the_run(engine: Engine) -> None:
    monitor = demo_monitor(
        performance=None,
        thresholds={"multivariate": "mmd", "drift_share": 0.9, "key_columns": ["income"]},
    )
    ctx = context(engine, monitor)
    quiet = run_check(ctx, monitor, QUIET, "schedule")
    assert quiet is not None and quiet.drifted is False
    shifted = run_check(ctx, monitor, SHIFTED, "schedule")
    assert shifted is not None and shifted.drifted is True
    by_column = {r.column: r for r in shifted.results}
    assert by_column["*"].method == "mmd" and by_column["*"].drifted is True
    assert by_column["income"].effect is not None and by_column["income"].effect_floor == 0.04
    # 2 of 4 columns is below the 0.9 share; the key column and the whole-row test decide.
    assert "income" in shifted.reason
    with Session(engine) as session:
        stored = session.scalars(
            select(ResultRow).where(ResultRow.run_id == shifted.run_id, ResultRow.column == "*")
        ).one()
        assert (stored.method, stored.drifted) == ("mmd", True)
        income = session.scalars(
            select(ResultRow).where(
                ResultRow.run_id == shifted.run_id, ResultRow.column == "income"
            )
        ).one()
        assert income.effect == by_column["income"].effect
