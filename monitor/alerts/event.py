"""What a receiver is told: one alert changing state (or still firing), as typed data.

The run writes an event's payload into the outbox in its own transaction;
the delivery worker reads it back with ``AlertEvent.from_payload`` and hands
it to the receiver's notifier, which renders its own wire format.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

AlertStatus = Literal["firing", "resolved"]
Occasion = Literal["first", "changed", "repeat", "resolved"]
"""Why a message is sent: an episode's first firing, a change of its firing rules, a
repeat while still firing, or its resolution. Triggers start a pipeline only on "first"."""
Severity = Literal["critical", "error", "warning", "info"]


@dataclass(frozen=True)
class DriftedColumn:
    column: str
    method: str
    statistic: float | None
    p_value: float | None
    p_value_adjusted: float | None
    threshold: float
    segment: str | None = None
    """The segment it drifted in (``country=DE``); None for the whole window."""

    @property
    def shown_name(self) -> str:
        """The column as messages name it: with its segment, when it drifted in one.

        >>> DriftedColumn("age", "ks", 0.3, 1e-9, 1e-8, 0.01, "country=DE").shown_name
        'age in country=DE'
        """
        return self.column if self.segment is None else f"{self.column} in {self.segment}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "method": self.method,
            "statistic": self.statistic,
            "p_value": self.p_value,
            "p_value_adjusted": self.p_value_adjusted,
            "threshold": self.threshold,
            "segment": self.segment,
        }


@dataclass(frozen=True)
class RuleAlert:
    """One rule's alert in a group's message: firing, or resolved during the group's episode.

    Receivers that track each rule on its own (Alertmanager routes, inhibits
    and silences by rule and severity) read these; the others tell the group
    as one message led by its most severe rule. A rule that resolved earlier
    in the episode stays listed, with its end, in every later message of the
    episode: a message that superseded the one carrying its resolution still
    carries it.
    """

    rule: str
    rule_type: str
    severity: Severity
    state: AlertStatus
    started_at: datetime
    ended_at: datetime | None
    labels: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "type": self.rule_type,
            "state": self.state,
            "severity": self.severity,
            "labels": dict(self.labels),
            "started_at": self.started_at.isoformat(),
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
        }

    @classmethod
    def from_dict(cls, entry: Mapping[str, Any]) -> RuleAlert:
        return cls(
            rule=entry["rule"],
            rule_type=entry["type"],
            severity=entry["severity"],
            state=entry["state"],
            started_at=datetime.fromisoformat(entry["started_at"]),
            ended_at=datetime.fromisoformat(entry["ended_at"]) if entry["ended_at"] else None,
            labels=dict(entry["labels"]),
        )


@dataclass(frozen=True)
class AlertEvent:
    """What one receiver is told about one monitor's alerts, as of one run.

    ``fingerprint`` identifies the notification group (monitor, receiver) and
    is stable across restarts and replicas; ``episode`` counts its firings,
    so ``idempotency_key`` (derived from both and from the store's
    installation id) is the same for every message about one firing episode
    and new for the next, and never the same in two stores: pipelines
    triggered by it start once per episode.
    """

    status: AlertStatus
    monitor: str
    rule: str
    rule_type: str
    severity: Severity
    fingerprint: str
    episode: int
    idempotency_key: str
    summary: str
    reason: str
    run_id: int
    run_url: str
    window_start: datetime
    window_end: datetime
    started_at: datetime
    ended_at: datetime | None
    drifted: bool
    drifted_columns: tuple[DriftedColumn, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    occasion: Occasion = "first"
    rules: tuple[str, ...] = ()
    expires_at: datetime | None = None
    """For receivers that forget a firing alert unless told again (Alertmanager): until
    when this firing message holds. The alert is re-sent on every run while firing."""
    alerts: tuple[RuleAlert, ...] = ()
    """Each rule of the group on its own: the audible firing ones and those resolved during
    the episode (``RuleAlert``). Empty in messages queued before it existed."""
    segmented: bool = False
    """Whether the monitor tests segments: its drift alerts then say which (``segment``)."""

    @property
    def event_type(self) -> str:
        """ "alert.firing" or "alert.resolved": the webhook ``type``."""
        return f"alert.{self.status}"

    def to_payload(self) -> dict[str, Any]:
        return {
            "monitor": self.monitor,
            "summary": self.summary,
            "occasion": self.occasion,
            "idempotency_key": self.idempotency_key,
            "alert": {
                "rule": self.rule,
                "rules": list(self.rules),
                "type": self.rule_type,
                "state": self.status,
                "severity": self.severity,
                "fingerprint": self.fingerprint,
                "episode": self.episode,
                "labels": dict(self.labels),
                "started_at": self.started_at.isoformat(),
                "ended_at": self.ended_at.isoformat() if self.ended_at else None,
                "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            },
            "run": {"id": self.run_id, "url": self.run_url},
            "window": {"start": self.window_start.isoformat(), "end": self.window_end.isoformat()},
            "decision": {"drifted": self.drifted, "reason": self.reason},
            "drifted_columns": [column.to_dict() for column in self.drifted_columns],
            "alerts": [alert.to_dict() for alert in self.alerts],
            "segmented": self.segmented,
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> AlertEvent:
        alert = payload["alert"]
        return cls(
            status=alert["state"],
            monitor=payload["monitor"],
            rule=alert["rule"],
            rule_type=alert["type"],
            severity=alert["severity"],
            fingerprint=alert["fingerprint"],
            episode=alert["episode"],
            idempotency_key=payload["idempotency_key"],
            summary=payload["summary"],
            reason=payload["decision"]["reason"],
            run_id=payload["run"]["id"],
            run_url=payload["run"]["url"],
            window_start=datetime.fromisoformat(payload["window"]["start"]),
            window_end=datetime.fromisoformat(payload["window"]["end"]),
            started_at=datetime.fromisoformat(alert["started_at"]),
            ended_at=datetime.fromisoformat(alert["ended_at"]) if alert["ended_at"] else None,
            drifted=payload["decision"]["drifted"],
            drifted_columns=tuple(DriftedColumn(**c) for c in payload["drifted_columns"]),
            labels=dict(alert["labels"]),
            occasion=payload.get("occasion", "first"),
            rules=tuple(alert.get("rules", ())),
            expires_at=datetime.fromisoformat(alert["expires_at"])
            if alert.get("expires_at")
            else None,
            alerts=tuple(RuleAlert.from_dict(entry) for entry in payload.get("alerts", ())),
            segmented=payload.get("segmented", False),
        )
