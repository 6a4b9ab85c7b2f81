"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL.

A model changed without a migration (or a migration that disagrees with its
model) passes every ORM test on a fresh store and fails only on a deployed
one; this compares the two the way ``alembic revision --autogenerate`` would.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, Connection, Engine, Index, MetaData, Table

from monitor.store.engine import make_engine, upgrade
from monitor.store.models import Base
from monitor.store.queries import get_run


def schema_differences(connection: Connection, metadata: MetaData) -> list[Any]:
    """What autogenerate would put in a new migration to bring the database to ``metadata``."""
    context = MigrationContext.configure(
        connection,
        opts={
            # Alembic's strict default, stated: no type differs on either
            # backend, not even in dialect spelling, so nothing is filtered.
            "compare_type": True,
            # Off by default in Alembic; on here so a server default added by a
            # migration but missing from the model (or the reverse) is caught.
            "compare_server_default": True,
        },
    )
    differences: list[Any] = compare_metadata(context, metadata)
    return differences


def _show(value: Any) -> str:
    """A reflected or declared value as it would read in a migration."""
    if value is None or value is False or value is True:
        return repr(value)
    text = getattr(getattr(value, "arg", None), "text", None)  # a server default
    if text is not None:
        return f"server_default={text!r}"
    return str(value)


def _columns(index: Index) -> str:
    names = [getattr(expression, "name", str(expression)) for expression in index.expressions]
    return ", ".join(names)


def describe(difference: Any) -> list[str]:
    """One line per difference, naming the table and column or constraint."""
    if isinstance(difference, list):  # every change to one column comes as one group
        return [line for change in difference for line in describe(change)]
    kind = difference[0]
    if kind.startswith("modify_"):
        _, _schema, table, column, _existing, in_database, in_models = difference
        what = kind.removeprefix("modify_")
        return [
            f"{table}.{column}: {what} is {_show(in_database)} in the migrated database, "
            f"{_show(in_models)} in the models"
        ]
    side = "only in the models" if kind.startswith("add_") else "only in the migrated database"
    if kind in ("add_table", "remove_table"):
        table_object: Table = difference[1]
        return [f"table {table_object.name}: {side}"]
    if kind in ("add_column", "remove_column"):
        _, _schema, table, column_object = difference
        assert isinstance(column_object, Column)
        return [f"column {table}.{column_object.name} {column_object.type}: {side}"]
    if kind in ("add_index", "remove_index"):
        index: Index = difference[1]
        unique = "unique " if index.unique else ""
        assert index.table is not None
        return [f"{unique}index {index.name} on {index.table.name}({_columns(index)}): {side}"]
    if kind in ("add_constraint", "remove_constraint", "add_fk", "remove_fk"):
        constraint = difference[1]
        columns = ", ".join(column.name for column in constraint.columns)
        detail = type(constraint).__name__
        if kind.endswith("_fk"):
            detail += f" -> {constraint.referred_table.name} ondelete={constraint.ondelete}"
        return [f"{detail} {constraint.name} on {constraint.table.name}({columns}): {side}"]
    return [f"{kind}: {difference[1:]!r}"]


def test_migrated_schema_matches_models(engine: Engine) -> None:
    with engine.connect() as connection:
        differences = schema_differences(connection, Base.metadata)
    lines = [line for difference in differences for line in describe(difference)]
    assert not lines, (
        f"migrations and models differ on {engine.dialect.name} "
        "(change the model, or add a migration):\n  " + "\n  ".join(lines)
    )


def test_comparison_reports_what_a_migration_would_miss(engine: Engine) -> None:
    """Guards the guard: a model change without a migration is seen and named."""
    changed = MetaData()
    for table in Base.metadata.sorted_tables:
        table.to_metadata(changed)
    runs = changed.tables["runs"]
    Index("ix_runs_status", runs.c.status)
    changed.tables["results"].c.effect.nullable = False
    runs.append_column(Column("note", Base.metadata.tables["runs"].c.reason.type))

    with engine.connect() as connection:
        differences = schema_differences(connection, changed)
    lines = sorted(line for difference in differences for line in describe(difference))

    assert lines == [
        "column runs.note TEXT: only in the models",
        "index ix_runs_status on runs(status): only in the models",
        "results.effect: nullable is True in the migrated database, False in the models",
    ]


def test_a_result_stored_before_0006_reads_back_with_its_check(store_url: str) -> None:
    """0006 renames results.kind to results.check and keeps every stored row's value."""
    store = make_engine(store_url)
    upgrade(store, "0005")
    at = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    old = MetaData()
    old.reflect(store, only=["monitors", "runs", "results"])
    with store.begin() as connection:
        connection.execute(
            old.tables["monitors"].insert(), {"id": 1, "name": "churn", "created_at": at}
        )
        connection.execute(
            old.tables["runs"].insert(),
            {
                "id": 7, "monitor_id": 1, "scheduled_for": at, "trigger": "schedule",
                "status": "succeeded", "started_at": at, "window_start": at, "window_end": at,
                "claimed_by": "replica-a",
            },
        )  # fmt: skip
        connection.execute(
            old.tables["results"].insert(),
            {
                "run_id": 7, "kind": "sequential", "column": "income", "method": "ks@16",
                "statistic": 0.2, "threshold": 0.05, "drifted": True, "n_reference": 1000,
                "n_current": 4800, "status": "ok", "reason": "pooled", "details": {"scale": 16},
            },
        )  # fmt: skip

    upgrade(store)

    detail = get_run(store, 7)
    store.dispose()
    assert detail is not None
    assert [(r.check, r.column, r.method, r.drifted) for r in detail.results] == [
        ("sequential", "income", "ks@16", True)
    ]


def test_runs_and_results_stored_before_0013_read_back_as_the_whole_window(
    store_url: str,
) -> None:
    """0013 adds results.segment and runs.segments: older rows are the whole window's."""
    store = make_engine(store_url)
    upgrade(store, "0012")
    at = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    old = MetaData()
    old.reflect(store, only=["monitors", "runs", "results"])
    with store.begin() as connection:
        connection.execute(
            old.tables["monitors"].insert(), {"id": 1, "name": "churn", "created_at": at}
        )
        connection.execute(
            old.tables["runs"].insert(),
            {
                "id": 7, "monitor_id": 1, "scheduled_for": at, "trigger": "schedule",
                "status": "succeeded", "started_at": at, "window_start": at, "window_end": at,
                "claimed_by": "replica-a", "drifted": True,
            },
        )  # fmt: skip
        connection.execute(
            old.tables["results"].insert(),
            {
                "run_id": 7, "check": "drift", "column": "income", "method": "ks",
                "statistic": 0.2, "threshold": 0.05, "drifted": True, "n_reference": 1000,
                "n_current": 400, "status": "ok", "reason": "shifted", "details": {},
            },
        )  # fmt: skip

    upgrade(store)

    detail = get_run(store, 7)
    store.dispose()
    assert detail is not None
    assert [(r.column, r.segment) for r in detail.results] == [("income", None)]
    summary = detail.summary
    assert (summary.drifted_columns, summary.drifted_segments, summary.segments) == (
        ("income",),
        (),
        None,
    )
