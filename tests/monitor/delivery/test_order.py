"""Per receiver and alert group, messages arrive in the order they were queued.

A receiver refuses (500) and then comes back; retries with jittered backoff
would reorder what it gets, and a late "firing" after its "resolved" reopens
a PagerDuty or Opsgenie incident. Two workers on one store, as two replicas.
"""

from __future__ import annotations

import random
import threading
from collections import defaultdict
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from monitor.alerts.event import AlertStatus, Occasion
from monitor.delivery.worker import DeliveryWorker
from monitor.metrics import Metrics
from monitor.notifiers.base import Notifier
from monitor.notifiers.github import GitHubNotifier, GitHubReceiverSettings
from monitor.notifiers.webhook import WebhookNotifier, WebhookReceiverSettings
from monitor.service_settings import DeliverySettings
from monitor.store.models import OutboxRow
from monitor.store.outbox import NotReplayable, add_outbox, replay
from tests.support import Clock, HttpFake, Reply, sample_event

SETTINGS = DeliverySettings(
    timeout=timedelta(seconds=5),
    backoff_initial=timedelta(seconds=1),
    backoff_max=timedelta(seconds=8),
)
GROUPS = ("g1", "g2", "g3")


def queue(
    engine: Engine,
    clock: Clock,
    group: str,
    seq: int,
    payload: dict[str, Any] | None = None,
    supersedable: bool = False,
    receiver: str = "hook",
) -> str:
    """Queue one message of ``group`` as a run does, in its own transaction."""
    message_id = f"msg_{group}_{seq:02d}"
    with Session(engine) as session, session.begin():
        add_outbox(
            session,
            message_id=message_id,
            receiver=receiver,
            event_type="alert.firing",
            payload=payload if payload is not None else {"group": group, "seq": seq},
            run_id=None,
            now=clock.now,
            group_key=group,
            supersedable=supersedable,
        )
    return message_id


def worker(
    engine: Engine, notifiers: dict[str, Notifier], clock: Clock, name: str, seed: int
) -> DeliveryWorker:
    return DeliveryWorker(
        engine,
        notifiers,
        {},
        SETTINGS,
        Metrics(),
        name,
        client=httpx.Client(),
        clock=clock,
        rng=random.Random(seed),
        batch_size=3,
    )


def webhook(server: HttpFake) -> dict[str, Notifier]:
    settings = WebhookReceiverSettings(name="hook", type="webhook", url=f"{server.url}/hook")
    return {"hook": WebhookNotifier(settings, "receivers[0]")}


def statuses(engine: Engine) -> dict[str, tuple[str, str | None]]:
    with Session(engine) as session:
        rows = session.execute(
            select(OutboxRow.message_id, OutboxRow.status, OutboxRow.last_error).order_by(
                OutboxRow.id
            )
        ).all()
    return {message_id: (status, error) for message_id, status, error in rows}


def _claim_together(one: DeliveryWorker, start: threading.Barrier) -> None:
    start.wait()
    one.run_once()


