"""A window profiled inside PostgreSQL: one query returns its summary, never its rows.

With ``profile_in_database = true`` a run asks the database for what the
count-based tests need (``detectors.window_summary``) in one statement, one
scan of the window::

    SELECT set_id, k0, k1, ..., n FROM (
      SELECT <which column> AS set_id, k0, k1, ..., count(*) AS n,
             row_number() OVER (PARTITION BY <which column> ORDER BY ...) AS rank
      FROM (SELECT width_bucket(x::float8, :thresholds) AS k0,   -- numeric
                   device AS k1,                                  -- categorical
                   ...
            FROM <rows of the window> OFFSET 0) AS cells
      GROUP BY GROUPING SETS ((), (k0), (k1), ...)
    ) AS ranked WHERE rank <= :limit

* A numeric column is counted in the reference's cells by ``width_bucket``
  over the thresholds ``-Infinity, -DBL_MAX, next(e0), ..., next(e_last),
  Infinity, NaN`` (``next``: the float just above): bucket 1 holds -Infinity,
  buckets 2 to m + 2 the finite values of ``(-inf, e0]``, ..., ``(e_last,
  inf)``, exactly as ``detectors._binning.bin_counts`` counts them, then
  +Infinity and NaN; a null has no bucket. Exact and cheap: a binary search
  over a thousand floats per value, no sort.
* A categorical column is grouped by its own value, converted by the driver
  and keyed in Python as a pulled row would be (``category_key``; NaN is
  missing, as pandas has it). At most ``MAX_SUMMARY_CATEGORIES`` categories
  per column come back, the commonest (the rest are counted together,
  ``detectors.window_summary.categorical_summary``); a reference that looks
  like an identifier needs no categories, so only its nulls are counted.
* The empty grouping set counts the window's rows.

``OFFSET 0`` keeps the planner from reading the column's statistics into
the cell expressions: it would expect one group per distinct value and sort
the window instead of hashing a thousand cells. The statement is bounded by
the source's ``statement_timeout`` like every other. What comes back is a
few thousand rows whatever the window's size (a thousand or so per numeric
column, one per category).

Numeric columns must have a number type in the database (smallint, integer,
bigint, real, double precision, numeric, or boolean, counted as 0/1): a text
column of numbers cannot be counted without parsing every value, so it is
refused by name (cast it in a ``query``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection
from sqlalchemy.sql import FromClause

from detectors import ColumnProfile, PreparedColumn, WindowSummary
from detectors._prepare import category_key
from detectors.window_summary import (
    MAX_SUMMARY_CATEGORIES,
    categorical_summary,
    counts_categories,
    numeric_summary,
    summary_edges,
)
from monitor.sources.base import SourceError

NUMBER_TYPES: Final = {20: "bigint", 21: "smallint", 23: "integer", 700: "real"} | {
    701: "double precision",
    1700: "numeric",
}
"""PostgreSQL type oids a numeric column may have, cast to double precision."""

BOOLEAN_TYPE: Final = 16

_LARGEST = float(np.finfo(np.float64).max)


def thresholds(edges: npt.NDArray[np.float64]) -> list[float]:
    """The ``width_bucket`` thresholds that count values as ``bin_counts`` does on ``edges``.

    >>> thresholds(np.array([0.0, 1.0]))[2:4] == [5e-324, float(np.nextafter(1.0, 2.0))]
    True
    """
    above = np.nextafter(edges, np.inf).tolist()
    return [-np.inf, -_LARGEST, *above, np.inf, np.nan]


def summary_statement(
    source: FromClause,
    condition: sa.ColumnElement[bool] | None,
    profiles: Mapping[str, ColumnProfile],
    types: Mapping[str, Any],
) -> tuple[sa.Select[Any], dict[str, npt.NDArray[np.float64]]]:
    """The one statement that summarises the window, and the edges of each numeric column."""
    keys: list[sa.ColumnElement[Any]] = []
    edges: dict[str, npt.NDArray[np.float64]] = {}
    for index, (name, profile) in enumerate(profiles.items()):
        column = source.c[name]
        if profile.kind == "numeric":
            edges[name] = summary_edges(profile)
            value = sa.cast(
                sa.cast(column, sa.Integer) if types.get(name) == BOOLEAN_TYPE else column,
                sa.Double,
            )
            threshold_array = sa.bindparam(
                f"thresholds_{index}",
                thresholds(edges[name]),
                type_=postgresql.ARRAY(sa.Double),
            )
            keys.append(sa.func.width_bucket(value, threshold_array).label(f"k{index}"))
        elif counts_categories(profile):
            keys.append(column.label(f"k{index}"))
        else:
            keys.append(column.is_(None).label(f"k{index}"))
    inner: sa.Select[Any] = sa.select(*keys).select_from(source)
    if condition is not None:
        inner = inner.where(condition)
    cells = inner.offset(0).subquery("cells")
    grouped_keys = [cells.c[f"k{index}"] for index in range(len(keys))]
    set_id = sa.case(
        *[
            (sa.func.grouping(key) == sa.literal_column("0"), sa.literal_column(str(index)))
            for index, key in enumerate(grouped_keys)
        ],
        else_=sa.literal_column("-1"),
    )
    rows = sa.func.count()
    all_null = sa.func.num_nulls(*grouped_keys) == sa.literal_column(str(len(grouped_keys)))
    rank = sa.func.row_number().over(
        partition_by=set_id, order_by=[all_null.desc(), rows.desc(), *grouped_keys]
    )
    ranked = (
        sa.select(set_id.label("set_id"), *grouped_keys, rows.label("n"), rank.label("rank"))
        .group_by(sa.func.grouping_sets(sa.tuple_(), *[sa.tuple_(key) for key in grouped_keys]))
        .subquery("ranked")
    )
    statement = sa.select(
        ranked.c.set_id, *[ranked.c[f"k{index}"] for index in range(len(keys))], ranked.c.n
    ).where(ranked.c.rank <= MAX_SUMMARY_CATEGORIES + 1)
    return statement, edges


def check_types(
    connection: Connection,
    origin: str,
    profiles: Mapping[str, ColumnProfile],
    types: Mapping[str, Any],
) -> None:
    """Refuse, by name, a numeric column whose database type is not a number."""
    for name, profile in profiles.items():
        oid = types.get(name)
        if profile.kind != "numeric" or oid in NUMBER_TYPES or oid == BOOLEAN_TYPE:
            continue
        type_name = connection.execute(
            sa.select(sa.func.format_type(sa.literal(oid, sa.Integer), None))
        ).scalar_one()
        raise SourceError(
            f"{origin}: column {name!r} is numeric in the config but {type_name} in the "
            "database; profile_in_database counts numeric columns of number types only "
            "(cast it in a query, e.g. CAST(x AS double precision) AS x)"
        )


def summarise_window(
    connection: Connection,
    source: FromClause,
    condition: sa.ColumnElement[bool] | None,
    profiles: Mapping[str, ColumnProfile],
    types: Mapping[str, Any],
) -> WindowSummary:
    """Run ``summary_statement`` and turn its rows into the window's summary."""
    statement, edges = summary_statement(source, condition, profiles, types)
    rows = connection.execute(statement).all()
    return _summary(list(profiles.items()), edges, rows)


