"""Any database SQLAlchemy can reach: a table or a query, sampled in the database.

A sample runs, on one connection::

    SELECT count(*) FROM (<rows of the window>)            -- how many are there?
    SELECT * FROM <rows of the window>                     -- if count <= limit
    <a uniform sample of limit rows of the window>         -- otherwise

and streams the result in partitions (``yield_per``; a server-side cursor on
PostgreSQL), so the daemon never holds more than ``limit`` rows. On
PostgreSQL the sample is the ``limit`` rows of smallest seeded hash key,
after a ``TABLESAMPLE BERNOULLI`` or key-hash filter has kept a little more
than ``limit`` of them, so the database never sorts the whole window
(``monitor.sources.sql_sampling``). Elsewhere it is ``ORDER BY random()
LIMIT :limit``, a sort of the window's rows, which SQLite and other
databases all understand. ``query`` is used as a subquery, so it must be a
single SELECT (a trailing ``;`` is dropped).

The window is bound as parameters, never formatted into the SQL:

- PostgreSQL: each connection's time zone is set to UTC, and the bounds are
  bound as ``timestamptz``, so ``timestamp`` and ``timestamptz`` columns both
  compare correctly (a ``timestamp`` column is taken as UTC).
- SQLite has no timestamp type: the column and the bounds are compared through
  ``julianday()``, which accepts every ISO-8601 text form ("2024-05-01
  12:00:00", "2024-05-01T12:00:00.250Z", "...+02:00"); naive text is UTC.
  SQLite resolves time to the millisecond, and the comparison cannot use an
  index. Epoch numbers are not supported: expose them with a ``query`` such as
  ``SELECT *, datetime(ts, 'unixepoch') AS event_time FROM events``.
- Other databases: the bounds are bound as naive UTC datetimes.

**Profiling in the database.** With ``profile_in_database`` (PostgreSQL
only) a run calls ``summarise`` instead of ``sample``: one statement counts
the window for the tests and no row leaves the database
(``monitor.sources.sql_profile``); the reference is still ``sample``d.

**Seeds.** On PostgreSQL the ``seed`` seeds the hash keys (and the
``TABLESAMPLE``), so the same seed gives the same rows for the same table
contents, whatever the plan. SQLite's ``random()`` cannot be seeded: there,
and on other databases, the seed has no effect when the window holds more
than ``limit`` rows.

Timestamps come back parsed to UTC; every other column comes back as the
driver returns it. Error messages show a URL written in the config with its
password as ``***``, and a URL from ``url_env`` as ``$VARIABLE``; the driver's
message keeps its first lines without the SQL it quotes, and hides what the
config does not name (``monitor.redaction``: the host, user and database of a
URL from the environment, addresses a host name resolved to).

**Timeouts.** A database that accepts connections and never answers must
not hold a run for ever. On PostgreSQL ``connect_timeout`` (10 s) bounds the
connection (libpq's own parameter) and ``statement_timeout`` (60 s) each
statement (``SET statement_timeout`` on every new connection; the server
cancels a statement past it). Other drivers take their own timeouts as URL
query parameters (e.g. ``?connect_timeout=10&read_timeout=60`` for PyMySQL);
whatever the database, the run's deadline (``scheduler.run_timeout``) ends a
run that still hangs.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Literal

import pandas as pd
import sqlalchemy as sa
from pydantic import Field, model_validator
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
from sqlalchemy.sql import FromClause

from detectors import ColumnProfile, WindowSummary
from monitor.columns import require_names
from monitor.redaction import Redactor
from monitor.secrets import SecretError, resolve_secret
from monitor.settings_base import exactly_one
from monitor.sources._frames import check_limit, to_utc, utc_window
from monitor.sources.base import SourceError, Window
from monitor.sources.spec import SourceSettingsModel, SourceSpec
from monitor.sources.sql_engines import SHARED_ENGINES, SqlTimeouts, create_source_engine
from monitor.sources.sql_profile import check_types, summarise_window
from monitor.sources.sql_sampling import QUERY_NAME, postgres_sample

log = logging.getLogger("driftwarden.sources.sql")

PARTITION_ROWS = 10_000


class SqlTableSettings(SqlTimeouts):
    """Where SQL rows are read: a database (``url`` or ``url_env``) and a ``table`` or ``query``.

    Shared by the SQL source and the SQL label source (``monitor.sources.sql_labels``).
    """

    url: str | None = None
    url_env: str | None = None
    table: str | None = None
    query: str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> SqlTableSettings:
        exactly_one(self, "url", "url_env")
        exactly_one(self, "table", "query")
        return self

    def resolved_url(self, key: str, origin: str) -> str:
        """The URL, read from ``url_env`` (config key ``key``) when it names a variable."""
        if self.url_env is None:
            assert self.url is not None
            return self.url
        try:
            return resolve_secret(self.url_env, key)
        except SecretError as exc:
            raise SourceError(f"{origin}: {exc}") from None

    def selectable(self, columns: Sequence[str]) -> FromClause:
        """The table or the query as a FROM clause that knows ``columns``."""
        if self.table is not None:
            return _table(self.table, columns)
        assert self.query is not None
        return _query(self.query, columns)


class SqlSourceSettings(SqlTableSettings, SourceSettingsModel):
    type: Literal["sql"]
    timestamp_column: str
    profile_in_database: bool = Field(default=False, exclude=True)
    """Runs count the window in the database instead of sampling rows (``sql_profile``).

    Excluded from dumps, so not part of a reference's key: the reference is
    read as rows either way.
    """

    @model_validator(mode="after")
    def _profiled_in_postgresql(self) -> SqlSourceSettings:
        if self.profile_in_database and self.url is not None:
            backend = _backend(self.url)
            if backend not in (None, "postgresql"):
                raise ValueError(
                    f"profile_in_database: the window is profiled in PostgreSQL only; this "
                    f"source's URL is {backend} (remove the key to sample rows)"
                )
        return self


def _backend(url: str) -> str | None:
    try:
        return sa.make_url(url).get_backend_name()
    except (ArgumentError, ValueError):
        return None


_QUOTED_SQL = re.compile(r"^(LINE \d+:|\s*\^)")


def _reason(exc: BaseException, redact: Redactor) -> str:
    """The driver's message on one line, without the SQL it quotes or what the config hides.

    ``redact`` (``Redactor.for_url``) masks the password should a driver echo
    it, and what ``monitor.redaction`` says a reason must not show.
    """
    cause = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(cause).splitlines()]
    text = " ".join(line for line in lines if line and not _QUOTED_SQL.match(line))
    return redact(text or type(cause).__name__)[:500]


def _table(name: str, columns: Sequence[str]) -> FromClause:
    schema, _, table_name = name.rpartition(".")
    return sa.table(table_name, *[sa.column(column) for column in columns], schema=schema or None)


def _query(query: str, columns: Sequence[str]) -> FromClause:
    statement = query.strip().rstrip(";").strip()
    return (
        sa.text(statement).columns(*[sa.column(column) for column in columns]).subquery(QUERY_NAME)
    )


def _window_condition(
    dialect: str, column: sa.ColumnElement[Any], window: Window
) -> sa.ColumnElement[bool]:
    bounds = utc_window(window)
    if dialect == "sqlite":

        def bound(name: str, moment: datetime) -> sa.ColumnElement[Any]:
            text = moment.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
            return sa.func.julianday(sa.bindparam(name, text, type_=sa.String()))

        value = sa.func.julianday(column)
        return sa.and_(
            value >= bound("window_start", bounds.start), value < bound("window_end", bounds.end)
        )
    if dialect == "postgresql":
        start, end, type_ = bounds.start, bounds.end, sa.DateTime(timezone=True)
    else:
        start, end = bounds.start.replace(tzinfo=None), bounds.end.replace(tzinfo=None)
        type_ = sa.DateTime()
    return sa.and_(
        column >= sa.bindparam("window_start", start, type_=type_),
        column < sa.bindparam("window_end", end, type_=type_),
    )


def _columns(connection: Connection, source: FromClause) -> list[tuple[str, Any]]:
    """The source's columns and the driver's type code of each (a type oid on PostgreSQL)."""
    probe: sa.Select[Any] = sa.select(sa.literal_column("*")).select_from(source).limit(0)
    result = connection.execute(probe)
    described = [(str(column[0]), column[1]) for column in result.cursor.description]
    result.close()
    return described


def _missing_table(connection: Connection, name: str) -> bool:
    schema, _, table_name = name.rpartition(".")
    try:
        inspector = sa.inspect(connection)
        return not (
            inspector.has_table(table_name, schema=schema or None)
            or table_name in inspector.get_view_names(schema=schema or None)
        )
    except SQLAlchemyError:
        return False


@contextmanager
def _opened(
    engine: Engine,
    origin: str,
    redact: Redactor,
    source: FromClause,
    table: str | None,
    timestamp_column: str | None,
) -> Iterator[tuple[Connection, list[tuple[str, Any]]]]:
    """A connection and the source's columns (``_columns``), every failure a ``SourceError``."""
    try:
        connection = engine.connect()
    except SQLAlchemyError as exc:
        raise SourceError(f"{origin}: cannot connect: {_reason(exc, redact)}") from None
    with connection:
        try:
            described = _columns(connection, source)
        except DBAPIError as exc:
            connection.rollback()
            if table is not None and _missing_table(connection, table):
                raise SourceError(f"{origin}: table {table!r} not found") from None
            raise SourceError(f"{origin}: query failed: {_reason(exc, redact)}") from None
        columns = [name for name, _ in described]
        if timestamp_column is not None and timestamp_column not in columns:
            where = f"table {table!r}" if table is not None else "the query's result"
            raise SourceError(
                f"{origin}: timestamp column {timestamp_column!r} not found in {where} "
                f"(columns: {', '.join(columns) or 'none'})"
            )
        try:
            yield connection, described
        except SQLAlchemyError as exc:
            raise SourceError(f"{origin}: query failed: {_reason(exc, redact)}") from None


