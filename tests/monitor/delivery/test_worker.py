from __future__ import annotations

import base64
import json
import logging
import random
import socket
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
import standardwebhooks
from sqlalchemy import Engine, func, insert, select

from monitor import cli
from monitor.delivery.worker import DeliveryWorker, describe_transport_error
from monitor.metrics import Metrics
from monitor.notifiers.base import Notifier, OutboundMessage
from monitor.notifiers.webhook import WebhookNotifier, WebhookReceiverSettings, render_payload
from monitor.service_settings import DeliverySettings
from monitor.store.engine import make_engine, upgrade
from monitor.store.models import DeliveryAttemptRow, OutboxRow, utcnow
from monitor.store.outbox import claim_due
from tests.support import Clock, HttpFake, Reply

if TYPE_CHECKING:
    from tests.monitor.delivery.conftest import Outbox

SECRET = "whsec_" + base64.b64encode(b"delivery-test-signing-key-32-byt").decode()
TOKEN = "tok_SUPERSECRET42"
QUERY_TOKEN = "qs_SUPERSECRET77"  # a token in the URL's query, as Slack-style URLs carry
SETTINGS = DeliverySettings(
    timeout=timedelta(seconds=5),
    max_age=timedelta(hours=1),
    backoff_initial=timedelta(seconds=10),
    backoff_max=timedelta(seconds=60),
)


@pytest.fixture
def hook_env(monkeypatch: pytest.MonkeyPatch, server: HttpFake) -> None:
    monkeypatch.setenv("DW_TEST_HOOK_URL", f"{server.url}/hooks/{TOKEN}?sig={QUERY_TOKEN}")
    monkeypatch.setenv("DW_TEST_HOOK_SECRET", SECRET)
    monkeypatch.setenv("DW_TEST_HOOK_AUTH", f"Bearer hdr_{TOKEN}")


def _notifiers() -> dict[str, Notifier]:
    settings = WebhookReceiverSettings(
        name="hook",
        type="webhook",
        url_env="DW_TEST_HOOK_URL",
        secret_env="DW_TEST_HOOK_SECRET",
        headers_env={"authorization": "DW_TEST_HOOK_AUTH"},
    )
    return {"hook": WebhookNotifier(settings, "receivers[0]")}


def _worker(
    engine: Engine,
    client: httpx.Client,
    clock: Clock,
    settings: DeliverySettings = SETTINGS,
    worker_id: str = "w1",
    metrics: Metrics | None = None,
    batch_size: int = 20,
) -> DeliveryWorker:
    return DeliveryWorker(
        engine,
        _notifiers(),
        {"hook": "DW_TEST_HOOK_SECRET"},
        settings,
        metrics if metrics is not None else Metrics(),
        worker_id,
        client=client,
        clock=clock,
        rng=random.Random(5),
        batch_size=batch_size,
    )


def _count(metrics: Metrics, outcome: str) -> float:
    value = metrics.registry.get_sample_value(
        "driftwarden_deliveries_total", {"receiver": "hook", "outcome": outcome}
    )
    return value or 0.0


@pytest.mark.usefixtures("hook_env")
def test_delivered_once(
    engine: Engine, outbox: Outbox, server: HttpFake, client: httpx.Client, clock: Clock
) -> None:
    metrics = Metrics()
    row_id = outbox.add(clock.now, payload={"monitor": "fraud", "columns": ["income"]})
    worker = _worker(engine, client, clock, metrics=metrics)

    assert worker.run_once() == 1
    assert worker.run_once() == 0

    row = outbox.row(row_id)
    assert (row.status, row.attempts, row.delivered_at, row.last_error) == (
        "delivered",
        1,
        clock.now,
        None,
    )
    assert [(a.outcome, a.status_code, a.error) for a in outbox.attempts(row_id)] == [
        ("delivered", 200, None)
    ]
    (received,) = server.requests
    assert received.target == f"/hooks/{TOKEN}?sig={QUERY_TOKEN}"
    expected = OutboundMessage("msg_0001", "drift.detected", row.payload, row.created_at, 1)
    assert received.body == render_payload(expected)
    assert received.headers["content-type"] == "application/json"
    assert received.headers["authorization"] == f"Bearer hdr_{TOKEN}"
    assert received.headers["webhook-id"] == "msg_0001"
    assert received.headers["webhook-timestamp"] == str(int(clock.now.timestamp()))
    standardwebhooks.Webhook(SECRET).verify(received.body, received.headers)
    assert _count(metrics, "delivered") == 1


