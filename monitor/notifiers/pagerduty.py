"""PagerDuty Events API v2 (``POST /v2/enqueue``): ``trigger`` and ``resolve`` by dedup key.

Follows PagerDuty's "Send an Alert Event" and "Events API v2 Overview":
``routing_key`` (the 32-character integration key) and ``event_action`` are
required; a trigger needs ``payload.summary`` (<= 1024 chars),
``payload.source`` and ``payload.severity`` (critical, error, warning, info);
``dedup_key`` (<= 255 chars) correlates the resolve with its trigger, so it is
the alert's fingerprint. The routing key travels in the body by the API's
design. 202 means accepted; 400 is permanent; 429 and 5xx retry.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import httpx

from monitor.alerts.event import AlertEvent, Severity
from monitor.notifiers._http import post_request, utc_timestamp
from monitor.notifiers.base import BaseNotifier, OutboundMessage
from monitor.notifiers.spec import NotifierSpec
from monitor.secrets import resolve_secret
from monitor.settings_base import HttpUrlStr, RateLimitedSettings

EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
SUMMARY_LIMIT = 1024

# Our severities are PagerDuty's names; the table keeps the mapping explicit.
PAGERDUTY_SEVERITY: dict[Severity, str] = {
    "critical": "critical",
    "error": "error",
    "warning": "warning",
    "info": "info",
}


class PagerDutyReceiverSettings(RateLimitedSettings):
    name: str
    type: Literal["pagerduty"]
    routing_key_env: str  # env var holding the Events API v2 integration key
    url: HttpUrlStr = EVENTS_URL


def render_pagerduty(event: AlertEvent, routing_key: str) -> dict[str, Any]:
    """The exact event body: a ``trigger`` while firing, a bare ``resolve`` once resolved."""
    if event.status == "resolved":
        return {
            "routing_key": routing_key,
            "event_action": "resolve",
            "dedup_key": event.fingerprint,
        }
    summary = event.summary
    if len(summary) > SUMMARY_LIMIT:
        summary = summary[: SUMMARY_LIMIT - 1] + "…"
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": event.fingerprint,
        "payload": {
            "summary": summary,
            "source": event.monitor,
            "severity": PAGERDUTY_SEVERITY[event.severity],
            "timestamp": utc_timestamp(event.started_at),
            "component": event.rule,
            "class": event.rule_type,
            "custom_details": {
                "reason": event.reason,
                "rule": event.rule,
                "episode": event.episode,
                "run_id": event.run_id,
                "run_url": event.run_url,
                "window_start": utc_timestamp(event.window_start),
                "window_end": utc_timestamp(event.window_end),
                "labels": dict(event.labels),
                "drifted_columns": [column.to_dict() for column in event.drifted_columns],
            },
        },
        "client": "driftwarden",
        "client_url": event.run_url,
        "links": [{"href": event.run_url, "text": f"driftwarden run {event.run_id}"}],
    }


class PagerDutyNotifier(BaseNotifier[PagerDutyReceiverSettings]):
    def build_request(self, message: OutboundMessage) -> httpx.Request:
        routing_key = resolve_secret(self.settings.routing_key_env, f"{self.key}.routing_key_env")
        return post_request(
            self.settings.url,
            json.dumps(render_pagerduty(message.event, routing_key)).encode("utf-8"),
        )


SPEC = NotifierSpec(
    type="pagerduty",
    settings=PagerDutyReceiverSettings,
    factory=PagerDutyNotifier,
    # Events API v2: "approximately 120 calls/minute per integration key", 429 beyond
    # (PagerDuty developer docs, docs/events-API-v2/05-Rate-Limits.md).
    default_rate_limit=120 / 60,
)
