"""PostgreSQL samples without sorting the window: TABLESAMPLE or a seeded key hash, uniform."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import sqlalchemy as sa
from scipy import stats

from monitor.sources import SqlSource, SqlSourceSettings, Window
from monitor.sources.sql_sampling import sample_share

pytestmark = pytest.mark.postgres

T0 = datetime(2024, 1, 1, tzinfo=UTC)
ROWS = 10_000  # one a second from T0
WHOLE = Window(T0, T0 + timedelta(seconds=ROWS))
FIFTH = Window(T0, T0 + timedelta(seconds=ROWS // 5))


@pytest.fixture
def events_url(postgres_url: str) -> Iterator[str]:
    """A table ``events`` (id, ts, value) of ROWS rows, analyzed, and a view ``events_view``."""
    engine = sa.create_engine(postgres_url)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "CREATE TABLE events AS SELECT g AS id, "
                "timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second' AS ts, "
                "g % 7 AS value FROM generate_series(0, :last) g"
            ),
            {"last": ROWS - 1},
        )
        connection.execute(sa.text("ANALYZE events"))
        connection.execute(sa.text("CREATE VIEW events_view AS SELECT * FROM events"))
    engine.dispose()
    yield postgres_url


def _source(url: str, **form: str) -> SqlSource:
    settings = {"type": "sql", "url": url, "timestamp_column": "ts", **form}
    return SqlSource(SqlSourceSettings.model_validate(settings))


FORMS = {
    "table": ({"table": "events"}, WHOLE, "TABLESAMPLE BERNOULLI (11.42 %)"),
    "table, a fifth of it": ({"table": "events"}, FIFTH, "a key-hash filter on the row's address"),
    "view": ({"table": "events_view"}, WHOLE, "a key-hash filter on the row's text"),
    "query": (
        {"query": "SELECT id, ts, value FROM events"},
        WHOLE,
        "a key-hash filter on the row's text",
    ),
}


@pytest.mark.parametrize("form", FORMS, ids=list(FORMS))
def test_a_sample_is_limit_rows_of_the_window_seeded(
    events_url: str, form: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings, window, method = FORMS[form]
    source = _source(events_url, **settings)
    window_rows = int((window.end - window.start).total_seconds())
    limit = 1_000 if window is WHOLE else 200
    try:
        with caplog.at_level(logging.DEBUG, logger="driftwarden.sources.sql"):
            first = source.sample(window, limit, seed=7)
        again = source.sample(window, limit, seed=7)
        other = source.sample(window, limit, seed=8)
    finally:
        source.close()
    assert f"sampling {limit} of {window_rows} rows by {method}" in caplog.messages
    assert len(first) == limit
    assert first["id"].is_unique
    assert first["id"].between(0, window_rows - 1).all()
    assert list(first.columns) == ["id", "ts", "value"]
    assert sorted(first["id"]) == sorted(again["id"])
    assert sorted(first["id"]) != sorted(other["id"])


@pytest.mark.parametrize("form", FORMS, ids=list(FORMS))
def test_every_row_of_the_window_is_as_likely_to_be_sampled(events_url: str, form: str) -> None:
    """40 seeds: how often each tenth of the window was sampled is uniform (chi-squared)."""
    settings, window, _ = FORMS[form]
    source = _source(events_url, **settings)
    window_rows = int((window.end - window.start).total_seconds())
    limit = window_rows // 10
    try:
        ids = np.concatenate([source.sample(window, limit, seed=seed)["id"] for seed in range(40)])
    finally:
        source.close()
    tenths = np.bincount(ids * 10 // window_rows, minlength=10)
    assert tenths.sum() == 40 * limit
    assert stats.chisquare(tenths).pvalue > 1e-3
    # Each sample is without replacement, and the seeds draw different ones.
    assert len(np.unique(ids)) > 0.9 * window_rows * (1 - (1 - limit / window_rows) ** 40)


def test_the_cut_keeps_a_little_more_than_the_limit() -> None:
    assert sample_share(1_000_000, 1_000) == pytest.approx((1_000 + 4 * 1_000**0.5 + 16) / 1e6)
    assert sample_share(1_010, 1_000) == 1.0
