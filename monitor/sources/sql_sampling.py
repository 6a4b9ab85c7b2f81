"""A seeded uniform sample of a PostgreSQL window without sorting the window.

``ORDER BY random() LIMIT n`` sorts every row of the window by a random key:
on 10M rows PostgreSQL spills half a gigabyte to disk for it. Instead, each
row gets a seeded 64-bit hash as its key (``hashtextextended``, PostgreSQL
11 or later), and the sample is the ``limit`` rows of smallest key: a
uniform sample without replacement, as a sort by random keys is, but the
database first keeps only the rows whose key falls below a cut that about
``limit + 4 sqrt(limit)`` rows pass, so it sorts a hundredth of the window,
not all of it. The key is

* for a table (or materialized view, or partitioned table): its row's
  physical address, ``tableoid`` and ``ctid``;
* for a view or a ``query``: the row's text, so that rows that are equal in
  every column are taken or left together (each still with the same
  chance).

When the window holds a quarter or more of a table's rows (its planner
estimate, ``pg_class.reltuples``), ``TABLESAMPLE BERNOULLI (p) REPEATABLE
(seed)`` first draws the same share of rows while it scans, cheaper than
hashing every row; the sample is then the smallest keys of those. Below a
quarter, the window is read by whatever index serves its time condition,
which a ``TABLESAMPLE`` scan cannot use. ``TABLESAMPLE SYSTEM`` is never
used: it takes whole pages, and rows written together (a minute of traffic)
would come together.

Seeded: the same seed gives the same rows for the same table contents (a
table rewritten by ``VACUUM FULL`` or an update moves its rows, and then
their keys). The result holds at most ``limit`` rows; in about 3 windows in
100,000 fewer than ``limit`` keys pass the cut, and the sample holds those,
still uniform.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.sql import FromClause

TABLESAMPLE_MIN_SHARE: Final = 0.25
"""TABLESAMPLE is used when the window holds at least this share of the table's rows."""

SAMPLED_NAME: Final = "source_rows"
"""The alias a sampled table is read under (its key names its columns)."""

QUERY_NAME: Final = "source_query"
"""The alias a ``query`` is read under (``monitor.sources.sql``), whose row text is its key."""

_TABLE_KINDS = frozenset({"r", "m", "p"})
_TABLESAMPLE_KINDS = frozenset({"r", "m"})
_HASH_RANGE = 2**64


@dataclass(frozen=True)
class PostgresSample:
    """The statement that reads the sample, and how it samples (for the log)."""

    statement: sa.Select[Any]
    method: str


Condition = Callable[[FromClause], sa.ColumnElement[bool] | None]
"""The window's condition on the columns of a given FROM clause (None: no window)."""


def sample_share(count: int, limit: int) -> float:
    """The share of the window whose keys pass the cut: ``limit + 4 sqrt(limit) + 16`` rows.

    Enough that fewer than ``limit`` pass only about 3 times in 100,000
    (a binomial's mean 4 standard deviations above ``limit``).

    >>> round(sample_share(10_000_000, 100_000), 6)
    0.010128
    """
    return min(1.0, (limit + 4.0 * math.sqrt(limit) + 16.0) / count)


def postgres_sample(
    connection: Connection,
    source: FromClause,
    table: str | None,
    condition: Condition,
    count: int,
    limit: int,
    seed: int,
) -> PostgresSample:
    """The statement reading a uniform seeded sample of ``limit`` of the window's ``count`` rows.

    ``source`` is the table (``table`` names it) or the query's subquery.
    """
    share = sample_share(count, limit)
    hash_seed = sa.literal(int(seed) & 0x7FFF_FFFF_FFFF_FFFF, sa.BigInteger)
    relation = _relation(connection, source) if table is not None else None
    rows: FromClause = source.alias(SAMPLED_NAME) if table is not None else source
    key_text: sa.ColumnElement[str]
    if relation is None:
        row_name = SAMPLED_NAME if table is not None else QUERY_NAME
        key_text = sa.cast(sa.literal_column(f'"{row_name}"'), sa.Text)
        method = "a key-hash filter on the row's text"
    else:
        kind, estimated_rows = relation
        method = "a key-hash filter on the row's address"
        if (
            kind in _TABLESAMPLE_KINDS
            and share < 1.0
            and count >= TABLESAMPLE_MIN_SHARE * estimated_rows > 0
        ):
            rows = sa.tablesample(
                source,
                sa.func.bernoulli(sa.literal(100.0 * share, sa.Float)),
                name=SAMPLED_NAME,
                seed=sa.literal(float(int(seed) & 0xFFFF_FFFF), sa.Float),
            )
            method = f"TABLESAMPLE BERNOULLI ({100.0 * share:.4g} %)"
        key_text = sa.cast(sa.literal_column(f'"{SAMPLED_NAME}".tableoid'), sa.Text).concat(
            sa.cast(sa.literal_column(f'"{SAMPLED_NAME}".ctid'), sa.Text)
        )
    key = sa.func.hashtextextended(key_text, hash_seed)
    statement: sa.Select[Any] = sa.select(sa.literal_column("*")).select_from(rows)
    where = condition(rows)
    if where is not None:
        statement = statement.where(where)
    if share < 1.0 and not method.startswith("TABLESAMPLE"):
        cut = -(2**63) + math.floor(share * _HASH_RANGE)
        statement = statement.where(key < sa.literal(cut, sa.BigInteger))
    return PostgresSample(statement.order_by(key).limit(limit), method)


def _relation(connection: Connection, source: FromClause) -> tuple[str, float] | None:
    """The table's kind and estimated rows; None for a view or anything without a ``ctid``."""
    name = connection.dialect.identifier_preparer.format_table(source)
    found = connection.execute(
        sa.text("SELECT relkind, reltuples FROM pg_class WHERE oid = to_regclass(:name)"),
        {"name": name},
    ).one_or_none()
    if found is None or found.relkind not in _TABLE_KINDS:
        return None
    return str(found.relkind), float(found.reltuples)
