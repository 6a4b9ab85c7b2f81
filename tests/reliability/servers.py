"""The suite's counterparts on 127.0.0.1: a recording receiver and a black hole.

``RecordingReceiver`` is a real HTTP server that keeps every request it is
sent (arrival time, ``webhook-id``, the event) and answers 200, or 503 while
told to refuse. ``Blackhole`` accepts TCP connections and never says a word:
a hung receiver to an HTTP client, a hung database server to a driver.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Arrival:
    """One request as the receiver saw it; ``status`` is what it answered."""

    at: float  # wall-clock seconds, comparable with the outbox's created_at
    webhook_id: str
    event_type: str
    timestamp: str
    data: dict[str, Any]
    status: int


class RecordingReceiver:
    """Answers every POST 200 (503 while ``refusing`` is set) and records it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.refusing = threading.Event()
        self._arrivals: list[Arrival] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                status = 503 if receiver.refusing.is_set() else 200
                try:
                    document = json.loads(body)
                except ValueError:
                    document = {}
                arrival = Arrival(
                    at=time.time(),
                    webhook_id=self.headers.get("webhook-id", ""),
                    event_type=str(document.get("type", "")),
                    timestamp=str(document.get("timestamp", "")),
                    data=document.get("data") or {},
                    status=status,
                )
                with receiver._lock:
                    receiver._arrivals.append(arrival)
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), name=f"receiver {name}", daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/hook"

    def arrivals(self) -> list[Arrival]:
        with self._lock:
            return list(self._arrivals)

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()


class Blackhole:
    """Accepts connections and holds them open, reading and answering nothing."""

    def __init__(self) -> None:
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(256)
        self._listener.settimeout(0.1)
        self._held: list[socket.socket] = []
        self._closed = threading.Event()
        self.accepted = 0
        self._thread = threading.Thread(target=self._accept, name="blackhole", daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._held.append(connection)
            self.accepted += 1

    def close(self) -> None:
        self._closed.set()
        self._thread.join()
        self._listener.close()
        for connection in self._held:
            connection.close()
