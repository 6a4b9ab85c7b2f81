"""Resilience figures of issue 11, measured on a real daemon (`driftwarden run` in a subprocess).

    .venv/bin/python tests/benchmarks/resilience.py [hung|outage|all] [--code DIR]

- ``hung``: a healthy monitor (demo source, every 1s) beside two monitors whose SQL
  source accepts connections and never answers; prints the healthy monitor's runs in
  60 s (one per slot: 60) and what the hung monitors' runs became.
- ``outage``: one monitor every 1s on a PostgreSQL store of its own (a cluster on a
  port of its own), stopped for 45 s and started again; prints how many of the slots
  due during the outage were run once the store was back (30 s later).

Only default settings are used, so the same config runs on an older checkout:
``--code /work/main`` runs the daemon from there (the figures before a change).
Prints figures; never a pass/fail test.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.faults import (  # noqa: E402
    PostgresCluster,
    TcpFault,
    demo_monitor_toml,
    free_port,
    hung_monitor_toml,
    postgres_bin,
)


def start_daemon(directory: Path, config: str, code: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    path = directory / "driftwarden.toml"
    path.write_text(f'[server]\nlisten = "127.0.0.1:{port}"\n' + config)
    env = {**os.environ, "PYTHONPATH": str(code)}
    log = (directory / "daemon.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor.cli", "run", "--config", str(path)],
        env=env,
        cwd=code,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process, port
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit(f"the daemon did not start; see {directory / 'daemon.log'}")


def stop_daemon(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def slots(store_url: str, monitor: str, start: datetime, end: datetime) -> dict[str, int]:
    """Runs of ``monitor`` by status, for slots in [start, end)."""
    engine = create_engine(store_url)
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT runs.status, count(*) FROM runs JOIN monitors ON monitors.id = "
                "runs.monitor_id WHERE monitors.name = :name AND runs.scheduled_for >= :start "
                "AND runs.scheduled_for < :end GROUP BY runs.status"
            ),
            {"name": monitor, "start": _bound(store_url, start), "end": _bound(store_url, end)},
        ).all()
    engine.dispose()
    return {status: int(n) for status, n in rows}


def _bound(store_url: str, moment: datetime) -> object:
    # SQLite stores naive UTC text; PostgreSQL compares timestamptz.
    if store_url.startswith("sqlite"):
        return moment.replace(tzinfo=None).isoformat(sep=" ")
    return moment


def measure_hung(code: Path) -> None:
    hung = TcpFault("hang")
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        store = f"sqlite:///{directory}/store.db"
        config = (
            f'[store]\nurl = "{store}"\n'
            + hung_monitor_toml("hung-a", hung.port)
            + hung_monitor_toml("hung-b", hung.port)
            + demo_monitor_toml("healthy")
        )
        process, port = start_daemon(directory, config, code)
        try:
            time.sleep(5)  # the first runs of all three have started
            start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
            time.sleep((start - datetime.now(UTC)).total_seconds() + 60)
            end = start + timedelta(seconds=60)
            time.sleep(5)  # let the last slots finish
            ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
        finally:
            stop_daemon(process)
            hung.close()
        healthy = slots(store, "healthy", start, end)
        print(f"healthy monitor, 60 slots with 2 hung monitors: runs {healthy}")
        for monitor in ("hung-a", "hung-b"):
            every = slots(store, monitor, datetime(2000, 1, 1, tzinfo=UTC), end)
            print(f"{monitor}: runs {every}")
        print(f"/readyz: {ready.status_code} {ready.text}")


def measure_outage(code: Path) -> None:
    bin_dir = postgres_bin()
    if bin_dir is None:
        raise SystemExit("PostgreSQL server binaries (initdb, pg_ctl) not found")
    cluster = PostgresCluster(bin_dir)
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        process, _ = start_daemon(
            directory, f'[store]\nurl = "{cluster.url}"\n' + demo_monitor_toml("demo"), code
        )
        try:
            time.sleep(10)
            down = datetime.now(UTC)
            cluster.stop()
            time.sleep(45)
            cluster.start()
            up = datetime.now(UTC)
            time.sleep(30)
        finally:
            stop_daemon(process)
        start = down.replace(microsecond=0) + timedelta(seconds=1)
        due = int((up - start).total_seconds()) + 1
        ran = slots(cluster.url, "demo", start, up)
        after = slots(cluster.url, "demo", up, up + timedelta(seconds=25))
        cluster.remove()
    print(f"store outage of {(up - down).total_seconds():.0f} s: {due} slots due, runs {ran}")
    print(f"the 25 slots after it: runs {after}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=["hung", "outage", "all"], nargs="?", default="all")
    parser.add_argument("--code", type=Path, default=ROOT, help="checkout to run the daemon from")
    args = parser.parse_args()
    if args.scenario in ("hung", "all"):
        measure_hung(args.code.resolve())
    if args.scenario in ("outage", "all"):
        measure_outage(args.code.resolve())


if __name__ == "__main__":
    main()
