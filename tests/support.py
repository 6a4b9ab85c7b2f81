"""Test support shared by the suite: polling with a deadline, a clock, real HTTP fakes and
a real server for the app."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import uvicorn
from fastapi import FastAPI

from monitor.alerts.event import AlertEvent, AlertStatus, DriftedColumn
from monitor.api import build_server


def wait_for(condition: Callable[[], bool], what: str, deadline: float = 60.0) -> None:
    """Poll with a deadline: the synchronisation the suite uses instead of sleeps."""
    end = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {deadline:.0f}s waiting for {what}")
        time.sleep(0.02)  # the poll interval of a loop that checks its condition


def bound_port(server: uvicorn.Server) -> int:
    return int(server.servers[0].sockets[0].getsockname()[1])


def healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200
    except httpx.TransportError:
        return False


@contextmanager
def serving(app: FastAPI) -> Iterator[httpx.Client]:
    """Run ``app`` on a free port in a thread; yield a client for it; stop and join."""
    server = build_server(app, "127.0.0.1", 0)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started or not thread.is_alive(), "uvicorn to start")
        assert server.started, "uvicorn exited during start-up"
        url = f"http://127.0.0.1:{bound_port(server)}"
        wait_for(lambda: healthy(url), "/healthz to answer")
        with httpx.Client(base_url=url, timeout=10.0) as client:
            yield client
    finally:
        server.should_exit = True
        thread.join(10)
    assert not thread.is_alive(), "uvicorn did not stop"


@dataclass
class Clock:
    """A clock a test sets and advances: ``clock()`` and ``clock.now`` read the moment."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta

    def timestamp(self) -> float:
        """The moment as POSIX seconds, for code that takes a ``time.monotonic``-like clock."""
        return self.now.timestamp()


@dataclass(frozen=True)
class Reply:
    """What ``HttpFake`` answers: status, headers and body."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @classmethod
    def json(cls, status: int, document: Any, headers: dict[str, str] | None = None) -> Reply:
        return cls(
            status,
            {"content-type": "application/json", **(headers or {})},
            json.dumps(document).encode(),
        )

    @classmethod
    def text(cls, status: int, text: str) -> Reply:
        return cls(status, {"content-type": "text/plain; charset=utf-8"}, text.encode())


@dataclass(frozen=True)
class Received:
    """One request as ``HttpFake`` received it."""

    method: str
    target: str  # the request target as sent: path and query string
    headers: dict[str, str]  # names lower-cased
    body: bytes
    answered: int | None = None  # the status sent back; None when left hanging (or not yet)

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.target).query)

    def json(self) -> Any:
        return json.loads(self.body)


Handler = Callable[[Received], Reply]


class HttpFake:
    """A real HTTP server on 127.0.0.1 that records every request, of any method.

    Each request is answered by the first reply queued with ``respond`` or
    ``hang`` (the way a throttled service answers 429 before it looks at the
    body), and otherwise by ``handler(request)``: a fake of a real service
    writes the checks it documents (auth, content type, required fields) as
    that function. The default handler answers 200 with an empty body.
    Handlers run one at a time, so a stateful fake needs no lock of its own.
    Each request is recorded with the status it was answered, or ``None``
    while it hangs.
    """

    def __init__(self, handler: Handler | None = None) -> None:
        self.handler: Handler = handler or (lambda request: Reply())
        self.requests: list[Received] = []
        self.queued: deque[Reply | None] = deque()  # None: leave the request hanging
        self.release = threading.Event()  # lets hanging requests go; set on close
        self.received = threading.Event()  # set once any request has been recorded
        self._lock = threading.Lock()
        fake = self

        class RequestHandler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                request = Received(self.command, self.path, headers, body)
                with fake._lock:
                    reply = fake.queued.popleft() if fake.queued else fake.handler(request)
                    status = None if reply is None else reply.status
                    fake.requests.append(replace(request, answered=status))
                fake.received.set()
                if reply is None:
                    fake.release.wait()
                    self.close_connection = True
                    return
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), RequestHandler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def respond(self, *replies: Reply) -> None:
        """Answer the next requests with ``replies``, in order, before the handler."""
        with self._lock:
            self.queued.extend(replies)

    def hang(self) -> None:
        """Leave the next request unanswered until the fake closes."""
        with self._lock:
            self.queued.append(None)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def accepted(self) -> list[Received]:
        """Requests that were answered with a 2xx status."""
        with self._lock:
            return [r for r in self.requests if r.answered is not None and r.answered < 300]

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()

    def __enter__(self) -> HttpFake:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def sample_event(status: AlertStatus = "firing", **overrides: Any) -> AlertEvent:
    """A realistic alert event for rendering tests."""
    fields: dict[str, Any] = {
        "status": status,
        "monitor": "credit-risk",
        "rule": "drift",
        "rule_type": "dataset_drift",
        "severity": "critical",
        "fingerprint": "3f2a9c0d1e4b5a6978877665544332211",
        "episode": 2,
        "idempotency_key": "credit-risk-3f2a9c0d1e4b-2",
        "summary": "credit-risk: 2 of 7 columns drifted (income, device)",
        "reason": "drift: 2 of 7 columns drifted (income, device)",
        "run_id": 42,
        "run_url": "http://127.0.0.1:8470/api/runs/42",
        "window_start": datetime(2026, 11, 25, 11, 0, tzinfo=UTC),
        "window_end": datetime(2026, 11, 25, 12, 0, tzinfo=UTC),
        "started_at": datetime(2026, 11, 25, 12, 0, 3, tzinfo=UTC),
        "ended_at": None if status == "firing" else datetime(2026, 11, 25, 13, 0, 2, tzinfo=UTC),
        "drifted": status == "firing",
        "drifted_columns": (
            DriftedColumn("income", "ks", 0.347, 3.4e-107, 1.0e-106, 0.05),
            DriftedColumn("device", "chi2", 611.6, 1.5e-133, 9.3e-133, 0.05),
        )
        if status == "firing"
        else (),
        "labels": {"team": "risk", "env": "prod"},
    }
    fields.update(overrides)
    return AlertEvent(**fields)


MIXED_COLUMNS: tuple[tuple[str, str], ...] = (
    ("amount", "numeric"),
    ("items", "numeric"),
    ("latency", "numeric"),
    ("returning", "categorical"),
    ("channel", "categorical"),
)
"""The columns of ``mixed_rows`` and their kinds, as a monitor's config lists them."""


