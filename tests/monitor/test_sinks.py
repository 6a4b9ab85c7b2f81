"""Sinks: every succeeded or empty run queues one ``run.completed`` message per sink.

On SQLite and PostgreSQL, in the run's transaction; and the config refuses a
sink used as an alert receiver, or an alert receiver named as a sink.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from monitor.config import MonitorSettings, parse_settings
from monitor.profiles import reference_key
from monitor.runner import run_check
from monitor.settings_base import ConfigError
from monitor.sinks import sink_message_id
from monitor.store.installation import installation_id
from monitor.store.models import OutboxRow
from tests.monitor.test_runner import QUIET, SHIFTED, context

RECEIVERS = [
    {"name": "hook", "type": "webhook", "url": "http://127.0.0.1:1/"},
    {"name": "mlflow", "type": "mlflow", "tracking_uri": "http://127.0.0.1:1", "run_id": "r1"},
]


def monitor_dict(**overrides: Any) -> dict[str, Any]:
    monitor: dict[str, Any] = {
        "name": "demo",
        "schedule": "every 20s",
        "window": "5m",
        "receivers": ["hook"],
        "sinks": ["mlflow"],
        "source": {"type": "demo", "seed": 3},
        "reference": {
            "type": "window",
            "start": "2026-01-01T00:00:00Z",
            "end": "2026-01-01T00:00:30Z",
        },
        "columns": [
            {"name": "income", "kind": "numeric"},
            {"name": "device", "kind": "categorical"},
        ],
    }
    monitor.update(overrides)
    return monitor


def sink_monitor(**overrides: Any) -> MonitorSettings:
    settings = parse_settings({"monitors": [monitor_dict(**overrides)], "receivers": RECEIVERS})
    return settings.monitors[0]


def outbox(engine: Engine) -> list[OutboxRow]:
    with Session(engine) as session:
        return list(session.scalars(select(OutboxRow).order_by(OutboxRow.id)).all())


def test_each_run_queues_one_run_completed_message_per_sink(engine: Engine) -> None:
    monitor = sink_monitor()
    ctx = context(engine, monitor)
    quiet = run_check(ctx, monitor, QUIET, "schedule")
    shifted = run_check(ctx, monitor, SHIFTED, "schedule")
    assert quiet is not None and shifted is not None and shifted.drifted is True

    rows = outbox(engine)
    completed = [r for r in rows if r.event_type == "run.completed"]
    assert [(r.receiver, r.run_id) for r in completed] == [
        ("mlflow", quiet.run_id),
        ("mlflow", shifted.run_id),
    ]
    assert {r.receiver for r in rows if r.event_type != "run.completed"} == {"hook"}
    row = completed[1]
    with Session(engine) as session:
        installation = installation_id(session)
    assert row.message_id == sink_message_id(installation, shifted.run_id, "mlflow")
    payload = row.payload
    assert datetime.fromisoformat(payload.pop("finished_at")).tzinfo is not None
    assert payload == {
        "monitor": "demo",
        "run_id": shifted.run_id,
        "status": "succeeded",
        "drifted": True,
        "reference": {
            "key": reference_key(monitor),
            "type": "window",
            "origin": "a fixed window of the monitor's source",
            "start": "2026-01-01T00:00:00+00:00",
            "end": "2026-01-01T00:00:30+00:00",
        },
        "results": [
            {
                "column": r.column,
                "method": r.method,
                "statistic": r.statistic,
                "p_value": r.p_value,
                "p_value_adjusted": r.p_value_adjusted,
                "drifted": r.drifted,
            }
            for r in shifted.results
        ],
        "performance": [],
    }
    assert {r["column"] for r in payload["results"] if r["drifted"]} == {"income", "device"}


def test_empty_run_is_logged_and_failed_run_is_not(engine: Engine, tmp_path: Path) -> None:
    pd.DataFrame({"income": [1.0, 2.0, 3.0], "device": ["a", "b", "a"]}).to_parquet(
        tmp_path / "reference.parquet"
    )
    pd.DataFrame({"ts": [QUIET - timedelta(days=2)], "income": [1.0], "device": ["a"]}).to_parquet(
        tmp_path / "live.parquet"
    )
    monitor = sink_monitor(
        receivers=[],
        source={"type": "file", "path": str(tmp_path / "live.parquet"), "timestamp_column": "ts"},
        reference={"type": "file", "path": str(tmp_path / "reference.parquet")},
    )
    ctx = context(engine, monitor)
    empty = run_check(ctx, monitor, QUIET, "schedule")
    assert empty is not None and empty.status == "empty"
    (row,) = outbox(engine)
    assert row.event_type == "run.completed" and row.run_id == empty.run_id
    assert row.payload["status"] == "empty" and row.payload["drifted"] is False

    (tmp_path / "reference.parquet").unlink()
    broken = sink_monitor(
        name="broken",
        receivers=[],
        source={"type": "file", "path": str(tmp_path / "live.parquet"), "timestamp_column": "ts"},
        reference={"type": "file", "path": str(tmp_path / "reference.parquet")},
    )
    failed = run_check(context(engine, broken), broken, QUIET, "schedule")
    assert failed is not None and failed.status == "failed"
    assert len(outbox(engine)) == 1  # a failed run has no statistics to log


@pytest.mark.parametrize(
    ("monitor", "text"),
    [
        (
            {"sinks": ["nowhere"]},
            'monitors[0].sinks: unknown receiver "nowhere" (known: hook, mlflow)',
        ),
        (
            {"sinks": ["hook"]},
            'monitors[0].sinks: receiver "hook" is of type webhook, not a sink '
            "(sink types: mlflow)",
        ),
        (
            {"receivers": ["mlflow"]},
            'monitors[0].receivers: receiver "mlflow" is an mlflow sink, not an alert receiver; '
            "name it in monitors[0].sinks",
        ),
        (
            {"rules": [{"name": "drift", "type": "dataset_drift", "receivers": ["mlflow"]}]},
            'monitors[0].rules[0].receivers: receiver "mlflow" is an mlflow sink',
        ),
    ],
)
def test_sink_misuse_is_a_config_error(monitor: dict[str, Any], text: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_settings({"monitors": [monitor_dict(**monitor)], "receivers": RECEIVERS})
    assert text in str(raised.value)