def _sample(
    engine: Engine,
    origin: str,
    redact: Redactor,
    source: FromClause,
    table: str | None,
    timestamp_column: str | None,
    window: Window | None,
    limit: int | None,
    seed: int,
) -> pd.DataFrame:
    limit = None if limit is None else check_limit(limit)
    with _opened(engine, origin, redact, source, table, timestamp_column) as (connection, found):
        columns = [name for name, _ in found]
        frame = _fetch(connection, source, table, columns, timestamp_column, window, limit, seed)
    if timestamp_column is not None:
        frame[timestamp_column] = to_utc(frame[timestamp_column], timestamp_column, origin)
    return frame


def _fetch(
    connection: Connection,
    source: FromClause,
    table: str | None,
    columns: list[str],
    timestamp_column: str | None,
    window: Window | None,
    limit: int | None,
    seed: int,
) -> pd.DataFrame:
    dialect = connection.dialect.name

    def condition(rows: FromClause) -> sa.ColumnElement[bool] | None:
        if window is None or timestamp_column is None:
            return None
        return _window_condition(dialect, rows.c[timestamp_column], window)

    rows: sa.Select[Any] = sa.select(sa.literal_column("*")).select_from(source)
    in_window = condition(source)
    if in_window is not None:
        rows = rows.where(in_window)
    if limit == 0:
        return pd.DataFrame(columns=columns)
    if limit is None:
        count = 0
    else:
        count = connection.execute(
            sa.select(sa.func.count()).select_from(rows.subquery())
        ).scalar_one()
    if limit is not None and count > limit:
        if dialect == "postgresql":
            sample = postgres_sample(connection, source, table, condition, count, limit, seed)
            log.debug("sampling %d of %d rows by %s", limit, count, sample.method)
            rows = sample.statement
        else:
            rows = rows.order_by(sa.func.random()).limit(limit)
    result = connection.execution_options(yield_per=PARTITION_ROWS).execute(rows)
    keys = list(result.keys())
    frames = [
        pd.DataFrame([tuple(row) for row in partition], columns=keys)
        for partition in result.partitions()
    ]
    if not frames:
        return pd.DataFrame(columns=keys)
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


