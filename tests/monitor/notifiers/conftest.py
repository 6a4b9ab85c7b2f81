"""Fixtures shared by the receiver tests: a validating fake service on 127.0.0.1.

Each receiver's test module writes the checks its real service documents
(auth header, content type, required fields, limits) as a ``check``
function; ``FakeReceiver`` serves it over real HTTP and records every
request with the status it answered.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from monitor.alerts.event import AlertEvent
from monitor.notifiers.base import OutboundMessage
from tests.monitor.notifiers import fake_api


@dataclass(frozen=True)
class Incoming:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # names lower-cased
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, document: Any, headers: dict[str, str] | None = None) -> Answer:
        return cls(
            status,
            json.dumps(document).encode(),
            {"content-type": "application/json", **(headers or {})},
        )

    @classmethod
    def text(cls, status: int, text: str) -> Answer:
        return cls(status, text.encode(), {"content-type": "text/plain; charset=utf-8"})


Check = Callable[[Incoming], Answer]


class FakeReceiver:
    """A real HTTP server that answers each request with ``check(request)``.

    ``answer_next`` queues answers (429, 503, ...) that pre-empt ``check``
    for the next requests, the way a throttled service answers before it
    looks at the body.
    """

    def __init__(self, check: Check) -> None:
        self.check = check
        self.log: list[tuple[Incoming, Answer]] = []
        self.queued: deque[Answer] = deque()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                parts = urlsplit(self.path)
                incoming = Incoming(
                    self.command,
                    parts.path,
                    parse_qs(parts.query),
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                with receiver._lock:
                    queued = receiver.queued.popleft() if receiver.queued else None
                answer = queued or receiver.check(incoming)
                with receiver._lock:
                    receiver.log.append((incoming, answer))
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            do_POST = _handle
            do_GET = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def answer_next(self, answer: Answer) -> None:
        with self._lock:
            self.queued.append(answer)

    def accepted(self) -> list[Incoming]:
        with self._lock:
            return [incoming for incoming, answer in self.log if answer.status < 300]

    def statuses(self) -> list[int]:
        with self._lock:
            return [answer.status for _, answer in self.log]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture
def fake_receiver() -> Iterator[Callable[[Check], FakeReceiver]]:
    """A factory of validating fake services, all closed at teardown."""
    started: list[FakeReceiver] = []

    def start(check: Check) -> FakeReceiver:
        receiver = FakeReceiver(check)
        started.append(receiver)
        return receiver

    yield start
    for receiver in started:
        receiver.close()


@pytest.fixture(name="message_for")
def message_for_fixture() -> Callable[[AlertEvent], OutboundMessage]:
    """:func:`fake_api.message_for`, for tests that take it as a fixture."""
    return fake_api.message_for
