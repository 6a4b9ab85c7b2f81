"""A SQL source or reference never waits for ever: connect and statement timeouts.

Against a real TCP server that accepts and never answers, and a real
PostgreSQL statement that sleeps.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from monitor.config import parse_settings
from monitor.profiles import reference_key, reference_request
from monitor.references import load_reference
from monitor.settings_base import ConfigError
from monitor.sources import SourceError, SqlSource, SqlSourceSettings, Window, build_source
from tests.faults import TcpFault
from tests.monitor.sources.test_sql import WINDOW

SLEEPY = "SELECT e.* FROM events e CROSS JOIN (SELECT pg_sleep(30)) AS nap"


@pytest.fixture
def silent_server() -> Iterator[TcpFault]:
    server = TcpFault("hang")
    yield server
    server.close()


@pytest.fixture
def events(postgres_url: str) -> str:
    engine = sa.create_engine(postgres_url)
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE events (ts timestamptz, income float)"))
        connection.execute(sa.text("INSERT INTO events VALUES (:ts, 1.0)"), [{"ts": WINDOW.start}])
    engine.dispose()
    return postgres_url


def _monitor(source: dict[str, Any], reference: dict[str, Any] | None = None) -> Any:
    settings = parse_settings(
        {
            "monitors": [
                {
                    "name": "m",
                    "schedule": "every 5m",
                    "source": source,
                    "reference": reference
                    or {"type": "window", "start": "2024-01-01", "end": "2024-01-02"},
                    "columns": [{"name": "income", "kind": "numeric"}],
                }
            ]
        }
    )
    return settings.monitors[0]


def test_connect_timeout_ends_a_connection_the_server_never_answers(
    silent_server: TcpFault,
) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{silent_server.port}/test"
    source = SqlSource(
        SqlSourceSettings.model_validate(
            {
                "type": "sql",
                "url": url,
                "table": "events",
                "timestamp_column": "ts",
                "connect_timeout": "2s",
            }
        )
    )
    try:
        with pytest.raises(SourceError) as raised:
            source.sample(WINDOW, 10, seed=0)
    finally:
        source.close()
    assert silent_server.accepted >= 1
    message = str(raised.value)
    assert message.startswith(
        f"source sql (postgresql+psycopg://postgres@127.0.0.1:{silent_server.port}/test): "
        "cannot connect: "
    )
    assert "timeout" in message


def test_statement_timeout_cancels_a_statement_that_runs_too_long(events: str) -> None:
    source = build_source(
        _monitor(
            {
                "type": "sql",
                "url": events,
                "query": SLEEPY,
                "timestamp_column": "ts",
                "statement_timeout": "200ms",
            }
        ).source
    )
    try:
        with pytest.raises(SourceError, match="canceling statement due to statement timeout"):
            source.sample(Window(WINDOW.start, WINDOW.end), 10, seed=0)
    finally:
        source.close()


def test_sql_reference_has_the_same_timeouts(events: str) -> None:
    monitor = _monitor(
        {"type": "demo"},
        {"type": "sql", "url": events, "query": SLEEPY, "statement_timeout": "200ms"},
    )
    with pytest.raises(SourceError, match="reference sql .*canceling statement due to statement"):
        load_reference(reference_request(monitor), build_source(monitor.source))


def test_default_timeouts_and_their_keys() -> None:
    settings = SqlSourceSettings(type="sql", url="sqlite://", table="t", timestamp_column="ts")
    assert (
        settings.connect_timeout.total_seconds(),
        settings.statement_timeout.total_seconds(),
    ) == (
        10,
        60,
    )
    with pytest.raises(ConfigError, match=r"monitors\[0\]\.source\.statement_timeout: expected"):
        _monitor(
            {
                "type": "sql",
                "url": "sqlite://",
                "table": "t",
                "timestamp_column": "ts",
                "statement_timeout": "soon",
            }
        )


def test_timeouts_do_not_change_the_reference_key() -> None:
    """How long to wait does not change what is read: no refit of a stored profile."""
    query = {"type": "sql", "url": "sqlite:///x.db", "query": "SELECT income FROM training"}
    assert reference_key(_monitor({"type": "demo"}, query)) == reference_key(
        _monitor({"type": "demo"}, {**query, "connect_timeout": "1s", "statement_timeout": "1h"})
    )
    source = {"type": "sql", "url": "sqlite:///x.db", "table": "t", "timestamp_column": "ts"}
    assert reference_key(_monitor(source)) == reference_key(
        _monitor({**source, "statement_timeout": "5m"})
    )
