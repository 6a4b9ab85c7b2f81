"""Prometheus Alertmanager API v2: push one alert per rule to ``POST /api/v2/alerts``.

Follows Prometheus' "Alerts API" / "Sending alerts" pages and Alertmanager's
``api/v2/openapi.yaml`` (``postableAlert``): a JSON list of alerts, each with
``labels`` (required; ``alertname`` required by the docs; labels identify
the alert and deduplicate it), ``annotations`` (the latest received win),
RFC 3339 ``startsAt`` and ``endsAt``, and ``generatorURL``. Alertmanager
answers 200; 400 for an invalid alert.

driftwarden groups notifications per monitor and receiver, but Alertmanager
groups, routes, inhibits and silences by labels itself: so each rule of the
group is an alert of its own, identified by ``alertname`` (``Driftwarden``
and the rule type in CamelCase: ``DriftwardenDatasetDrift``,
``DriftwardenNoData``), ``monitor``, ``rule``, ``severity`` and the rule's
``labels``, all fixed by the config. The facts of the run that change from
one run to the next (summary, reason, drifted columns, run link) are
annotations. A drift rule (``dataset_drift``, ``column_drift``) of a
monitor with ``segments`` is one alert per segment it fires for, labelled
``segment`` (``country=DE``; ``all`` for drift of the whole window), so
routes can match a segment; a segment that stops drifting while the rule
still fires is no longer re-sent and ends at its ``endsAt``, and the
rule's resolution is sent as ``segment="all"``. ``startsAt`` is when that
rule started firing. While firing,
``endsAt`` is the event's ``expires_at`` (four schedule periods ahead,
Prometheus' own convention) and the alert is re-sent on every run, so
Alertmanager keeps it firing while runs continue and resolves it by itself
if driftwarden stops; a rule that resolved is sent with ``endsAt`` the time
it ended, in every message of the group's episode after that.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, Literal

import httpx
from pydantic import model_validator

from monitor.alerts.event import AlertEvent, DriftedColumn, RuleAlert
from monitor.notifiers._http import post_request, utc_timestamp
from monitor.notifiers._trigger import basic
from monitor.notifiers.base import BaseNotifier, OutboundMessage
from monitor.notifiers.spec import NotifierSpec
from monitor.secrets import resolve_secret
from monitor.settings_base import HttpUrlStr, RateLimitedSettings

ALERTS_PATH = "/api/v2/alerts"
MAX_COLUMNS = 10
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_INVALID_LABEL_CHARACTER = re.compile(r"[^a-zA-Z0-9_]")


class AlertmanagerReceiverSettings(RateLimitedSettings):
    name: str
    type: Literal["alertmanager"]
    url: HttpUrlStr  # base URL, e.g. http://alertmanager:9093 (holds no credentials)
    bearer_token_env: str | None = None
    basic_auth_username: str | None = None
    basic_auth_password_env: str | None = None

    @model_validator(mode="after")
    def _one_auth(self) -> AlertmanagerReceiverSettings:
        basic = (self.basic_auth_username, self.basic_auth_password_env)
        if (basic[0] is None) != (basic[1] is None):
            raise ValueError("set both basic_auth_username and basic_auth_password_env, or neither")
        if self.bearer_token_env is not None and basic[0] is not None:
            raise ValueError("set at most one of bearer_token_env and basic auth")
        return self


def _label_name(name: str) -> str:
    """A valid Prometheus label name: anything else becomes ``_`` (as Prometheus sanitises)."""
    if _LABEL_NAME.fullmatch(name):
        return name
    cleaned = _INVALID_LABEL_CHARACTER.sub("_", name)
    return cleaned if cleaned[:1].isalpha() or cleaned[:1] == "_" else f"_{cleaned}"


def _number(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def alert_name(rule_type: str) -> str:
    """The ``alertname`` of a rule type: stable, and the same for that type in every monitor.

    >>> alert_name("dataset_drift"), alert_name("no_data"), alert_name("run_failed")
    ('DriftwardenDatasetDrift', 'DriftwardenNoData', 'DriftwardenRunFailed')
    """
    return "Driftwarden" + "".join(part.capitalize() for part in rule_type.split("_"))


DRIFT_RULES = frozenset({"dataset_drift", "column_drift"})
WHOLE_WINDOW = "all"
"""The ``segment`` label of drift in the whole window."""


def _segment_label(column: DriftedColumn) -> str:
    return column.segment if column.segment is not None else WHOLE_WINDOW


def _segments(event: AlertEvent, alert: RuleAlert) -> list[str | None]:
    """The ``segment`` labels of a rule's alerts: None (no label) unless it is a drift rule of a
    monitor with segments; then one per segment that drifted, "all" for the whole window."""
    if not event.segmented or alert.rule_type not in DRIFT_RULES:
        return [None]
    if alert.state != "firing":
        return [WHOLE_WINDOW]
    found = dict.fromkeys(_segment_label(column) for column in event.drifted_columns)
    return list(found) or [WHOLE_WINDOW]


def _description(event: AlertEvent, firing: bool, columns: Sequence[DriftedColumn]) -> str:
    lines = [event.reason]
    columns = columns if firing else ()
    shown = columns[:MAX_COLUMNS]
    lines += [
        f"{c.shown_name} ({c.method}): statistic {_number(c.statistic, '.4g')}, "
        f"p-value {_number(c.p_value, '.3g')}"
        for c in shown
    ]
    if len(columns) > len(shown):
        lines.append(f"+{len(columns) - len(shown)} more")
    return "\n".join(lines)


def _postable(event: AlertEvent, alert: RuleAlert, segment: str | None) -> dict[str, Any]:
    firing = alert.state == "firing"
    labels = {_label_name(name): value for name, value in alert.labels.items() if value}
    labels.update(
        alertname=alert_name(alert.rule_type),
        monitor=event.monitor,
        rule=alert.rule,
        severity=alert.severity,
    )
    columns = event.drifted_columns
    if segment is not None:
        labels["segment"] = segment
        columns = tuple(c for c in columns if _segment_label(c) == segment)
    annotations = {
        "summary": f"{event.monitor}: {alert.rule} {alert.state}: {event.reason}",
        "description": _description(event, firing, columns),
        "run_url": event.run_url,
    }
    if firing and columns:
        annotations["drifted_columns"] = ", ".join(c.column for c in columns)
    postable: dict[str, Any] = {
        "labels": labels,
        "annotations": annotations,
        "startsAt": utc_timestamp(alert.started_at),
        "generatorURL": event.run_url,
    }
    ends_at = event.expires_at if firing else alert.ended_at
    if ends_at is not None:
        postable["endsAt"] = utc_timestamp(ends_at)
    return postable


def render_alertmanager(event: AlertEvent) -> list[dict[str, Any]]:
    """The exact request body: one postable alert per rule of the event (``event.alerts``).

    Labels are the rule's identity, fixed by the config, so the re-sends of
    every run update the same alert; the run's facts are annotations. A
    drift rule of a monitor with segments is one alert per segment it fired
    for, told apart by the ``segment`` label (``_segments``).
    """
    return [
        _postable(event, alert, segment)
        for alert in event.alerts
        for segment in _segments(event, alert)
    ]


class AlertmanagerNotifier(BaseNotifier[AlertmanagerReceiverSettings]):
    def _authorization(self) -> str | None:
        settings = self.settings
        if settings.bearer_token_env is not None:
            token = resolve_secret(settings.bearer_token_env, f"{self.key}.bearer_token_env")
            return f"Bearer {token}"
        if settings.basic_auth_username is not None and settings.basic_auth_password_env:
            password = resolve_secret(
                settings.basic_auth_password_env, f"{self.key}.basic_auth_password_env"
            )
            return basic(settings.basic_auth_username, password)
        return None

    def build_request(self, message: OutboundMessage) -> httpx.Request | None:
        """None for a message that lists no rule: one queued before messages listed them.

        The alert it would have updated had the group's labels, which no message
        sends any more, so Alertmanager ends it by itself at its ``endsAt``.
        """
        alerts = render_alertmanager(message.event)
        if not alerts:
            return None
        return post_request(
            self.settings.url.rstrip("/") + ALERTS_PATH,
            json.dumps(alerts).encode("utf-8"),
            authorization=self._authorization(),
        )


SPEC = NotifierSpec(
    type="alertmanager",
    settings=AlertmanagerReceiverSettings,
    factory=AlertmanagerNotifier,
    refresh_while_firing=True,  # keeps endsAt ahead while runs continue
)
