"""The instrument itself: figures from hand-made records, and the scenario's config."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from monitor.config import parse_settings
from tests.reliability.figures import (
    StoredMessage,
    StoredRun,
    delivery_figures,
    run_figures,
)
from tests.reliability.scenario import (
    HEALTHY_MONITORS,
    HUNG_MONITORS,
    OverrideError,
    apply_overrides,
    build_config,
    to_toml,
)
from tests.reliability.servers import Arrival

T0 = 946684800.0  # a slot of "every 2s"


def run(monitor: str, slot: float, status: str = "succeeded", took: float = 0.5) -> StoredRun:
    finished = None if status == "running" else slot + took
    return StoredRun(monitor, slot, status, None, slot + 0.1, finished)


def test_lost_stuck_late_and_steady_coverage() -> None:
    # Slots T0+2 .. T0+12; "h" misses T0+6 (in "kills") and T0+12 (in "outage").
    slots = [T0 + 2 * k for k in range(1, 7)]
    runs = [run("h", slot) for slot in slots if slot not in (T0 + 6, T0 + 12)]
    runs += [run("z", T0 + 2, "running"), run("z", T0 + 4, "failed"), run("h", T0, "running")]
    # Slot T0+4 of "h" was caught up 70 s late: present, but neither in time nor on schedule.
    runs[1] = StoredRun("h", T0 + 4, "succeeded", None, T0 + 74, T0 + 75)
    figures = run_figures(
        runs,
        "every 2s",
        healthy=["h"],
        hung=["z"],
        load=(T0, T0 + 12),
        phases={"steady": (T0, T0 + 4), "kills": (T0 + 4, T0 + 10), "outage": (T0 + 10, T0 + 12)},
        steady_monitor="h",
    )
    assert (figures["lost"], figures["due"]) == (2, 6)
    assert figures["lost_by_phase"] == {"steady": 0, "kills": 1, "outage": 1}
    assert (figures["stuck"], figures["stuck_healthy"], figures["stuck_hung"]) == (2, 1, 1)
    assert (figures["steady_ran"], figures["steady_due"]) == (1, 2)
    assert figures["per_monitor"]["h"] == {
        "due": 6,
        "lost": 2,
        "succeeded": 4,
        "empty": 0,
        "failed": 0,
        "running": 0,
        "late": 1,
    }
    assert figures["per_monitor"]["z"]["lost"] == 4


def arrival(
    at: float, webhook_id: str, state: str, run_id: int, episode: int = 1, status: int = 200
) -> Arrival:
    data = {"monitor": "m", "run": {"id": run_id}, "alert": {"state": state, "episode": episode}}
    return Arrival(at, webhook_id, f"alert.{state}", "", data, status)


def message(row: int, webhook_id: str, created_at: float, status: str = "delivered") -> Any:
    return StoredMessage(row, webhook_id, "r", "m", created_at, status)


def test_duplicates_order_and_latency() -> None:
    messages = [
        message(1, "id1", T0),
        message(2, "id2", T0 + 1),
        message(3, "id3", T0 + 2),
        message(4, "id4", T0 + 3, "pending"),
        message(5, "id5", T0 + 100, "pending"),  # queued after the load: not counted
    ]
    arrivals = [
        arrival(T0 + 0.5, "id1", "firing", run_id=10),
        arrival(T0 + 0.6, "id1", "firing", run_id=10, status=503),
        arrival(T0 + 2.5, "id3", "firing", run_id=12, episode=2),
        arrival(T0 + 3.0, "id2", "resolved", run_id=11),  # behind id3: out of order
        arrival(T0 + 4.0, "id1", "firing", run_id=10),  # the same id again, answered 200
        arrival(T0 + 5.0, "idX", "firing", run_id=12, episode=2),  # run 12's event, other id
        arrival(T0 + 6.0, "id9", "firing", run_id=13, episode=3),
        arrival(T0 + 6.5, "id9", "resolved", run_id=14, episode=3),  # id9 reused
    ]
    figures = delivery_figures(
        "r", arrivals, messages, load=(T0, T0 + 50), steady=(T0 - 1, T0 + 1.5)
    )
    assert figures["requests"] == 8
    assert figures["accepted"] == 7
    assert figures["messages_queued"] == 4
    assert figures["messages_received"] == 3
    assert figures["never_received"] == 1
    assert figures["still_pending"] == 1
    assert figures["unknown_ids"] == 2
    assert figures["redelivered_same_id"] == 2
    assert figures["duplicate_events"] == 1
    assert figures["ids_reused"] == 1
    assert figures["out_of_order"] == 1
    assert figures["resolved_before_firing"] == 0
    assert figures["latency_s"] == {"n": 3, "p50": 0.5, "p95": 1.85, "max": 2.0}
    assert figures["steady_latency_s"] == {"n": 2, "p50": 1.25, "p95": 1.925, "max": 2.0}


def test_a_firing_after_its_resolution_is_counted() -> None:
    messages = [message(1, "f", T0), message(2, "r", T0 + 1)]
    arrivals = [arrival(T0 + 9, "r", "resolved", 2), arrival(T0 + 10, "f", "firing", 1)]
    figures = delivery_figures("r", arrivals, messages, load=(T0, T0 + 50), steady=(T0, T0))
    assert (figures["out_of_order"], figures["resolved_before_firing"]) == (1, 1)


def test_the_scenario_config_is_valid_on_the_daemon_of_today(tmp_path: Path) -> None:
    document = build_config(tmp_path, 8470, hung_sources=2, hung_receiver=True)
    assert tomllib.loads(to_toml(document)) == document
    settings = parse_settings(tomllib.loads(to_toml(document)))
    assert [m.name for m in settings.monitors] == [*HEALTHY_MONITORS, *HUNG_MONITORS]
    assert [r.name for r in settings.receivers] == ["healthy", "flaky", "hung"]
    assert settings.scheduler.catch_up is True


def test_overrides_reach_named_or_every_element(tmp_path: Path) -> None:
    document = build_config(tmp_path, 8470, hung_sources=1, hung_receiver=False)
    apply_overrides(document, ["monitors.*.window=4s", "monitors.sql.sample_limit=500"])
    settings = parse_settings(tomllib.loads(to_toml(document)))
    assert {m.window.total_seconds() for m in settings.monitors} == {4.0}
    assert [m.sample_limit for m in settings.monitors if m.name == "sql"] == [500]
    with pytest.raises(OverrideError, match="no element named 'nope' \\(known: file-a, file-b"):
        apply_overrides(document, ["monitors.nope.window=4s"])
