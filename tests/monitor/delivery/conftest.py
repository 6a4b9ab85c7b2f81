"""A webhook receiver on 127.0.0.1, a clock set to now that tests move, outbox rows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from monitor.store.models import DeliveryAttemptRow, OutboxRow
from tests.support import Clock, HttpFake


@pytest.fixture
def server() -> Iterator[HttpFake]:
    with HttpFake() as fake:
        yield fake


@pytest.fixture
def clock() -> Clock:
    # Real time, because standardwebhooks rejects signatures more than 5 minutes off.
    return Clock(datetime.now(UTC))


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client() as http:
        yield http


class Outbox:
    """Rows in and out of the store for one test."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(
        self,
        now: datetime,
        message_id: str = "msg_0001",
        receiver: str = "hook",
        created_at: datetime | None = None,
        payload: dict[str, Any] | None = None,
    ) -> int:
        with Session(self.engine) as session:
            row = OutboxRow(
                message_id=message_id,
                receiver=receiver,
                event_type="drift.detected",
                payload=payload if payload is not None else {"monitor": "fraud", "drifted": True},
                created_at=created_at if created_at is not None else now,
                status="pending",
                next_attempt_at=now,
            )
            session.add(row)
            session.commit()
            return row.id

    def row(self, row_id: int) -> OutboxRow:
        with Session(self.engine, expire_on_commit=False) as session:
            row = session.get(OutboxRow, row_id)
            assert row is not None
            return row

    def attempts(self, row_id: int | None = None) -> list[DeliveryAttemptRow]:
        query = select(DeliveryAttemptRow).order_by(DeliveryAttemptRow.id)
        if row_id is not None:
            query = query.where(DeliveryAttemptRow.outbox_id == row_id)
        with Session(self.engine) as session:
            return list(session.scalars(query))


@pytest.fixture
def outbox(engine: Engine) -> Outbox:
    return Outbox(engine)
