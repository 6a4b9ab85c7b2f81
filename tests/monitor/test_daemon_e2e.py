"""The daemon end to end, as a user runs it: `driftwarden run` in a subprocess.

File source with a planted shift, a 1-second schedule, a real HTTP receiver
on 127.0.0.1; once on SQLite and once on PostgreSQL.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from sqlalchemy import create_engine, text
from standardwebhooks import Webhook

from monitor.config import load_settings
from monitor.levels import monitor_levels
from tests.support import HttpFake, Reply, wait_for

SECRET = "whsec_" + "c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seS0xMjM0NTY="


@pytest.fixture
def receiver() -> Iterator[HttpFake]:
    with HttpFake() as server:
        yield server


def hook_url(receiver: HttpFake) -> str:
    """A receiver URL carrying a token, which must never show up in logs or the store."""
    return f"{receiver.url}/hook?token=t0ps3cret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_data(directory: Path) -> None:
    """Reference and live traffic; in the live traffic only x_shift and cat_shift moved."""
    rng = np.random.default_rng(20261125)
    n = 3000
    reference = pd.DataFrame(
        {
            "x_shift": rng.normal(0, 1, n),
            "x_stable": rng.normal(5, 2, n),
            "cat_shift": rng.choice(["a", "b", "c"], n, p=[0.6, 0.3, 0.1]),
            "cat_stable": rng.choice(["u", "v"], n),
        }
    )
    reference.to_parquet(directory / "reference.parquet")
    live_traffic(rng, n, shifted=True).to_parquet(directory / "live-0001.parquet")


def live_traffic(rng: np.random.Generator, n: int, *, shifted: bool) -> pd.DataFrame:
    """The last 50 minutes' rows, a second apart: drawn like the reference unless ``shifted``."""
    now = datetime.now(UTC)
    return pd.DataFrame(
        {
            "ts": [now - timedelta(minutes=50) + timedelta(seconds=i) for i in range(n)],
            "x_shift": rng.normal(1.5 if shifted else 0, 1, n),
            "x_stable": rng.normal(5, 2, n),
            "cat_shift": rng.choice(
                ["a", "b", "c"], n, p=[0.1, 0.3, 0.6] if shifted else [0.6, 0.3, 0.1]
            ),
            "cat_stable": rng.choice(["u", "v"], n),
        }
    )


def write_config(directory: Path, store_url: str, port: int) -> Path:
    columns = "".join(
        f'\n[[monitors.columns]]\nname = "{name}"\nkind = "{kind}"\n'
        for name, kind in [
            ("x_shift", "numeric"),
            ("x_stable", "numeric"),
            ("cat_shift", "categorical"),
            ("cat_stable", "categorical"),
        ]
    )
    config = f"""
[store]
url_env = "E2E_STORE_URL"

[server]
listen = "127.0.0.1:{port}"

[delivery]
timeout = "2s"
backoff_initial = "100ms"
backoff_max = "500ms"
poll_interval = "100ms"

[[monitors]]
name = "e2e"
schedule = "every 1s"
window = "1h"
receivers = ["hook"]

[monitors.source]
type = "file"
path = "{directory}/live-*.parquet"
timestamp_column = "ts"

[monitors.reference]
type = "file"
path = "{directory}/reference.parquet"
{columns}
[[receivers]]
name = "hook"
type = "webhook"
url_env = "E2E_HOOK_URL"
secret_env = "E2E_HOOK_SECRET"
"""
    path = directory / "driftwarden.toml"
    path.write_text(config)
    return path


@dataclass
class Daemon:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_daemon(
    config: Path, env: dict[str, str], port: int, log_path: Path, options: Sequence[str] = ()
) -> Daemon:
    """``options`` go before the command: ``--log-format json``."""
    log_file = log_path.open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor.cli", *options, "run", "--config", str(config)],
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    log_file.close()
    daemon = Daemon(process, port, log_path)

    def healthy() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"daemon exited early:\n{daemon.log()}")
        try:
            return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    wait_for(healthy, "the daemon's /healthz")
    return daemon


def stop_daemon(daemon: Daemon) -> int:
    daemon.process.send_signal(signal.SIGTERM)
    try:
        return daemon.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        daemon.process.kill()
        raise AssertionError(
            f"daemon did not stop within 10s of SIGTERM:\n{daemon.log()}"
        ) from None


def daemon_env(store_url: str, receiver: HttpFake) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("E2E_")}
    env.update(E2E_STORE_URL=store_url, E2E_HOOK_URL=hook_url(receiver), E2E_HOOK_SECRET=SECRET)
    return env


