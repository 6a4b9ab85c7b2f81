"""Fixtures for the source tests.

``postgres_url`` (a fresh schema per test on 127.0.0.1:5432, dropped after; a
loud skip when the server is unreachable, a failure when CI=true) and
``sqlite_url`` come from tests/conftest.py.
"""

from __future__ import annotations

import pytest


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def sql_url(request: pytest.FixtureRequest) -> str:
    """Each SQL test runs once on a SQLite file and once on PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(name))
