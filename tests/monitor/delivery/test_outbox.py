from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Engine

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