def start_drifting_daemon(
    directory: Path, store_url: str, receiver: HttpFake, options: Sequence[str] = ()
) -> tuple[Daemon, Path]:
    """The daemon on the planted shift of ``write_data``; returns it and its config."""
    write_data(directory)
    port = free_port()
    config = write_config(directory, store_url, port)
    env = daemon_env(store_url, receiver)
    return start_daemon(config, env, port, directory / "daemon.log", options), config


def test_daemon_detects_stores_exports_and_delivers(
    store_url: str, receiver: HttpFake, tmp_path: Path
) -> None:
    daemon, config = start_drifting_daemon(tmp_path, store_url, receiver)
    port = daemon.port
    try:
        wait_for(lambda: len(receiver.accepted()) >= 1, "a delivered webhook")
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        runs = httpx.get(f"http://127.0.0.1:{port}/api/runs?monitor=e2e", timeout=5).json()
        run_link = json.loads(receiver.accepted()[0].body)["data"]["run"]["url"]
        run_page = httpx.get(run_link, timeout=5)
    finally:
        exit_code = stop_daemon(daemon)
    assert exit_code == 0, daemon.log()

    delivered = receiver.accepted()[0]
    event = Webhook(SECRET).verify(delivered.body, delivered.headers)
    assert event["type"] == "alert.firing"
    data = event["data"]
    assert data["monitor"] == "e2e"
    assert data["decision"]["drifted"] is True
    assert sorted(c["column"] for c in data["drifted_columns"]) == ["cat_shift", "x_shift"]
    # Every column is a p-value test: the run's single-window level is their BH level,
    # 1 false alarm per 30 days of 1-second runs, halved for the pooled tests.
    window_level = monitor_levels(load_settings(config).monitors[0]).window
    assert window_level == pytest.approx(0.5 / (30 * 24 * 3600))
    for column in data["drifted_columns"]:
        assert column["p_value"] < 1e-9
        assert column["threshold"] == pytest.approx(window_level)
    assert data["run"]["url"] == f"http://127.0.0.1:{port}/runs/{data['run']['id']}"
    assert run_page.status_code == 200, run_page.text
    assert f"<title>Run {data['run']['id']} of e2e" in run_page.text

    assert 'driftwarden_column_drifted{column="x_shift",monitor="e2e",windows="1"} 1.0' in metrics
    assert 'driftwarden_column_drifted{column="x_stable",monitor="e2e",windows="1"} 0.0' in metrics
    assert 'driftwarden_monitor_drifted{monitor="e2e"} 1.0' in metrics
    assert runs["runs"] and runs["runs"][0]["monitor"] == "e2e"

    engine = create_engine(store_url)
    with engine.connect() as connection:
        run_id = data["run"]["id"]
        status = connection.execute(
            text("SELECT status, drifted FROM runs WHERE id = :id"), {"id": run_id}
        ).one()
        stored: dict[str, bool] = dict(
            connection.execute(
                text('SELECT "column", drifted FROM results WHERE run_id = :id'), {"id": run_id}
            ).all()
        )
        outbox = connection.execute(text("SELECT status, payload FROM outbox")).all()
    engine.dispose()
    assert tuple(status) == ("succeeded", True)
    assert stored == {"x_shift": True, "x_stable": False, "cat_shift": True, "cat_stable": False}
    assert [row.status for row in outbox] == ["delivered"]
    assert "t0ps3cret" not in json.dumps([row.payload for row in outbox])
    assert "t0ps3cret" not in daemon.log()


def test_pending_delivery_survives_sigkill_and_is_delivered_once(
    sqlite_url: str, receiver: HttpFake, tmp_path: Path
) -> None:
    write_data(tmp_path)
    port = free_port()
    config = write_config(tmp_path, sqlite_url, port)
    env = daemon_env(sqlite_url, receiver)
    receiver.handler = lambda request: Reply(503)
    log_path = tmp_path / "daemon.log"
    first = start_daemon(config, env, port, log_path)
    wait_for(lambda: len(receiver.requests) >= 2, "two failed delivery attempts")
    first.process.kill()
    first.process.wait(timeout=10)

    engine = create_engine(sqlite_url)
    with engine.connect() as connection:
        pending = connection.execute(text("SELECT status FROM outbox")).scalars().all()
    assert pending and all(status in ("pending", "sending") for status in pending)

    receiver.handler = lambda request: Reply(200)
    second = start_daemon(config, env, port, log_path)
    try:
        wait_for(lambda: len(receiver.accepted()) >= 1, "the delivery after restart")

        def delivered() -> bool:
            with engine.connect() as connection:
                rows = connection.execute(text("SELECT status FROM outbox")).scalars().all()
            return rows == ["delivered"]

        wait_for(delivered, "the outbox row marked delivered")
    finally:
        assert stop_daemon(second) == 0, second.log()
    with engine.connect() as connection:
        attempts = connection.execute(text("SELECT count(*) FROM delivery_attempts")).scalar_one()
    engine.dispose()
    assert len(receiver.accepted()) == 1
    assert len({request.headers["webhook-id"] for request in receiver.requests}) == 1
    # An attempt in flight when SIGKILL lands reaches the receiver but is never recorded.
    assert len(receiver.requests) - 1 <= attempts <= len(receiver.requests)


