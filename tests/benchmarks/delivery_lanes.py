"""A healthy receiver's delivery latency while its neighbour hangs (issue 11, item 3).

Two webhook receivers on 127.0.0.1: "hung" accepts every request and never
answers (each attempt ends at ``delivery.timeout``), "healthy" answers 200 at
once. A producer queues one message for each every 0.2 s for 10 s (50 each),
and one ``DeliveryWorker.run_forever``, as the daemon runs it, delivers.
Latency is ``delivered_at - created_at`` of the healthy receiver's rows, read
back from the store (a SQLite file in a temporary directory). A first pass
with two healthy receivers is the baseline.

    .venv/bin/python tests/benchmarks/delivery_lanes.py
"""

from __future__ import annotations

import logging
import statistics
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from monitor.delivery.worker import DeliveryWorker  # noqa: E402
from monitor.metrics import Metrics  # noqa: E402
from monitor.notifiers.base import Notifier  # noqa: E402
from monitor.notifiers.webhook import WebhookNotifier, WebhookReceiverSettings  # noqa: E402
from monitor.service_settings import DeliverySettings  # noqa: E402
from monitor.store.engine import make_engine, upgrade  # noqa: E402
from monitor.store.models import OutboxRow, utcnow  # noqa: E402
from tests.support import HttpFake, wait_for  # noqa: E402

MESSAGES = 50
INTERVAL = 0.2
SETTINGS = DeliverySettings(
    timeout=timedelta(seconds=1),
    backoff_initial=timedelta(milliseconds=200),
    backoff_max=timedelta(seconds=2),
    poll_interval=timedelta(milliseconds=100),
)


def produce(engine: Engine) -> None:
    for index in range(MESSAGES):
        now = utcnow()
        with Session(engine) as session, session.begin():
            for receiver in ("healthy", "neighbour"):
                session.add(
                    OutboxRow(
                        message_id=f"msg_{receiver}_{index:03d}",
                        receiver=receiver,
                        event_type="alert.firing",
                        payload={"index": index},
                        created_at=now,
                        next_attempt_at=now,
                    )
                )
        time.sleep(INTERVAL)  # the producer's pace, not a synchronisation


def healthy_latencies(engine: Engine) -> list[float]:
    with Session(engine) as session:
        rows = session.execute(
            select(OutboxRow.created_at, OutboxRow.delivered_at).where(
                OutboxRow.receiver == "healthy", OutboxRow.delivered_at.is_not(None)
            )
        ).all()
    return [(delivered - created).total_seconds() for created, delivered in rows if delivered]


def measure(url: str, neighbour_hangs: bool) -> str:
    engine = make_engine(url)
    upgrade(engine)
    healthy, neighbour = HttpFake(), HttpFake()
    if neighbour_hangs:
        for _ in range(10 * MESSAGES):
            neighbour.hang()
    notifiers: dict[str, Notifier] = {
        name: WebhookNotifier(
            WebhookReceiverSettings(name=name, type="webhook", url=f"{server.url}/{name}"), "r"
        )
        for name, server in (("healthy", healthy), ("neighbour", neighbour))
    }
    worker = DeliveryWorker(engine, notifiers, {}, SETTINGS, Metrics(), "bench")
    stop = threading.Event()
    thread = threading.Thread(target=worker.run_forever, args=(stop,), daemon=True)
    thread.start()
    began = time.perf_counter()
    produce(engine)
    wait_for(lambda: len(healthy_latencies(engine)) == MESSAGES, "every healthy delivery", 600)
    elapsed = time.perf_counter() - began
    latencies = sorted(healthy_latencies(engine))
    stop.set()
    neighbour.close()
    healthy.close()
    thread.join(30)
    worker.close()
    engine.dispose()
    p90 = latencies[int(0.9 * len(latencies)) - 1]
    return (
        f"| {'hangs' if neighbour_hangs else 'healthy'} | {MESSAGES} | "
        f"{statistics.median(latencies):.3f} | {p90:.3f} | {latencies[-1]:.3f} | "
        f"{elapsed:.1f} | {len(neighbour.requests)} |"
    )


def main() -> None:
    logging.disable(logging.WARNING)  # every hung attempt logs a retry
    print(
        "| neighbour | healthy messages | median s | p90 s | max s | all delivered after s |"
        " neighbour requests |"
    )
    print("|---|---|---|---|---|---|---|")
    for hangs in (False, True):
        with tempfile.TemporaryDirectory() as directory:
            print(measure(f"sqlite:///{directory}/bench.db", hangs), flush=True)


if __name__ == "__main__":
    main()
