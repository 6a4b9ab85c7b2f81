"""One contract for every registered source, parametrised over ``monitor.sources.SOURCES``.

A new source is covered once it has a backend in ``BACKENDS`` below (a test
fails, naming it, until it does): a real backend holding known rows, and the
ways that backend can be out of reach.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from monitor.config import parse_settings, secret_references
from monitor.sources import (
    SOURCES,
    DemoSourceSettings,
    FileSourceSettings,
    SourceError,
    SourceSettingsModel,
    SqlSourceSettings,
    Window,
    build_source,
)

T0 = datetime(2024, 1, 1, tzinfo=UTC)
WINDOW = Window(T0, T0 + timedelta(hours=1))
ROWS = 600  # one row per 10 s from T0 - 20 min to T0 + 80 min: 360 of them in WINDOW
IN_WINDOW = 360
LIMIT = 25
SECRET = "hunter2-contract-secret"


@dataclass(frozen=True)
class Backend:
    """A working backend of one source type and what sampling it must give."""

    settings: SourceSettingsModel
    timestamp_column: str
    rows_in_window: int
    empty_window: Window
    """A window the backend holds no rows in."""
    seeded_subsample: bool = True
    """Whether the same seed picks the same rows when the window holds more than ``limit``."""


@dataclass(frozen=True)
class BackendCase:
    working: Callable[[Path], Backend]
    broken: Callable[[Path, pytest.MonkeyPatch], list[SourceSettingsModel]]
    """Settings whose backend is missing or unreachable (none for a backend that cannot fail)."""


def _events() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": np.arange(ROWS),
            "ts": pd.date_range(T0 - timedelta(minutes=20), periods=ROWS, freq="10s", tz="UTC"),
            "device": np.where(np.arange(ROWS) % 3 == 0, "ios", "web"),
        }
    )


AFTER_THE_DATA = Window(T0 + timedelta(days=1), T0 + timedelta(days=1, hours=1))


def _demo(_tmp_path: Path) -> Backend:
    # Every window with a positive length holds rows_per_window generated rows.
    return Backend(
        settings=DemoSourceSettings(type="demo", rows_per_window=IN_WINDOW),
        timestamp_column="timestamp",
        rows_in_window=IN_WINDOW,
        empty_window=Window(WINDOW.start, WINDOW.start),
    )


def _sql(tmp_path: Path) -> Backend:
    url = f"sqlite:///{tmp_path}/events.db"
    engine = sa.create_engine(url)
    _events().to_sql("events", engine, index=False)
    engine.dispose()
    return Backend(
        settings=SqlSourceSettings(type="sql", url=url, table="events", timestamp_column="ts"),
        timestamp_column="ts",
        rows_in_window=IN_WINDOW,
        empty_window=AFTER_THE_DATA,
        # SQLite's random() cannot be seeded (monitor/sources/sql.py); PostgreSQL's can.
        seeded_subsample=False,
    )


def _broken_sql(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[SourceSettingsModel]:
    monkeypatch.setenv("DW_CONTRACT_SQL_URL", f"postgresql+psycopg://dw:{SECRET}@127.0.0.1:1/db")
    return [
        SqlSourceSettings(
            type="sql", url_env="DW_CONTRACT_SQL_URL", table="events", timestamp_column="ts"
        ),
        SqlSourceSettings(
            type="sql",
            url=f"sqlite:///{tmp_path}/no/such/dir/events.db",
            table="events",
            timestamp_column="ts",
        ),
        SqlSourceSettings(type="sql", url="not a url", table="events", timestamp_column="ts"),
    ]


def _file(tmp_path: Path) -> Backend:
    path = tmp_path / "events.parquet"
    pq.write_table(pa.Table.from_pandas(_events(), preserve_index=False), path)
    return Backend(
        settings=FileSourceSettings(type="file", path=str(path), timestamp_column="ts"),
        timestamp_column="ts",
        rows_in_window=IN_WINDOW,
        empty_window=AFTER_THE_DATA,
    )


def _broken_file(tmp_path: Path, _monkeypatch: pytest.MonkeyPatch) -> list[SourceSettingsModel]:
    return [
        FileSourceSettings(
            type="file", path=str(tmp_path / "missing.parquet"), timestamp_column="ts"
        ),
        FileSourceSettings(
            type="file", path=str(tmp_path / "none-*.parquet"), timestamp_column="ts"
        ),
    ]


BACKENDS: dict[str, BackendCase] = {
    "demo": BackendCase(working=_demo, broken=lambda _path, _monkeypatch: []),
    "sql": BackendCase(working=_sql, broken=_broken_sql),
    "file": BackendCase(working=_file, broken=_broken_file),
}


@pytest.fixture(params=sorted(SOURCES))
def source_type(request: pytest.FixtureRequest) -> str:
    name = str(request.param)
    if name not in BACKENDS:
        pytest.fail(f"source type {name!r} has no contract backend: add one to BACKENDS")
    return name


def _rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame's rows in a canonical order, to compare samples as sets of rows."""
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


