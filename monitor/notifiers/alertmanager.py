"""Prometheus Alertmanager API v2: push the alert to ``POST /api/v2/alerts``.

Follows Prometheus' "Alerts API" / "Sending alerts" pages and Alertmanager's
``api/v2/openapi.yaml`` (``postableAlert``): a JSON list of alerts, each with
``labels`` (required; ``alertname`` required by the docs; labels identify
the alert and deduplicate it), ``annotations``, RFC 3339 ``startsAt`` and
``endsAt``, and ``generatorURL``. Alertmanager answers 200; 400 for an
invalid alert.

An alert's identity is its label set, so the labels are the stable ones of
driftwarden's notification group (``alertname``, ``monitor``, ``group``); the
firing rules and severity, which may change within an episode, are
annotations. While firing, ``endsAt`` is the event's ``expires_at`` (four
schedule periods ahead, Prometheus' own convention) and the alert is re-sent
on every run, so Alertmanager keeps it firing while runs continue and
resolves it by itself if driftwarden stops; on resolution ``endsAt`` is the
time it ended.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

import httpx
from pydantic import model_validator

from monitor.alerts.event import AlertEvent
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


def _description(event: AlertEvent) -> str:
    lines = [event.reason]
    shown = event.drifted_columns[:MAX_COLUMNS]
    lines += [
        f"{c.column} ({c.method}): statistic {_number(c.statistic, '.4g')}, "
        f"p-value {_number(c.p_value, '.3g')}"
        for c in shown
    ]
    if len(event.drifted_columns) > len(shown):
        lines.append(f"+{len(event.drifted_columns) - len(shown)} more")
    return "\n".join(lines)


def render_alertmanager(event: AlertEvent) -> list[dict[str, Any]]:
    """The exact request body: a list holding one postable alert.

    The identifying labels are stable for a notification group (monitor,
    receiver), so re-sends update the same alert; run facts are annotations.
    """
    labels = {_label_name(name): value for name, value in event.labels.items() if value}
    labels.update(alertname="DriftwardenAlert", monitor=event.monitor, group=event.fingerprint[:12])
    alert: dict[str, Any] = {
        "labels": labels,
        "annotations": {
            "summary": event.summary,
            "description": _description(event),
            "severity": event.severity,
            "rules": ", ".join(event.rules) or event.rule,
            "run_url": event.run_url,
        },
        "startsAt": utc_timestamp(event.started_at),
        "generatorURL": event.run_url,
    }
    ends_at = event.ended_at if event.status == "resolved" else event.expires_at
    if ends_at is not None:
        alert["endsAt"] = utc_timestamp(ends_at)
    return [alert]


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

    def build_request(self, message: OutboundMessage) -> httpx.Request:
        return post_request(
            self.settings.url.rstrip("/") + ALERTS_PATH,
            json.dumps(render_alertmanager(message.event)).encode("utf-8"),
            authorization=self._authorization(),
        )


SPEC = NotifierSpec(
    type="alertmanager",
    settings=AlertmanagerReceiverSettings,
    factory=AlertmanagerNotifier,
    refresh_while_firing=True,  # keeps endsAt ahead while runs continue
)
