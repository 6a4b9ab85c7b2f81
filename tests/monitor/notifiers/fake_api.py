"""A real HTTP server on 127.0.0.1 whose answers are computed from each request.

``ScriptedServer`` answers from a script; a pipeline API's fake has to look at
the request (auth, content type, required fields) to answer as the real one
would, so here a ``handle(request) -> Reply`` function decides.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import httpx

from monitor.alerts.event import AlertEvent
from monitor.notifiers.base import Notifier, OutboundMessage
from tests.support import Received, Reply

Handle = Callable[[Received], Reply]


class FakeApi:
    def __init__(self, handle: Handle) -> None:
        self.handle = handle
        self.requests: list[Received] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                request = Received(self.command, self.path, headers, body, None)
                with fake._lock:
                    reply = fake.handle(request)
                    fake.requests.append(
                        Received(self.command, self.path, headers, body, reply.status)
                    )
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            do_POST = do_PUT = do_PATCH = _any

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@contextmanager
def fake_api(handle: Handle) -> Iterator[FakeApi]:
    api = FakeApi(handle)
    try:
        yield api
    finally:
        api.close()


def reply_json(status: int, document: object) -> Reply:
    return Reply(status, {"content-type": "application/json"}, json.dumps(document).encode())


def error(status: int, message: str) -> Reply:
    return reply_json(status, {"message": message})


def json_body(request: Received) -> Any:
    """The parsed JSON body, or ``None`` when the content type or the JSON is wrong."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        return None
    try:
        return json.loads(request.body)
    except ValueError:
        return None


def form_body(request: Received) -> list[tuple[str, str]] | None:
    """The parsed form fields, or ``None`` when the content type is not a urlencoded form."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    if content_type != "application/x-www-form-urlencoded":
        return None
    return parse_qsl(request.body.decode("ascii"), keep_blank_values=True, strict_parsing=True)


def message_for(event: AlertEvent) -> OutboundMessage:
    """The outbox message a delivery worker would hand a notifier for ``event``.

    Also the ``message_for`` fixture of ``conftest.py``, for tests that take it by name.
    """
    return OutboundMessage(
        message_id=f"msg_{event.fingerprint[:8]}_{event.status}",
        event_type=event.event_type,
        payload=event.to_payload(),
        created_at=datetime(2026, 11, 25, 12, 0, 5, tzinfo=UTC),
        attempt=1,
    )


def send(notifier: Notifier, event: AlertEvent) -> httpx.Response:
    """Build the notifier's request for ``event`` and send it with a real client."""
    request = notifier.build_request(message_for(event))
    assert request is not None
    with httpx.Client(follow_redirects=False) as client:
        return client.send(request)
