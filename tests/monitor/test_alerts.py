"""Alert lifecycle on scripted sequences of runs with a controlled clock.

Pure parts (rules, state machine, grouping, silences) are tested directly;
the whole path (run -> transitions -> outbox rows) through ``run_check`` on
SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import json
import logging
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from monitor.alerting import RunContextForAlerts, monitor_rules, process_alerts
from monitor.alerts.event import Severity
from monitor.alerts.grouping import Group, Member, group_fingerprint, next_notice
from monitor.alerts.rules import ColumnFact, Condition, RunFacts
from monitor.alerts.silences import Matcher, Silence, is_silenced
from monitor.alerts.state import Alert, step
from monitor.config import MonitorSettings, parse_settings
from monitor.delivery.worker import DeliveryWorker
from monitor.logs import ContextFilter
from monitor.metrics import Metrics
from monitor.notifiers.webhook import WebhookNotifier, WebhookReceiverSettings
from monitor.runner import RunContext, run_check
from monitor.service_settings import DeliverySettings
from monitor.sources import FileSourceSettings, build_source
from monitor.sources.base import Window
from monitor.store.alerts import add_silence, expire_silence, list_silences
from monitor.store.engine import make_engine, upgrade
from monitor.store.installation import installation_id
from monitor.store.models import AlertTransitionRow, Base, OutboxRow
from monitor.store.outbox import replay
from monitor.store.runs import claim_run, ensure_monitor
from monitor.vocabulary import RunStatus
from tests.support import Clock, HttpFake, Reply, wait_for

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


def test_without_rules_a_monitor_alerts_on_drift_no_data_and_failed_runs() -> None:
    """The defaults, run by run (schedule every 1m): no_data fires on the third empty
    window, or once failed runs go on for more than three periods after the last success;
    run_failed on the third failed run in a row; drift at once."""
    monitor = _settings([])
    rules = monitor_rules(monitor)
    assert [(r.name, r.type, r.for_runs, r.resolve_after) for r in rules] == [
        ("drift", "dataset_drift", 1, 2),
        ("no_data", "no_data", 3, 2),
        ("run_failed", "run_failed", 3, 2),
    ]
    success = T0 - timedelta(minutes=1)

    def states(script: str) -> dict[str, str]:
        """Alert states after runs like "EEF" (S succeeded, D drifted, E empty, F failed)."""
        alerts = {rule.name: Alert.new(rule.name, T0) for rule in rules}
        kinds: dict[str, tuple[RunStatus, bool]] = {
            "S": ("succeeded", False),
            "D": ("succeeded", True),
            "E": ("empty", False),
            "F": ("failed", False),
        }
        for index, letter in enumerate(script):
            status, drifted = kinds[letter]
            now = T0 + timedelta(minutes=index, seconds=5)  # a run ends after its slot
            run = replace(facts(status, drifted), now=now, last_success=success)
            for rule in rules:
                condition = rule.evaluate(run)
                alerts[rule.name] = step(
                    alerts[rule.name], condition, now, rule.for_runs, rule.resolve_after
                )
        return {name: alert.state for name, alert in alerts.items()}

    assert states("D") == {"drift": "firing", "no_data": "inactive", "run_failed": "inactive"}
    assert states("EE")["no_data"] == "pending"
    assert states("EEE")["no_data"] == "firing"
    assert states("EFEFE")["no_data"] == "firing"  # failures in between do not reset it
    assert states("FF")["run_failed"] == "pending"
    assert states("FFF") == {"drift": "inactive", "no_data": "pending", "run_failed": "firing"}
    # The third failed run ends more than 3 periods after the last success: no_data's
    # first hit; the fifth is its third.
    assert states("FFFF")["no_data"] == "pending"
    assert states("FFFFF")["no_data"] == "firing"
    assert states("FFSF")["run_failed"] == "pending"  # a success in between resets it


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
    engine: Engine,
    monitor: MonitorSettings,
    clock: Clock,
    script: str,
    refresh: frozenset[str] = frozenset(),
) -> Iterator[None]:
    """Run the demo monitor once per letter: S a shifted window, Q a quiet one."""
    ctx = RunContext(
        engine=engine,
        metrics=Metrics(),
        sources={monitor.name: build_source(monitor.source)},
        worker_id="test",
        base_url="http://127.0.0.1:8470",
        clock=clock,
        refresh_receivers=refresh,
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


def test_each_message_lists_every_rule_of_the_episode_with_its_own_start_and_end(
    engine: Engine, clock: Clock
) -> None:
    """What Alertmanager reads: a rule that resolved stays listed, with its end, in every
    later message of the episode, so a repeat that supersedes the change still ends it."""
    monitor = _settings(
        [
            {"name": "drift", "type": "dataset_drift", "resolve_after": 1},
            {
                "name": "income",
                "type": "column_drift",
                "columns": ["income"],
                "severity": "critical",
                "labels": {"team": "risk"},
                "resolve_after": 3,
            },
        ]
    )
    slots = []
    for _ in scripted_runs(engine, monitor, clock, "SQQQ", refresh=frozenset({"ops"})):
        slots.append(clock.now.isoformat())
    with Session(engine) as session:
        payloads = [
            r.payload for r in session.scalars(select(OutboxRow).order_by(OutboxRow.id)).all()
        ]
    fired, first_clean, _, last = slots
    drift_firing: tuple[Any, ...] = ("drift", "dataset_drift", "warning", "firing", fired, None, {})
    drift_resolved: tuple[Any, ...] = drift_firing[:3] + ("resolved", fired, first_clean, {})
    income_firing: tuple[Any, ...] = (
        "income",
        "column_drift",
        "critical",
        "firing",
        fired,
        None,
        {"team": "risk"},
    )
    income_resolved: tuple[Any, ...] = income_firing[:3] + (
        "resolved",
        fired,
        last,
        {"team": "risk"},
    )
    assert [
        (
            p["occasion"],
            [
                (
                    a["rule"],
                    a["type"],
                    a["severity"],
                    a["state"],
                    a["started_at"],
                    a["ended_at"],
                    a["labels"],
                )
                for a in p["alerts"]
            ],
        )
        for p in payloads
    ] == [
        ("first", [drift_firing, income_firing]),
        ("changed", [drift_resolved, income_firing]),
        ("repeat", [drift_resolved, income_firing]),
        ("resolved", [drift_resolved, income_resolved]),
    ]


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


# --- message ids: one store, one id per event; a fresh store, new ids ------------

ROUTED_TWICE: list[dict[str, object]] = [
    {"name": "drift", "type": "dataset_drift", "resolve_after": 1, "receivers": ["ops", "retrain"]}
]


def message_keys(engine: Engine) -> list[tuple[str, str, str, str]]:
    """(receiver, state, message_id, idempotency_key) of every outbox row, oldest first."""
    with Session(engine) as session:
        rows = session.scalars(select(OutboxRow).order_by(OutboxRow.id)).all()
        return [
            (r.receiver, r.payload["alert"]["state"], r.message_id, r.payload["idempotency_key"])
            for r in rows
        ]


def wipe(engine: Engine) -> None:
    """Drop every table, migrations' own included, and migrate again: a fresh store."""
    Base.metadata.drop_all(engine)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE alembic_version"))
    upgrade(engine)


