"""Delivery metrics on a fresh registry: attempts, latency, dead letters, queue depth."""

from __future__ import annotations

import random
import time
from datetime import timedelta
from typing import TYPE_CHECKING

import httpx
import pytest
from prometheus_client import generate_latest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from monitor.delivery.worker import DeliveryWorker
from monitor.metrics import Metrics
from monitor.notifiers.webhook import WebhookNotifier, WebhookReceiverSettings
from monitor.service_settings import DeliverySettings
from monitor.store.engine import make_engine, upgrade
from monitor.store.models import utcnow
from monitor.store.outbox import QueueStats, claim_due, queue_stats
from tests.support import Clock, HttpFake, Reply

if TYPE_CHECKING:
    from tests.monitor.delivery.conftest import Outbox

SETTINGS = DeliverySettings(backoff_initial=timedelta(seconds=10))


def _value(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_attempts_latency_and_dead_letters(
    engine: Engine,
    outbox: Outbox,
    server: HttpFake,
    client: httpx.Client,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DW_TEST_METRICS_URL", f"{server.url}/hook")
    settings = WebhookReceiverSettings(name="hook", type="webhook", url_env="DW_TEST_METRICS_URL")
    metrics = Metrics()
    worker = DeliveryWorker(
        engine,
        {"hook": WebhookNotifier(settings, "receivers[0]")},
        {"hook": None},
        SETTINGS,
        metrics,
        "w1",
        client=client,
        clock=clock,
        rng=random.Random(4),
    )
    server.respond(Reply(500), Reply(200), Reply(404))
    retried = outbox.add(clock.now, message_id="msg_retried")
    assert worker.run_once() == 1  # 500
    clock.now = outbox.row(retried).next_attempt_at
    assert worker.run_once() == 1  # 200
    outbox.add(clock.now, message_id="msg_dead")
    assert worker.run_once() == 1  # 404

    assert (
        _value(metrics, "driftwarden_delivery_attempt_duration_seconds_count", receiver="hook") == 3
    )
    attempts = "driftwarden_delivery_attempts_per_message"
    assert _value(metrics, f"{attempts}_count", receiver="hook", outcome="delivered") == 1
    assert _value(metrics, f"{attempts}_sum", receiver="hook", outcome="delivered") == 2
    assert _value(metrics, f"{attempts}_sum", receiver="hook", outcome="dead") == 1
    assert _value(metrics, "driftwarden_delivery_dead_letters_total", receiver="hook") == 1
    for outcome, count in (("retry", 1), ("delivered", 1), ("dead", 1)):
        assert (
            _value(metrics, "driftwarden_deliveries_total", receiver="hook", outcome=outcome)
            == count
        )


def test_queue_depth_and_oldest_pending_age_are_read_at_scrape_time(
    engine: Engine, outbox: Outbox, clock: Clock
) -> None:
    metrics = Metrics()
    metrics.watch_outbox(lambda: queue_stats(engine, clock.now))
    assert _value(metrics, "driftwarden_outbox_up") == 1
    assert _value(metrics, "driftwarden_outbox_oldest_pending_age_seconds") == 0
    for status in ("pending", "sending", "delivered", "dead", "superseded"):
        assert _value(metrics, "driftwarden_outbox_messages", status=status) == 0

    outbox.add(clock.now, message_id="msg_a", created_at=clock.now - timedelta(minutes=5))
    outbox.add(clock.now, message_id="msg_b", created_at=clock.now - timedelta(minutes=1))
    outbox.add(clock.now, message_id="msg_c")
    claim_due(engine, "w1", clock.now, timedelta(minutes=1), limit=1)  # msg_a is sending
    assert _value(metrics, "driftwarden_outbox_messages", status="pending") == 2
    assert _value(metrics, "driftwarden_outbox_messages", status="sending") == 1
    assert _value(metrics, "driftwarden_outbox_oldest_pending_age_seconds") == 300


def test_a_store_that_cannot_be_read_does_not_break_the_scrape(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken() -> QueueStats:
        raise TimeoutError("statement timeout")

    metrics = Metrics()
    metrics.watch_outbox(broken)
    text = generate_latest(metrics.registry).decode()
    assert "driftwarden_outbox_up 0.0" in text
    assert "driftwarden_outbox_messages" not in text
    assert "outbox metrics unavailable (TimeoutError)" in caplog.text


def test_queue_stats_gives_up_quickly_on_a_locked_postgresql_table(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    upgrade(engine)
    try:
        assert queue_stats(engine, utcnow(), timeout_seconds=0.5) == QueueStats(
            {"pending": 0, "sending": 0, "delivered": 0, "dead": 0, "superseded": 0}, None
        )
        with engine.connect() as blocker:
            blocker.execute(text("LOCK TABLE outbox IN ACCESS EXCLUSIVE MODE"))  # a migration, say
            began = time.perf_counter()
            with pytest.raises(OperationalError, match="statement timeout"):
                queue_stats(engine, utcnow(), timeout_seconds=0.3)
            assert time.perf_counter() - began < 10
            blocker.rollback()
    finally:
        engine.dispose()
