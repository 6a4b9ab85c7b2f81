"""What is firing now, and which run changed it: /api/alerts, `driftwarden alerts list`,
`history` and /api/runs, over the alerts real runs left in the store.

One monitor with the default rules runs five slots of an hourly schedule: a
drifted window (drift fires), three empty windows (no_data fires on the
third) and a failed run (run_failed turns pending).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from monitor.alert_listing import ConfiguredRules, list_alerts
from monitor.alerting import monitor_rules
from monitor.api import create_app
from monitor.auth import ApiToken, Authenticator
from monitor.cli import main
from monitor.config import Settings, load_settings
from monitor.metrics import Metrics
from monitor.runner import RunContext, run_check
from monitor.sources import build_source
from monitor.store.engine import make_engine, upgrade
from tests.support import Clock, serving

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
SLOTS = [T0 + timedelta(hours=k) for k in range(5)]


def iso(moment: datetime) -> str:
    return moment.isoformat()


@dataclass(frozen=True)
class Stored:
    config: Path
    settings: Settings
    run_ids: list[int]


@pytest.fixture
def stored(tmp_path: Path, sqlite_url: str) -> Iterator[Stored]:
    rng = np.random.default_rng(5)
    n = 2000
    pd.DataFrame({"x": rng.normal(0, 1, n), "y": rng.normal(0, 1, n)}).to_parquet(
        tmp_path / "reference.parquet"
    )
    current = tmp_path / "current.csv"
    pd.DataFrame(
        {
            "ts": [T0 - timedelta(hours=1) + timedelta(seconds=1.5 * i) for i in range(n)],
            "x": rng.normal(1.0, 1, n),
            "y": rng.normal(0, 1, n),
        }
    ).to_csv(current, index=False)
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[store]
url = "{sqlite_url}"

[[monitors]]
name = "gate"
schedule = "every 1h"
window = "1h"

[monitors.source]
type = "file"
path = "{current}"
timestamp_column = "ts"

[monitors.reference]
type = "file"
path = "{tmp_path / "reference.parquet"}"

[[monitors.columns]]
name = "x"
kind = "numeric"

[[monitors.columns]]
name = "y"
kind = "numeric"
"""
    )
    settings = load_settings(config)
    (monitor,) = settings.monitors
    engine = make_engine(sqlite_url)
    upgrade(engine)
    clock = Clock(T0)
    ctx = RunContext(
        engine=engine,
        metrics=Metrics(),
        sources={monitor.name: build_source(monitor.source)},
        worker_id="test",
        base_url="http://127.0.0.1:8470",
        clock=clock,
    )
    run_ids = []
    statuses = []
    for slot in SLOTS:
        if slot == SLOTS[-1]:
            current.unlink()  # the source goes away
        clock.now = slot
        outcome = run_check(ctx, monitor, slot, "schedule")
        assert outcome is not None
        run_ids.append(outcome.run_id)
        statuses.append((outcome.status, outcome.drifted))
    assert statuses == [
        ("succeeded", True),
        ("empty", False),
        ("empty", False),
        ("empty", False),
        ("failed", None),
    ]
    yield Stored(config, settings, run_ids)
    engine.dispose()


def expected_alerts(run_ids: list[int]) -> list[dict[str, Any]]:
    first, second, _, fourth, fifth = run_ids
    return [
        {
            "monitor": "gate",
            "rule": "drift",
            "type": "dataset_drift",
            "severity": "warning",
            "labels": {},
            "state": "firing",
            "since": iso(SLOTS[0]),
            "started_at": iso(SLOTS[0]),
            "episode": 1,
            "run_id": first,
        },
        {
            "monitor": "gate",
            "rule": "no_data",
            "type": "no_data",
            "severity": "warning",
            "labels": {},
            "state": "firing",
            "since": iso(SLOTS[3]),
            "started_at": iso(SLOTS[3]),
            "episode": 1,
            "run_id": fourth,
        },
        {
            "monitor": "gate",
            "rule": "run_failed",
            "type": "run_failed",
            "severity": "warning",
            "labels": {},
            "state": "pending",
            "since": iso(SLOTS[4]),
            "started_at": None,
            "episode": 0,
            "run_id": fifth,
        },
    ]


