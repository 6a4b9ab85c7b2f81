"""``driftwarden validate --connect`` against real tables, files, HTTP and SMTP servers.

Sources and references are real SQLite and PostgreSQL tables and files;
receivers are an HTTP server and an SMTP server on 127.0.0.1, a closed port
and a metadata address. Nothing may be sent to any of them.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from monitor.cli import main
from monitor.config import parse_settings
from monitor.connect_checks import Check, run_connect_checks
from monitor.daemon import build_redactor
from monitor.delivery.egress import EgressPolicy
from tests.monitor.notifiers.smtp_fake import SmtpFake
from tests.support import Clock, HttpFake

NOW = datetime(2024, 1, 1, 12, 30, tzinfo=UTC)
"""The latest hourly slot is 12:00: the latest window is 11:00 .. 12:00."""
ROWS = 300


def rows_in_window(make: Any) -> list[dict[str, Any]]:
    start = NOW - timedelta(minutes=90)
    return [{"ts": start + timedelta(seconds=10 * i), **make(i)} for i in range(ROWS)]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def tables_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """``events`` (ts, id, age, device, outcome), ``payments`` (ts, amount as text, user_id)
    and ``outcomes`` (id, label), the labels of every event."""
    url = str(
        request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")
    )
    metadata = sa.MetaData()
    events = sa.Table(
        "events",
        metadata,
        sa.Column("ts", sa.DateTime(timezone=True)),
        sa.Column("id", sa.Integer),
        sa.Column("age", sa.Integer),
        sa.Column("device", sa.String(10)),
        sa.Column("outcome", sa.Integer),
    )
    payments = sa.Table(
        "payments",
        metadata,
        sa.Column("ts", sa.DateTime(timezone=True)),
        sa.Column("amount", sa.Text),
        sa.Column("user_id", sa.Float),
    )
    outcomes = sa.Table(
        "outcomes", metadata, sa.Column("id", sa.Integer), sa.Column("label", sa.Integer)
    )
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        metadata.create_all(connection)
        connection.execute(
            events.insert(),
            rows_in_window(
                lambda i: {
                    "id": i,
                    "age": 20 + i % 50,
                    "device": ("ios", "web")[i % 2],
                    "outcome": i % 2,
                }
            ),
        )
        connection.execute(
            payments.insert(),
            rows_in_window(
                lambda i: {"amount": "n/a" if i % 3 == 0 else f"{i}.50", "user_id": i + 0.25}
            ),
        )
        connection.execute(outcomes.insert(), [{"id": i, "label": i // 2 % 2} for i in range(ROWS)])
    engine.dispose()
    yield url


def sql_monitor(name: str, url: str, table: str, columns: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "name": name,
        "schedule": "every 1h",
        "window": "1h",
        "source": {"type": "sql", "url": url, "table": table, "timestamp_column": "ts"},
        "reference": {"type": "sql", "url": url, "query": f"SELECT * FROM {table}"},
        "columns": [{"name": column, "kind": kind} for column, kind in columns],
    }


def checks_of(data: dict[str, Any], egress: EgressPolicy | None = None) -> list[Check]:
    settings = parse_settings(data)
    return run_connect_checks(settings, build_redactor(settings), egress=egress, clock=Clock(NOW))


def problems(checks: list[Check]) -> list[str]:
    return [check.line() for check in checks if not check.ok]


def test_sql_tables_are_checked_column_by_column(tables_url: str) -> None:
    events = sql_monitor(
        "events",
        tables_url,
        "events",
        [("age", "numeric"), ("device", "categorical"), ("income", "numeric")],
    )
    events["performance"] = {"task": "classification", "label": "outcome", "prediction": "pred"}
    payments = sql_monitor(
        "payments", tables_url, "payments", [("amount", "numeric"), ("user_id", "categorical")]
    )
    labelled = sql_monitor("labelled", tables_url, "events", [("age", "numeric")])
    labelled["performance"] = {
        "task": "classification",
        "prediction": "outcome",
        "id_column": "id",
        "labels": {
            "type": "sql",
            "url": tables_url,
            "table": "outcomes",
            "id_column": "id",
            "label_column": "label",
        },
    }
    checks = checks_of({"monitors": [events, payments, labelled]})
    found = "ts, id, age, device, outcome"
    assert problems(checks) == [
        "problem  monitors[0].columns[2] (income): the reference has no column "
        f'"income" (columns found: {found})',
        f'problem  monitors[0].performance (events): reference has no column "pred" '
        f"(columns found: {found})",
        "problem  monitors[1].columns[0] (amount): reference column 'amount' is numeric but "
        "has 100 values that are not numbers, e.g. ['n/a']",
        "problem  monitors[1].columns[1] (user_id): 'user_id' looks like an identifier: "
        "300 distinct values in 300 reference rows; not tested for drift; its values are "
        'float64 numbers: kind = "numeric"?',
    ]
    assert [check.line() for check in checks if check.key == "monitors[0].source"] == [
        "ok       monitors[0].source (events): 100 rows sampled from the latest window "
        "(2024-01-01 11:00:00 .. 2024-01-01 12:00:00 UTC)"
    ]
    ok = {check.key: check.detail for check in checks if check.ok}
    assert ok["monitors[0].reference"] == "300 rows read"
    assert (
        ok["monitors[0].columns[0]"]
        == "numeric: int64 in the reference, int64 in the latest window"
    )
    assert (
        ok["monitors[2].performance"]
        == "classification: accuracy, precision, recall, f1 fitted on 300 rows"
    )
    assert ok["monitors[2].performance.labels"] == "100 of 100 sampled predictions have a label"


def test_a_missing_file_is_a_problem_of_the_source_and_of_the_window_reference(
    tmp_path: Path,
) -> None:
    monitor = {
        "name": "files",
        "schedule": "every 1h",
        "source": {"type": "file", "path": f"{tmp_path}/live-*.parquet", "timestamp_column": "ts"},
        "reference": {
            "type": "window",
            "start": "2023-12-01T00:00:00Z",
            "end": "2023-12-02T00:00:00Z",
        },
        "columns": [{"name": "x", "kind": "numeric"}],
    }
    pattern = f"{tmp_path}/live-*.parquet"
    error = f"source file ({pattern}): no files match '{pattern}'"
    assert problems(checks_of({"monitors": [monitor]})) == [
        f"problem  monitors[0].source (files): {error}",
        f"problem  monitors[0].reference (files): {error}; columns not checked",
    ]


def test_the_latest_window_is_checked_against_the_columns_too(tmp_path: Path) -> None:
    """A column the reference has but the live files lost; text where numbers were."""
    pd.DataFrame(
        {"x": np.arange(300.0), "y": np.arange(300.0), "c": ["a", "b", "c"] * 100}
    ).to_parquet(tmp_path / "reference.parquet")
    live = pd.DataFrame(
        {
            "ts": [NOW - timedelta(minutes=50) + timedelta(seconds=i) for i in range(200)],
            "x": ["1.5", "oops"] * 100,
            "c": ["a", "b"] * 100,
        }
    )
    live.to_csv(tmp_path / "live.csv", index=False)
    monitor = {
        "name": "files",
        "schedule": "every 1h",
        "source": {"type": "file", "path": f"{tmp_path}/live.csv", "timestamp_column": "ts"},
        "reference": {"type": "file", "path": f"{tmp_path}/reference.parquet"},
        "columns": [
            {"name": "x", "kind": "numeric"},
            {"name": "y", "kind": "numeric"},
            {"name": "c", "kind": "categorical"},
        ],
    }
    assert problems(checks_of({"monitors": [monitor]})) == [
        "problem  monitors[0].columns[0] (x): in the latest window: column 'x' is numeric but "
        "50 current values are not numbers, e.g. ['oops']",
        'problem  monitors[0].columns[1] (y): the latest window has no column "y" '
        "(columns found: ts, x, c)",
    ]


def test_segment_columns_are_checked_in_the_reference_and_the_latest_window(
    tmp_path: Path,
) -> None:
    pd.DataFrame(
        {"x": np.arange(300.0), "country": ["DE", "FR", "IT"] * 100, "device": ["ios"] * 300}
    ).to_parquet(tmp_path / "reference.parquet")
    live = pd.DataFrame(
        {
            "ts": [NOW - timedelta(minutes=50) + timedelta(seconds=i) for i in range(200)],
            "x": np.arange(200.0),
            "country": ["DE", "FR"] * 100,
        }
    )
    live.to_csv(tmp_path / "live.csv", index=False)
    monitor = {
        "name": "files",
        "schedule": "every 1h",
        "source": {"type": "file", "path": f"{tmp_path}/live.csv", "timestamp_column": "ts"},
        "reference": {"type": "file", "path": f"{tmp_path}/reference.parquet"},
        "columns": [{"name": "x", "kind": "numeric"}],
        "segments": ["country", "device", "model"],
    }
    checks = [c.line() for c in checks_of({"monitors": [monitor]}) if ".segments" in c.key]
    assert checks == [
        "ok       monitors[0].segments[0] (country): 3 values in the 300 reference rows read",
        'problem  monitors[0].segments[1] (device): the latest window has no column "device" '
        "(columns found: ts, x, country)",
        'problem  monitors[0].segments[2] (model): the reference has no column "model" '
        "(columns found: x, country, device)",
    ]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def demo_monitor(receivers: list[str]) -> dict[str, Any]:
    return {
        "name": "demo",
        "schedule": "every 1h",
        "receivers": receivers,
        "source": {"type": "demo"},
        "reference": {
            "type": "window",
            "start": "2023-12-01T00:00:00Z",
            "end": "2023-12-01T01:00:00Z",
        },
        "columns": [{"name": "income", "kind": "numeric"}],
    }


def test_receivers_are_reached_and_nothing_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    closed = closed_port()
    monkeypatch.setenv("DW_TEST_HOOK_URL", f"http://localhost:{closed}/hook?token=t0ps3cret")
    with HttpFake() as http, SmtpFake() as smtp:
        receivers: list[dict[str, Any]] = [
            {"name": "hook", "type": "webhook", "url": f"{http.url}/hook"},
            {"name": "gone", "type": "webhook", "url_env": "DW_TEST_HOOK_URL"},
            {
                "name": "mail",
                "type": "email",
                "host": "127.0.0.1",
                "port": smtp.port,
                "security": "none",
                "from": "driftwarden@example.org",
                "to": ["ops@example.org"],
            },
            {"name": "imds", "type": "webhook", "url": "http://169.254.169.254/latest/meta-data"},
        ]
        data = {
            "delivery": {"timeout": "2s"},
            "monitors": [demo_monitor([r["name"] for r in receivers])],
            "receivers": receivers,
        }
        checks = [check for check in checks_of(data) if check.key.startswith("receivers")]
        assert http.requests == []
        assert smtp.received == []
    assert not any("t0ps3cret" in check.line() for check in checks)
    port = http.url.rsplit(":", 1)[1]
    assert [check.line() for check in checks] == [
        f"ok       receivers[0] (hook): 127.0.0.1:{port} accepts connections",
        f"problem  receivers[1] (gone): cannot connect to <host>:{closed}: Connection refused",
        f"ok       receivers[2] (mail): 127.0.0.1:{smtp.port} accepts connections",
        'problem  receivers[3] (imds): not contacted: refused to send to host "169.254.169.254": '
        "a link-local or cloud metadata address (allow it with [delivery] allow_hosts if this "
        "is intended)",
    ]


def test_a_host_that_resolves_to_a_metadata_address_is_never_contacted() -> None:
    """The egress check refuses before any connection: the listener's queue stays empty."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        port = listener.getsockname()[1]
        data = {
            "monitors": [demo_monitor(["internal"])],
            "receivers": [
                {"name": "internal", "type": "webhook", "url": f"http://localhost:{port}/hook"}
            ],
        }
        egress = EgressPolicy(resolver={"localhost": ["169.254.169.254"]}.__getitem__)
        [check] = [check for check in checks_of(data, egress) if check.key == "receivers[0]"]
        with pytest.raises(BlockingIOError):
            listener.accept()
    assert not check.ok
    assert check.detail.startswith(
        'not contacted: refused to send to host "localhost": it resolves to <address>'
    )


