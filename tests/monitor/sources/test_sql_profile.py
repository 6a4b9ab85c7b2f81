"""``profile_in_database``: the window counted in PostgreSQL, equal to counting its rows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from detectors import ColumnProfile, compare_prepared, fit_profile
from detectors._categories import OTHER
from detectors.window_summary import MAX_SUMMARY_CATEGORIES, summarise_frame
from monitor.columns import DataError
from monitor.config import MonitorSettings, parse_settings
from monitor.profiles import reference_key
from monitor.settings_base import ConfigError
from monitor.sources import SourceError, SqlSource, SqlSourceSettings, Window, build_source

T0 = datetime(2024, 1, 1, tzinfo=UTC)
WINDOW = Window(T0, T0 + timedelta(hours=1))
ROWS = 3_000  # a row a second from T0 - 10 min: 2,400 of them in WINDOW

EVENTS = """
CREATE TABLE events AS
SELECT g AS id,
       timestamptz '2024-01-01 00:00:00+00' + (g - 600) * interval '1 second' AS ts,
       CASE WHEN g % 97 = 0 THEN NULL WHEN g % 89 = 0 THEN 'NaN'::float8
            WHEN g % 83 = 0 THEN 'Infinity'::float8 WHEN g % 79 = 0 THEN '-Infinity'::float8
            ELSE sin(g) * 10 END AS score,
       g % 13 AS clicks,
       (g % 7 = 0) AS flagged,
       round((g % 50)::numeric / 4, 2) AS price,
       CASE WHEN g % 31 = 0 THEN NULL ELSE (ARRAY['ios', 'android', 'web'])[1 + g % 3] END
           AS device,
       g % 4 AS tier,
       (g % 5 = 0) AS promo,
       CASE WHEN g % 11 = 0 THEN 'NaN'::float8 ELSE (g % 3)::float8 END AS bucket,
       'user-' || g AS user_id,
       (g % 9)::text AS code_text
