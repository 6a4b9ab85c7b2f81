"""Engine creation and schema migrations, the same for SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import SQLAlchemyError

_MIGRATIONS = Path(__file__).with_name("migrations")
_MIGRATION_LOCK = 0x64726966  # "drif": the PostgreSQL advisory lock migrations hold
STORE_POOL_SIZE, STORE_MAX_OVERFLOW = 5, 10
"""Store connections one process keeps open, and opens beyond them under load (at most)."""


class StoreError(Exception):
    """The store cannot be used; the message names the URL without its password."""


def safe_url(engine_or_url: Engine | str) -> str:
    """The URL as it may be shown: password masked."""
    if isinstance(engine_or_url, Engine):
        return engine_or_url.url.render_as_string(hide_password=True)
    from sqlalchemy.engine import make_url

    try:
        return make_url(engine_or_url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable store url>"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the API read while a run writes; busy_timeout turns lock
    # contention between the scheduler and the delivery worker into waiting.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_engine(url: str) -> Engine:
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"timeout": 30})
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(
                url,
                pool_pre_ping=True,
                pool_size=STORE_POOL_SIZE,
                max_overflow=STORE_MAX_OVERFLOW,
            )
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise StoreError(f"store {safe_url(url)}: cannot use this URL ({exc})") from None
    return engine


def check_connection(engine: Engine) -> None:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc) or exc).strip().splitlines()[0]
        raise StoreError(f"store {safe_url(engine)}: cannot connect ({reason})") from None


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply every migration not yet applied, up to ``revision`` (idempotent).

    A revision short of the head builds a store as an older release left it,
    for the tests that read old rows through a later migration.
    """
    check_connection(engine)
    config = AlembicConfig()
    config.set_main_option("script_location", str(_MIGRATIONS))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Replicas starting together on a fresh store take turns: the second
            # finds the schema migrated instead of failing on a table the first made.
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
