"""Fixtures shared by the whole suite: store URLs on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from monitor.store.engine import make_engine, upgrade

POSTGRES_URL = os.environ.get(
    "DRIFTWARDEN_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _postgres_unreachable(reason: str) -> None:
    message = f"PostgreSQL at {POSTGRES_URL} unreachable: {reason}"
    if os.environ.get("CI") == "true":
        pytest.fail(message + " (CI=true: PostgreSQL tests must run in CI)")
    pytest.skip("LOUD SKIP: " + message)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL to a fresh, empty schema of the test database, dropped afterwards.

    A schema per test keeps tests independent while they share one server.
    """
    schema = f"dw_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError as exc:
        admin.dispose()
        _postgres_unreachable(str(exc.orig).strip().splitlines()[0])
    separator = "&" if "?" in POSTGRES_URL else "?"
    yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    with admin.connect() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: object) -> str:
    return f"sqlite:///{tmp_path}/driftwarden.db"


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest) -> str:
    """Each store test runs once on SQLite and once on PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(name))


def _migrated(url: str) -> Iterator[Engine]:
    store = make_engine(url)
    upgrade(store)
    yield store
    store.dispose()


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    """A migrated store, once on SQLite and once on PostgreSQL."""
    yield from _migrated(store_url)


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    """A migrated SQLite store, for tests about something other than storage."""
    yield from _migrated(sqlite_url)
