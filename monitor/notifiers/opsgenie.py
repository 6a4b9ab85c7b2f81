"""Opsgenie Alert API: create an alert with ``alias`` = fingerprint, close it by alias.

Follows Opsgenie's "Alert API" and "Response" pages: ``POST /v2/alerts``
(``message`` required, <= 130 chars; ``alias`` <= 512; ``description`` <=
15000; ``tags`` <= 20 of <= 50 chars; ``details`` string pairs, <= 8000
chars in total; ``priority`` P1..P5) and
``POST /v2/alerts/{alias}/close?identifierType=alias``, both authenticated
with ``Authorization: GenieKey <key>``. Valid requests get 202 Accepted
(processed asynchronously); 400/401/403/404/422 are permanent; 429 and 5xx
retry. EU accounts use ``https://api.eu.opsgenie.com``.
"""

from __future__ import annotations

import json
from typing import Any, Literal
from urllib.parse import quote

import httpx
from pydantic import model_validator

from monitor.alerts.event import AlertEvent, Severity
from monitor.notifiers._http import USER_AGENT, utc_timestamp
from monitor.notifiers.base import BaseNotifier, OutboundMessage
from monitor.notifiers.spec import NotifierSpec
from monitor.secrets import resolve_secret
from monitor.settings_base import HttpUrlStr, RateLimitedSettings

API_URLS = {"us": "https://api.opsgenie.com", "eu": "https://api.eu.opsgenie.com"}
MESSAGE_LIMIT = 130
TAG_LIMIT = 50
MAX_TAGS = 20
MAX_COLUMNS = 10

OPSGENIE_PRIORITY: dict[Severity, str] = {
    "critical": "P1",
    "error": "P2",
    "warning": "P3",
    "info": "P5",
}


class OpsgenieReceiverSettings(RateLimitedSettings):
    name: str
    type: Literal["opsgenie"]
    api_key_env: str  # env var holding the API integration's key
    region: Literal["us", "eu"] | None = None  # default "us"
    url: HttpUrlStr | None = None  # an API base URL instead of a region (a proxy, a test server)

    @model_validator(mode="after")
    def _one_base(self) -> OpsgenieReceiverSettings:
        if self.region is not None and self.url is not None:
            raise ValueError("set at most one of region and url")
        return self

    @property
    def base_url(self) -> str:
        return (self.url or API_URLS[self.region or "us"]).rstrip("/")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _number(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def _columns_text(event: AlertEvent) -> str:
    shown = event.drifted_columns[:MAX_COLUMNS]
    parts = [
        f"{c.shown_name} ({c.method}: statistic {_number(c.statistic, '.4g')}, "
        f"p-value {_number(c.p_value, '.3g')})"
        for c in shown
    ]
    hidden = len(event.drifted_columns) - len(shown)
    if hidden:
        parts.append(f"+{hidden} more")
    return "; ".join(parts)


def alert_path(event: AlertEvent) -> str:
    """Where the request for ``event`` goes, relative to the API base URL."""
    if event.status == "resolved":
        return f"/v2/alerts/{quote(event.fingerprint, safe='')}/close"
    return "/v2/alerts"


def render_opsgenie(event: AlertEvent) -> dict[str, Any]:
    """The exact body: a create-alert request while firing, a close request once resolved."""
    if event.status == "resolved":
        return {
            "source": "driftwarden",
            "user": "driftwarden",
            "note": _clip(f"Resolved: {event.summary} ({event.run_url})", 25000),
        }
    description = f"{event.reason}\n\nRun: {event.run_url}"
    if event.drifted_columns:
        description += "\nDrifted columns: " + _columns_text(event)
    details = {
        "monitor": event.monitor,
        "rule": event.rule,
        "rule_type": event.rule_type,
        "run_id": str(event.run_id),
        "run_url": event.run_url,
        "window": f"{utc_timestamp(event.window_start)} – {utc_timestamp(event.window_end)}",
    }
    if event.drifted_columns:  # details are limited to 8000 characters in total
        details["drifted_columns"] = _clip(_columns_text(event), 4000)
    tags = [_clip(f"{name}:{value}", TAG_LIMIT) for name, value in sorted(event.labels.items())]
    return {
        "message": _clip(event.summary, MESSAGE_LIMIT),
        "alias": event.fingerprint,
        "description": _clip(description, 15000),
        "priority": OPSGENIE_PRIORITY[event.severity],
        "source": "driftwarden",
        "entity": event.monitor,
        "tags": tags[:MAX_TAGS],
        "details": details,
    }


class OpsgenieNotifier(BaseNotifier[OpsgenieReceiverSettings]):
    def build_request(self, message: OutboundMessage) -> httpx.Request:
        event = message.event
        api_key = resolve_secret(self.settings.api_key_env, f"{self.key}.api_key_env")
        params = {"identifierType": "alias"} if event.status == "resolved" else None
        return httpx.Request(
            "POST",
            self.settings.base_url + alert_path(event),
            params=params,
            headers={
                "authorization": f"GenieKey {api_key}",
                "content-type": "application/json",
                "user-agent": USER_AGENT,
            },
            content=json.dumps(render_opsgenie(event)).encode("utf-8"),
        )


SPEC = NotifierSpec(
    type="opsgenie",
    settings=OpsgenieReceiverSettings,
    factory=OpsgenieNotifier,
)
