"""A 10M-row PostgreSQL window: rows pulled (three ways) vs the window profiled in SQL.

Run with `make bench` (or on its own: `.venv/bin/python tests/benchmarks/in_database.py`).
Prints one table measured in this run; never a pass/fail test.

Data, generated inside PostgreSQL (generate_series, a seeded random()) in a
schema of its own on DRIFTWARDEN_BENCH_POSTGRES_URL (default the test server,
postgresql+psycopg://postgres@127.0.0.1:5432/test), dropped afterwards: one
day of DRIFTWARDEN_BENCH_INDB_ROWS (default 10,000,000) rows, the window,
after a reference day of DRIFTWARDEN_BENCH_INDB_REFERENCE_ROWS (default
200,000). Five columns: a stable normal score, a score shifted by 0.25 sd
in the window, a count (clicks), a stable 3-category device and a plan
whose shares move in the window. The monitor tests them with its default
methods and its false-alarm budget, against a reference profile fitted once
beforehand (not timed).

Each path is timed from the first statement to the last result (reading,
cleaning, the tests and the correction):

* pulled, ``ORDER BY random() LIMIT`` (before): the count, then every
  window row sorted by a random key, ``sample_limit``
  (DRIFTWARDEN_BENCH_INDB_SAMPLE, default 100,000) rows kept;
* pulled, table source: the count, then ``TABLESAMPLE BERNOULLI`` and the
  smallest seeded hash keys (``monitor.sources.sql_sampling``);
* pulled, query source: the count, then the key-hash filter on the row's
  text (a query has no row address);
* profiled in SQL (``profile_in_database``): one GROUPING SETS statement.

"Rows moved" is what the database sent back: the sampled rows and the
count's one row, or the summary's result rows.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from detectors import WindowSummary
from monitor.config import MonitorSettings, parse_settings
from monitor.evaluation import evaluate, prepare_window, run_verdict
from monitor.levels import monitor_levels
from monitor.profiles import ReferenceProfile, fit_reference
from monitor.sources import SqlSource, SqlSourceSettings, Window

URL = os.environ.get(
    "DRIFTWARDEN_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
DAY = timedelta(days=1)
START = datetime(2024, 6, 1, tzinfo=UTC)
WINDOW = Window(START + DAY, START + 2 * DAY)
COLUMNS = {
    "score": "numeric",
    "score_shifted": "numeric",
    "clicks": "numeric",
    "device": "categorical",
    "plan": "categorical",
}

GENERATE = """
SELECT setseed(0.5);
CREATE TABLE {table} AS
SELECT ts,
       sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS score,
       sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())
           + CASE WHEN window_row THEN 0.25 ELSE 0 END AS score_shifted,
       floor(-ln(1 - random()) * 3)::int AS clicks,
       (ARRAY['ios', 'android', 'web'])[1 + floor(random() * 3)::int] AS device,
       CASE WHEN random() < CASE WHEN window_row THEN 0.3 ELSE 0.2 END THEN 'pro'
            ELSE 'free' END AS plan