@pytest.mark.usefixtures("hook_env")
def test_server_error_then_success_retries_after_the_backoff(
    engine: Engine, outbox: Outbox, server: HttpFake, client: httpx.Client, clock: Clock
) -> None:
    metrics = Metrics()
    server.respond(Reply(500), Reply(200))
    row_id = outbox.add(clock.now)
    worker = _worker(engine, client, clock, metrics=metrics)
    first_attempt_at = clock.now

    assert worker.run_once() == 1
    row = outbox.row(row_id)
    assert (row.status, row.attempts, row.last_error) == (
        "pending",
        1,
        "HTTP 500 Internal Server Error",
    )
    delay = row.next_attempt_at - clock.now
    assert timedelta(0) < delay <= SETTINGS.backoff_initial

    clock.advance(delay - timedelta(microseconds=1))
    assert worker.run_once() == 0  # not due yet
    clock.advance(timedelta(microseconds=1))
    assert worker.run_once() == 1

    row = outbox.row(row_id)
    assert (row.status, row.attempts, row.delivered_at) == ("delivered", 2, clock.now)
    assert [(a.outcome, a.status_code, a.attempted_at) for a in outbox.attempts(row_id)] == [
        ("retry", 500, first_attempt_at),
        ("delivered", 200, clock.now),
    ]
    first, second = server.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == "msg_0001"
    assert first.body == second.body
    assert second.headers["webhook-timestamp"] == str(int(clock.now.timestamp()))
    standardwebhooks.Webhook(SECRET).verify(second.body, second.headers)
    assert (_count(metrics, "retry"), _count(metrics, "delivered")) == (1, 1)


@pytest.mark.usefixtures("hook_env")
def test_retry_after_is_honoured_beyond_backoff_max(
    engine: Engine, outbox: Outbox, server: HttpFake, client: httpx.Client, clock: Clock
) -> None:
    server.respond(Reply(429, {"Retry-After": "120"}), Reply(200))
    row_id = outbox.add(clock.now)
    worker = _worker(engine, client, clock)
    assert worker.run_once() == 1
    row = outbox.row(row_id)
    assert row.status == "pending"
    assert row.next_attempt_at == clock.now + timedelta(seconds=120)  # backoff_max is 60s
    assert row.last_error == "HTTP 429 Too Many Requests"

    clock.advance(timedelta(seconds=119))
    assert worker.run_once() == 0  # it asked for two minutes
    clock.advance(timedelta(seconds=1))
    assert worker.run_once() == 1
    row = outbox.row(row_id)
    assert (row.status, row.attempts, row.last_error) == ("delivered", 2, None)
    assert [r.answered for r in server.requests] == [429, 200]
    assert [(a.outcome, a.status_code) for a in outbox.attempts(row_id)] == [
        ("retry", 429),
        ("delivered", 200),
    ]


@pytest.mark.usefixtures("hook_env")
def test_retry_after_beyond_max_age_is_dead(
    engine: Engine, outbox: Outbox, server: HttpFake, client: httpx.Client, clock: Clock
) -> None:
    server.respond(Reply(503, {"Retry-After": str(2 * 3600)}))
    row_id = outbox.add(clock.now)
    assert _worker(engine, client, clock).run_once() == 1
    row = outbox.row(row_id)
    assert row.status == "dead"
    assert row.last_error is not None and "beyond max_age" in row.last_error


@pytest.mark.usefixtures("hook_env")
def test_client_error_is_dead_with_the_status(
    engine: Engine, outbox: Outbox, server: HttpFake, client: httpx.Client, clock: Clock
) -> None:
    metrics = Metrics()
    server.respond(Reply(400, body=b"bad payload"))
    row_id = outbox.add(clock.now)
    worker = _worker(engine, client, clock, metrics=metrics)
    assert worker.run_once() == 1
    clock.advance(timedelta(hours=1))
    assert worker.run_once() == 0
    row = outbox.row(row_id)
    assert (row.status, row.last_error) == ("dead", "HTTP 400 Bad Request")
    assert [(a.outcome, a.status_code) for a in outbox.attempts(row_id)] == [("dead", 400)]
    assert len(server.requests) == 1
    assert _count(metrics, "dead") == 1