def test_every_backend_is_a_registered_source() -> None:
    assert set(BACKENDS) == set(SOURCES)


def test_the_spec_builds_its_own_settings(source_type: str, tmp_path: Path) -> None:
    spec = SOURCES[source_type]
    backend = BACKENDS[source_type].working(tmp_path)
    assert isinstance(backend.settings, spec.settings)
    assert backend.settings.type == spec.type == source_type


def test_a_window_gives_exactly_its_rows(source_type: str, tmp_path: Path) -> None:
    backend = BACKENDS[source_type].working(tmp_path)
    source = build_source(backend.settings)
    try:
        frame = source.sample(WINDOW, backend.rows_in_window + 100, seed=0)
    finally:
        source.close()
    assert isinstance(frame, pd.DataFrame)
    assert len(frame) == backend.rows_in_window
    stamps = pd.to_datetime(frame[backend.timestamp_column], utc=True)
    assert (stamps >= pd.Timestamp(WINDOW.start)).all()
    assert (stamps < pd.Timestamp(WINDOW.end)).all()


def test_a_window_without_rows_is_an_empty_frame(source_type: str, tmp_path: Path) -> None:
    backend = BACKENDS[source_type].working(tmp_path)
    source = build_source(backend.settings)
    try:
        frame = source.sample(backend.empty_window, LIMIT, seed=0)
    finally:
        source.close()
    assert isinstance(frame, pd.DataFrame)
    assert frame.empty


@pytest.mark.parametrize("limit", [0, 1, LIMIT])
def test_a_sample_holds_at_most_limit_rows(source_type: str, tmp_path: Path, limit: int) -> None:
    backend = BACKENDS[source_type].working(tmp_path)
    source = build_source(backend.settings)
    try:
        frame = source.sample(WINDOW, limit, seed=0)
    finally:
        source.close()
    assert len(frame) == min(limit, backend.rows_in_window)
    stamps = pd.to_datetime(frame[backend.timestamp_column], utc=True)
    assert ((stamps >= pd.Timestamp(WINDOW.start)) & (stamps < pd.Timestamp(WINDOW.end))).all()


def test_the_same_seed_gives_the_same_rows(source_type: str, tmp_path: Path) -> None:
    backend = BACKENDS[source_type].working(tmp_path)
    source = build_source(backend.settings)
    limits = [backend.rows_in_window] + ([LIMIT] if backend.seeded_subsample else [])
    try:
        for limit in limits:
            first = source.sample(WINDOW, limit, seed=7)
            again = source.sample(WINDOW, limit, seed=7)
            pd.testing.assert_frame_equal(_rows(first), _rows(again))
        # A fresh source over the same backend samples the same rows too.
        other = build_source(backend.settings)
        try:
            pd.testing.assert_frame_equal(
                _rows(other.sample(WINDOW, limits[-1], seed=7)),
                _rows(source.sample(WINDOW, limits[-1], seed=7)),
            )
        finally:
            other.close()
    finally:
        source.close()


def test_an_unreachable_backend_is_a_source_error_without_secrets(
    source_type: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = BACKENDS[source_type].broken(tmp_path, monkeypatch)
    if not broken:
        pytest.skip(f"the {source_type} source has no backend that can be missing")
    spec = SOURCES[source_type]
    for settings in broken:
        with pytest.raises(SourceError) as raised:
            source = build_source(settings)
            try:
                source.sample(WINDOW, LIMIT, seed=0)
            finally:
                source.close()
        message = str(raised.value)
        assert f"source {source_type}" in message
        assert SECRET not in message
        for _key, env_name in spec.secrets(settings):
            assert os.environ[env_name] not in message


def test_every_env_key_is_a_secret_reference(source_type: str, tmp_path: Path) -> None:
    spec = SOURCES[source_type]
    backend = BACKENDS[source_type].working(tmp_path)
    env_keys = [key for key in spec.settings.model_fields if key.endswith("_env")]
    settings = backend.settings.model_copy(update={key: f"DW_{key.upper()}" for key in env_keys})
    assert sorted(spec.secrets(settings)) == sorted((key, f"DW_{key.upper()}") for key in env_keys)


def test_secret_references_names_the_source_key() -> None:
    source = {"type": "sql", "url_env": "DW_SOURCE_URL", "table": "t", "timestamp_column": "ts"}
    settings = parse_settings(
        {
            "monitors": [
                {
                    "name": "m",
                    "schedule": "every 5m",
                    "source": source,
                    "reference": {"type": "window", "start": T0, "end": T0 + timedelta(hours=1)},
                    "columns": [{"name": "x", "kind": "numeric"}],
                }
            ]
        }
    )
    assert ("monitors[0].source.url_env", "DW_SOURCE_URL") in secret_references(settings)
