"""One run's effect on alerts: rules -> alert states -> group notices -> outbox rows.

Called inside the run's transaction, so a stored run, its alert transitions
and the messages they cause are committed together or not at all.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from monitor.alerts.event import AlertEvent, AlertStatus, DriftedColumn, Occasion, RuleAlert
from monitor.alerts.grouping import Group, Member, Notice, group_fingerprint, next_notice
from monitor.alerts.rules import RuleSettings, RunFacts, default_rules, rule_labels
from monitor.alerts.silences import is_silenced
from monitor.alerts.state import Alert, step
from monitor.config import MonitorSettings
from monitor.sources.base import Window
from monitor.store import alerts as store
from monitor.store.installation import installation_id
from monitor.store.outbox import add_outbox

SUPERSEDABLE: frozenset[Occasion] = frozenset({"changed", "repeat"})
"""Occasions a newer message of the same group makes redundant: it tells the receiver the
group's state as of later, each rule's included (``rule_alerts``). A first firing and a
resolution are never superseded (a pager opens and closes its incident with them; a
trigger starts its pipeline on the first)."""

log = logging.getLogger("driftwarden.alerting")


@dataclass(frozen=True)
class RunContextForAlerts:
    """The run that is being stored, as alert messages describe it."""

    run_id: int
    monitor_id: int
    window: Window
    run_url: str
    drifted_columns: tuple[DriftedColumn, ...]
    refresh_receivers: frozenset[str] = frozenset()
    schedule_period: timedelta = timedelta(hours=1)


def monitor_rules(monitor: MonitorSettings) -> tuple[RuleSettings, ...]:
    """The monitor's rules, or the defaults (drift, no_data, run_failed) when it names none."""
    return monitor.rules or default_rules(monitor.thresholds.drift_share, monitor.schedule.period())


def alert_fingerprint(monitor: str, rule: str) -> str:
    return hashlib.sha256(f"{monitor}\x00{rule}".encode()).hexdigest()[:32]


def message_id(installation: str, group: Group, receiver: str) -> str:
    """Stable for one notice across retries and replicas; new for the next notice.

    ``installation`` (the store's id) keeps a fresh store from reusing the ids
    of another, whose groups have the same fingerprints and counters.
    """
    key = f"{installation}:{group.fingerprint}:{group.episode}:{group.sent}:{group.status}"
    return "msg_" + hashlib.sha256(f"{key}:{receiver}".encode()).hexdigest()[:32]


def idempotency_key(installation: str, monitor: str, group: Group) -> str:
    """One per firing episode of one store: a pipeline triggered by it starts once per episode.

    Readable ends (monitor, episode) around a digest of the store's id and the
    group, so that two stores never share a key and its length stays the same.

    >>> from monitor.alerts.grouping import Group
    >>> idempotency_key("0f3c", "credit-risk", Group("3f2a9c", "firing", 2, (), None, None, 1))
    'credit-risk-a91f1711dd66-2'
    """
    digest = hashlib.sha256(f"{installation}\x00{group.fingerprint}".encode()).hexdigest()
    return f"{monitor}-{digest[:12]}-{group.episode}"


def process_alerts(
    session: Session,
    monitor: MonitorSettings,
    run: RunContextForAlerts,
    facts: RunFacts,
) -> int:
    """Advance every rule's alert and queue what receivers must be told; returns messages."""
    now = facts.now
    rules = monitor_rules(monitor)
    fingerprints = {rule.name: alert_fingerprint(monitor.name, rule.name) for rule in rules}
    store.lock_monitor(session, run.monitor_id)
    before = store.load_alerts(session, list(fingerprints.values()))
    after: dict[str, Alert] = {}
    for rule in rules:
        fingerprint = fingerprints[rule.name]
        previous = before.get(fingerprint) or Alert.new(fingerprint, now)
        current = step(previous, rule.evaluate(facts), now, rule.for_runs, rule.resolve_after)
        if current != previous or fingerprint not in before:
            store.save_alert(session, run.monitor_id, rule.name, previous, current, run.run_id)
        if current.state != previous.state and current.state in ("firing", "resolved"):
            log.info(
                "alert %s of monitor %s %s (%s, run %d)",
                rule.name,
                monitor.name,
                "is firing" if current.state == "firing" else "resolved",
                rule.severity,
                run.run_id,
                extra={"rule": rule.name},
            )
        after[rule.name] = current

    silences = store.active_silences(session, now)
    receivers = sorted({r for rule in rules for r in _receivers(monitor, rule)})
    group_prints = {r: group_fingerprint(monitor.name, r) for r in receivers}
    groups = store.load_groups(session, list(group_prints.values()))
    installation = installation_id(session)
    queued = 0
    for receiver in receivers:
        routed = [rule for rule in rules if receiver in _receivers(monitor, rule)]
        firing = [
            Member(
                rule=rule.name,
                rule_type=rule.type,
                severity=rule.severity,
                silenced=is_silenced(rule_labels(monitor.name, rule), silences, now),
                repeat_interval=rule.repeat_interval,
                labels=dict(rule.labels),
            )
            for rule in routed
            if after[rule.name].state == "firing"
        ]
        # Labels of every rule routed here, whichever fire: the group's labels stay
        # the same within an episode.
        labels = {name: value for rule in routed for name, value in rule.labels.items()}
        group = groups.get(group_prints[receiver]) or Group.new(group_prints[receiver])
        notice = next_notice(group, firing, now, refresh=receiver in run.refresh_receivers)
        if notice is None:
            continue
        store.save_group(session, run.monitor_id, receiver, notice.group)
        event = build_event(
            monitor,
            run,
            facts,
            notice,
            group.members,
            labels,
            idempotency_key(installation, monitor.name, notice.group),
            rule_alerts(routed, after, notice),
        )
        add_outbox(
            session,
            message_id=message_id(installation, notice.group, receiver),
            receiver=receiver,
            event_type=event.event_type,
            payload=event.to_payload(),
            run_id=run.run_id,
            now=now,
            group_key=notice.group.fingerprint,
            supersedable=notice.occasion in SUPERSEDABLE,
        )
        queued += 1
    return queued


