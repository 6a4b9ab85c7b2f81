"""The receivers the suite records: ``HttpFake`` with a handler that notes when each arrived.

A ``RecordingReceiver`` answers every request 200, or 503 while ``refusing``
is set, and keeps its arrival time (wall clock, comparable with the outbox's
``created_at``), ``webhook-id`` and event. The hung receiver and the hung SQL
server are ``tests.faults.TcpFault("hang")``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from tests.support import HttpFake, Received, Reply


@dataclass(frozen=True)
class Arrival:
    """One request as the receiver saw it; ``status`` is what it answered."""

    at: float
    webhook_id: str
    event_type: str
    timestamp: str
    data: dict[str, Any]
    status: int


class RecordingReceiver:
    def __init__(self) -> None:
        self.refusing = threading.Event()
        self._arrivals: list[Arrival] = []
        self._lock = threading.Lock()
        self._fake = HttpFake(self._answer)

    def _answer(self, request: Received) -> Reply:
        status = 503 if self.refusing.is_set() else 200
        try:
            document = request.json()
        except ValueError:
            document = {}
        arrival = Arrival(
            at=time.time(),
            webhook_id=request.headers.get("webhook-id", ""),
            event_type=str(document.get("type", "")),
            timestamp=str(document.get("timestamp", "")),
            data=document.get("data") or {},
            status=status,
        )
        with self._lock:
            self._arrivals.append(arrival)
        return Reply(status)

    @property
    def url(self) -> str:
        return f"{self._fake.url}/hook"

    def arrivals(self) -> list[Arrival]:
        with self._lock:
            return list(self._arrivals)

    def close(self) -> None:
        self._fake.close()
