"""A slow receiver only slows itself: one sending lane per receiver.

Two real receivers on 127.0.0.1, one of which accepts requests and never
answers; the other's messages are all delivered while the first still hangs.
Then the daemon, in a subprocess, stops promptly with the hung request in flight.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from sqlalchemy import Engine

from monitor.delivery.worker import DeliveryWorker, plan_lanes
from monitor.metrics import Metrics
from monitor.notifiers.base import Notifier
from monitor.notifiers.webhook import WebhookNotifier, WebhookReceiverSettings
from monitor.service_settings import DeliverySettings
from tests.monitor.test_daemon_e2e import (
    daemon_env,
    free_port,
    start_daemon,
    stop_daemon,
    write_config,
    write_data,
)
from tests.support import Clock, HttpFake, wait_for

if TYPE_CHECKING:
    from tests.monitor.delivery.conftest import Outbox

# Long enough that the hung request is still in flight when the test has its answer.
HUNG_FOR = timedelta(minutes=5)


def webhooks(**servers: HttpFake) -> dict[str, Notifier]:
    return {
        name: WebhookNotifier(
            WebhookReceiverSettings(name=name, type="webhook", url=f"{server.url}/{name}"),
            f"receivers[{index}]",
        )
        for index, (name, server) in enumerate(servers.items())
    }


def test_a_hung_receiver_holds_only_its_own_lane(
    engine: Engine, outbox: Outbox, clock: Clock, client: httpx.Client
) -> None:
    hung, healthy = HttpFake(), HttpFake()
    hung.hang()
    hung_row = outbox.add(clock.now, message_id="msg_hung", receiver="chat")  # the oldest
    gone_row = outbox.add(clock.now, message_id="msg_gone", receiver="removed")
    for index in range(10):
        outbox.add(clock.now, message_id=f"msg_{index:02d}", receiver="hook")
    settings = DeliverySettings(timeout=HUNG_FOR, poll_interval=timedelta(milliseconds=50))
    worker = DeliveryWorker(
        engine, webhooks(chat=hung, hook=healthy), {}, settings, Metrics(), "w1", client=client
    )
    stop = threading.Event()
    thread = threading.Thread(target=worker.run_forever, args=(stop,))
    thread.start()
    try:
        assert hung.received.wait(30)
        wait_for(lambda: len(healthy.accepted()) == 10, "the healthy receiver's ten messages")
        wait_for(lambda: outbox.row(gone_row).status == "dead", "the unconfigured one, dead")
        # ... and all the while the hung request has not been answered.
        assert [request.answered for request in hung.requests] == [None]
        assert outbox.row(hung_row).status == "sending"
    finally:
        stop.set()
        hung.close()  # lets the hung request go, so the lane can stop
        healthy.close()
        thread.join(30)
    assert not thread.is_alive()
    sent = [request.headers["webhook-id"] for request in healthy.requests]
    assert sent == [f"msg_{index:02d}" for index in range(10)]  # in order, once each


def test_lanes_are_bounded_and_every_receiver_has_exactly_one() -> None:
    receivers = [f"r{index:02d}" for index in range(20)]
    lanes = plan_lanes(receivers, max_lanes=8)
    assert len(lanes) == 8
    assert sorted(name for lane in lanes for name in lane.names) == receivers
    assert [len(lane.names) for lane in lanes] == [3, 3, 3, 3, 2, 2, 2, 2]
    assert {lane.known for lane in lanes} == {frozenset(receivers)}  # strays: any lane
    (only,) = plan_lanes([], max_lanes=8)  # no receivers: one lane, for the strays
    assert (only.names, only.known) == (frozenset(), frozenset())
    with pytest.raises(ValueError, match="max_lanes must be at least 1, got 0"):
        plan_lanes(receivers, max_lanes=0)


def test_the_daemon_stops_promptly_with_a_hung_request_in_flight(
    sqlite_url: str, tmp_path: Path
) -> None:
    write_data(tmp_path)
    port = free_port()
    config = write_config(tmp_path, sqlite_url, port)
    text = config.read_text()
    text = text.replace('timeout = "2s"', f'timeout = "{int(HUNG_FOR.total_seconds())}s"')
    text = text.replace('receivers = ["hook"]', 'receivers = ["chat", "hook"]')
    config.write_text(
        text + '\n[[receivers]]\nname = "chat"\ntype = "webhook"\nurl_env = "E2E_CHAT_URL"\n'
    )
    with HttpFake() as hung, HttpFake() as healthy:
        for _ in range(5):
            hung.hang()
        env = daemon_env(sqlite_url, healthy) | {"E2E_CHAT_URL": f"{hung.url}/chat"}
        daemon = start_daemon(config, env, port, tmp_path / "daemon.log")
        try:
            assert hung.received.wait(60), daemon.log()
            wait_for(lambda: len(healthy.accepted()) >= 1, "the healthy receiver's message")
            assert [request.answered for request in hung.requests] == [None]
        finally:
            exit_code = stop_daemon(daemon)  # within 10 s of SIGTERM, or it fails
        assert exit_code == 0, daemon.log()
        assert [request.answered for request in hung.requests] == [None]
