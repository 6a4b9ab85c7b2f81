"""`driftwarden run` in a subprocess: start, wait until healthy, kill -9, stop with a deadline."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

HEALTHY_DEADLINE_SECONDS = 60.0
STOP_DEADLINE_SECONDS = 20.0


@dataclass
class Daemon:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def healthy(self) -> bool:
        try:
            response = httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1)
        except httpx.TransportError:
            return False
        return response.status_code == 200

    def kill(self) -> None:
        """SIGKILL, as an OOM killer or a lost node would; reaped at once."""
        if self.alive():
            self.process.kill()
        self.process.wait(timeout=STOP_DEADLINE_SECONDS)

    def stop(self) -> tuple[float, bool]:
        """SIGTERM, then SIGKILL after the deadline: (seconds taken, whether it was forced)."""
        started = time.monotonic()
        if not self.alive():
            return 0.0, False
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_DEADLINE_SECONDS)
        except subprocess.TimeoutExpired:
            self.kill()
            return time.monotonic() - started, True
        return time.monotonic() - started, False


class DaemonFailed(Exception):
    """A daemon exited or never became healthy within its deadline."""


def start_daemon(
    name: str,
    config: Path,
    env: Mapping[str, str],
    log_path: Path,
    port: int,
    code: Path | None = None,
) -> Daemon:
    """Start ``driftwarden run`` (from checkout ``code``, if given); wait for its /healthz."""
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "monitor.cli", "run", "--config", str(config)],
            env=dict(env),
            cwd=code,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    daemon = Daemon(name, process, port, log_path)
    deadline = time.monotonic() + HEALTHY_DEADLINE_SECONDS
    while not daemon.healthy():
        if not daemon.alive():
            raise DaemonFailed(f"{name} exited with {process.returncode} at start")
        if time.monotonic() > deadline:
            daemon.kill()
            raise DaemonFailed(f"{name} not healthy within {HEALTHY_DEADLINE_SECONDS:.0f}s")
        time.sleep(0.05)  # the poll interval of a loop with a deadline
    return daemon