@pytest.mark.parametrize(
    ("url", "error"),
    [
        (
            f"file:///hooks/{TOKEN}",
            "the receiver's URL cannot be sent to: "
            'expected an http:// or https:// URL, got scheme "file"',
        ),
        (
            f"gopher://{TOKEN}.example.com/",
            "the receiver's URL cannot be sent to: "
            'expected an http:// or https:// URL, got scheme "gopher"',
        ),
        (f"https://[::1]:{TOKEN}/", "InvalidURL: the receiver's URL cannot be parsed"),
        (
            f"https://{TOKEN}.example.com:99999/",
            "the receiver's URL cannot be sent to: "
            "not a valid URL (its host or port cannot be read)",
        ),
        (
            f"hooks/{TOKEN}",
            "the receiver's URL cannot be sent to: "
            'expected an http:// or https:// URL such as "https://example.com/hook"',
        ),
        (f"https:///{TOKEN}", "the receiver's URL cannot be sent to: the URL has no host"),
    ],
)
@pytest.mark.usefixtures("hook_env")
def test_a_url_from_the_environment_that_cannot_be_sent_to_is_dead_at_once(
    engine: Engine,
    outbox: Outbox,
    server: HttpFake,
    client: httpx.Client,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
    url: str,
    error: str,
) -> None:
    """Retrying cannot mend the URL: dead on the first attempt, the URL kept out of the reason."""
    monkeypatch.setenv("DW_TEST_HOOK_URL", url)
    row_id = outbox.add(clock.now)
    assert _worker(engine, client, clock).run_once() == 1
    row = outbox.row(row_id)
    assert (row.status, row.attempts, row.last_error) == ("dead", 1, error)
    assert server.requests == []


@pytest.mark.usefixtures("hook_env")
def test_a_server_that_never_answers_times_out_and_is_retried(
    engine: Engine, outbox: Outbox, server: HttpFake, client: httpx.Client, clock: Clock
) -> None:
    server.hang()
    row_id = outbox.add(clock.now)
    settings = SETTINGS.model_copy(update={"timeout": timedelta(seconds=0.2)})
    assert _worker(engine, client, clock, settings=settings).run_once() == 1
    row = outbox.row(row_id)
    assert row.status == "pending"
    assert row.last_error is not None and row.last_error.startswith("ReadTimeout")
    (attempt,) = outbox.attempts(row_id)
    assert (attempt.outcome, attempt.status_code) == ("retry", None)
    assert attempt.duration_ms >= 150


@pytest.mark.usefixtures("hook_env")
def test_older_than_max_age_is_dead_on_a_retryable_failure(
    engine: Engine, outbox: Outbox, server: HttpFake, client: httpx.Client, clock: Clock
) -> None:
    server.respond(Reply(503))
    row_id = outbox.add(clock.now, created_at=clock.now - SETTINGS.max_age - timedelta(seconds=1))
    assert _worker(engine, client, clock).run_once() == 1
    row = outbox.row(row_id)
    assert row.status == "dead"
    assert row.last_error == "HTTP 503 Service Unavailable; gave up: older than max_age (1:00:00)"


@pytest.mark.usefixtures("hook_env")
def test_a_receiver_no_longer_configured_is_dead_without_sending(
    engine: Engine, outbox: Outbox, server: HttpFake, client: httpx.Client, clock: Clock
) -> None:
    metrics = Metrics()
    row_id = outbox.add(clock.now, receiver="gone")
    assert _worker(engine, client, clock, metrics=metrics).run_once() == 1
    row = outbox.row(row_id)
    assert row.status == "dead"
    assert row.last_error == 'receiver "gone" is not configured (removed from the config?)'
    assert server.requests == []
    value = metrics.registry.get_sample_value(
        "driftwarden_deliveries_total", {"receiver": "gone", "outcome": "dead"}
    )
    assert value == 1


@pytest.mark.usefixtures("hook_env")
def test_a_message_claimed_by_a_dead_worker_is_sent_after_the_lease(
    engine: Engine, outbox: Outbox, server: HttpFake, client: httpx.Client, clock: Clock
) -> None:
    row_id = outbox.add(clock.now)
    lease = timedelta(minutes=2)
    claim_due(engine, "crashed", clock.now, lease, limit=10)
    worker = _worker(engine, client, clock)
    assert worker.run_once() == 0
    clock.advance(lease + timedelta(seconds=1))
    assert worker.run_once() == 1
    assert outbox.row(row_id).status == "delivered"
    assert len(server.requests) == 1


@pytest.mark.usefixtures("hook_env")
def test_unsigned_when_no_secret_is_configured(
    engine: Engine, outbox: Outbox, server: HttpFake, client: httpx.Client, clock: Clock
) -> None:
    outbox.add(clock.now)
    worker = DeliveryWorker(
        engine, _notifiers(), {"hook": None}, SETTINGS, Metrics(), "w1", client=client, clock=clock
    )
    assert worker.run_once() == 1
    (received,) = server.requests
    assert received.headers["webhook-id"] == "msg_0001"
    assert received.headers["webhook-timestamp"] == str(int(clock.now.timestamp()))
    assert "webhook-signature" not in received.headers