def _summary(
    profiles: Sequence[tuple[str, ColumnProfile]],
    edges: Mapping[str, npt.NDArray[np.float64]],
    rows: Sequence[Any],
) -> WindowSummary:
    n_rows = 0
    groups: list[list[tuple[Any, int]]] = [[] for _ in profiles]
    for row in rows:
        set_id, count = int(row[0]), int(row[-1])
        if set_id < 0:
            n_rows = count
        else:
            groups[set_id].append((row[1 + set_id], count))
    columns: dict[str, PreparedColumn] = {}
    for index, (name, profile) in enumerate(profiles):
        if profile.kind == "numeric":
            columns[name] = _numeric(edges[name], groups[index], n_rows)
        else:
            columns[name] = _categorical(profile, groups[index], n_rows)
    return WindowSummary(n_rows=n_rows, columns=columns, result_rows=len(rows))


def _numeric(
    edges: npt.NDArray[np.float64], groups: list[tuple[Any, int]], n_rows: int
) -> PreparedColumn:
    buckets = np.zeros(edges.size + 5, dtype=np.int64)
    missing = 0
    for bucket, count in groups:
        if bucket is None:
            missing += count
        else:
            buckets[int(bucket)] += count
    infinite = int(buckets[1] + buckets[edges.size + 3])
    return numeric_summary(
        edges,
        buckets[2 : edges.size + 3],
        n_total=n_rows,
        n_missing=missing + int(buckets[edges.size + 4]),
        n_infinite=infinite,
    )


def _categorical(
    profile: ColumnProfile, groups: list[tuple[Any, int]], n_rows: int
) -> PreparedColumn:
    if not counts_categories(profile):
        missing = sum(count for is_null, count in groups if is_null)
        return categorical_summary({}, n_total=n_rows, n_missing=missing)
    counts: dict[str, int] = {}
    missing = 0
    for value, count in groups:
        if value is None or bool(pd.isna(value)):
            missing += count
            continue
        key = category_key(value)
        counts[key] = counts.get(key, 0) + count
    return categorical_summary(counts, n_total=n_rows, n_missing=missing)
