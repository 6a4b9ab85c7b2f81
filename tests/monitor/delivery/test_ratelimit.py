from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import httpx
import pytest
from sqlalchemy import Engine

from monitor.config import parse_settings
from monitor.delivery.ratelimit import (
    DEFAULT_RATE_LIMITS,
    RateLimiter,
    TokenBucket,
    receiver_rate_limits,
)
from monitor.delivery.worker import DeliveryWorker
from monitor.metrics import Metrics
from monitor.notifiers.webhook import WebhookNotifier, WebhookReceiverSettings
from monitor.service_settings import DeliverySettings
from tests.support import Clock, HttpFake

if TYPE_CHECKING:
    from tests.monitor.delivery.conftest import Outbox

SETTINGS = DeliverySettings(max_age=timedelta(hours=1), backoff_initial=timedelta(seconds=10))


def seconds_clock() -> Clock:
    """A clock whose ``timestamp`` starts at 1000.0 seconds, for the buckets' float clock."""
    return Clock(datetime.fromtimestamp(1000.0, UTC))


def test_bucket_refills_at_its_rate_and_caps_at_capacity() -> None:
    clock = seconds_clock()
    bucket = TokenBucket(rate=1.0, clock=clock.timestamp)
    assert bucket.capacity == 1.0
    assert bucket.take() == 0.0
    assert bucket.take() == pytest.approx(1.0)
    clock.advance(timedelta(seconds=0.25))
    assert bucket.take() == pytest.approx(0.75)
    clock.advance(timedelta(seconds=60))  # a long idle spell saves up one token, not sixty
    assert bucket.take() == 0.0
    assert bucket.take() == pytest.approx(1.0)


@pytest.mark.parametrize("rate", [0, -1.0, float("nan")])
def test_a_rate_must_be_positive(rate: float) -> None:
    with pytest.raises(ValueError, match="positive number of messages per second"):
        TokenBucket(rate)


def test_limiter_knows_only_limited_receivers() -> None:
    clock = seconds_clock()
    limiter = RateLimiter({"slack": 1.0}, clock=clock.timestamp)
    assert limiter.take("unlimited") == 0.0
    assert limiter.throttled() == []
    assert limiter.take("slack") == 0.0
    assert limiter.throttled() == ["slack"]
    clock.advance(timedelta(seconds=1))
    assert limiter.throttled() == []


def test_documented_defaults() -> None:
    # Slack: 1 message per second; PagerDuty Events v2: ~120 per minute per integration key.
    assert DEFAULT_RATE_LIMITS == {"slack": 1.0, "pagerduty": 2.0}


def test_webhook_rate_limit_comes_from_its_settings() -> None:
    settings = parse_settings(
        {
            "receivers": [
                {"name": "limited", "type": "webhook", "url": "http://x/", "rate_limit": 0.5},
                {"name": "free", "type": "webhook", "url": "http://y/"},
            ]
        }
    )
    assert receiver_rate_limits(settings.receivers) == {"limited": 0.5}


def test_a_rate_limit_of_zero_is_a_config_error() -> None:
    from monitor.settings_base import ConfigError

    with pytest.raises(ConfigError, match=r"receivers\[0\]\.rate_limit"):
        parse_settings(
            {"receivers": [{"name": "h", "type": "webhook", "url": "http://x/", "rate_limit": 0}]}
        )


@pytest.fixture
def limited_env(monkeypatch: pytest.MonkeyPatch, server: HttpFake) -> None:
    monkeypatch.setenv("DW_TEST_LIMITED_URL", f"{server.url}/limited")


def _worker(engine: Engine, client: httpx.Client, clock: Clock, metrics: Metrics) -> DeliveryWorker:
    settings = WebhookReceiverSettings(
        name="hook", type="webhook", url_env="DW_TEST_LIMITED_URL", rate_limit=1.0
    )
    limiter = RateLimiter(receiver_rate_limits([settings]), clock=clock.timestamp)
    return DeliveryWorker(
        engine,
        {"hook": WebhookNotifier(settings, "receivers[0]")},
        {"hook": None},
        SETTINGS,
        metrics,
        "w1",
        client=client,
        clock=clock,
        rng=random.Random(1),
        batch_size=20,
        limiter=limiter,
    )


@pytest.mark.usefixtures("limited_env")
def test_messages_over_the_limit_are_deferred_not_attempted(
    engine: Engine, outbox: Outbox, server: HttpFake, client: httpx.Client, clock: Clock
) -> None:
    metrics = Metrics()
    ids = [outbox.add(clock.now, message_id=f"msg_{index}") for index in range(3)]
    worker = _worker(engine, client, clock, metrics)

    assert worker.run_once() == 3  # one sent, two deferred
    assert len(server.requests) == 1
    first, second, third = (outbox.row(row_id) for row_id in ids)
    assert (first.status, first.attempts) == ("delivered", 1)
    for deferred in (second, third):
        assert (deferred.status, deferred.attempts, deferred.last_error) == ("pending", 0, None)
        assert deferred.next_attempt_at == clock.now + timedelta(seconds=1)
        assert deferred.claimed_by is None
    assert len(outbox.attempts()) == 1  # a deferral is not an attempt

    assert worker.run_once() == 0  # throttled receiver: its messages are not even claimed
    clock.advance(timedelta(seconds=1))
    assert worker.run_once() == 2  # one sent, one deferred again
    clock.advance(timedelta(seconds=1))
    assert worker.run_once() == 1

    assert [r.headers["webhook-id"] for r in server.requests] == ["msg_0", "msg_1", "msg_2"]
    assert {outbox.row(row_id).status for row_id in ids} == {"delivered"}
    assert [outbox.row(row_id).attempts for row_id in ids] == [1, 1, 1]
    deferred_count = metrics.registry.get_sample_value(
        "driftwarden_delivery_deferred_total", {"receiver": "hook"}
    )
    assert deferred_count == 3


@pytest.mark.usefixtures("limited_env")
def test_deferral_never_kills_a_message_even_past_max_age(
    engine: Engine, outbox: Outbox, server: HttpFake, client: httpx.Client, clock: Clock
) -> None:
    old = clock.now - SETTINGS.max_age - timedelta(minutes=1)
    outbox.add(clock.now, message_id="msg_fresh")
    old_id = outbox.add(clock.now, message_id="msg_old", created_at=old)
    worker = _worker(engine, client, clock, Metrics())
    assert worker.run_once() == 2
    row = outbox.row(old_id)
    assert (row.status, row.attempts) == ("pending", 0)  # deferred, not dead
    clock.advance(timedelta(seconds=1))
    assert worker.run_once() == 1
    assert outbox.row(old_id).status == "delivered"  # max_age only ends failing messages
