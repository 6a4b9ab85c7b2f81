"""A scripted webhook receiver on 127.0.0.1, a controllable clock, a migrated store."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from monitor.store.engine import make_engine, upgrade
from monitor.store.models import DeliveryAttemptRow, OutboxRow


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


HANG = "hang"  # accept the request, never answer (until the test ends)


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class ScriptedServer:
    """Records every request and answers from ``script`` in order (200 once it is empty)."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.script: deque[Reply | str] = deque()
        self.release = threading.Event()
        self.received = threading.Event()  # set once any request has been recorded
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                with server._lock:
                    server.requests.append(
                        Received(
                            "POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body
                        )
                    )
                    reply = server.script.popleft() if server.script else Reply()
                server.received.set()
                if reply == HANG:
                    server.release.wait()
                    self.close_connection = True
                    return
                assert isinstance(reply, Reply)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def respond(
        self, status: int, headers: dict[str, str] | None = None, body: bytes = b""
    ) -> None:
        self.script.append(Reply(status, headers or {}, body))

    def hang(self) -> None:
        self.script.append(HANG)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    scripted = ScriptedServer()
    yield scripted
    scripted.close()


@pytest.fixture
def clock() -> Clock:
    # Real time, because standardwebhooks rejects signatures more than 5 minutes off.
    return Clock(datetime.now(UTC))


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    store = make_engine(store_url)
    upgrade(store)
    yield store
    store.dispose()


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client() as http:
        yield http


class Outbox:
    """Rows in and out of the store for one test."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(
        self,
        now: datetime,
        message_id: str = "msg_0001",
        receiver: str = "hook",
        created_at: datetime | None = None,
        payload: dict[str, Any] | None = None,
    ) -> int:
        with Session(self.engine) as session:
            row = OutboxRow(
                message_id=message_id,
                receiver=receiver,
                event_type="drift.detected",
                payload=payload if payload is not None else {"monitor": "fraud", "drifted": True},
                created_at=created_at if created_at is not None else now,
                status="pending",
                next_attempt_at=now,
            )
            session.add(row)
            session.commit()
            return row.id

    def row(self, row_id: int) -> OutboxRow:
        with Session(self.engine, expire_on_commit=False) as session:
            row = session.get(OutboxRow, row_id)
            assert row is not None
            return row

    def attempts(self, row_id: int | None = None) -> list[DeliveryAttemptRow]:
        query = select(DeliveryAttemptRow).order_by(DeliveryAttemptRow.id)
        if row_id is not None:
            query = query.where(DeliveryAttemptRow.outbox_id == row_id)
        with Session(self.engine) as session:
            return list(session.scalars(query))


@pytest.fixture
def outbox(engine: Engine) -> Outbox:
    return Outbox(engine)
