"""PagerDuty Events API v2: exact trigger/resolve events, delivered to a fake /v2/enqueue."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from monitor.config import parse_settings
from monitor.notifiers.base import Verdict
from monitor.notifiers.pagerduty import (
    EVENTS_URL,
    PagerDutyNotifier,
    PagerDutyReceiverSettings,
    render_pagerduty,
)
from monitor.notifiers.registry import build_notifiers
from tests.monitor.notifiers.fake_api import message_for
from tests.support import HttpFake, Received, Reply, sample_event

ROUTING_KEY = "e93facc04764012d7bfb002500d5d1a6"  # 32 characters, as integration keys are
SEVERITIES = {"critical", "error", "warning", "info"}


def _invalid(*errors: str) -> Reply:
    return Reply.json(
        400, {"status": "invalid event", "message": "Event object is invalid", "errors": errors}
    )


def _timestamp_ok(value: Any) -> bool:
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        return False
    return True


def enqueue_check(request: Received) -> Reply:
    """What the Events API v2 checks (Send an Alert Event; Overview: 202, 400, 429, 5xx)."""
    if request.method != "POST" or request.path != "/v2/enqueue":
        return Reply.json(404, {"status": "not found"})
    if len(request.body) > 512 * 1024:
        return _invalid("payload exceeds 512 KB")
    if not request.headers.get("content-type", "").startswith("application/json"):
        return _invalid("content type must be application/json")
    try:
        event = request.json()
    except ValueError:
        return _invalid("invalid JSON")
    if not isinstance(event, dict):
        return _invalid("event must be an object")
    routing_key = event.get("routing_key")
    if not isinstance(routing_key, str) or len(routing_key) != 32:
        return _invalid("'routing_key' is missing or is not 32 characters")
    if routing_key != ROUTING_KEY:
        return _invalid("Invalid routing key")
    action = event.get("event_action")
    if action not in ("trigger", "acknowledge", "resolve"):
        return _invalid("'event_action' is invalid")
    dedup_key = event.get("dedup_key")
    if dedup_key is not None and (not isinstance(dedup_key, str) or len(dedup_key) > 255):
        return _invalid("'dedup_key' must be a string of at most 255 characters")
    if action != "trigger" and not dedup_key:
        return _invalid("'dedup_key' is required for acknowledge and resolve")
    if action == "trigger":
        payload = event.get("payload")
        if not isinstance(payload, dict):
            return _invalid("'payload' is missing")
        summary = payload.get("summary")
        if not isinstance(summary, str) or not 0 < len(summary) <= 1024:
            return _invalid("'payload.summary' is missing or longer than 1024 characters")
        if not isinstance(payload.get("source"), str) or not payload["source"]:
            return _invalid("'payload.source' is missing")
        if payload.get("severity") not in SEVERITIES:
            return _invalid("'payload.severity' is invalid")
        if "timestamp" in payload and not _timestamp_ok(payload["timestamp"]):
            return _invalid("'payload.timestamp' is not ISO 8601")
        if not isinstance(payload.get("custom_details", {}), dict):
            return _invalid("'payload.custom_details' must be an object")
        if not all(isinstance(link.get("href"), str) for link in event.get("links", [])):
            return _invalid("'links[].href' is required")
    return Reply.json(
        202, {"status": "success", "message": "Event processed", "dedup_key": dedup_key}
    )


@pytest.fixture
def pagerduty(monkeypatch: pytest.MonkeyPatch) -> Iterator[HttpFake]:
    monkeypatch.setenv("DW_PD_ROUTING_KEY", ROUTING_KEY)
    with HttpFake(enqueue_check) as server:
        yield server


def _notifier(server: HttpFake) -> PagerDutyNotifier:
    settings = PagerDutyReceiverSettings(
        name="pager",
        type="pagerduty",
        routing_key_env="DW_PD_ROUTING_KEY",
        url=server.url + "/v2/enqueue",
    )
    return PagerDutyNotifier(settings, "receivers[2]")


RUN_URL = "http://127.0.0.1:8470/api/runs/42"
FINGERPRINT = "3f2a9c0d1e4b5a6978877665544332211"


def test_render_firing_is_the_exact_trigger_event() -> None:
    assert render_pagerduty(sample_event("firing"), "KEY") == {
        "routing_key": "KEY",
        "event_action": "trigger",
        "dedup_key": FINGERPRINT,
        "payload": {
            "summary": "credit-risk: 2 of 7 columns drifted (income, device)",
            "source": "credit-risk",
            "severity": "critical",
            "timestamp": "2026-11-25T12:00:03Z",
            "component": "drift",
            "class": "dataset_drift",
            "custom_details": {
                "reason": "drift: 2 of 7 columns drifted (income, device)",
                "rule": "drift",
                "episode": 2,
                "run_id": 42,
                "run_url": RUN_URL,
                "window_start": "2026-11-25T11:00:00Z",
                "window_end": "2026-11-25T12:00:00Z",
                "labels": {"team": "risk", "env": "prod"},
                "drifted_columns": [
                    {
                        "column": "income",
                        "method": "ks",
                        "statistic": 0.347,
                        "p_value": 3.4e-107,
                        "p_value_adjusted": 1.0e-106,
                        "threshold": 0.05,
                        "segment": None,
                    },
                    {
                        "column": "device",
                        "method": "chi2",
                        "statistic": 611.6,
                        "p_value": 1.5e-133,
                        "p_value_adjusted": 9.3e-133,
                        "threshold": 0.05,
                        "segment": None,
                    },
                ],
            },
        },
        "client": "driftwarden",
        "client_url": RUN_URL,
        "links": [{"href": RUN_URL, "text": "driftwarden run 42"}],
    }


def test_render_resolved_is_the_exact_resolve_event_with_the_same_dedup_key() -> None:
    assert render_pagerduty(sample_event("resolved"), "KEY") == {
        "routing_key": "KEY",
        "event_action": "resolve",
        "dedup_key": FINGERPRINT,
    }


@pytest.mark.parametrize("severity", ["critical", "error", "warning", "info"])
def test_severity_maps_onto_pagerduty_names(severity: str) -> None:
    event = sample_event(severity=severity)
    assert render_pagerduty(event, "KEY")["payload"]["severity"] == severity


def test_summary_is_clipped_to_1024_characters() -> None:
    summary = render_pagerduty(sample_event(summary="x" * 5000), "KEY")["payload"]["summary"]
    assert len(summary) == 1024
    assert summary.endswith("…")


def test_default_url_is_the_documented_endpoint() -> None:
    settings = PagerDutyReceiverSettings(name="p", type="pagerduty", routing_key_env="K")
    assert settings.url == EVENTS_URL == "https://events.pagerduty.com/v2/enqueue"


def test_trigger_then_resolve_are_accepted_with_one_dedup_key(pagerduty: HttpFake) -> None:
    notifier = _notifier(pagerduty)
    with httpx.Client() as client:
        for status in ("firing", "resolved"):
            response = client.send(notifier.build_request(message_for(sample_event(status))))
            assert response.status_code == 202
            assert response.json()["dedup_key"] == FINGERPRINT
            assert notifier.classify(response) is Verdict.DELIVERED
    trigger, resolve = pagerduty.accepted()
    assert trigger.headers["content-type"] == "application/json"
    assert trigger.json() == render_pagerduty(sample_event("firing"), ROUTING_KEY)
    assert resolve.json() == render_pagerduty(sample_event("resolved"), ROUTING_KEY)


def test_a_wrong_routing_key_is_refused_for_good(
    pagerduty: HttpFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DW_PD_ROUTING_KEY", "0" * 32)
    notifier = _notifier(pagerduty)
    with httpx.Client() as client:
        response = client.send(notifier.build_request(message_for(sample_event())))
    assert response.status_code == 400
    assert response.json()["errors"] == ["Invalid routing key"]
    assert notifier.classify(response) is Verdict.PERMANENT


def test_an_event_without_routing_key_is_refused_for_good(pagerduty: HttpFake) -> None:
    event = render_pagerduty(sample_event(), ROUTING_KEY)
    del event["routing_key"]
    with httpx.Client() as client:
        response = client.post(pagerduty.url + "/v2/enqueue", json=event)
    assert response.status_code == 400
    assert _notifier(pagerduty).classify(response) is Verdict.PERMANENT
    assert pagerduty.accepted() == []


@pytest.mark.parametrize("status", [429, 500, 503])
def test_throttling_and_server_errors_are_retryable(pagerduty: HttpFake, status: int) -> None:
    pagerduty.respond(Reply.json(status, {"status": "throttle event"}))
    notifier = _notifier(pagerduty)
    with httpx.Client() as client:
        response = client.send(notifier.build_request(message_for(sample_event())))
    assert response.status_code == status
    assert notifier.classify(response) is Verdict.RETRYABLE


def test_the_routing_key_is_only_in_the_body_where_the_api_requires_it(pagerduty: HttpFake) -> None:
    notifier = _notifier(pagerduty)
    request = notifier.build_request(message_for(sample_event()))
    assert ROUTING_KEY not in repr(notifier.settings)
    assert ROUTING_KEY not in str(request.url)
    assert ROUTING_KEY not in str(dict(request.headers))
    body = request.content.decode()
    assert body.count(ROUTING_KEY) == 1  # the Events API's "routing_key", by design


def test_config_builds_a_pagerduty_notifier() -> None:
    settings = parse_settings(
        {"receivers": [{"name": "p", "type": "pagerduty", "routing_key_env": "DW_PD_KEY"}]}
    )
    assert isinstance(build_notifiers(settings.receivers)["p"], PagerDutyNotifier)
