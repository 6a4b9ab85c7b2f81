"""`driftwarden deliveries list|replay`, through the CLI, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import random
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from sqlalchemy import Engine

from monitor import cli
from monitor.delivery.worker import DeliveryWorker
from monitor.metrics import Metrics
from monitor.notifiers.webhook import WebhookNotifier, WebhookReceiverSettings
from monitor.service_settings import DeliverySettings
from monitor.store.outbox import AttemptRecord, claim_due, record_attempt
from tests.support import Clock, HttpFake, Reply

if TYPE_CHECKING:
    from tests.monitor.delivery.conftest import Outbox

SETTINGS = DeliverySettings(
    max_age=timedelta(hours=1),
    backoff_initial=timedelta(seconds=10),
    backoff_max=timedelta(seconds=60),
)


@pytest.fixture
def config(tmp_path: Path, store_url: str) -> Path:
    path = tmp_path / "driftwarden.toml"
    path.write_text(f'[store]\nurl = "{store_url}"\n')
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _finish(engine: Engine, outbox: Outbox, clock: Clock, message_id: str, dead: bool) -> int:
    row_id = outbox.add(clock.now, message_id=message_id)
    (claimed,) = claim_due(engine, "w1", clock.now, timedelta(minutes=1), limit=1)
    record = (
        AttemptRecord("dead", 400, "HTTP 400 Bad Request", 2.0)
        if dead
        else AttemptRecord("delivered", 200, None, 2.0)
    )
    record_attempt(engine, claimed, "w1", clock.now, record)
    return row_id


def test_list_shows_rows_newest_first_and_filters_by_status(
    engine: Engine,
    outbox: Outbox,
    clock: Clock,
    config: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    dead_id = _finish(engine, outbox, clock, "msg_dead", dead=True)
    delivered_id = _finish(engine, outbox, clock, "msg_ok", dead=False)
    pending_id = outbox.add(clock.now, message_id="msg_waiting")

    code, out, _ = _run(capsys, "deliveries", "list", "-c", str(config), "--format", "json")
    assert code == 0
    rows = json.loads(out)
    assert [row["id"] for row in rows] == [pending_id, delivered_id, dead_id]
    assert set(rows[0]) == {
        "id",
        "message_id",
        "receiver",
        "event_type",
        "status",
        "attempts",
        "created_at",
        "next_attempt_at",
        "last_error",
        "delivered_at",
        "replayed_at",
    }
    dead = rows[2]
    assert (dead["message_id"], dead["status"], dead["attempts"], dead["last_error"]) == (
        "msg_dead",
        "dead",
        1,
        "HTTP 400 Bad Request",
    )
    assert dead["created_at"] == clock.now.isoformat()

    args = ("deliveries", "list", "-c", str(config), "--status", "dead", "--format", "json")
    code, out, _ = _run(capsys, *args)
    assert [row["message_id"] for row in json.loads(out)] == ["msg_dead"]

    code, out, _ = _run(capsys, "deliveries", "list", "-c", str(config), "--limit", "1")
    header, line = out.splitlines()
    assert header.split()[:6] == ["id", "message_id", "receiver", "event_type", "status", "att"]
    assert line.split()[:6] == [
        str(pending_id),
        "msg_waiting",
        "hook",
        "drift.detected",
        "pending",
        "0",
    ]


def test_list_of_an_empty_outbox(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(capsys, "deliveries", "list", "-c", str(config)) == (0, "no deliveries\n", "")


@pytest.fixture
def hook_env(monkeypatch: pytest.MonkeyPatch, server: HttpFake) -> None:
    monkeypatch.setenv("DW_TEST_ADMIN_URL", f"{server.url}/hook")


def _worker(engine: Engine, client: httpx.Client, clock: Clock) -> DeliveryWorker:
    settings = WebhookReceiverSettings(name="hook", type="webhook", url_env="DW_TEST_ADMIN_URL")
    return DeliveryWorker(
        engine,
        {"hook": WebhookNotifier(settings, "receivers[0]")},
        {"hook": None},
        SETTINGS,
        Metrics(),
        "w1",
        client=client,
        clock=clock,
        rng=random.Random(2),
    )


@pytest.mark.usefixtures("hook_env")
def test_replay_a_dead_message_sends_it_again_with_the_same_id_and_history(
    engine: Engine,
    outbox: Outbox,
    server: HttpFake,
    client: httpx.Client,
    clock: Clock,
    config: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server.respond(Reply(400))
    row_id = outbox.add(clock.now, message_id="msg_replay")
    worker = _worker(engine, client, clock)
    assert worker.run_once() == 1
    assert outbox.row(row_id).status == "dead"

    code, out, err = _run(capsys, "deliveries", "replay", "-c", str(config), "msg_replay")
    assert (code, err) == (0, "")
    assert out == (
        f"delivery {row_id} (msg_replay to hook) is pending again (earlier attempts kept: 1)\n"
    )
    row = outbox.row(row_id)
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, "HTTP 400 Bad Request")
    assert row.replayed_at is not None and row.next_attempt_at == row.replayed_at

    clock.now = max(clock.now, row.next_attempt_at)
    assert worker.run_once() == 1
    row = outbox.row(row_id)
    assert (row.status, row.attempts) == ("delivered", 2)
    assert [r.headers["webhook-id"] for r in server.requests] == ["msg_replay", "msg_replay"]
    assert [(a.outcome, a.status_code) for a in outbox.attempts(row_id)] == [
        ("dead", 400),
        ("delivered", 200),
    ]

    # A delivered message can be replayed too, by its row id.
    code, _, _ = _run(capsys, "deliveries", "replay", "-c", str(config), str(row_id))
    assert code == 0
    assert (outbox.row(row_id).status, outbox.row(row_id).delivered_at) == ("pending", None)


@pytest.mark.usefixtures("hook_env")
def test_a_replay_restarts_max_age(
    engine: Engine,
    outbox: Outbox,
    server: HttpFake,
    client: httpx.Client,
    clock: Clock,
    config: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server.respond(Reply(503), Reply(503))
    created = clock.now - SETTINGS.max_age - timedelta(minutes=5)
    row_id = outbox.add(clock.now, message_id="msg_old", created_at=created)
    worker = _worker(engine, client, clock)
    assert worker.run_once() == 1
    assert outbox.row(row_id).status == "dead"  # too old to retry

    assert _run(capsys, "deliveries", "replay", "-c", str(config), "msg_old")[0] == 0
    clock.now = max(clock.now, outbox.row(row_id).next_attempt_at)
    assert worker.run_once() == 1
    row = outbox.row(row_id)
    assert (row.status, row.attempts) == ("pending", 2)  # retried: max_age runs from the replay


def test_replay_of_an_unknown_id_exits_2(
    engine: Engine, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, "deliveries", "replay", "-c", str(config), "4242")
    assert (code, out) == (2, "")
    assert err == 'driftwarden: error: no delivery with id or message_id "4242"\n'


def test_replay_of_a_message_still_on_its_way_exits_2(
    engine: Engine,
    outbox: Outbox,
    clock: Clock,
    config: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    row_id = outbox.add(clock.now, message_id="msg_waiting")
    code, _, err = _run(capsys, "deliveries", "replay", "-c", str(config), "msg_waiting")
    assert code == 2
    assert err == (
        f"driftwarden: error: delivery {row_id} is pending: "
        "only dead or delivered messages can be replayed\n"
    )
    assert outbox.row(row_id).replayed_at is None


def test_list_limit_must_be_positive(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "deliveries", "list", "-c", str(config), "--limit", "0")
    assert (code, err) == (2, "driftwarden: error: --limit must be at least 1, got 0\n")
