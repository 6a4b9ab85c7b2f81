from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest

from monitor.config import parse_settings
from monitor.notifiers.base import OutboundMessage, Verdict, classify_status
from monitor.notifiers.registry import NOTIFIERS, build_notifiers, signing_secrets
from monitor.notifiers.webhook import WebhookNotifier, WebhookReceiverSettings, render_payload
from monitor.secrets import SecretError

MESSAGE = OutboundMessage(
    message_id="msg_0123abcd",
    event_type="drift.detected",
    payload={"monitor": "fraud", "drifted": True, "columns": ["income"], "p": 0.001},
    created_at=datetime(2024, 5, 1, 12, 30, 15, 250000, tzinfo=UTC),
    attempt=1,
)


def test_payload_is_the_exact_documented_json() -> None:
    assert render_payload(MESSAGE) == (
        b'{"type":"drift.detected","timestamp":"2024-05-01T12:30:15.250000Z",'
        b'"data":{"monitor":"fraud","drifted":true,"columns":["income"],"p":0.001}}'
    )


def test_payload_timestamp_is_converted_to_utc() -> None:
    created = datetime(2024, 5, 1, 14, 30, tzinfo=timezone(timedelta(hours=2)))
    message = OutboundMessage("msg_1", "drift.resolved", {}, created, 3)
    assert json.loads(render_payload(message))["timestamp"] == "2024-05-01T12:30:00.000000Z"


def test_request_reads_url_and_header_values_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DW_HOOK_URL", "https://hooks.example.com/t/tok_abc")
    monkeypatch.setenv("DW_HOOK_AUTH", "Bearer xyz")
    settings = WebhookReceiverSettings(
        name="ops",
        type="webhook",
        url_env="DW_HOOK_URL",
        headers_env={"authorization": "DW_HOOK_AUTH"},
    )
    request = WebhookNotifier(settings, "receivers[0]").build_request(MESSAGE)
    assert request.method == "POST"
    assert str(request.url) == "https://hooks.example.com/t/tok_abc"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["authorization"] == "Bearer xyz"
    assert request.content == render_payload(MESSAGE)

    monkeypatch.setenv("DW_HOOK_URL", "https://hooks.example.com/t/rotated")
    assert str(WebhookNotifier(settings, "k").build_request(MESSAGE).url).endswith("/rotated")


def test_missing_header_variable_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DW_MISSING", raising=False)
    settings = WebhookReceiverSettings(
        name="ops", type="webhook", url="https://example.com/h", headers_env={"x-k": "DW_MISSING"}
    )
    with pytest.raises(SecretError, match=r"receivers\[2\]\.headers_env\.x-k: .*DW_MISSING"):
        WebhookNotifier(settings, "receivers[2]").build_request(MESSAGE)


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (200, Verdict.DELIVERED),
        (204, Verdict.DELIVERED),
        (408, Verdict.RETRYABLE),
        (425, Verdict.RETRYABLE),
        (429, Verdict.RETRYABLE),
        (500, Verdict.RETRYABLE),
        (503, Verdict.RETRYABLE),
        (301, Verdict.PERMANENT),
        (400, Verdict.PERMANENT),
        (401, Verdict.PERMANENT),
        (404, Verdict.PERMANENT),
        (410, Verdict.PERMANENT),
    ],
)
def test_classify(status: int, verdict: Verdict) -> None:
    settings = WebhookReceiverSettings(name="ops", type="webhook", url="https://example.com/h")
    notifier = WebhookNotifier(settings, "receivers[0]")
    assert notifier.classify(httpx.Response(status)) is verdict
    assert classify_status(status) is verdict


def test_build_notifiers_one_per_receiver() -> None:
    settings = parse_settings(
        {
            "receivers": [
                {"name": "a", "type": "webhook", "url": "https://a.example.com"},
                {"name": "b", "type": "webhook", "url_env": "B_URL", "secret_env": "B_SECRET"},
            ]
        }
    )
    notifiers = build_notifiers(settings.receivers)
    assert set(notifiers) == {"a", "b"}
    assert isinstance(notifiers["b"], WebhookNotifier)
    assert notifiers["b"].key == "receivers[1]"
    assert signing_secrets(settings.receivers) == {"a": None, "b": "B_SECRET"}
    assert NOTIFIERS["webhook"].factory is WebhookNotifier
