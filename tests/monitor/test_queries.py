"""Repository reads, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from monitor.store.models import MonitorRow, ResultRow, RunRow
from monitor.store.queries import (
    RUN_SUCCEEDED,
    ResultView,
    RunDetail,
    RunSummary,
    get_run,
    latest_successful_runs,
    list_runs,
)

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def add_monitor(engine: Engine, name: str) -> int:
    with Session(engine) as session:
        monitor = MonitorRow(name=name)
        session.add(monitor)
        session.commit()
        return monitor.id


def add_run(
    engine: Engine,
    monitor_id: int,
    slot: int,
    *,
    status: str = RUN_SUCCEEDED,
    drifted: bool | None = False,
    finished_after: timedelta | None = timedelta(seconds=5),
    results: list[dict[str, Any]] | None = None,
) -> int:
    scheduled_for = T0 + timedelta(hours=slot)
    run = RunRow(
        monitor_id=monitor_id,
        scheduled_for=scheduled_for,
        trigger="schedule",
        status=status,
        started_at=scheduled_for,
        finished_at=None if finished_after is None else scheduled_for + finished_after,
        window_start=scheduled_for - timedelta(hours=1),
        window_end=scheduled_for,
        drifted=drifted,
        reason=None if drifted is None else ("drift" if drifted else "no drift"),
        n_reference=1000,
        n_current=200,
        claimed_by="replica-a",
    )
    for fields in results or []:
        run.results.append(result_row(**fields))
    with Session(engine) as session:
        session.add(run)
        session.commit()
        return run.id


def result_row(column: str, drifted: bool, **overrides: Any) -> ResultRow:
    fields: dict[str, Any] = {
        "check": "drift",
        "column": column,
        "method": "ks",
        "statistic": 0.31 if drifted else 0.02,
        "p_value": 0.0001 if drifted else 0.8,
        "p_value_adjusted": 0.0002 if drifted else 0.9,
        "threshold": 0.05,
        "drifted": drifted,
        "n_reference": 1000,
        "n_current": 200,
        "status": "ok",
        "reason": "p-value below the adjusted level" if drifted else "p-value above the level",
        "details": {"bins": [1, 2, 3]},
    }
    fields.update(overrides)
    return ResultRow(**fields)


def test_an_empty_store_reads_as_empty(engine: Engine) -> None:
    assert list_runs(engine, None, 50, None) == []
    assert get_run(engine, 1) is None
    assert latest_successful_runs(engine) == []


def test_list_runs_is_newest_first_with_drifted_columns(engine: Engine) -> None:
    churn = add_monitor(engine, "churn")
    first = add_run(engine, churn, 0)
    second = add_run(
        engine,
        churn,
        1,
        drifted=True,
        results=[
            {"column": "income", "drifted": True},
            {"column": "age", "drifted": False},
            {"column": "device", "drifted": True, "method": "chi2"},
        ],
    )

    runs = list_runs(engine, None, 50, None)

    assert [run.id for run in runs] == [second, first]
    assert runs[0] == RunSummary(
        id=second,
        monitor="churn",
        scheduled_for=T0 + timedelta(hours=1),
        trigger="schedule",
        status=RUN_SUCCEEDED,
        started_at=T0 + timedelta(hours=1),
        finished_at=T0 + timedelta(hours=1, seconds=5),
        window_start=T0,
        window_end=T0 + timedelta(hours=1),
        drifted=True,
        reason="drift",
        n_reference=1000,
        n_current=200,
        drifted_columns=("income", "device"),
    )
    assert runs[1].drifted_columns == ()


def test_list_runs_pages_with_before_id_and_filters_by_monitor(engine: Engine) -> None:
    churn = add_monitor(engine, "churn")
    fraud = add_monitor(engine, "fraud")
    churn_ids = [add_run(engine, churn, slot) for slot in range(5)]
    fraud_id = add_run(engine, fraud, 0)

    first_page = list_runs(engine, "churn", 2, None)
    second_page = list_runs(engine, "churn", 2, first_page[-1].id)
    last_page = list_runs(engine, "churn", 2, second_page[-1].id)

    assert [r.id for r in first_page + second_page + last_page] == churn_ids[::-1]
    assert {r.monitor for r in first_page + second_page + last_page} == {"churn"}
    assert [r.id for r in list_runs(engine, "fraud", 50, None)] == [fraud_id]
    assert list_runs(engine, "nobody", 50, None) == []
    assert len(list_runs(engine, None, 50, None)) == 6


def test_list_runs_rejects_a_limit_below_one(engine: Engine) -> None:
    with pytest.raises(ValueError, match="limit must be at least 1, got 0"):
        list_runs(engine, None, 0, None)


def test_get_run_returns_every_result_column(engine: Engine) -> None:
    churn = add_monitor(engine, "churn")
    run_id = add_run(
        engine,
        churn,
        0,
        drifted=True,
        results=[
            {"column": "income", "drifted": True, "details": {"hist": {"a": [0.5, 0.5]}}},
            {
                "column": "*",
                "drifted": False,
                "method": "classifier",
                "p_value": None,
                "p_value_adjusted": None,
                "status": "ok",
            },
        ],
    )

    detail = get_run(engine, run_id)

    assert isinstance(detail, RunDetail)
    assert detail.summary.id == run_id
    assert detail.summary.drifted_columns == ("income",)
    assert detail.results == (
        ResultView(
            check="drift",
            column="income",
            method="ks",
            statistic=0.31,
            p_value=0.0001,
            p_value_adjusted=0.0002,
            threshold=0.05,
            drifted=True,
            n_reference=1000,
            n_current=200,
            status="ok",
            reason="p-value below the adjusted level",
            details={"hist": {"a": [0.5, 0.5]}},
        ),
        ResultView(
            check="drift",
            column="*",
            method="classifier",
            statistic=0.02,
            p_value=None,
            p_value_adjusted=None,
            threshold=0.05,
            drifted=False,
            n_reference=1000,
            n_current=200,
            status="ok",
            reason="p-value above the level",
            details={"bins": [1, 2, 3]},
        ),
    )
    assert get_run(engine, run_id + 1) is None


def test_to_dict_is_json_with_utc_iso_timestamps(engine: Engine) -> None:
    churn = add_monitor(engine, "churn")
    run_id = add_run(
        engine,
        churn,
        0,
        finished_after=None,
        drifted=None,
        status="running",
        results=[{"column": "income", "drifted": True, "statistic": float("inf")}],
    )
    detail = get_run(engine, run_id)
    assert detail is not None

    as_dict = detail.to_dict()

    assert json.loads(json.dumps(as_dict, allow_nan=False)) == as_dict
    assert as_dict["scheduled_for"] == "2024-05-01T12:00:00+00:00"
    assert as_dict["window_start"] == "2024-05-01T11:00:00+00:00"
    assert as_dict["finished_at"] is None
    assert as_dict["drifted"] is None
    assert as_dict["drifted_columns"] == ["income"]
    # JSON has no Infinity: a non-finite number reads as null.
    assert as_dict["results"][0]["statistic"] is None
    assert set(as_dict["results"][0]) == {
        "check", "column", "method", "statistic", "p_value", "p_value_adjusted", "threshold",
        "effect", "effect_floor",
        "drifted", "n_reference", "n_current", "status", "reason", "details", "segment",
    }  # fmt: skip


def test_latest_successful_runs_takes_the_newest_success_of_each_monitor(engine: Engine) -> None:
    churn = add_monitor(engine, "churn")
    fraud = add_monitor(engine, "fraud")
    add_monitor(engine, "idle")  # never ran: not listed
    add_run(engine, churn, 0, results=[{"column": "income", "drifted": False}])
    churn_latest = add_run(
        engine, churn, 1, drifted=True, results=[{"column": "income", "drifted": True}]
    )
    add_run(engine, churn, 2, status="failed", drifted=None, results=[])
    add_run(engine, churn, 3, status="running", finished_after=None, drifted=None)
    fraud_latest = add_run(engine, fraud, 5, results=[{"column": "amount", "drifted": False}])
    # A catch-up run for an older slot that finished later is the newest.
    fraud_catch_up = add_run(
        engine,
        fraud,
        4,
        finished_after=timedelta(hours=2),
        results=[{"column": "amount", "drifted": True}],
    )
    assert fraud_catch_up > fraud_latest

    latest = latest_successful_runs(engine)

    assert [(d.summary.monitor, d.summary.id) for d in latest] == [
        ("churn", churn_latest),
        ("fraud", fraud_catch_up),
    ]
    assert [[r.column for r in d.results] for d in latest] == [["income"], ["amount"]]
    assert [d.results[0].drifted for d in latest] == [True, True]


def test_reads_use_a_fixed_number_of_queries(engine: Engine) -> None:
    churn = add_monitor(engine, "churn")
    fraud = add_monitor(engine, "fraud")
    for slot in range(10):
        add_run(engine, churn, slot, results=[{"column": "a", "drifted": True}])
        add_run(engine, fraud, slot, results=[{"column": "b", "drifted": False}])
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine, "before_cursor_execute", count)
    try:
        assert len(list_runs(engine, None, 50, None)) == 20
        assert len(statements) == 3  # the runs, their drifted columns, their alert changes
        statements.clear()
        assert len(latest_successful_runs(engine)) == 2
        assert len(statements) == 2
        statements.clear()
        assert get_run(engine, 1) is not None
        assert len(statements) == 4  # the run, its results, its alert changes, its performance
    finally:
        event.remove(engine, "before_cursor_execute", count)
