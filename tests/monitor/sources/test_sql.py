from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
import sqlalchemy as sa

from monitor.sources import SourceError, SqlSource, SqlSourceSettings, Window, read_query
from tests.support import wait_for

T0 = datetime(2024, 1, 1, tzinfo=UTC)
MICRO = timedelta(microseconds=1)
WINDOW = Window(T0, T0 + timedelta(hours=1))
ROWS = 500  # one row per 10 s from T0 - 20 min: 360 of them fall in WINDOW


@pytest.fixture
def events_url(sql_url: str) -> Iterator[str]:
    """``sql_url`` holding a table ``events`` (id, ts timestamptz, device) and its edge rows."""
    engine = sa.create_engine(sql_url)
    events = sa.Table(
        "events",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("device", sa.String(10)),
    )
    rows = [
        {"id": i, "ts": T0 - timedelta(minutes=20) + i * timedelta(seconds=10), "device": "ios"}
        for i in range(ROWS)
    ]
    edges = [WINDOW.start - MICRO * 1000, WINDOW.end - MICRO * 1000, WINDOW.end]
    rows += [{"id": 1000 + i, "ts": ts, "device": "web"} for i, ts in enumerate(edges)]
    with engine.begin() as connection:
        events.create(connection)
        connection.execute(events.insert(), rows)
    engine.dispose()
    yield sql_url


def _source(url: str, **settings: str) -> SqlSource:
    if "query" not in settings:
        settings.setdefault("table", "events")
    return SqlSource(
        SqlSourceSettings.model_validate(
            {"type": "sql", "url": url, "timestamp_column": "ts", **settings}
        )
    )


def _expected_ids() -> list[int]:
    # Rows from T0 - 20 min every 10 s: ids 120 .. 479 are in [T0, T0 + 1 h); plus the edge row
    # one millisecond before the end.
    return [*range(120, 480), 1001]


@pytest.mark.parametrize(
    "form",
    [{"table": "events"}, {"query": "SELECT id, ts, device FROM events WHERE device IS NOT NULL;"}],
    ids=["table", "query"],
)
def test_window_filter_is_exact(events_url: str, form: dict[str, str]) -> None:
    source = _source(events_url, **form)
    try:
        result = source.sample(WINDOW, 10_000, seed=0)
    finally:
        source.close()
    assert sorted(result["id"]) == _expected_ids()
    assert list(result.columns) == ["id", "ts", "device"]
    assert str(result["ts"].dt.tz) == "UTC"
    assert result["ts"].min() == pd.Timestamp(WINDOW.start)
    assert result.index.tolist() == list(range(len(result)))


def test_no_window_reads_every_row(events_url: str) -> None:
    source = _source(events_url)
    assert len(source.sample(None, 10_000, seed=0)) == ROWS + 3
    source.close()


def test_limit_samples_inside_the_window(events_url: str) -> None:
    source = _source(events_url)
    result = source.sample(WINDOW, 50, seed=0)
    assert len(result) == 50
    assert result["id"].is_unique
    assert set(result["id"]) <= set(_expected_ids())
    assert source.sample(WINDOW, 0, seed=0).columns.tolist() == ["id", "ts", "device"]
    source.close()


@pytest.mark.postgres
def test_seed_repeats_the_sample_on_postgres(postgres_url: str) -> None:
    engine = sa.create_engine(postgres_url)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "CREATE TABLE events AS SELECT g AS id, now() AS ts FROM generate_series(1, 5000) g"
            )
        )
    engine.dispose()
    source = _source(postgres_url)
    first = source.sample(None, 100, seed=7)
    assert sorted(first["id"]) == sorted(source.sample(None, 100, seed=7)["id"])
    assert sorted(first["id"]) != sorted(source.sample(None, 100, seed=8)["id"])
    source.close()


@pytest.mark.postgres
def test_naive_timestamp_column_is_utc_on_postgres_whatever_the_session_zone(
    postgres_url: str,
) -> None:
    # The schema fixture passes libpq options in the URL; add a non-UTC session zone to them.
    tokyo_url = postgres_url.replace("options=", "options=-c%20timezone%3DAsia/Tokyo%20")
    engine = sa.create_engine(tokyo_url)
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE events (id int, ts timestamp)"))
        connection.execute(
            sa.text(
                "INSERT INTO events VALUES (0, '2023-12-31 23:59:59'), (1, '2024-01-01 00:00:00'),"
                " (2, '2024-01-01 00:59:59'), (3, '2024-01-01 01:00:00')"
            )
        )
    engine.dispose()
    source = _source(tokyo_url)
    result = source.sample(WINDOW, 100, seed=0)
    source.close()
    assert sorted(result["id"]) == [1, 2]
    assert result["ts"].min() == pd.Timestamp(T0)


def test_sqlite_text_timestamps_in_any_iso_form(sqlite_url: str) -> None:
    engine = sa.create_engine(sqlite_url)
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE events (id INTEGER, ts TEXT)"))
        connection.execute(
            sa.text("INSERT INTO events VALUES (:id, :ts)"),
            [
                {"id": 0, "ts": "2023-12-31T23:59:59.999Z"},
                {"id": 1, "ts": "2024-01-01T00:00:00Z"},
                {"id": 2, "ts": "2024-01-01 02:30:00+02:00"},
                {"id": 3, "ts": "2024-01-01 00:59:59.999"},
                {"id": 4, "ts": "2024-01-01T01:00:00"},
            ],
        )
    engine.dispose()
    source = _source(sqlite_url)
    result = source.sample(WINDOW, 100, seed=0)
    source.close()
    assert sorted(result["id"]) == [1, 2, 3]