def _receivers(monitor: MonitorSettings, rule: RuleSettings) -> Sequence[str]:
    return rule.receivers if rule.receivers is not None else monitor.receivers


def rule_alerts(
    rules: Sequence[RuleSettings], alerts: Mapping[str, Alert], notice: Notice
) -> tuple[RuleAlert, ...]:
    """Each rule of the notice's group on its own, for receivers that track rules one by one.

    The notice's members fire, each since it started firing; a rule that
    resolved since the group's episode began is listed with its end, in this
    and every later message of the episode. So Alertmanager ends a rule that
    resolves while another keeps firing even when a newer message superseded
    the one that told it first. Silenced rules are left out as the notice
    leaves them out.
    """
    members = {member.rule for member in notice.members}
    episode_start = notice.group.started_at
    listed = []
    for rule in rules:
        alert = alerts[rule.name]
        if alert.started_at is None:
            continue
        if rule.name in members:
            state: AlertStatus = "firing"
            ended_at = None
        elif alert.state == "resolved" and episode_start and alert.since >= episode_start:
            state, ended_at = "resolved", alert.since
        else:
            continue
        listed.append(
            RuleAlert(
                rule=rule.name,
                rule_type=rule.type,
                severity=rule.severity,
                state=state,
                started_at=alert.started_at,
                ended_at=ended_at,
                labels=dict(rule.labels),
            )
        )
    return tuple(listed)


def build_event(
    monitor: MonitorSettings,
    run: RunContextForAlerts,
    facts: RunFacts,
    notice: Notice,
    previous_members: tuple[str, ...],
    labels: dict[str, str],
    key: str,
    alerts: tuple[RuleAlert, ...],
) -> AlertEvent:
    """The event for a notice; a resolution names the rules that were firing."""
    group = notice.group
    lead = notice.lead
    firing = notice.occasion != "resolved"
    names = tuple(m.rule for m in notice.members) if firing else previous_members
    rules = ", ".join(names)
    summary = (
        f"{monitor.name}: {rules} firing: {facts.reason}"
        if firing
        else f"{monitor.name}: {rules} resolved: {facts.reason}"
    )
    return AlertEvent(
        status="firing" if firing else "resolved",
        monitor=monitor.name,
        rule=lead.rule if lead else rules,
        rule_type=lead.rule_type if lead else "resolved",
        severity=lead.severity if lead else "info",
        fingerprint=group.fingerprint,
        episode=group.episode,
        idempotency_key=key,
        summary=summary,
        reason=facts.reason,
        run_id=run.run_id,
        run_url=run.run_url,
        window_start=run.window.start,
        window_end=run.window.end,
        started_at=group.started_at or facts.now,
        ended_at=None if firing else facts.now,
        drifted=facts.drifted,
        drifted_columns=run.drifted_columns if firing else (),
        # Prometheus' convention: a firing alert holds for four evaluation periods.
        expires_at=facts.now + 4 * run.schedule_period if firing else None,
        labels={**labels, "monitor": monitor.name},
        occasion=notice.occasion,
        rules=names,
        alerts=alerts,
        segmented=bool(monitor.segments),
    )
