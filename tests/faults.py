"""Faults a test causes on purpose: a TCP endpoint that hangs, refuses or forwards, and a
PostgreSQL cluster of the test's own that can be stopped and started again; and the
monitors (as config) that meet them.

Both are real: the TCP endpoint is a socket on 127.0.0.1 that a driver connects
to, the cluster is ``initdb`` + ``pg_ctl`` on a port of its own (never the
shared server on 5432, which other tests use).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Literal

import pytest

Mode = Literal["forward", "hang", "refuse"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TcpFault:
    """A TCP endpoint on 127.0.0.1 in one of three modes, switched at any time.

    - ``hang``: accept every connection and never send a byte (a server that
      accepts and never answers);
    - ``refuse``: close every connection at once, and cut the ones forwarded so far
      (a server that went away);
    - ``forward``: relay bytes both ways to ``target`` (the server itself).
    """

    def __init__(self, mode: Mode = "hang", target: tuple[str, int] | None = None) -> None:
        self.target = target
        self._mode: Mode = mode
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._accepted = 0
        self._closing = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.port = int(self._listener.getsockname()[1])
        self._thread = threading.Thread(target=self._accept, name="tcp-fault", daemon=True)
        self._thread.start()

    @property
    def accepted(self) -> int:
        """Connections accepted so far, whatever became of them."""
        with self._lock:
            return self._accepted

    def set_mode(self, mode: Mode) -> None:
        with self._lock:
            self._mode = mode
            if mode == "refuse":
                self._close_all()

    def _close_all(self) -> None:
        for sock in self._open:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self._open.clear()

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self._accepted += 1
                mode = self._mode
                if mode == "refuse":
                    client.close()
                    continue
                self._open.append(client)
            if mode == "forward":
                self._relay(client)

    def _relay(self, client: socket.socket) -> None:
        assert self.target is not None, "forward needs a target"
        try:
            server = socket.create_connection(self.target, timeout=5)
        except OSError:
            client.close()
            return
        server.settimeout(None)
        with self._lock:
            self._open.append(server)
        for source, sink in ((client, server), (server, client)):
            threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._closing.set()
        self._listener.close()
        self._thread.join()
        with self._lock:
            self._close_all()


def postgres_bin() -> Path | None:
    """The directory of initdb and pg_ctl of the newest installed PostgreSQL, if any."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("pg_ctl")
    return Path(on_path).parent if on_path else None


class PostgresCluster:
    """A throw-away PostgreSQL cluster on a port of its own, trust auth, database ``test``.

    As root the server runs as the ``postgres`` user (PostgreSQL refuses root).
    ``settings`` are further server settings (``-c name=value``) for every start.
    """

    def __init__(self, bin_dir: Path, settings: Mapping[str, str] | None = None) -> None:
        self._bin = bin_dir
        self._settings = dict(settings or {})
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="dw-pg-"))
        self._as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._as_user:
            shutil.chown(self.directory, "postgres")
        self._tool("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self.start()
        subprocess.run(
            [str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port)]
            + ["-U", "postgres", "test"],
            check=True,
            capture_output=True,
        )

    @property
    def data(self) -> Path:
        return self.directory / "data"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/test"

    def _tool(self, name: str, *args: str) -> None:
        subprocess.run(
            [*self._as_user, str(self._bin / name), *args], check=True, capture_output=True
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        options += "".join(f" -c {name}={value}" for name, value in self._settings.items())
        log = str(self.directory / "server.log")
        self._tool("pg_ctl", "-D", str(self.data), "-o", options, "-l", log, "-w", "start")

    def stop(self) -> None:
        """Stop at once (``-m fast``): sessions are cut, as in a restart."""
        self._tool("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


@contextlib.contextmanager
def own_postgres_cluster() -> Iterator[PostgresCluster]:
    """A cluster for one test; skips loudly (fails when CI=true) without the binaries."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        message = "PostgreSQL server binaries (initdb, pg_ctl) not found"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI=true: the store-outage tests must run in CI)")
        pytest.skip("LOUD SKIP: " + message)
    cluster = PostgresCluster(bin_dir)
    try:
        yield cluster
    finally:
        cluster.remove()


def _monitor_toml(name: str, source: str) -> str:
    return f"""
[[monitors]]
name = "{name}"
schedule = "every 1s"
window = "1m"

[monitors.source]
{source}

[monitors.reference]
type = "window"
start = "2026-01-01T00:00:00Z"
end = "2026-01-01T00:00:30Z"

[[monitors.columns]]
name = "age"
kind = "numeric"
"""


def demo_monitor_toml(name: str) -> str:
    """A ``[[monitors]]`` table: every 1s on the demo source, a run well under a second."""
    return _monitor_toml(name, 'type = "demo"\nrows_per_window = 200')


def hung_monitor_toml(name: str, port: int, source_keys: str = "") -> str:
    """A ``[[monitors]]`` table: every 1s on a SQL source at 127.0.0.1:``port``."""
    url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/test"
    source = f'type = "sql"\nurl = "{url}"\ntable = "events"\ntimestamp_column = "ts"'
    return _monitor_toml(name, f"{source}\n{source_keys}")