def mixed_rows(rng: Any, rows: int, *, amount_shift: float = 0.0, returning: float = 0.3) -> Any:
    """Rows of the column types a real table has: normal, integer-valued, heavy-tailed, boolean,
    categorical. ``amount_shift`` moves the normal column's mean (in sd); ``returning`` is the
    share of True in the boolean column.
    """
    import pandas as pd

    return pd.DataFrame(
        {
            "amount": rng.normal(amount_shift, 1.0, rows),
            "items": rng.poisson(3.0, rows),
            "latency": rng.standard_t(2.5, rows),
            "returning": rng.random(rows) < returning,
            "channel": rng.choice(
                ["web", "ios", "android", "store", "phone"], rows, p=[0.4, 0.25, 0.2, 0.1, 0.05]
            ),
        }
    )


MIXED_START = datetime(2026, 6, 1, tzinfo=UTC)
"""Where the windows of ``backtest_mixed`` begin."""


def backtest_mixed(
    directory: Any,
    *,
    period: timedelta,
    windows: int,
    rows: int,
    make: Callable[[Any, int, int], Any],
    seed: int,
) -> tuple[int, dict[str, Any]]:
    """Backtest a default monitor of ``MIXED_COLUMNS`` over seeded windows; (exit code, JSON).

    ``make(rng, window index, rows)`` returns one window's rows; the
    reference is 50,000 rows of ``mixed_rows``. The run at the end of window
    ``k`` examines it, so a change from window ``w`` is first seen by the run
    scheduled for ``MIXED_START + (w + 1) * period``.
    """
    import contextlib
    import io
    import json

    import numpy as np
    import pandas as pd

    from monitor.cli import main

    rng = np.random.default_rng(seed)
    span = int(period / timedelta(microseconds=1))
    frames = []
    for window in range(windows):
        frame = make(rng, window, rows)
        offsets = np.sort(rng.integers(0, span, rows))
        start = pd.Timestamp(MIXED_START + window * period)
        frame.insert(0, "ts", start + pd.to_timedelta(offsets, unit="us"))
        frames.append(frame)
    pd.concat(frames, ignore_index=True).to_parquet(directory / "events.parquet")
    mixed_rows(rng, 50_000).to_parquet(directory / "reference.parquet")
    columns = "".join(
        f'[[monitors.columns]]\nname = "{name}"\nkind = "{kind}"\n\n'
        for name, kind in MIXED_COLUMNS
    )
    minutes = int(period / timedelta(minutes=1))
    config = directory / "config.toml"
    config.write_text(
        f"""
[store]
url = "sqlite:///{directory}/store.db"

[[monitors]]
name = "shop"
schedule = "every {minutes}m"
window = "{minutes}m"

[monitors.source]
type = "file"
path = "{directory}/events.parquet"
timestamp_column = "ts"

[monitors.reference]
type = "file"
path = "{directory}/reference.parquet"

{columns}"""
    )
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        code = main(
            [
                "backtest",
                "--config",
                str(config),
                "--monitor",
                "shop",
                "--from",
                (MIXED_START + period).isoformat(),
                "--to",
                (MIXED_START + (windows + 1) * period).isoformat(),
                "--format",
                "json",
            ]
        )
    report: dict[str, Any] = json.loads(output.getvalue())
    return code, report
