"""Labels in a SQL table or query, looked up by id in the database.

The ids of a window's predictions are bound as parameters, ``LOOKUP_CHUNK``
at a time (``WHERE id IN (...)``), so a lookup reads only the rows of those
ids whatever the table holds, and an index on the id column serves it. The
connection, timeouts, URL masking and error wording are the SQL source's
(``monitor.sources.sql``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from monitor.redaction import Redactor
from monitor.sources.base import SourceError
from monitor.sources.labels import (
    LOOKUP_CHUNK,
    LabelSettingsModel,
    LabelSpec,
    known_labels,
    label_columns,
    missing_columns,
    wanted_ids,
)
from monitor.sources.sql import (
    SqlTableSettings,
    _columns,
    _missing_table,
    _reason,
)
from monitor.sources.sql_engines import SHARED_ENGINES


class SqlLabelSettings(SqlTableSettings, LabelSettingsModel):
    type: Literal["sql"]


class SqlLabelSource:
    """The labels of given ids, from a table or query of any database SQLAlchemy reaches."""

    def __init__(self, settings: SqlLabelSettings) -> None:
        self.settings = settings
        url = settings.resolved_url("performance.labels.url_env", "labels sql")
        self._engine, self._origin = SHARED_ENGINES.acquire(
            url, "labels sql", settings, settings.url_env
        )
        self._redact = Redactor.for_url(url, settings.url_env)
        self._columns = label_columns(settings)
        self._source = settings.selectable(self._columns)

    def labels(self, ids: Sequence[Any], arrived_by: datetime | None) -> pd.Series:
        wanted = wanted_ids(ids)
        id_column = self._source.c[self.settings.id_column]
        selected = [self._source.c[name] for name in self._columns]
        try:
            connection = self._engine.connect()
        except SQLAlchemyError as exc:
            reason = _reason(exc, self._redact)
            raise SourceError(f"{self._origin}: cannot connect: {reason}") from None
        rows: list[tuple[Any, ...]] = []
        with connection:
            self._check_columns(connection)
            try:
                for start in range(0, len(wanted), LOOKUP_CHUNK):
                    chunk = wanted[start : start + LOOKUP_CHUNK]
                    query = sa.select(*selected).where(id_column.in_(chunk))
                    rows.extend(tuple(row) for row in connection.execute(query))
            except SQLAlchemyError as exc:
                reason = _reason(exc, self._redact)
                raise SourceError(f"{self._origin}: query failed: {reason}") from None
        frame = pd.DataFrame(rows, columns=self._columns)
        return known_labels(frame, self.settings, arrived_by, self._origin)

    def _check_columns(self, connection: sa.Connection) -> None:
        table = self.settings.table
        try:
            found = _columns(connection, self._source)
        except DBAPIError as exc:
            connection.rollback()
            if table is not None and _missing_table(connection, table):
                raise SourceError(f"{self._origin}: table {table!r} not found") from None
            reason = _reason(exc, self._redact)
            raise SourceError(f"{self._origin}: query failed: {reason}") from None
        where = f"table {table!r}" if table is not None else "the query's result"
        missing_columns(self.settings, [name for name, _ in found], where, self._origin)

    def close(self) -> None:
        SHARED_ENGINES.release(self._engine)


SPEC = LabelSpec(type="sql", settings=SqlLabelSettings, factory=SqlLabelSource)