FROM generate_series(0, :last) g
"""
NUMERIC = ("score", "clicks", "flagged", "price")
CATEGORICAL = ("device", "tier", "promo", "bucket", "user_id")


@pytest.fixture
def events_url(postgres_url: str) -> Iterator[str]:
    engine = sa.create_engine(postgres_url)
    with engine.begin() as connection:
        connection.execute(sa.text(EVENTS), {"last": ROWS - 1})
    engine.dispose()
    yield postgres_url


def _source(url: str, **form: Any) -> SqlSource:
    settings = {"type": "sql", "url": url, "timestamp_column": "ts", **form}
    return SqlSource(SqlSourceSettings.model_validate({"profile_in_database": True, **settings}))


def _profiles(frame: pd.DataFrame) -> dict[str, ColumnProfile]:
    profiles = {name: fit_profile(frame[name], "numeric") for name in NUMERIC}
    profiles |= {name: fit_profile(frame[name], "categorical") for name in CATEGORICAL}
    return profiles


@pytest.mark.postgres
@pytest.mark.parametrize(
    "form",
    [{"table": "events"}, {"query": "SELECT * FROM events WHERE id >= 0"}],
    ids=["table", "query"],
)
def test_the_summary_equals_the_summary_of_the_window_s_rows(
    events_url: str, form: dict[str, str]
) -> None:
    source = _source(events_url, **form)
    try:
        reference = source.sample(None, 10_000, seed=0)
        rows = source.sample(WINDOW, 10_000, seed=0)
        profiles = _profiles(reference)
        summary = source.summarise(WINDOW, profiles)
    finally:
        source.close()
    expected = summarise_frame(profiles, rows)
    assert len(summary) == len(rows) == 2_400
    assert 0 < summary.result_rows < 3_000
    for name in NUMERIC:
        got, want = summary.columns[name], expected.columns[name]
        assert got.cells is not None and want.cells is not None
        assert got.cells.counts.tolist() == want.cells.counts.tolist(), name
        assert (got.n_total, got.n_missing, got.n_infinite) == (
            want.n_total,
            want.n_missing,
            want.n_infinite,
        ), name
    for name in CATEGORICAL:
        got, want = summary.columns[name], expected.columns[name]
        assert got.category_counts == want.category_counts, name
        assert (got.n_total, got.n_missing) == (want.n_total, want.n_missing), name
    assert summary.columns["score"].n_missing == expected.columns["score"].n_missing > 0
    assert summary.columns["score"].n_infinite > 0
    assert summary.columns["bucket"].category_counts == {"0": 728, "1": 727, "2": 727}
    assert summary.columns["user_id"].category_counts == {OTHER: 2_400}
    for name, profile in profiles.items():
        on_rows = compare_prepared(profile, expected.columns[name])
        on_database = compare_prepared(profile, summary.columns[name])
        assert on_database.to_dict() == on_rows.to_dict(), name


@pytest.mark.postgres
def test_categories_beyond_the_limit_are_counted_together(postgres_url: str) -> None:
    engine = sa.create_engine(postgres_url)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "CREATE TABLE wide AS SELECT timestamptz '2024-01-01 00:30:00+00' AS ts, "
                "CASE WHEN g <= 100 THEN 'top' ELSE 'c' || g END AS merchant "
                "FROM generate_series(1, :n) g"
            ),
            {"n": MAX_SUMMARY_CATEGORIES + 200},
        )
    engine.dispose()
    reference = pd.Series([f"c{i}" for i in range(20)] * 10 + ["top"] * 100, name="merchant")
    profile = fit_profile(reference, "categorical")
    source = _source(postgres_url, table="wide")
    try:
        summary = source.summarise(WINDOW, {"merchant": profile})
    finally:
        source.close()
    counts = summary.columns["merchant"].category_counts
    assert counts is not None
    assert len(counts) == MAX_SUMMARY_CATEGORIES + 1
    assert counts["top"] == 100
    assert sum(counts.values()) == MAX_SUMMARY_CATEGORIES + 200
    assert counts[OTHER] == MAX_SUMMARY_CATEGORIES + 200 - 100 - (MAX_SUMMARY_CATEGORIES - 1)
    # The window's row count, and the limit's categories plus one (the place of the nulls).
    assert summary.result_rows == 1 + MAX_SUMMARY_CATEGORIES + 1


@pytest.mark.postgres
def test_a_numeric_column_of_text_is_refused_by_name(events_url: str) -> None:
    profile = fit_profile(pd.Series([1.0, 2.0, 3.0], name="code_text"), "numeric")
    source = _source(events_url, table="events")
    try:
        with pytest.raises(SourceError) as raised:
            source.summarise(WINDOW, {"code_text": profile})
    finally:
        source.close()
    assert str(raised.value).startswith(
        "source sql (postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    assert str(raised.value).endswith(
        "column 'code_text' is numeric in the config but text in the database; "
        "profile_in_database counts numeric columns of number types only "
        "(cast it in a query, e.g. CAST(x AS double precision) AS x)"
    )


@pytest.mark.postgres
def test_a_missing_column_is_named(events_url: str) -> None:
    profile = fit_profile(pd.Series([1.0, 2.0], name="income"), "numeric")
    source = _source(events_url, table="events")
    try:
        with pytest.raises(DataError, match='current window has no column "income"'):
            source.summarise(WINDOW, {"income": profile})
    finally:
        source.close()


@pytest.mark.postgres
def test_the_statement_timeout_bounds_the_summary(events_url: str) -> None:
    source = _source(
        events_url,
        query="SELECT e.* FROM events e CROSS JOIN (SELECT pg_sleep(30)) AS nap",
        statement_timeout="300ms",
    )
    profile = fit_profile(pd.Series([1.0, 2.0], name="score"), "numeric")
    try:
        with pytest.raises(SourceError, match="canceling statement due to statement timeout"):
            source.summarise(WINDOW, {"score": profile})
    finally:
        source.close()


def _monitor(source: dict[str, Any], **monitor: Any) -> MonitorSettings:
    settings = parse_settings(
        {
            "monitors": [
                {
                    "name": "m",
                    "schedule": "every 5m",
                    "source": source,
                    "reference": {"type": "window", "start": "2023-12-01", "end": "2024-01-01"},
                    "columns": [{"name": "score", "kind": "numeric"}],
                    **monitor,
                }
            ]
        }
    )
    return settings.monitors[0]


SQL = {
    "type": "sql",
    "url": "postgresql+psycopg://h/db",
    "table": "events",
    "timestamp_column": "ts",
    "profile_in_database": True,
}


@pytest.mark.parametrize(
    ("source", "monitor", "message"),
    [
        (
            {"type": "demo", "profile_in_database": True},
            {},
            "monitors[0]: source.profile_in_database: only an sql source on PostgreSQL is "
            'profiled in the database, not a "demo" source',
        ),
        (
            {**SQL, "url": "sqlite:///events.db"},
            {},
            "monitors[0].source: profile_in_database: the window is profiled in PostgreSQL "
            "only; this source's URL is sqlite (remove the key to sample rows)",
        ),
        (
            SQL,
            {"thresholds": {"multivariate": "mmd"}},
            'monitors[0]: thresholds.multivariate: "mmd" needs the window\'s rows; with '
            "source.profile_in_database the window is counted in the database (set it to "
            '"none", or test it in a monitor that samples rows)',
        ),
        (
            SQL,
            {"performance": {"task": "regression", "prediction": "p", "label": "y"}},
            "monitors[0]: performance: needs each row's label and prediction; with "
            "source.profile_in_database the window is counted in the database (test "
            "performance in a monitor that samples rows)",
        ),
        (
            SQL,
            {"columns": [{"name": "score", "kind": "numeric", "method": "wasserstein"}]},
            'monitors[0]: columns[0].method: "wasserstein" needs the window\'s rows; with '
            "source.profile_in_database the window is counted in the database (methods "
            "that test numeric counts: hellinger, jensenshannon, kl, ks, psi)",
        ),
    ],
    ids=["demo source", "sqlite", "multivariate", "performance", "method"],
)
def test_what_cannot_be_profiled_in_the_database_is_a_config_error(
    source: dict[str, Any], monitor: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        _monitor(source, **monitor)
    assert message in str(raised.value)


def test_the_key_does_not_change_the_reference_key() -> None:
    sampled = {key: value for key, value in SQL.items() if key != "profile_in_database"}
    assert reference_key(_monitor(SQL)) == reference_key(_monitor(sampled))
    assert _monitor(SQL, columns=[{"name": "score", "kind": "numeric", "method": "psi"}])


def test_a_url_from_the_environment_must_be_postgresql(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENTS_URL", "sqlite:///events.db")
    settings = {key: value for key, value in SQL.items() if key != "url"}
    monitor = _monitor({**settings, "url_env": "EVENTS_URL"})
    with pytest.raises(SourceError) as raised:
        build_source(monitor.source)
    assert str(raised.value) == (
        "source sql ($EVENTS_URL): profile_in_database needs PostgreSQL, not sqlite"
    )