def change(rule: str, before: str, after: str, slot: int, run_id: int) -> dict[str, Any]:
    return {
        "monitor": "gate",
        "rule": rule,
        "severity": "warning",
        "from": before,
        "to": after,
        "at": iso(SLOTS[slot]),
        "run_id": run_id,
    }


def expected_transitions(run_ids: list[int]) -> list[dict[str, Any]]:
    first, second, _, fourth, fifth = run_ids
    return [
        change("run_failed", "inactive", "pending", 4, fifth),
        change("no_data", "pending", "firing", 3, fourth),
        change("no_data", "inactive", "pending", 1, second),
        change("drift", "inactive", "firing", 0, first),
    ]


def test_the_api_lists_every_rule_and_the_changes_with_the_runs_that_made_them(
    stored: Stored,
) -> None:
    engine = make_engine(stored.settings.store.resolved_url())
    rules = ConfiguredRules.of(stored.settings.monitors)
    app = create_app(engine, Metrics(), lambda: {}, "http://127.0.0.1:8470", rules=rules)
    with serving(app) as client:
        everything = client.get("/api/alerts")
        firing = client.get("/api/alerts", params={"state": "firing", "monitor": "gate"})
        latest = client.get("/api/alerts", params={"limit": 1})
        other = client.get("/api/alerts", params={"monitor": "other"})
        refused = [
            client.get("/api/alerts", params=params)
            for params in ({"state": "burning"}, {"monitor": "a b"}, {"limit": 0}, {"limit": 501})
        ]
        unconfigured = create_app(engine, Metrics(), lambda: {}, "http://127.0.0.1:8470")
    with serving(unconfigured) as client:
        nothing = client.get("/api/alerts")
    engine.dispose()

    assert everything.status_code == 200
    assert everything.json() == {
        "alerts": expected_alerts(stored.run_ids),
        "transitions": expected_transitions(stored.run_ids),
    }
    assert firing.json() == {
        "alerts": expected_alerts(stored.run_ids)[:2],
        "transitions": [t for t in expected_transitions(stored.run_ids) if t["to"] == "firing"],
    }
    assert latest.json()["transitions"] == expected_transitions(stored.run_ids)[:1]
    assert other.json() == {"alerts": [], "transitions": []}
    assert [(r.status_code, r.json()["detail"][0]["loc"]) for r in refused] == [
        (422, ["query", "state"]),
        (422, ["query", "monitor"]),
        (422, ["query", "limit"]),
        (422, ["query", "limit"]),
    ]
    # Only rules in the config are listed: an app given none lists nothing.
    assert nothing.json() == {"alerts": [], "transitions": []}


def test_a_rule_taken_out_of_the_config_is_not_listed(stored: Stored) -> None:
    """No run steps it any more: its last state says nothing of the present."""
    engine = make_engine(stored.settings.store.resolved_url())
    (monitor,) = stored.settings.monitors
    drift = monitor_rules(monitor)[0]
    listing = list_alerts(
        engine, ConfiguredRules.of([monitor.model_copy(update={"rules": (drift,)})])
    )
    engine.dispose()
    assert [a["rule"] for a in listing["alerts"]] == ["drift"]
    assert [t["rule"] for t in listing["transitions"]] == ["drift"]


