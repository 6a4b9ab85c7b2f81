"""Engines of SQL sources, labels and references: timeouts, the label errors carry, sharing.

Every SQL reader opens its database here: with the connect and statement
timeouts of its settings (on PostgreSQL, ``statement_timeout`` set on each
new session), with an origin that names the URL without its password (or
only its variable), and, for sources and label sources, through one engine
per database and timeouts shared by every monitor of the process.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from pydantic import Field, field_validator
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from monitor.settings_base import SettingsModel, as_duration
from monitor.sources.base import SourceError


class SqlTimeouts(SettingsModel):
    """How long a SQL source or reference waits for a connection and for each statement.

    Excluded from dumps, so not part of a reference's key: how long to wait
    does not change what is read, and changing it must not refit a profile.
    """

    connect_timeout: timedelta = Field(default=timedelta(seconds=10), exclude=True)
    statement_timeout: timedelta = Field(default=timedelta(seconds=60), exclude=True)

    _check_timeouts = field_validator("connect_timeout", "statement_timeout", mode="before")(
        as_duration
    )


def _postgres_session(statement_timeout: timedelta) -> Callable[[Any, Any], None]:
    """Set each new connection's time zone to UTC and its statement timeout."""
    milliseconds = max(1, round(statement_timeout.total_seconds() * 1000))

    def configure(dbapi_connection: Any, _record: Any) -> None:
        # Outside a transaction, so a rollback of the first transaction cannot undo it.
        autocommit = dbapi_connection.autocommit
        dbapi_connection.autocommit = True
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SET TIME ZONE 'UTC'")
            cursor.execute(f"SET statement_timeout = {milliseconds}")
        finally:
            cursor.close()
            dbapi_connection.autocommit = autocommit

    return configure


def _parsed_with_origin(url: str, kind: str, env_name: str | None) -> tuple[sa.URL, str]:
    try:
        parsed = sa.make_url(url)
    except (ArgumentError, ValueError):
        raise SourceError(
            f"{kind}: cannot parse the URL (expected dialect+driver://user@host/database)"
        ) from None
    shown = f"${env_name}" if env_name else parsed.render_as_string(hide_password=True)
    return parsed, f"{kind} ({shown})"


def create_source_engine(
    url: str, kind: str, timeouts: SqlTimeouts, env_name: str | None = None
) -> tuple[Engine, str]:
    """An engine for ``url`` and the label errors carry: ``kind (url with *** password)``.

    A URL read from ``env_name`` is a secret as a whole: the label says ``kind ($ENV_NAME)``.
    """
    parsed, origin = _parsed_with_origin(url, kind, env_name)
    postgres = parsed.get_backend_name() == "postgresql"
    # libpq takes whole seconds (and waits at least 2).
    connect_args = (
        {"connect_timeout": max(1, math.ceil(timeouts.connect_timeout.total_seconds()))}
        if postgres
        else {}
    )
    try:
        engine = sa.create_engine(parsed, pool_pre_ping=True, connect_args=connect_args)
    except (NoSuchModuleError, ImportError, ArgumentError) as exc:
        raise SourceError(f"{origin}: cannot use this URL: {exc}") from None
    if postgres:
        event.listen(engine, "connect", _postgres_session(timeouts.statement_timeout))
    return engine, origin


class _SharedEngines:
    """Source engines by (URL, timeouts): the sources of one database share its pool.

    An engine of its own per source kept a pool per monitor: 500 monitors on
    one PostgreSQL held 500 idle connections, past the server's default
    ``max_connections`` (100), and runs failed with "too many clients". A
    shared engine holds at most its pool's 5 (+10 while busy) connections
    whatever the number of monitors, and is disposed when its last source
    closes. SQLite has no server to run out of: each source keeps its own.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._engines: dict[tuple[str, timedelta, timedelta], Engine] = {}
        self._users: dict[int, int] = {}

    def acquire(
        self, url: str, kind: str, timeouts: SqlTimeouts, env_name: str | None
    ) -> tuple[Engine, str]:
        parsed, origin = _parsed_with_origin(url, kind, env_name)
        if parsed.get_backend_name() == "sqlite":
            return create_source_engine(url, kind, timeouts, env_name)
        key = (url, timeouts.connect_timeout, timeouts.statement_timeout)
        with self._lock:
            shared = self._engines.get(key)
            if shared is None:
                shared, _ = create_source_engine(url, kind, timeouts, env_name)
                self._engines[key] = shared
            self._users[id(shared)] = self._users.get(id(shared), 0) + 1
            return shared, origin

    def release(self, engine: Engine) -> None:
        with self._lock:
            users = self._users.get(id(engine), 1) - 1
            if users > 0:
                self._users[id(engine)] = users
                return
            self._users.pop(id(engine), None)
            for key, shared in list(self._engines.items()):
                if shared is engine:
                    del self._engines[key]
        engine.dispose()


SHARED_ENGINES = _SharedEngines()
