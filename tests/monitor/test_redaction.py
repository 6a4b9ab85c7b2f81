"""Reasons name nothing of the infrastructure that the config does not (monitor.redaction)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from monitor.cli import main
from monitor.config import load_settings, parse_settings
from monitor.daemon import build_redactor
from monitor.redaction import Redactor
from monitor.store.engine import make_engine
from monitor.store.models import RunRow
from tests.monitor.test_api import add_runs, make_client

DRIVER_ERROR = (
    'connection to server at "10.1.2.3", port 5432 failed: '
    'FATAL:  password authentication failed for user "svc"'
)


def test_a_url_from_the_environment_shows_as_its_variable_and_placeholders() -> None:
    redact = Redactor.for_url("postgresql+psycopg://svc:hunter2@10.1.2.3:5432/warehouse", "DW_DB")
    assert redact(
        "source sql (postgresql+psycopg://svc:***@10.1.2.3:5432/warehouse): cannot connect: "
        + DRIVER_ERROR
        + ' (database "warehouse", password hunter2)'
    ) == (
        "source sql ($DW_DB): cannot connect: "
        'connection to server at "<host>", port 5432 failed: '
        'FATAL:  password authentication failed for user "<user>" '
        '(database "<database>", password ***)'
    )


def test_a_url_written_in_the_config_shows_what_it_names_but_no_other_address() -> None:
    redact = Redactor.for_url("postgresql+psycopg://svc:hunter2@db.internal/warehouse", None)
    assert redact(
        'connection to server at "db.internal" (10.9.8.7), port 5432 failed: '
        'FATAL:  password authentication failed for user "svc" (hunter2)'
    ) == (
        'connection to server at "db.internal" (<address>), port 5432 failed: '
        'FATAL:  password authentication failed for user "svc" (***)'
    )
    assert Redactor.for_url("postgresql://u@10.1.2.3/db", None)(DRIVER_ERROR) == DRIVER_ERROR


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("listening on 127.0.0.1 and ::1", "listening on 127.0.0.1 and ::1"),
        ("peer fe80::1%eth0 and 2001:db8::7", "peer <address> and <address>"),
        ("at 12:00:30 on 2024-05-01T12:00:00+00:00", "at 12:00:30 on 2024-05-01T12:00:00+00:00"),
        ("KS statistic 0.04 (floor 0.04), 1/30d", "KS statistic 0.04 (floor 0.04), 1/30d"),
        ("see https://ci.example/job/1 now", "see https://ci.example/job/1 now"),
        ("cannot read '/data/live/a.parquet'", "cannot read '/data/live/a.parquet'"),
        ("cannot open /etc/driftwarden/x.db", "cannot open <path>"),
        ("user svc-ish and svcs", "user svc-ish and svcs"),
    ],
)
def test_addresses_and_paths_outside_the_config_are_hidden(text: str, shown: str) -> None:
    redact = Redactor.build(
        secrets=[("DW_DB", "postgresql://svc@db.internal/warehouse")],
        named=["/data/live/*.parquet"],
        paths=["/data/live/*.parquet"],
    )
    assert redact(text) == shown


def test_a_name_the_config_spells_out_stays(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DW_TEST_DB", "postgresql://churn@db.internal/warehouse")
    settings = parse_settings(
        {
            "monitors": [
                {
                    "name": "churn",
                    "schedule": "every 1h",
                    "source": {
                        "type": "sql",
                        "url_env": "DW_TEST_DB",
                        "table": "events",
                        "timestamp_column": "ts",
                    },
                    "reference": {
                        "type": "window",
                        "start": "2024-01-01T00:00:00Z",
                        "end": "2024-01-02T00:00:00Z",
                    },
                    "columns": [{"name": "warehouse", "kind": "numeric"}],
                }
            ]
        }
    )
    redact = build_redactor(settings)
    assert redact('role "churn" on database "warehouse" at db.internal') == (
        'role "churn" on database "warehouse" at <host>'
    )


def _stored_reason(engine: Engine, run_id: int, reason: str) -> None:
    with Session(engine) as session:
        session.execute(sa.update(RunRow).where(RunRow.id == run_id).values(reason=reason))
        session.commit()


def test_the_api_shows_stored_reasons_redacted(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The defensive pass: a reason stored by an older version still leaks nothing."""
    monkeypatch.setenv("DW_TEST_DB", "postgresql+psycopg://svc:hunter2@10.1.2.3:5432/warehouse")
    settings = parse_settings({"server": {"tokens": []}, "store": {"url_env": "DW_TEST_DB"}})
    (run_id,) = add_runs(sqlite_engine, "churn", 1)
    _stored_reason(sqlite_engine, run_id, f"source sql: cannot connect: {DRIVER_ERROR}")
    with make_client(sqlite_engine, redact=build_redactor(settings)) as client:
        listed = client.get("/api/runs").json()["runs"][0]["reason"]
        detail = client.get(f"/api/runs/{run_id}").json()
        run_page = client.get(f"/runs/{run_id}").text
        monitor_page = client.get("/monitors/churn").text
    expected = (
        'source sql: cannot connect: connection to server at "<host>", port 5432 failed: '
        'FATAL:  password authentication failed for user "<user>"'
    )
    assert listed == detail["reason"] == expected
    assert detail["results"][0]["reason"] == "p-value 0.001 < 0.05"
    for page in (run_page, monitor_page):
        assert "10.1.2.3" not in page and "svc" not in page
        assert "password authentication failed for user &#34;&lt;user&gt;&#34;" in page


@pytest.mark.postgres
def test_a_failed_sql_run_stores_and_shows_no_host_user_or_database(
    tmp_path: Path,
    sqlite_url: str,
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = sa.make_url(postgres_url).set(database="dw_no_such_database", query={})
    monkeypatch.setenv("DW_TEST_SOURCE_URL", source.render_as_string(hide_password=False))
    config = tmp_path / "sql.toml"
    config.write_text(
        f"""
[store]
url = "{sqlite_url}"

[[monitors]]
name = "warehouse-gate"
schedule = "every 1h"

[monitors.source]
type = "sql"
url_env = "DW_TEST_SOURCE_URL"
table = "events"
timestamp_column = "ts"

[monitors.reference]
type = "window"
start = 2024-01-01T00:00:00Z
end = 2024-01-02T00:00:00Z

[[monitors.columns]]
name = "x"
kind = "numeric"
"""
    )
    assert main(["check", "--config", str(config), "--format", "json"]) == 2
    capsys.readouterr()
    assert main(["history", "-c", str(config), "-m", "warehouse-gate", "--format", "json"]) == 0
    (stored,) = json.loads(capsys.readouterr().out)
    engine = make_engine(sqlite_url)
    try:
        with make_client(engine, redact=build_redactor(load_settings(config))) as client:
            shown = client.get(f"/api/runs/{stored['id']}").json()["reason"]
    finally:
        engine.dispose()
    assert stored["status"] == "failed"
    assert stored["reason"].startswith("source sql ($DW_TEST_SOURCE_URL): cannot connect: ")
    assert stored["reason"].endswith('FATAL:  database "<database>" does not exist')
    assert shown == stored["reason"]
    for leak in ("dw_no_such_database", "127.0.0.1", "postgres@"):
        assert leak not in stored["reason"]
