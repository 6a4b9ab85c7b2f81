"""Alert lifecycle on scripted sequences of runs with a controlled clock.

Pure parts (rules, state machine, grouping, silences) are tested directly;
the whole path (run -> transitions -> outbox rows) through ``run_check`` on
SQLite and PostgreSQL.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from monitor.alerts.event import Severity
from monitor.alerts.grouping import Group, Member, next_notice
from monitor.alerts.rules import ColumnFact, Condition, RunFacts
from monitor.alerts.silences import Matcher, Silence, is_silenced
from monitor.alerts.state import Alert, step
from monitor.config import MonitorSettings, parse_settings
from monitor.logs import ContextFilter
from monitor.metrics import Metrics
from monitor.runner import RunContext, run_check
from monitor.sources import FileSourceSettings, build_source
from monitor.store.alerts import add_silence, expire_silence, list_silences
from monitor.store.models import AlertTransitionRow, OutboxRow
from monitor.vocabulary import RunStatus
from tests.support import Clock

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
QUIET_PHASE = timedelta(seconds=30)  # demo source: windows ending here are not shifted
SHIFTED_PHASE = timedelta(seconds=90)  # ... and windows ending here are


def facts(status: RunStatus = "succeeded", drifted: bool = False, **columns: bool) -> RunFacts:
    return RunFacts(
        status=status,
        drifted=drifted,
        reason="scripted",
        columns=[
            ColumnFact(name, "ks", "drift", flag, "ok", 0.0, None) for name, flag in columns.items()
        ],
        now=T0,
        last_success=None,
    )


def run_states(conditions: str, for_runs: int, resolve_after: int) -> list[str]:
    """States after each run of a script like "HHCH" (H hit, C clear, ? unknown)."""
    alert = Alert.new("f", T0)
    names: dict[str, Condition] = {"H": "hit", "C": "clear", "?": "unknown"}
    states: list[str] = []
    for index, letter in enumerate(conditions):
        alert = step(alert, names[letter], T0 + timedelta(minutes=index), for_runs, resolve_after)
        states.append(alert.state)
    return states


def test_for_waits_for_consecutive_hits() -> None:
    assert run_states("HCHHH", for_runs=3, resolve_after=1) == [
        "pending",
        "inactive",
        "pending",
        "pending",
        "firing",
    ]


def test_resolve_after_needs_consecutive_clears_so_flapping_stays_firing() -> None:
    assert run_states("HCHCHCCC", for_runs=1, resolve_after=2) == [
        "firing",
        "firing",
        "firing",
        "firing",
        "firing",
        "firing",
        "resolved",
        "resolved",
    ]


def test_unknown_runs_change_nothing() -> None:
    assert run_states("H??C", for_runs=1, resolve_after=1) == [
        "firing",
        "firing",
        "firing",
        "resolved",
    ]


def test_episode_counts_firings() -> None:
    alert = Alert.new("f", T0)
    for letter in "HCHC":
        alert = step(alert, "hit" if letter == "H" else "clear", T0, 1, 1)
    assert alert.episode == 2


def _settings(
    rules: list[dict[str, object]], receivers: tuple[str, ...] = ("ops",)
) -> MonitorSettings:
    monitor: dict[str, object] = {
        "name": "demo",
        "schedule": "every 1m",
        "window": "5m",
        "receivers": list(receivers),
        "source": {"type": "demo", "seed": 3, "rows_per_window": 1500},
        "reference": {
            "type": "window",
            "start": "2026-01-01T00:00:00Z",
            "end": "2026-01-01T00:00:30Z",
        },
        "columns": [
            {"name": "age", "kind": "numeric"},
            {"name": "income", "kind": "numeric"},
            {"name": "device", "kind": "categorical"},
        ],
        "rules": rules,
    }
    settings = parse_settings(
        {
            "monitors": [monitor],
            "receivers": [
                {"name": "ops", "type": "webhook", "url": "http://127.0.0.1:9/ops"},
                {"name": "retrain", "type": "webhook", "url": "http://127.0.0.1:9/retrain"},
            ],
        }
    )
    return settings.monitors[0]


def test_rules_evaluate_their_own_facts() -> None:
    monitor = _settings(
        [
            {"name": "any", "type": "dataset_drift"},
            {"name": "half", "type": "dataset_drift", "share": 0.5},
            {"name": "income", "type": "column_drift", "columns": ["income"]},
            {"name": "failed", "type": "run_failed"},
            {"name": "empty", "type": "no_data"},
            {"name": "missing", "type": "data_quality", "max_missing_share": 0.1},
        ]
    )
    rules = {rule.name: rule for rule in monitor.rules}
    one_of_three = facts(drifted=True, age=False, income=True, device=False)
    assert {name: rule.evaluate(one_of_three) for name, rule in rules.items()} == {
        "any": "hit",
        "half": "clear",
        "income": "hit",
        "failed": "clear",
        "empty": "clear",
        "missing": "clear",
    }
    failed = facts(status="failed")
    assert {name: rule.evaluate(failed) for name, rule in rules.items()} == {
        "any": "unknown",
        "half": "unknown",
        "income": "unknown",
        "failed": "hit",
        "empty": "unknown",
        "missing": "unknown",
    }
    assert rules["empty"].evaluate(facts(status="empty")) == "hit"


def member(
    rule: str,
    severity: Severity = "warning",
    silenced: bool = False,
    repeat: timedelta | None = None,
) -> Member:
    return Member(rule, "dataset_drift", severity, silenced, repeat, {})


def test_group_sends_once_per_change_not_per_rule() -> None:
    group = Group.new("g")
    first = next_notice(group, [member("drift"), member("perf", "critical")], T0)
    assert first is not None and first.occasion == "first"
    assert first.lead is not None and first.lead.rule == "perf"
    assert next_notice(first.group, [member("drift"), member("perf", "critical")], T0) is None
    changed = next_notice(first.group, [member("drift")], T0)
    assert changed is not None and changed.occasion == "changed" and changed.group.episode == 1
    resolved = next_notice(changed.group, [], T0)
    assert resolved is not None and resolved.occasion == "resolved"
    again = next_notice(resolved.group, [member("drift")], T0)
    assert again is not None and again.occasion == "first" and again.group.episode == 2


def test_group_repeats_after_the_interval() -> None:
    repeating = member("drift", repeat=timedelta(hours=4))
    first = next_notice(Group.new("g"), [repeating], T0)
    assert first is not None
    assert next_notice(first.group, [repeating], T0 + timedelta(hours=3, minutes=59)) is None
    repeat = next_notice(first.group, [repeating], T0 + timedelta(hours=4))
    assert repeat is not None and repeat.occasion == "repeat" and repeat.group.sent == 2


def test_silenced_alerts_neither_send_nor_resolve_their_group() -> None:
    first = next_notice(Group.new("g"), [member("drift")], T0)
    assert first is not None
    assert next_notice(first.group, [member("drift", silenced=True)], T0) is None
    assert next_notice(Group.new("g"), [member("drift", silenced=True)], T0) is None


def test_silence_matchers() -> None:
    silence = Silence(
        1,
        (
            Matcher.parse("monitor=demo"),
            Matcher.parse("severity=~warn.*"),
            Matcher.parse("rule!=x"),
        ),
        T0,
        T0 + timedelta(hours=2),
        "deploy",
        "ops",
    )
    labels = {"monitor": "demo", "severity": "warning", "rule": "drift"}
    assert is_silenced(labels, [silence], T0 + timedelta(hours=1))
    assert not is_silenced(labels, [silence], T0 + timedelta(hours=2))  # expired
    assert not is_silenced({**labels, "monitor": "other"}, [silence], T0)
    with pytest.raises(ValueError, match='matcher "monitor": expected name=value'):
        Matcher.parse("monitor")


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


def scripted_runs(
    engine: Engine, monitor: MonitorSettings, clock: Clock, script: str
) -> Iterator[None]:
    """Run the demo monitor once per letter: S a shifted window, Q a quiet one."""
    ctx = RunContext(
        engine=engine,
        metrics=Metrics(),
        sources={monitor.name: build_source(monitor.source)},
        worker_id="test",
        base_url="http://127.0.0.1:8470",
        clock=clock,
    )
    for index, letter in enumerate(script):
        slot = T0 + timedelta(minutes=2 * index) + (SHIFTED_PHASE if letter == "S" else QUIET_PHASE)
        clock.now = slot
        assert run_check(ctx, monitor, slot, "schedule") is not None
        yield


def outbox(engine: Engine) -> list[tuple[str, str, str, tuple[str, ...]]]:
    with Session(engine) as session:
        rows = session.scalars(select(OutboxRow).order_by(OutboxRow.id)).all()
        return [
            (
                r.receiver,
                r.payload["alert"]["state"],
                r.payload["occasion"],
                tuple(r.payload["alert"]["rules"]),
            )
            for r in rows
        ]


def test_one_message_per_receiver_for_several_rules(engine: Engine, clock: Clock) -> None:
    monitor = _settings(
        [
            {"name": "drift", "type": "dataset_drift", "resolve_after": 1},
            {
                "name": "income",
                "type": "column_drift",
                "columns": ["income"],
                "severity": "critical",
                "resolve_after": 1,
                "receivers": ["ops", "retrain"],
            },
        ]
    )
    for _ in scripted_runs(engine, monitor, clock, "QSSQ"):
        pass
    assert outbox(engine) == [
        ("ops", "firing", "first", ("drift", "income")),
        ("retrain", "firing", "first", ("income",)),
        ("ops", "resolved", "resolved", ("drift", "income")),
        ("retrain", "resolved", "resolved", ("income",)),
    ]
    with Session(engine) as session:
        transitions = session.scalars(
            select(AlertTransitionRow.to_state).order_by(AlertTransitionRow.id)
        ).all()
    assert transitions == ["firing", "firing", "resolved", "resolved"]


def test_for_and_silences_through_runs(engine: Engine, clock: Clock) -> None:
    monitor = _settings([{"name": "drift", "type": "dataset_drift", "for": 2, "resolve_after": 1}])
    silence = add_silence(
        engine, [Matcher.parse("monitor=demo")], T0, T0 + timedelta(minutes=5), "rollout", "test"
    )
    assert [s.id for s in list_silences(engine, include_expired=False, now=T0)] == [silence.id]
    runs = scripted_runs(engine, monitor, clock, "SSQSSS")
    next(runs)  # first shifted run: pending
    next(runs)  # second: firing, but silenced: nothing sent
    assert outbox(engine) == []
    next(runs)  # quiet: resolved while silenced: nothing sent
    next(runs)  # shifted: pending again
    assert expire_silence(engine, silence.id, clock.now)
    next(runs)  # firing, silence over: sent
    next(runs)  # still firing: nothing new
    assert outbox(engine) == [("ops", "firing", "first", ("drift",))]
    assert not expire_silence(engine, 999, clock.now)


def test_stale_source_fires_no_data_after_stale_after(
    engine: Engine, clock: Clock, tmp_path: Path
) -> None:
    monitor = _settings(
        [{"name": "stale", "type": "no_data", "stale_after": "30m", "resolve_after": 1}]
    )
    runs = scripted_runs(engine, monitor, clock, "Q")
    next(runs)  # one successful run at T0 + 30s
    broken = monitor.model_copy(
        update={
            "source": FileSourceSettings(
                type="file", path=str(tmp_path / "gone-*.parquet"), timestamp_column="ts"
            )
        }
    )
    ctx = RunContext(
        engine=engine,
        metrics=Metrics(),
        sources={broken.name: build_source(broken.source)},
        worker_id="test",
        base_url="http://127.0.0.1:8470",
        clock=clock,
    )
    for minutes, expected in ((10, []), (45, [("ops", "firing", "first", ("stale",))])):
        clock.now = T0 + timedelta(minutes=minutes)
        outcome = run_check(ctx, broken, clock.now, "schedule")
        assert outcome is not None and outcome.status == "failed"
        assert outbox(engine) == expected


def test_firing_and_resolving_are_logged_with_the_rule_and_run(
    engine: Engine, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    monitor = _settings([{"name": "drift", "type": "dataset_drift", "resolve_after": 1}])
    caplog.set_level(logging.INFO, logger="driftwarden.alerting")
    caplog.handler.addFilter(ContextFilter())
    for _ in scripted_runs(engine, monitor, clock, "QSSQ"):
        pass
    logged = [
        (r.getMessage(), *(vars(r)[name] for name in ("rule", "monitor", "run_id")))
        for r in caplog.records
        if r.name == "driftwarden.alerting"
    ]
    assert logged == [
        ("alert drift of monitor demo is firing (warning, run 2)", "drift", "demo", 2),
        ("alert drift of monitor demo resolved (warning, run 4)", "drift", "demo", 4),
    ]
