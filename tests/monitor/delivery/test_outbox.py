from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, select

from monitor.store import engine as engine_module
from monitor.store.engine import make_engine, upgrade
from monitor.store.models import OutboxRow, UtcDateTime
from monitor.store.outbox import AttemptRecord, claim_due, record_attempt

if TYPE_CHECKING:
    from tests.monitor.delivery.conftest import Outbox

NOW = datetime(2024, 6, 1, 9, 0, tzinfo=UTC)
LEASE = timedelta(minutes=1)


def test_claim_marks_the_row_and_hands_it_out_once(engine: Engine, outbox: Outbox) -> None:
    row_id = outbox.add(NOW, payload={"k": [1, 2]})
    (claimed,) = claim_due(engine, "w1", NOW, LEASE, limit=10)
    assert (claimed.id, claimed.message_id, claimed.payload) == (row_id, "msg_0001", {"k": [1, 2]})
    assert claimed.claimed_until == NOW + LEASE
    row = outbox.row(row_id)
    assert (row.status, row.claimed_by, row.claimed_until) == ("sending", "w1", NOW + LEASE)
    assert claim_due(engine, "w2", NOW, LEASE, limit=10) == []


def test_not_due_before_next_attempt_at(engine: Engine, outbox: Outbox) -> None:
    outbox.add(NOW)
    assert claim_due(engine, "w1", NOW - timedelta(seconds=1), LEASE, limit=10) == []


def test_limit_and_order(engine: Engine, outbox: Outbox) -> None:
    for index in range(5):
        outbox.add(NOW + timedelta(seconds=index), message_id=f"msg_{index}")
    later = NOW + timedelta(minutes=1)
    claimed = claim_due(engine, "w1", later, LEASE, limit=3)
    assert [c.message_id for c in claimed] == ["msg_0", "msg_1", "msg_2"]
    assert [c.message_id for c in claim_due(engine, "w2", later, LEASE, limit=3)] == [
        "msg_3",
        "msg_4",
    ]


def test_an_expired_lease_is_due_again(engine: Engine, outbox: Outbox) -> None:
    outbox.add(NOW)
    claim_due(engine, "dead-worker", NOW, LEASE, limit=10)
    assert claim_due(engine, "w2", NOW + LEASE, LEASE, limit=10) == []  # not yet expired
    (reclaimed,) = claim_due(engine, "w2", NOW + LEASE + timedelta(seconds=1), LEASE, limit=10)
    assert reclaimed.claimed_until == NOW + 2 * LEASE + timedelta(seconds=1)


def test_record_retry_then_delivered(engine: Engine, outbox: Outbox) -> None:
    row_id = outbox.add(NOW)
    (claimed,) = claim_due(engine, "w1", NOW, LEASE, limit=10)
    later = NOW + timedelta(seconds=30)
    assert record_attempt(
        engine, claimed, "w1", NOW, AttemptRecord("retry", 503, "HTTP 503", 12.5, later)
    )
    row = outbox.row(row_id)
    assert (row.status, row.attempts, row.next_attempt_at, row.last_error) == (
        "pending",
        1,
        later,
        "HTTP 503",
    )
    assert row.claimed_by is None
    (claimed,) = claim_due(engine, "w1", later, LEASE, limit=10)
    assert claimed.attempts == 1
    assert record_attempt(engine, claimed, "w1", later, AttemptRecord("delivered", 200, None, 3.0))
    row = outbox.row(row_id)
    assert (row.status, row.attempts, row.delivered_at, row.last_error) == (
        "delivered",
        2,
        later,
        None,
    )
    assert [(a.outcome, a.status_code, a.error) for a in outbox.attempts(row_id)] == [
        ("retry", 503, "HTTP 503"),
        ("delivered", 200, None),
    ]


def test_a_worker_that_lost_its_claim_does_not_overwrite_the_new_holder(
    engine: Engine, outbox: Outbox
) -> None:
    row_id = outbox.add(NOW)
    (stale,) = claim_due(engine, "slow", NOW, LEASE, limit=10)
    (current,) = claim_due(engine, "fast", NOW + 2 * LEASE, LEASE, limit=10)
    assert record_attempt(engine, current, "fast", NOW, AttemptRecord("delivered", 200, None, 1.0))
    assert not record_attempt(
        engine, stale, "slow", NOW, AttemptRecord("dead", 400, "HTTP 400", 1.0)
    )
    assert outbox.row(row_id).status == "delivered"
    assert len(outbox.attempts(row_id)) == 2  # both attempts happened and are on record


def _migrate(engine: Engine, revision: str) -> None:
    config = AlembicConfig()
    config.set_main_option(
        "script_location", str(Path(engine_module.__file__).with_name("migrations"))
    )
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def test_upgrading_puts_messages_on_their_way_in_their_alert_group(store_url: str) -> None:
    """Migration 0009: existing rows keep their ids; unfinished alert messages get a group."""
    engine = make_engine(store_url)
    _migrate(engine, "0008")
    before = sa.table(
        "outbox",
        *(sa.column(name) for name in ("message_id", "receiver", "event_type", "status")),
        sa.column("payload", sa.JSON()),
        sa.column("attempts", sa.Integer()),
        *(sa.column(name, UtcDateTime()) for name in ("created_at", "next_attempt_at")),
    )

    def alert(fingerprint: str, occasion: str) -> dict[str, object]:
        return {"occasion": occasion, "alert": {"fingerprint": fingerprint}}

    rows = [
        ("msg_repeat", "alert.firing", "pending", alert("fp1", "repeat")),
        ("msg_resolved", "alert.resolved", "sending", alert("fp1", "resolved")),
        ("msg_first", "alert.firing", "delivered", alert("fp2", "first")),
        ("run_sink", "run.completed", "pending", {"monitor": "m"}),
    ]
    with engine.begin() as connection:
        connection.execute(
            sa.insert(before),
            [
                {
                    "message_id": message_id,
                    "receiver": "hook",
                    "event_type": event_type,
                    "status": status,
                    "payload": payload,
                    "attempts": 0,
                    "created_at": NOW,
                    "next_attempt_at": NOW,
                }
                for message_id, event_type, status, payload in rows
            ],
        )
    upgrade(engine)
    with engine.connect() as connection:
        after = connection.execute(
            select(OutboxRow.message_id, OutboxRow.group_key, OutboxRow.supersedable).order_by(
                OutboxRow.id
            )
        ).all()
    engine.dispose()
    assert [tuple(row) for row in after] == [
        ("msg_repeat", "fp1", True),
        ("msg_resolved", "fp1", False),
        ("msg_first", None, False),  # finished: nothing to order it against
        ("run_sink", None, False),  # sinks are not ordered
    ]