class SqlSource:
    """Rows of a table or query whose ``timestamp_column`` is in the window (see the module)."""

    def __init__(self, settings: SqlSourceSettings) -> None:
        self.settings = settings
        url = settings.resolved_url("source.url_env", "source sql")
        self._engine, self._origin = SHARED_ENGINES.acquire(
            url, "source sql", settings, settings.url_env
        )
        self._redact = Redactor.for_url(url, settings.url_env)
        if settings.profile_in_database and self._engine.dialect.name != "postgresql":
            raise SourceError(
                f"{self._origin}: profile_in_database needs PostgreSQL, not "
                f"{self._engine.dialect.name}"
            )
        self._source = settings.selectable([settings.timestamp_column])

    def sample(self, window: Window | None, limit: int, seed: int) -> pd.DataFrame:
        return _sample(
            self._engine,
            self._origin,
            self._redact,
            self._source,
            self.settings.table,
            self.settings.timestamp_column,
            window,
            limit,
            seed,
        )

    def summarise(self, window: Window, profiles: Mapping[str, ColumnProfile]) -> WindowSummary:
        """The window's summary for ``profiles``, counted in PostgreSQL (``sql_profile``)."""
        timestamp = self.settings.timestamp_column
        source = self.settings.selectable(list(dict.fromkeys([timestamp, *profiles])))
        with _opened(
            self._engine, self._origin, self._redact, source, self.settings.table, timestamp
        ) as (connection, found):
            require_names([name for name, _ in found], list(profiles), "current window")
            types = dict(found)
            check_types(connection, self._origin, profiles, types)
            condition = _window_condition("postgresql", source.c[timestamp], window)
            return summarise_window(connection, source, condition, profiles, types)

    def close(self) -> None:
        """Release the shared engine (its connections close with its last source)."""
        SHARED_ENGINES.release(self._engine)


SPEC = SourceSpec(type="sql", settings=SqlSourceSettings, factory=SqlSource)


DEFAULT_TIMEOUTS = SqlTimeouts()


def read_query(
    url: str,
    query: str,
    limit: int | None,
    seed: int,
    timeouts: SqlTimeouts = DEFAULT_TIMEOUTS,
    env_name: str | None = None,
) -> pd.DataFrame:
    """At most ``limit`` rows of ``query`` (sampled as a source samples), columns as returned.

    ``limit=None`` fetches every row; ``env_name``: the variable ``url`` came from, if any.
    Used for SQL references; the engine lives only for this call.
    """
    engine, origin = create_source_engine(url, "reference sql", timeouts, env_name)
    redact = Redactor.for_url(url, env_name)
    try:
        return _sample(engine, origin, redact, _query(query, []), None, None, None, limit, seed)
    finally:
        engine.dispose()
