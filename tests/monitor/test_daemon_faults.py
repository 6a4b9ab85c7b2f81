"""The daemon under faults, asserted from outside: `driftwarden run` in a subprocess.

- kill -9 in the middle of a run: another daemon expires the claim, the
  ``run_failed`` alert reaches the receiver, and the slot runs again (SQLite
  and PostgreSQL stores);
- two monitors on a source that never answers: their runs time out, the
  healthy monitor goes on, and ``/readyz`` says "degraded" and names them.

The slow run is deterministic: its SQL source is a TCP endpoint on 127.0.0.1
that holds every connection until the test switches it to forwarding to the
PostgreSQL test server.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from sqlalchemy import create_engine, text

from monitor.runner import EXPIRED_REASON
from tests.faults import TcpFault, demo_monitor_toml, free_port, hung_monitor_toml
from tests.monitor.test_daemon_e2e import daemon_env, start_daemon, stop_daemon
from tests.support import HttpFake, wait_for


@pytest.fixture
def receiver() -> Iterator[HttpFake]:
    with HttpFake() as server:
        yield server


@pytest.fixture
def gate() -> Iterator[TcpFault]:
    """Holds every connection until set to forward them to the PostgreSQL test server."""
    fault = TcpFault("hang", ("127.0.0.1", 5432))
    yield fault
    fault.close()


COLUMNS = '\n[[monitors.columns]]\nname = "x"\nkind = "numeric"\n'


def events_table(postgres_url: str, now: datetime) -> None:
    rng = np.random.default_rng(11)
    rows = [
        {"ts": now - timedelta(hours=3) + timedelta(seconds=5 * i), "x": float(x)}
        for i, x in enumerate(rng.normal(0, 1, 3 * 720))
    ]
    engine = create_engine(postgres_url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE events (ts timestamptz, x float)"))
        connection.execute(text("INSERT INTO events VALUES (:ts, :x)"), rows)
    engine.dispose()


def slow_config(directory: Path, port: int, source_url: str) -> Path:
    pd.DataFrame({"x": np.random.default_rng(12).normal(0, 1, 3000)}).to_parquet(
        directory / "reference.parquet"
    )
    path = directory / "driftwarden.toml"
    path.write_text(
        f"""
[store]
url_env = "E2E_STORE_URL"

[server]
listen = "127.0.0.1:{port}"

[scheduler]
misfire_grace = "2h"
run_lease = "2s"

[delivery]
backoff_initial = "100ms"
poll_interval = "100ms"

[[monitors]]
name = "slow"
schedule = "every 1h"
window = "1h"
receivers = ["hook"]

[monitors.source]
type = "sql"
url = "{source_url}"
table = "events"
timestamp_column = "ts"
connect_timeout = "1h"

[monitors.reference]
type = "file"
path = "{directory}/reference.parquet"

[[monitors.rules]]
name = "failed"
type = "run_failed"
{COLUMNS}
[[receivers]]
name = "hook"
type = "webhook"
url_env = "E2E_HOOK_URL"
secret_env = "E2E_HOOK_SECRET"
"""
    )
    return path


def run_rows(store_url: str) -> list[tuple[int, str, str | None, int, str]]:
    engine = create_engine(store_url)
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT id, status, reason, attempt, claimed_by FROM runs ORDER BY id")
        ).all()
    engine.dispose()
    return [(i, status, reason, attempt, by) for i, status, reason, attempt, by in rows]


def test_a_run_killed_mid_way_fails_alerts_and_runs_again(
    store_url: str,
    postgres_url: str,
    receiver: HttpFake,
    gate: TcpFault,
    tmp_path: Path,
) -> None:
    events_table(postgres_url, datetime.now(UTC))
    port = free_port()
    source_url = postgres_url.replace("127.0.0.1:5432", f"127.0.0.1:{gate.port}")
    config = slow_config(tmp_path, port, source_url)
    env = daemon_env(store_url, receiver)
    log_path = tmp_path / "daemon.log"

    first = start_daemon(config, env, port, log_path)
    try:
        wait_for(
            lambda: gate.accepted >= 1 and [r[1] for r in run_rows(store_url)] == ["running"],
            "a run claimed and waiting on its source",
        )
    finally:
        first.process.kill()
        first.process.wait(timeout=10)
    [(run_id, _, _, _, killed)] = run_rows(store_url)

    gate.set_mode("forward")
    second = start_daemon(config, env, port, log_path)
    try:
        wait_for(lambda: len(receiver.accepted()) >= 1, "the run_failed alert delivered")
        wait_for(lambda: run_rows(store_url)[0][1] == "succeeded", "the slot run again, to the end")
    finally:
        assert stop_daemon(second) == 0, second.log()

    [(same_id, status, reason, attempt, claimed_by)] = run_rows(store_url)
    assert (same_id, status, attempt) == (run_id, "succeeded", 2)
    assert claimed_by != killed
    assert reason is not None and reason.startswith("no drift")
    event = json.loads(receiver.accepted()[0].body)
    assert event["type"] == "alert.firing"
    data = event["data"]
    assert (data["alert"]["rule"], data["run"]["id"]) == ("failed", run_id)
    assert data["decision"]["reason"] == EXPIRED_REASON
    engine = create_engine(store_url)
    with engine.connect() as connection:
        transitions = connection.execute(
            text("SELECT run_id, to_state FROM alert_transitions ORDER BY id")
        ).all()
    engine.dispose()
    assert [tuple(row) for row in transitions][0] == (run_id, "firing")


def test_hung_monitors_time_out_and_readyz_names_them(
    sqlite_url: str, receiver: HttpFake, tmp_path: Path
) -> None:
    silent = TcpFault("hang")
    port = free_port()
    hung = "".join(
        hung_monitor_toml(name, silent.port, 'connect_timeout = "1h"')
        for name in ("hung-a", "hung-b")
    )
    healthy = demo_monitor_toml("healthy")
    config = tmp_path / "driftwarden.toml"
    config.write_text(
        f'[store]\nurl_env = "E2E_STORE_URL"\n\n[server]\nlisten = "127.0.0.1:{port}"\n\n'
        f'[scheduler]\nrun_timeout = "2s"\n{hung}{healthy}'
    )
    base = f"http://127.0.0.1:{port}"
    daemon = start_daemon(config, daemon_env(sqlite_url, receiver), port, tmp_path / "d.log")
    try:

        def both_hung() -> bool:
            body = httpx.get(f"{base}/readyz", timeout=5).json()
            return bool(body.get("hung_runs") == ["hung-a", "hung-b"])

        wait_for(both_hung, "/readyz to name both hung monitors")
        ready = httpx.get(f"{base}/readyz", timeout=5)
        metrics = httpx.get(f"{base}/metrics", timeout=5).text
        hung_runs = httpx.get(f"{base}/api/runs?monitor=hung-a", timeout=5).json()["runs"]
        wait_for(
            lambda: (
                len(httpx.get(f"{base}/api/runs?monitor=healthy", timeout=5).json()["runs"]) >= 5
            ),
            "the healthy monitor's runs",
        )
    finally:
        exit_code = stop_daemon(daemon)
        silent.close()
    assert exit_code == 0, daemon.log()
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "degraded",
        "checks": {"store": True, "scheduler": True, "delivery": True},
        "hung_runs": ["hung-a", "hung-b"],
    }
    assert 'driftwarden_monitor_run_hung{monitor="hung-a"} 1.0' in metrics
    assert [(run["status"], run["reason"]) for run in hung_runs] == [
        (
            "failed",
            "timed out: still running after 2s (scheduler.run_timeout); the source may be hung",
        )
    ]