FROM (
    SELECT :start + g * :reference_step AS ts, false AS window_row
    FROM generate_series(0, :reference_rows - 1) g
    UNION ALL
    SELECT :window_start + g * :window_step, true
    FROM generate_series(0, :window_rows - 1) g
) AS rows;
ANALYZE {table};
"""


def monitor_settings(table: str, sample_limit: int, **source: Any) -> MonitorSettings:
    settings = parse_settings(
        {
            "monitors": [
                {
                    "name": "bench",
                    "schedule": "every 1d",
                    "window": "1d",
                    "sample_limit": sample_limit,
                    "source": {
                        "type": "sql",
                        "url": URL,
                        "timestamp_column": "ts",
                        "statement_timeout": "10m",
                        **({"table": table} if "query" not in source else {}),
                        **source,
                    },
                    "reference": {
                        "type": "window",
                        "start": START.isoformat(),
                        "end": (START + DAY).isoformat(),
                    },
                    "columns": [{"name": name, "kind": kind} for name, kind in COLUMNS.items()],
                    "thresholds": {"sequential_scales": []},
                }
            ]
        }
    )
    return settings.monitors[0]


def sql_source(monitor: MonitorSettings) -> SqlSource:
    assert isinstance(monitor.source, SqlSourceSettings)
    return SqlSource(monitor.source)


def order_by_random(engine: sa.Engine, table: str, limit: int, seed: float) -> pd.DataFrame:
    """The sample as the SQL source took it before: count, setseed, ORDER BY random() LIMIT."""
    window = "ts >= :start AND ts < :end"
    bounds = {"start": WINDOW.start, "end": WINDOW.end}
    with engine.connect() as connection:
        connection.execute(sa.text(f"SELECT count(*) FROM {table} WHERE {window}"), bounds)
        connection.execute(sa.text("SELECT setseed(:seed)"), {"seed": seed})
        result = connection.execution_options(yield_per=10_000).execute(
            sa.text(f"SELECT * FROM {table} WHERE {window} ORDER BY random() LIMIT :limit"),
            {**bounds, "limit": limit},
        )
        keys = list(result.keys())
        frames = [
            pd.DataFrame([tuple(r) for r in part], columns=keys) for part in result.partitions()
        ]
    return pd.concat(frames, ignore_index=True)


def verdicts(
    monitor: MonitorSettings, profile: ReferenceProfile, current: pd.DataFrame | WindowSummary
) -> tuple[dict[str, bool], bool]:
    levels = monitor_levels(monitor)
    prepared = prepare_window(monitor, profile, current)
    results = evaluate(monitor, profile, current, prepared, levels)
    drifted, _ = run_verdict(monitor, results)
    return {r.column: r.drifted for r in results}, drifted


def timed(
    read: Callable[[], pd.DataFrame | WindowSummary],
    monitor: MonitorSettings,
    profile: ReferenceProfile,
) -> tuple[float, int, dict[str, bool], bool]:
    start = time.perf_counter()
    current = read()
    columns, drifted = verdicts(monitor, profile, current)
    seconds = time.perf_counter() - start
    moved = current.result_rows if isinstance(current, WindowSummary) else len(current) + 1
    return seconds, moved, columns, drifted


def main() -> None:
    window_rows = int(os.environ.get("DRIFTWARDEN_BENCH_INDB_ROWS", "10000000"))
    reference_rows = int(os.environ.get("DRIFTWARDEN_BENCH_INDB_REFERENCE_ROWS", "200000"))
    sample_limit = int(os.environ.get("DRIFTWARDEN_BENCH_INDB_SAMPLE", "100000"))
    schema = f"dw_bench_indb_{uuid.uuid4().hex[:12]}"
    table = f"{schema}.events"
    admin = sa.create_engine(URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError as exc:
        print(f"in-database profiling: skipped, PostgreSQL at {URL} unreachable ({exc.orig})")
        return
    try:
        started = time.perf_counter()
        with admin.connect() as connection:
            for statement in GENERATE.format(table=table).split(";\n")[:-1]:
                connection.execute(
                    sa.text(statement),
                    {
                        "start": START,
                        "reference_step": DAY / reference_rows,
                        "reference_rows": reference_rows,
                        "window_start": WINDOW.start,
                        "window_step": DAY / window_rows,
                        "window_rows": window_rows,
                    },
                )
        generated = time.perf_counter() - started
        run(table, window_rows, reference_rows, sample_limit, generated)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def run(
    table: str, window_rows: int, reference_rows: int, sample_limit: int, generated: float
) -> None:
    pulled_table = monitor_settings(table, sample_limit)
    pulled_query = monitor_settings(table, sample_limit, query=f"SELECT * FROM {table}")
    profiled = monitor_settings(table, sample_limit, profile_in_database=True)
    sources = {
        name: sql_source(monitor)
        for name, monitor in (
            ("table", pulled_table),
            ("query", pulled_query),
            ("profiled", profiled),
        )
    }
    seed = int(WINDOW.end.timestamp())
    try:
        reference = sources["table"].sample(Window(START, START + DAY), reference_rows, seed)
        profile = fit_reference(pulled_table, reference)
        engine = sa.create_engine(URL)
        paths = {
            "pulled: ORDER BY random() LIMIT (before)": timed(
                lambda: order_by_random(engine, table, sample_limit, 0.5), pulled_table, profile
            ),
            "pulled: TABLESAMPLE BERNOULLI + hash keys (table)": timed(
                lambda: sources["table"].sample(WINDOW, sample_limit, seed), pulled_table, profile
            ),
            "pulled: key-hash filter on the row's text (query)": timed(
                lambda: sources["query"].sample(WINDOW, sample_limit, seed), pulled_query, profile
            ),
            "profiled in SQL: one GROUPING SETS statement": timed(
                lambda: sources["profiled"].summarise(WINDOW, profile.columns), profiled, profile
            ),
        }
        engine.dispose()
    finally:
        for source in sources.values():
            source.close()
    print(
        f"in-database profiling: a {window_rows:,}-row PostgreSQL window of {len(COLUMNS)} "
        f"columns, pulled paths sampling {sample_limit:,} rows (generated in {generated:.1f} s, "
        f"after a {reference_rows:,}-row reference day)"
    )
    print()
    print("| path | rows moved | wall time (s) | drifted columns | run drifted |")
    print("|---|---:|---:|---|---|")
    for label, (seconds, moved, columns, drifted) in paths.items():
        names = ", ".join(name for name, flag in columns.items() if flag) or "none"
        print(f"| {label} | {moved:,} | {seconds:.2f} | {names} | {drifted} |")
    outcomes = [(columns, drifted) for _, _, columns, drifted in paths.values()]
    same = all(outcome == outcomes[-1] for outcome in outcomes)
    profiled_seconds = list(paths.values())[-1][0]
    before_seconds = list(paths.values())[0][0]
    print()
    print(f"| same verdicts on every path | {'yes' if same else 'NO'} |")
    print("|---|---|")
    ratio = profiled_seconds / before_seconds
    print(f"| wall time, profiled in SQL / ORDER BY random() | {ratio:.2f} |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