def test_validate_connect_exits_0_when_all_is_well_and_2_on_a_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    monitor = """
[[monitors]]
name = "demo"
schedule = "every 1h"
{receivers}
[monitors.source]
type = "demo"

[monitors.reference]
type = "window"
start = 2023-12-01T00:00:00Z
end = 2023-12-01T01:00:00Z

[[monitors.columns]]
name = "income"
kind = "numeric"
"""
    config.write_text(monitor.format(receivers=""))
    assert main(["validate", "--config", str(config), "--connect"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{config}: valid (1 monitors, 0 receivers)"
    assert [line.split()[0] for line in out[1:-1]] == ["ok", "ok", "ok"]
    assert out[-1] == f"{config}: 3 checks, 0 problems"

    closed = closed_port()
    config.write_text(
        monitor.format(receivers='receivers = ["hook"]')
        + f'\n[[receivers]]\nname = "hook"\ntype = "webhook"\nurl = "http://127.0.0.1:{closed}/"\n'
    )
    assert main(["validate", "-c", str(config), "--connect", "--format", "json"]) == 2
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] is True
    assert report["problems"] == 1
    assert report["checks"][-1] == {
        "key": "receivers[0]",
        "name": "hook",
        "ok": False,
        "detail": f"cannot connect to 127.0.0.1:{closed}: Connection refused",
    }
    assert main(["validate", "-c", str(config)]) == 0  # without --connect nothing is reached