def test_alerts_list_prints_the_same_listing(
    stored: Stored, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(stored.config)
    assert main(["alerts", "list", "-c", config, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "alerts": expected_alerts(stored.run_ids),
        "transitions": expected_transitions(stored.run_ids),
    }
    first, second, _, fourth, fifth = stored.run_ids
    assert main(["alerts", "list", "-c", config, "--state", "firing", "-m", "gate"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"gate  drift             firing    warning   since 2026-11-25 12:00:00Z  run {first}",
        f"gate  no_data           firing    warning   since 2026-11-25 15:00:00Z  run {fourth}",
        "",
        "recent changes, newest first:",
        f"2026-11-25 15:00:00Z  gate  no_data           pending -> firing  run {fourth}",
        f"2026-11-25 12:00:00Z  gate  drift             inactive -> firing  run {first}",
    ]
    assert main(["alerts", "list", "-c", config, "--state", "resolved"]) == 0
    assert capsys.readouterr().out == "no alerts\n"
    assert main(["alerts", "list", "-c", config, "-m", "nope"]) == 2
    assert 'no monitor named "nope"' in capsys.readouterr().err
    assert main(["alerts", "list", "-c", config, "-n", "0"]) == 2
    assert "--limit must be at least 1, got 0" in capsys.readouterr().err


def test_history_and_the_runs_api_say_which_alerts_each_run_changed(
    stored: Stored, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second, third, fourth, fifth = stored.run_ids
    assert main(["history", "-c", str(stored.config), "-m", "gate"]) == 0
    lines = capsys.readouterr().out.splitlines()
    # The drift column says what the report pages say: only a succeeded run can be "ok".
    assert [line.split()[5] for line in lines] == ["failed", "empty", "empty", "empty", "drifted"]
    assert [line.partition("[alerts: ")[2] for line in lines] == [
        "run_failed inactive->pending]",
        "no_data pending->firing]",
        "",
        "no_data inactive->pending]",
        "drift inactive->firing]",
    ]

    engine = make_engine(stored.settings.store.resolved_url())
    with serving(create_app(engine, Metrics(), lambda: {}, "http://127.0.0.1:8470")) as client:
        page = client.get("/api/runs", params={"monitor": "gate"}).json()
        detail = client.get(f"/api/runs/{first}").json()
    engine.dispose()
    assert {run["id"]: run["alert_transitions"] for run in page["runs"]} == {
        fifth: [{"rule": "run_failed", "from": "inactive", "to": "pending"}],
        fourth: [{"rule": "no_data", "from": "pending", "to": "firing"}],
        third: [],
        second: [{"rule": "no_data", "from": "inactive", "to": "pending"}],
        first: [{"rule": "drift", "from": "inactive", "to": "firing"}],
    }
    assert detail["alert_transitions"] == [{"rule": "drift", "from": "inactive", "to": "firing"}]
    assert main(["history", "-c", str(stored.config), "-m", "gate", "--format", "json"]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert [run["alert_transitions"] for run in runs] == list(
        {run["id"]: run["alert_transitions"] for run in page["runs"]}.values()
    )


def test_alerts_need_the_read_scope_like_the_rest_of_the_api(stored: Stored) -> None:
    engine = make_engine(stored.settings.store.resolved_url())
    app = create_app(
        engine,
        Metrics(),
        lambda: {},
        "http://127.0.0.1:8470",
        authenticator=Authenticator([ApiToken("grafana", "read", "r" * 16)]),
        rules=ConfiguredRules.of(stored.settings.monitors),
    )
    with serving(app) as client:
        anonymous = client.get("/api/alerts")
        reader = client.get("/api/alerts", headers={"Authorization": "Bearer " + "r" * 16})
    engine.dispose()
    assert anonymous.status_code == 401
    assert reader.status_code == 200 and len(reader.json()["alerts"]) == 3


def test_an_unreachable_store_is_a_503(stored: Stored) -> None:
    engine = make_engine("postgresql+psycopg://dw:pw@127.0.0.1:1/dw")
    app = create_app(
        engine,
        Metrics(),
        lambda: {},
        "http://127.0.0.1:8470",
        rules=ConfiguredRules.of(stored.settings.monitors),
    )
    with serving(app) as client:
        response = client.get("/api/alerts")
    assert (response.status_code, response.json()) == (503, {"detail": "store unavailable"})
