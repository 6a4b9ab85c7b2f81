"""What is firing now: the stored alerts beside their rules' severity and labels.

The store keeps where each rule's alert stands and which run changed it; the
config says what the rule is (type, severity, labels). ``/api/alerts`` and
`driftwarden alerts list` answer the same document from both, for the rules
configured now (defaults included): a rule taken out of the config is stepped
by no run any more, so its last state says nothing of the present.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from monitor.alerting import monitor_rules
from monitor.alerts.rules import RuleSettings
from monitor.config import MonitorSettings
from monitor.store.alert_queries import (
    AlertView,
    RuleKey,
    TransitionView,
    current_alerts,
    recent_transitions,
)
from monitor.vocabulary import AlertState

DEFAULT_TRANSITIONS = 50
"""Recent changes listed unless asked for another number."""


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


@dataclass(frozen=True)
class ConfiguredRules:
    """Each monitor's rules as the config has them now, by (monitor, rule)."""

    rules: Mapping[RuleKey, RuleSettings]

    @classmethod
    def of(cls, monitors: Sequence[MonitorSettings]) -> ConfiguredRules:
        return cls(
            {
                (monitor.name, rule.name): rule
                for monitor in monitors
                for rule in monitor_rules(monitor)
            }
        )

    def alert(self, view: AlertView) -> dict[str, Any]:
        rule = self.rules[(view.monitor, view.rule)]
        return {
            "monitor": view.monitor,
            "rule": view.rule,
            "type": rule.type,
            "severity": rule.severity,
            "labels": dict(rule.labels),
            "state": view.state,
            "since": _iso(view.since),
            "started_at": _iso(view.started_at),
            "episode": view.episode,
            "run_id": view.run_id,
        }

    def transition(self, view: TransitionView) -> dict[str, Any]:
        return {
            "monitor": view.monitor,
            "rule": view.rule,
            "severity": self.rules[(view.monitor, view.rule)].severity,
            "from": view.from_state,
            "to": view.to_state,
            "at": _iso(view.at),
            "run_id": view.run_id,
        }


def list_alerts(
    engine: Engine,
    configured: ConfiguredRules,
    monitor: str | None = None,
    state: AlertState | None = None,
    limit: int = DEFAULT_TRANSITIONS,
) -> dict[str, Any]:
    """``alerts``: every configured rule's alert (in ``state``), by monitor and rule;
    ``transitions``: the last ``limit`` changes (into ``state``), newest first."""
    rules = configured.rules.keys()
    return {
        "alerts": [
            configured.alert(view) for view in current_alerts(engine, rules, monitor, state)
        ],
        "transitions": [
            configured.transition(view)
            for view in recent_transitions(engine, rules, monitor, state, limit)
        ],
    }