def drain(workers: list[DeliveryWorker], clock: Clock, engine: Engine) -> None:
    """Both workers claim at once, round after round, a second of the clock apart."""
    for _ in range(200):
        if all(status != "pending" for status, _ in statuses(engine).values()):
            return
        start = threading.Barrier(len(workers))
        threads = [threading.Thread(target=_claim_together, args=(one, start)) for one in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        clock.advance(timedelta(seconds=1))
    raise AssertionError(f"the outbox did not drain: {statuses(engine)}")


def test_each_groups_messages_arrive_in_the_order_they_were_queued_despite_retries(
    engine: Engine, clock: Clock
) -> None:
    server = HttpFake()
    for _ in range(8):
        server.respond(Reply(500))  # the outage: the first eight requests are refused
    created: dict[str, list[int]] = defaultdict(list)
    seq = 0
    for _episode in range(3):  # firing, resolved, ... interleaved over three groups
        for _state in ("firing", "resolved"):
            for group in GROUPS:
                seq += 1
                queue(engine, clock, group, seq)
                created[group].append(seq)
    workers = [worker(engine, webhook(server), clock, f"w{n}", seed=n) for n in (1, 2)]
    try:
        drain(workers, clock, engine)
    finally:
        for one in workers:
            one.client.close()
        server.close()

    seen: dict[str, list[tuple[int, int | None]]] = defaultdict(list)
    for request in server.requests:
        data = request.json()["data"]
        seen[data["group"]].append((data["seq"], request.answered))
    assert sum(answer == 500 for group in seen.values() for _, answer in group) == 8
    for group in GROUPS:
        accepted = [seq for seq, answer in seen[group] if answer == 200]
        assert accepted == created[group]  # each once, in the order of creation
        tried = [seq for seq, _ in seen[group]]
        assert tried == sorted(tried)  # not even a refused attempt ran ahead of an older one
    assert {status for status, _ in statuses(engine).values()} == {"delivered"}


def test_a_newer_message_supersedes_older_repeats_but_never_a_first_firing(
    engine: Engine, clock: Clock
) -> None:
    server = HttpFake()
    server.handler = lambda request: Reply(503)
    one = worker(engine, webhook(server), clock, "w1", seed=1)
    try:
        queue(engine, clock, "g1", 1)  # the first firing
        assert one.run_once() == 1  # refused: pending, to be retried
        queue(engine, clock, "g1", 2, supersedable=True)  # a repeat
        queue(engine, clock, "g1", 3, supersedable=True)  # a change of the firing rules
        queue(engine, clock, "g2", 4, supersedable=True)  # another group keeps its own
        queue(engine, clock, "g1", 5)  # the resolution
        server.handler = lambda request: Reply(200)
        drain([one], clock, engine)
    finally:
        one.client.close()
        server.close()

    sent = [r.json()["data"] for r in server.requests if r.answered == 200]
    assert [d["seq"] for d in sent if d["group"] == "g1"] == [1, 5]
    assert [d["seq"] for d in sent if d["group"] == "g2"] == [4]
    assert statuses(engine) == {
        "msg_g1_01": ("delivered", None),
        "msg_g1_02": ("superseded", "superseded by msg_g1_03"),
        "msg_g1_03": ("superseded", "superseded by msg_g1_05"),
        "msg_g2_04": ("delivered", None),
        "msg_g1_05": ("delivered", None),
    }
    with pytest.raises(NotReplayable, match="delivery 2 is superseded"):
        replay(engine, "msg_g1_02", clock.now)  # sent now, it would arrive after msg_g1_05


def test_a_trigger_down_during_a_whole_episode_still_starts_its_pipeline(
    engine: Engine, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Triggers fire once per episode: the first firing is sent, late, but never dropped."""
    monkeypatch.setenv("DW_GITHUB_TOKEN", "ghp_test")
    server = HttpFake()
    server.handler = lambda request: Reply(503)
    settings = GitHubReceiverSettings(
        name="retrain",
        type="github",
        repository="acme/models",
        token_env="DW_GITHUB_TOKEN",
        api_url=server.url,
    )
    one = worker(engine, {"retrain": GitHubNotifier(settings, "receivers[0]")}, clock, "w1", 1)

    def event(status: AlertStatus, occasion: Occasion, episode: int) -> dict[str, Any]:
        key = f"credit-risk-3f2a9c0d1e4b-{episode}"
        return sample_event(
            status, occasion=occasion, episode=episode, idempotency_key=key
        ).to_payload()

    try:
        queue(engine, clock, "g", 1, event("firing", "first", 1), receiver="retrain")
        assert one.run_once() == 1  # refused
        queue(engine, clock, "g", 2, event("firing", "repeat", 1), True, receiver="retrain")
        queue(engine, clock, "g", 3, event("resolved", "resolved", 1), receiver="retrain")
        queue(engine, clock, "g", 4, event("firing", "first", 2), receiver="retrain")
        server.handler = lambda request: Reply(204)
        drain([one], clock, engine)
    finally:
        one.client.close()
        server.close()

    started = [
        r.json()["client_payload"]["idempotency_key"] for r in server.requests if r.answered == 204
    ]
    assert started == ["credit-risk-3f2a9c0d1e4b-1", "credit-risk-3f2a9c0d1e4b-2"]
    assert [status for status, _ in statuses(engine).values()] == [
        "delivered",
        "superseded",
        "delivered",  # a resolution: nothing to send to a trigger
        "delivered",
    ]