def test_unknown_table_is_named(sql_url: str) -> None:
    source = _source(sql_url, table="no_such_table")
    with pytest.raises(SourceError, match="table 'no_such_table' not found"):
        source.sample(WINDOW, 10, seed=0)
    source.close()


def test_unknown_timestamp_column_lists_the_columns(events_url: str) -> None:
    source = SqlSource(
        SqlSourceSettings(type="sql", url=events_url, table="events", timestamp_column="created")
    )
    with pytest.raises(SourceError) as raised:
        source.sample(WINDOW, 10, seed=0)
    source.close()
    assert (
        "timestamp column 'created' not found in table 'events' (columns: id, ts, device)"
        in str(raised.value)
    )


def test_broken_query_is_a_source_error(sql_url: str) -> None:
    source = _source(sql_url, query="SELEKT nothing")
    with pytest.raises(SourceError, match="query failed"):
        source.sample(WINDOW, 10, seed=0)
    source.close()


def _failing_sample(settings: dict[str, str]) -> str:
    table = {} if "query" in settings else {"table": "events"}
    source = SqlSource(
        SqlSourceSettings.model_validate(
            {"type": "sql", "timestamp_column": "ts", **table, **settings}
        )
    )
    with pytest.raises(SourceError) as raised:
        source.sample(WINDOW, 10, seed=0)
    source.close()
    return str(raised.value)


def test_connection_errors_never_show_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    password = "s3cr3t-Pa55"
    url = f"postgresql+psycopg://app:{password}@127.0.0.1:1/warehouse"
    monkeypatch.setenv("DW_TEST_SOURCE_URL", url)
    written = _failing_sample({"url": url})
    from_env = _failing_sample({"url_env": "DW_TEST_SOURCE_URL"})
    # Written in the config: the config already shows host, user and database.
    assert written.startswith(
        "source sql (postgresql+psycopg://app:***@127.0.0.1:1/warehouse): cannot connect: "
        'connection failed: connection to server at "127.0.0.1", port 1 failed: '
    )
    # From the environment: the whole URL is a secret, shown as its variable.
    assert from_env.startswith(
        "source sql ($DW_TEST_SOURCE_URL): cannot connect: "
        'connection failed: connection to server at "<host>", port 1 failed: '
    )
    for message in (written, from_env):
        assert password not in message
    assert "warehouse" not in from_env and "app" not in from_env.split(":", 1)[1]


@pytest.mark.postgres
def test_driver_errors_hide_the_user_and_database_of_a_url_from_the_environment(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_database = sa.make_url(postgres_url).set(database="dw_no_such_database", query={})
    no_user = sa.make_url(postgres_url).set(username="dw_no_such_role", query={})
    for url, hidden in ((no_database, "dw_no_such_database"), (no_user, "dw_no_such_role")):
        rendered = url.render_as_string(hide_password=False)
        written = _failing_sample({"url": rendered})
        assert hidden in written
        monkeypatch.setenv("DW_TEST_SOURCE_URL", rendered)
        from_env = _failing_sample({"url_env": "DW_TEST_SOURCE_URL"})
        assert from_env.startswith("source sql ($DW_TEST_SOURCE_URL): cannot connect: ")
        assert hidden not in from_env
        assert str(url.host) not in from_env
    assert from_env.endswith('FATAL:  role "<user>" does not exist'), from_env


@pytest.mark.postgres
def test_quoted_sql_is_cut_from_a_driver_error(postgres_url: str) -> None:
    message = _failing_sample({"url": postgres_url, "query": "SELECT ts FROM dw_nowhere"})
    assert message.endswith(': query failed: relation "dw_nowhere" does not exist')


def test_missing_url_env_is_a_source_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DW_TEST_UNSET_URL", raising=False)
    with pytest.raises(SourceError, match="DW_TEST_UNSET_URL"):
        SqlSource(
            SqlSourceSettings(
                type="sql", url_env="DW_TEST_UNSET_URL", table="events", timestamp_column="ts"
            )
        )


def test_read_query_samples_a_query(events_url: str) -> None:
    everything = read_query(events_url, "SELECT id, device FROM events", 10_000, seed=0)
    assert len(everything) == ROWS + 3
    assert list(everything.columns) == ["id", "device"]
    sample = read_query(events_url, "SELECT id, device FROM events", 20, seed=0)
    assert len(sample) == 20
    assert sample["id"].is_unique


def test_read_query_without_a_limit_reads_everything(events_url: str) -> None:
    assert len(read_query(events_url, "SELECT id FROM events", None, seed=0)) == ROWS + 3


def _sessions(admin: sa.Engine, application: str) -> int:
    with admin.connect() as connection:
        return int(
            connection.execute(
                sa.text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :name"),
                {"name": application},
            ).scalar_one()
        )


def test_sources_of_one_database_share_one_pool(postgres_url: str) -> None:
    """Thirty monitors on one PostgreSQL hold one idle connection, not thirty."""
    engine = sa.create_engine(postgres_url)
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE events (ts timestamptz NOT NULL, x float)"))
        connection.execute(sa.text("INSERT INTO events VALUES (:ts, 1.0)"), {"ts": T0})
    application = f"dw-share-{id(engine)}"
    url = f"{postgres_url}&application_name={application}"
    sources = [_source(url) for _ in range(30)]
    try:
        frames = [source.sample(WINDOW, 100, seed=0) for source in sources]
        assert [len(frame) for frame in frames] == [1] * 30
        assert _sessions(engine, application) == 1
        for source in sources[1:]:
            source.close()
        assert _sessions(engine, application) == 1
        assert len(sources[0].sample(WINDOW, 100, seed=0)) == 1
    finally:
        sources[0].close()
    # The server ends a closed session's backend on its own time.
    wait_for(lambda: _sessions(engine, application) == 0, "the last source's session to close")
    engine.dispose()