def test_a_daemon_with_tokens_serves_probes_openly_and_the_api_to_token_holders(
    sqlite_url: str, tmp_path: Path
) -> None:
    token = "e2e-read-token-0123456789"
    port = free_port()
    config = tmp_path / "tokens.toml"
    config.write_text(
        f"""
[store]
url = "{sqlite_url}"

[server]
listen = "127.0.0.1:{port}"
tokens = [{{ name = "grafana", scope = "read", token_env = "E2E_READ_TOKEN" }}]

[[monitors]]
name = "demo"
schedule = "every 1h"

[monitors.source]
type = "demo"

[monitors.reference]
type = "window"
start = 2024-01-01T00:00:00Z
end = 2024-01-01T01:00:00Z

[[monitors.columns]]
name = "income"
kind = "numeric"
"""
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("E2E_")}
    daemon = start_daemon(config, {**env, "E2E_READ_TOKEN": token}, port, tmp_path / "daemon.log")
    url = f"http://127.0.0.1:{port}"
    try:
        probes = [
            httpx.get(f"{url}{path}", timeout=5).status_code
            for path in ("/healthz", "/readyz", "/openapi.json")
        ]
        anonymous = httpx.get(f"{url}/api/runs", timeout=5)
        wrong = httpx.get(f"{url}/metrics", headers={"Authorization": "Bearer nope"}, timeout=5)
        holder = httpx.get(f"{url}/api/runs", headers={"Authorization": f"Bearer {token}"})
    finally:
        exit_code = stop_daemon(daemon)
    assert exit_code == 0, daemon.log()
    assert probes == [200, 200, 200]
    assert (anonymous.status_code, wrong.status_code, holder.status_code) == (401, 401, 200)
    assert "(1 API tokens)" in daemon.log()
    assert token not in daemon.log()


def test_a_daemon_with_json_logs_writes_one_object_per_line_with_its_context(
    sqlite_url: str, receiver: HttpFake, tmp_path: Path
) -> None:
    """What a log pipeline gets: every line JSON, runs, alerts and deliveries with their ids."""
    daemon, _ = start_drifting_daemon(tmp_path, sqlite_url, receiver, ["--log-format", "json"])
    try:
        wait_for(lambda: len(receiver.accepted()) >= 1, "a delivered webhook")
        # A request uvicorn cannot parse: its own warning must come out as JSON too.
        with socket.create_connection(("127.0.0.1", daemon.port), timeout=5) as sock:
            sock.sendall(b"NOT HTTP\r\n\r\n")
            sock.recv(1024)
    finally:
        exit_code = stop_daemon(daemon)
    assert exit_code == 0, daemon.log()

    lines = [json.loads(line) for line in daemon.log().splitlines()]
    for line in lines:
        assert {"time", "level", "logger", "message"} <= line.keys(), line
        assert datetime.fromisoformat(line["time"]).utcoffset() == timedelta(0)
    delivered = json.loads(receiver.accepted()[0].body)
    run_id = delivered["data"]["run"]["id"]
    message_id = receiver.accepted()[0].headers["webhook-id"]

    [run] = [
        line
        for line in lines
        if line["logger"] == "driftwarden.runner" and line["message"].startswith(f"run {run_id} ")
    ]
    assert run == {
        "time": run["time"],
        "level": "INFO",
        "logger": "driftwarden.runner",
        "message": f"run {run_id} of monitor e2e: {delivered['data']['decision']['reason']}",
        "monitor": "e2e",
        "run_id": run_id,
    }
    [firing] = [line for line in lines if line["logger"] == "driftwarden.alerting"]
    assert firing == {
        "time": firing["time"],
        "level": "INFO",
        "logger": "driftwarden.alerting",
        "message": f"alert drift of monitor e2e is firing (warning, run {run_id})",
        "monitor": "e2e",
        "run_id": run_id,
        "rule": "drift",
    }
    [delivery] = [line for line in lines if "delivered to hook" in line["message"]]
    assert delivery == {
        "time": delivery["time"],
        "level": "INFO",
        "logger": "driftwarden.delivery",
        "message": f"message {message_id} delivered to hook (attempt 1, HTTP 200)",
        "monitor": "e2e",
        "run_id": run_id,
        "receiver": "hook",
        "message_id": message_id,
    }
    assert any(
        line["logger"] == "uvicorn.error" and line["level"] == "WARNING" for line in lines
    ), lines
    assert "t0ps3cret" not in daemon.log()