def test_a_fresh_store_never_reuses_message_ids_or_idempotency_keys(
    engine: Engine, clock: Clock
) -> None:
    monitor = _settings(ROUTED_TWICE)
    stores = []
    for _ in range(2):
        for _ in scripted_runs(engine, monitor, clock, "SQSQ"):
            pass
        with Session(engine) as session:
            installation = installation_id(session)
        stores.append((installation, message_keys(engine)))
        wipe(engine)
    (first_store, first), (second_store, second) = stores

    assert first_store != second_store and len(first_store) == 32
    # The same scripted events in both stores ...
    events = [("ops", "firing"), ("retrain", "firing"), ("ops", "resolved")]
    events += [("retrain", "resolved"), ("ops", "firing"), ("retrain", "firing")]
    events += [("ops", "resolved"), ("retrain", "resolved")]
    assert [(r, s) for r, s, _, _ in first] == [(r, s) for r, s, _, _ in second] == events
    # ... under ids and keys the other store never used.
    assert len({m for _, _, m, _ in first + second}) == 16
    assert {k for _, _, _, k in first}.isdisjoint({k for _, _, _, k in second})
    # Within a store: one key per receiver and episode, carried by its resolution too.
    assert len({k for _, _, _, k in first}) == 4
    assert [k for r, _, _, k in first if r == "ops"][:2] == [first[0][3]] * 2

    ops = group_fingerprint("demo", "ops")
    expected_id = hashlib.sha256(f"{first_store}:{ops}:1:1:firing:ops".encode()).hexdigest()
    key_digest = hashlib.sha256(f"{first_store}\x00{ops}".encode()).hexdigest()
    assert first[0][2:] == (f"msg_{expected_id[:32]}", f"demo-{key_digest[:12]}-1")


def test_retries_replays_and_replicas_keep_the_stores_ids(
    engine: Engine, store_url: str, clock: Clock
) -> None:
    monitor = _settings([{"name": "drift", "type": "dataset_drift", "resolve_after": 1}])
    runs = scripted_runs(engine, monitor, clock, "S")
    next(runs)
    ((_, _, fired_id, fired_key),) = message_keys(engine)
    server = HttpFake()
    server.respond(Reply(500))
    hook = WebhookReceiverSettings(name="ops", type="webhook", url=f"{server.url}/ops")
    worker = DeliveryWorker(
        engine,
        {"ops": WebhookNotifier(hook, "receivers[0]")},
        {},
        DeliverySettings(backoff_initial=timedelta(milliseconds=1)),
        Metrics(),
        "w1",
        clock=clock,
    )
    try:
        assert worker.run_once() == 1  # 500: to be retried
        clock.now += timedelta(seconds=1)
        assert worker.run_once() == 1
        replay(engine, fired_id, clock.now)
        assert worker.run_once() == 1
        sent = [(r.answered, r.headers["webhook-id"]) for r in server.requests]
        bodies = {json.loads(r.body)["data"]["idempotency_key"] for r in server.requests}
    finally:
        worker.close()
        server.close()
    assert sent == [(500, fired_id), (200, fired_id), (200, fired_id)]
    assert bodies == {fired_key}

    # Another replica (its own engine and worker id) resolves the episode: same key.
    replica_engine = make_engine(store_url)
    replica = RunContext(
        engine=replica_engine,
        metrics=Metrics(),
        sources={monitor.name: build_source(monitor.source)},
        worker_id="replica",
        base_url="http://127.0.0.1:8470",
        clock=clock,
    )
    slot = T0 + timedelta(minutes=2) + QUIET_PHASE
    clock.now = slot
    assert run_check(replica, monitor, slot, "schedule") is not None
    replica_engine.dispose()
    (_, (receiver, state, resolved_id, resolved_key)) = message_keys(engine)
    assert (receiver, state, resolved_key) == ("ops", "resolved", fired_key)
    assert resolved_id != fired_id