def test_two_workers_send_each_message_exactly_once(
    engine: Engine,
    outbox: Outbox,
    server: HttpFake,
    client: httpx.Client,
    clock: Clock,
    store_url: str,
    hook_env: None,
) -> None:
    ids = [outbox.add(clock.now, message_id=f"msg_{index:04d}") for index in range(30)]
    workers = [_worker(engine, client, clock, worker_id=f"w{n}", batch_size=4) for n in range(2)]
    attempted = [0, 0]

    def drain(index: int, start: threading.Barrier | None) -> None:
        if start is not None:
            start.wait()
        while count := workers[index].run_once():
            attempted[index] += count

    if store_url.startswith("postgresql"):
        start = threading.Barrier(2)
        threads = [threading.Thread(target=drain, args=(n, start)) for n in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    else:
        # SQLite: one writer at a time anyway; interleave the two workers' claims.
        while workers[0].run_once() + workers[1].run_once():
            pass
        attempted = [len(outbox.attempts())]

    assert sum(attempted) == 30
    sent = [request.headers["webhook-id"] for request in server.requests]
    assert sorted(sent) == [f"msg_{index:04d}" for index in range(30)]
    assert {outbox.row(row_id).status for row_id in ids} == {"delivered"}
    assert len(outbox.attempts()) == 30


def test_two_workers_on_postgresql_drain_1000_messages_each_sent_exactly_once(
    postgres_url: str, server: HttpFake, hook_env: None
) -> None:
    """The issue's figure: 1,000 rows, two workers (threads), one receiver answering 200."""
    total = 1000
    engine = make_engine(postgres_url)
    upgrade(engine)
    now = utcnow()
    rows = [
        {
            "message_id": f"msg_{index:04d}",
            "receiver": "hook",
            "event_type": "drift.detected",
            "payload": {"monitor": "fraud", "index": index},
            "created_at": now,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
        }
        for index in range(total)
    ]
    with engine.begin() as connection:
        connection.execute(insert(OutboxRow), rows)
    clients = [httpx.Client(), httpx.Client()]
    workers = [
        DeliveryWorker(
            engine,
            _notifiers(),
            {"hook": "DW_TEST_HOOK_SECRET"},
            SETTINGS,
            Metrics(),
            f"w{n}",
            client=clients[n],
            batch_size=10,
        )
        for n in range(2)
    ]
    attempted = [0, 0]
    start = threading.Barrier(3)

    def drain(index: int) -> None:
        start.wait()
        while count := workers[index].run_once():
            attempted[index] += count

    threads = [threading.Thread(target=drain, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    for http in clients:
        http.close()

    sent = [request.headers["webhook-id"] for request in server.requests]
    duplicates = len(sent) - len(set(sent))
    print(
        f"\n[drain] {total} rows, 2 workers (batch 10) on PostgreSQL: {elapsed:.2f}s, "
        f"{len(sent)} sends, {len(set(sent))} distinct, {duplicates} duplicates, "
        f"per worker {attempted}"
    )
    with engine.connect() as connection:
        statuses = connection.execute(
            select(OutboxRow.status, func.count()).group_by(OutboxRow.status)
        ).all()
        attempt_rows = connection.execute(select(func.count()).select_from(DeliveryAttemptRow))
        attempt_count = attempt_rows.scalar_one()
    engine.dispose()
    assert len(sent) == total
    assert set(sent) == {f"msg_{index:04d}" for index in range(total)}
    assert sum(attempted) == total and all(attempted)  # both workers took part
    assert dict(statuses) == {"delivered": total}
    assert attempt_count == total


@pytest.mark.usefixtures("hook_env")
def test_run_forever_sends_and_stops_promptly(
    engine: Engine, outbox: Outbox, server: HttpFake, client: httpx.Client, clock: Clock
) -> None:
    row_id = outbox.add(clock.now)
    settings = SETTINGS.model_copy(update={"poll_interval": timedelta(minutes=10)})
    worker = _worker(engine, client, clock, settings=settings)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run_forever, args=(stop,))
    thread.start()
    assert server.received.wait(10)
    stop.set()  # the worker is now in, or about to enter, its 10-minute wait
    thread.join(10)
    assert not thread.is_alive()
    assert outbox.row(row_id).status == "delivered"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.usefixtures("hook_env")
def test_secrets_never_reach_the_store_the_logs_or_the_cli(
    engine: Engine,
    outbox: Outbox,
    server: HttpFake,
    client: httpx.Client,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    store_url: str,
    tmp_path: Path,
) -> None:
    caplog.set_level(logging.DEBUG)
    worker = _worker(engine, client, clock)
    steps: list[tuple[Reply | None, str | None]] = [
        (Reply(500), None),  # retry, HTTP error
        (Reply(401, body=f"you sent {TOKEN}".encode()), None),  # dead, echoing body
        (None, f"http://127.0.0.1:{_closed_port()}/hooks/{TOKEN}"),  # connection refused
        (None, f"http://127.0.0.1:notaport/hooks/{TOKEN}"),  # invalid URL
        (None, f"ftp://127.0.0.1/hooks/{TOKEN}"),  # unsupported scheme
        (None, f"http://169.254.169.254/hooks/{TOKEN}?sig={QUERY_TOKEN}"),  # refused egress
    ]
    for index, (reply, url) in enumerate(steps):
        if reply is not None:
            server.respond(reply)
        if url is not None:
            monkeypatch.setenv("DW_TEST_HOOK_URL", url)
        outbox.add(clock.now, message_id=f"msg_{index}")
        assert worker.run_once() == 1
    monkeypatch.delenv("DW_TEST_HOOK_SECRET")
    outbox.add(clock.now, message_id="msg_nosecret")
    assert worker.run_once() == 1

    errors = [attempt.error for attempt in outbox.attempts()]
    assert errors[0] == "HTTP 500 Internal Server Error"
    assert errors[1] == "HTTP 401 Unauthorized"
    assert errors[2] is not None and errors[2].startswith("ConnectError")
    assert errors[3] == "InvalidURL: the receiver's URL cannot be parsed"
    assert errors[4] == (
        "the receiver's URL cannot be sent to: "
        'expected an http:// or https:// URL, got scheme "ftp"'
    )
    assert errors[5] is not None and errors[5].startswith(
        'EgressRefused: refused to send to host "169.254.169.254"'
    )
    assert errors[6] == (
        'SecretError: receiver "hook" secret_env: environment variable DW_TEST_HOOK_SECRET '
        "(or DW_TEST_HOOK_SECRET_FILE) is not set"
    )
    stored = " ".join(str(error) for error in errors)
    with engine.connect() as connection:  # every column of every outbox and attempt row
        for table in (OutboxRow.__table__, DeliveryAttemptRow.__table__):
            stored += " ".join(str(tuple(row)) for row in connection.execute(select(table)))
    # httpx itself logs each request line, URL included, at INFO: that logger is
    # the daemon's logging set-up to silence, not something the worker can help.
    # (httpcore's DEBUG lines name the host and port, never the path or headers.)
    logged = [
        f"{record.getMessage()} {record.exc_text or ''}"
        for record in caplog.records
        if record.name != "httpx"
    ]
    ours = [
        record.getMessage() for record in caplog.records if record.name.startswith("driftwarden")
    ]
    assert len(ours) == 7
    config = tmp_path / "driftwarden.toml"
    config.write_text(f'[store]\nurl = "{store_url}"\n')
    capsys.readouterr()
    assert cli.main(["deliveries", "list", "--config", str(config), "--format", "json"]) == 0
    listed = capsys.readouterr().out
    assert {row["message_id"] for row in json.loads(listed)} == {
        f"msg_{index}" for index in range(len(steps))
    } | {"msg_nosecret"}
    assert len(server.requests) == 2  # the only two steps that reached the server
    for secret in (TOKEN, QUERY_TOKEN, SECRET, SECRET.removeprefix("whsec_")):
        assert secret not in stored
        assert not any(secret in line for line in logged)
        assert secret not in listed
    assert "127.0.0.1" not in stored
    assert not any("127.0.0.1" in line for line in ours)


def test_transport_error_text_loses_the_url() -> None:
    request = httpx.Request("POST", f"https://user:pw@hooks.example.com:8443/t/{TOKEN}?k={TOKEN}")
    error = httpx.ConnectError(
        f"cannot reach https://user:pw@hooks.example.com:8443/t/{TOKEN}?k={TOKEN}", request=request
    )
    text = describe_transport_error(error, request)
    assert text.startswith("ConnectError: cannot reach")
    assert TOKEN not in text and "hooks.example.com" not in text and "pw" not in text