def test_messages_carry_their_group_and_newer_ones_supersede_pending_repeats(
    engine: Engine, clock: Clock
) -> None:
    """A refresh receiver (Alertmanager) gets a repeat every run; none was sent yet."""
    monitor = _settings([{"name": "drift", "type": "dataset_drift", "resolve_after": 1}])
    for _ in scripted_runs(engine, monitor, clock, "SSSQ", refresh=frozenset({"ops"})):
        pass
    with Session(engine) as session:
        rows = session.scalars(select(OutboxRow).order_by(OutboxRow.id)).all()
        stored = [
            (r.payload["occasion"], r.group_key, r.supersedable, r.status, r.last_error)
            for r in rows
        ]
        ids = [r.message_id for r in rows]
    group = group_fingerprint("demo", "ops")
    assert stored == [
        ("first", group, False, "pending", None),
        ("repeat", group, True, "superseded", f"superseded by {ids[2]}"),
        ("repeat", group, True, "superseded", f"superseded by {ids[3]}"),
        ("resolved", group, False, "pending", None),
    ]


REPLICA = """
import sys
from sqlalchemy.orm import Session
from monitor.store.engine import make_engine, upgrade
from monitor.store.installation import installation_id
engine = make_engine(sys.argv[1])
upgrade(engine)
with Session(engine) as session:
    print(installation_id(session))
"""


def test_replicas_starting_together_on_a_fresh_postgresql_share_one_installation_id(
    postgres_url: str,
) -> None:
    """Two replicas migrate one empty store at once: one identity, whoever creates it.

    Migrations take turns under an advisory lock, so neither fails to start.
    """

    def start() -> subprocess.Popen[str]:
        command = [sys.executable, "-c", REPLICA, postgres_url]
        return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    replicas = [start() for _ in range(2)]
    outcomes = [replica.communicate(timeout=120) for replica in replicas]
    assert [replica.returncode for replica in replicas] == [0, 0], [err for _, err in outcomes]
    seen = [out.strip() for out, _ in outcomes]
    assert len(set(seen)) == 1 and len(seen[0]) == 32
    engine = make_engine(postgres_url)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT installation_id FROM installation")).all()
    engine.dispose()
    assert [row.installation_id for row in rows] == seen[:1]


def test_two_runs_of_one_monitor_stepping_its_new_alerts_at_once_both_commit(
    postgres_url: str,
) -> None:
    """Replicas finishing two slots of one monitor together: the second waits, then steps."""
    engine = make_engine(postgres_url)
    upgrade(engine)
    monitor = _settings([{"name": "drift", "type": "dataset_drift"}])
    monitor_id = ensure_monitor(engine, monitor.name)
    window = Window(T0 - timedelta(minutes=5), T0)
    claims = [
        claim_run(
            engine,
            monitor_id,
            T0 + timedelta(minutes=k),
            "schedule",
            window.start,
            window.end,
            "test",
            T0 + timedelta(hours=1),
        )
        for k in range(2)
    ]

    def step_alerts(session: Session, run_id: int) -> None:
        run = RunContextForAlerts(run_id, monitor_id, window, "http://x/runs/1", ())
        process_alerts(session, monitor, run, facts(drifted=True))

    second_done = threading.Event()
    errors: list[BaseException] = []

    def second() -> None:
        try:
            with Session(engine) as session, session.begin():
                assert claims[1] is not None
                step_alerts(session, claims[1].run_id)
        except BaseException as exc:  # the assertion below shows it
            errors.append(exc)
        second_done.set()

    with Session(engine) as first, first.begin():
        assert claims[0] is not None
        step_alerts(first, claims[0].run_id)
        thread = threading.Thread(target=second)
        thread.start()

        def second_waits() -> bool:
            with engine.connect() as connection:
                return bool(
                    connection.scalar(text("SELECT count(*) FROM pg_locks WHERE NOT granted"))
                )

        wait_for(second_waits, "the second run waiting for the monitor's lock")
        assert not second_done.is_set()
    thread.join(timeout=30)
    engine.dispose()
    assert errors == []


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
