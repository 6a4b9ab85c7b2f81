"""Slack incoming webhook: exact Block Kit rendering, delivery to a validating fake Slack."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from monitor.alerts.event import DriftedColumn
from monitor.config import parse_settings
from monitor.notifiers.base import Verdict
from monitor.notifiers.registry import build_notifiers
from monitor.notifiers.slack import SlackNotifier, SlackReceiverSettings, render_slack
from tests.monitor.notifiers.fake_api import message_for
from tests.support import HttpFake, Received, Reply, sample_event

WEBHOOK_PATH = "/services/T0DRIFT01/B0DRIFT02/s3cretWebhookToken0001"

# Block Kit limits from Slack's reference; Slack answers 400 invalid_blocks beyond them.
_BLOCK_TYPES = {"header", "section", "actions", "context", "divider"}


def _text_ok(text: Any, limit: int, kinds: tuple[str, ...] = ("plain_text", "mrkdwn")) -> bool:
    return (
        isinstance(text, dict)
        and text.get("type") in kinds
        and isinstance(text.get("text"), str)
        and 0 < len(text["text"]) <= limit
    )


def _block_ok(block: Any) -> bool:
    if not isinstance(block, dict) or block.get("type") not in _BLOCK_TYPES:
        return False
    kind = block["type"]
    if kind == "header":
        return _text_ok(block.get("text"), 150, ("plain_text",))
    if kind == "section":
        fields = block.get("fields")
        if "text" not in block and not fields:
            return False
        if "text" in block and not _text_ok(block["text"], 3000):
            return False
        return fields is None or (
            isinstance(fields, list)
            and 0 < len(fields) <= 10
            and all(_text_ok(field, 2000) for field in fields)
        )
    if kind == "actions":
        elements = block.get("elements")
        return (
            isinstance(elements, list)
            and 0 < len(elements) <= 25
            and all(
                element.get("type") == "button"
                and _text_ok(element.get("text"), 75, ("plain_text",))
                and len(element.get("url", "")) <= 3000
                for element in elements
            )
        )
    return True


def slack_check(request: Received) -> Reply:
    """What Slack's incoming webhook checks, with its documented status and body strings."""
    if request.method != "POST" or request.path != WEBHOOK_PATH:
        return Reply.text(404, "no_service")
    if not request.headers.get("content-type", "").startswith("application/json"):
        return Reply.text(400, "invalid_payload")
    try:
        document = request.json()
    except ValueError:
        return Reply.text(400, "invalid_payload")
    if not isinstance(document, dict):
        return Reply.text(400, "invalid_payload")
    if not document.get("text") and not document.get("blocks"):
        return Reply.text(400, "no_text")
    blocks = document.get("blocks")
    if blocks is not None and not (
        isinstance(blocks, list) and len(blocks) <= 50 and all(_block_ok(b) for b in blocks)
    ):
        return Reply.text(400, "invalid_blocks")
    return Reply.text(200, "ok")


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[HttpFake]:
    with HttpFake(slack_check) as server:
        monkeypatch.setenv("DW_SLACK_URL", server.url + WEBHOOK_PATH)
        yield server


def _notifier() -> SlackNotifier:
    settings = SlackReceiverSettings(name="team-chat", type="slack", url_env="DW_SLACK_URL")
    return SlackNotifier(settings, "receivers[0]")


WINDOW_FIELD = {"type": "mrkdwn", "text": "*Window*\n2026-11-25T11:00:00Z – 2026-11-25T12:00:00Z"}
FACT_FIELDS = [
    {"type": "mrkdwn", "text": "*Monitor*\ncredit-risk"},
    {"type": "mrkdwn", "text": "*Severity*\ncritical"},
    {"type": "mrkdwn", "text": "*Rule*\ndrift"},
    WINDOW_FIELD,
]
RUN_BUTTON = {
    "type": "actions",
    "elements": [
        {
            "type": "button",
            "text": {"type": "plain_text", "text": "Open run 42"},
            "url": "http://127.0.0.1:8470/api/runs/42",
        }
    ],
}
SUMMARY = "credit-risk: 2 of 7 columns drifted (income, device)"


def test_render_firing_is_the_exact_block_kit_message() -> None:
    assert render_slack(sample_event("firing")) == {
        "text": f"[FIRING] critical: {SUMMARY}",
        "blocks": [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": "FIRING · critical · credit-risk"},
            },
            {"type": "section", "text": {"type": "mrkdwn", "text": SUMMARY}},
            {"type": "section", "fields": FACT_FIELDS},
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "*Drifted columns*\n"
                    "• `income` ks: statistic 0.347, p-value 3.4e-107\n"
                    "• `device` chi2: statistic 611.6, p-value 1.5e-133",
                },
            },
            RUN_BUTTON,
        ],
    }


def test_render_resolved_is_the_exact_block_kit_message() -> None:
    assert render_slack(sample_event("resolved")) == {
        "text": f"[RESOLVED] critical: {SUMMARY}",
        "blocks": [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": "RESOLVED · critical · credit-risk"},
            },
            {"type": "section", "text": {"type": "mrkdwn", "text": SUMMARY}},
            {"type": "section", "fields": FACT_FIELDS},
            RUN_BUTTON,
        ],
    }


def test_render_caps_the_column_list_escapes_mrkdwn_and_clips_the_header() -> None:
    columns = tuple(DriftedColumn(f"c{i}", "psi", 0.5, None, None, 0.2) for i in range(13)) + (
        DriftedColumn("a<b>&c", "ks", 0.1, 0.01, 0.02, 0.05),
    )
    event = sample_event(monitor="m" * 200, drifted_columns=columns)
    blocks = render_slack(event)["blocks"]
    assert len(blocks[0]["text"]["text"]) == 150
    assert blocks[0]["text"]["text"].endswith("…")
    lines = blocks[3]["text"]["text"].splitlines()
    assert lines[1] == "• `c0` psi: statistic 0.5, p-value n/a"
    assert len(lines) == 1 + 10 + 1
    assert lines[-1] == "+4 more"
    last_shown = render_slack(sample_event(drifted_columns=columns[-1:]))["blocks"][3]
    assert "`a&lt;b&gt;&amp;c`" in last_shown["text"]["text"]


def test_firing_then_resolved_are_accepted_by_the_fake_slack(slack: HttpFake) -> None:
    notifier = _notifier()
    with httpx.Client() as client:
        for status in ("firing", "resolved"):
            event = sample_event(status)
            response = client.send(notifier.build_request(message_for(event)))
            assert (response.status_code, response.text) == (200, "ok")
            assert notifier.classify(response) is Verdict.DELIVERED
    firing, resolved = slack.accepted()
    assert firing.headers["content-type"] == "application/json"
    assert firing.json() == render_slack(sample_event("firing"))
    assert resolved.json() == render_slack(sample_event("resolved"))


def test_a_body_without_text_or_blocks_is_refused_for_good(slack: HttpFake) -> None:
    notifier = _notifier()
    request = notifier.build_request(message_for(sample_event()))
    with httpx.Client() as client:
        response = client.post(
            str(request.url), headers={"content-type": "application/json"}, content=b"{}"
        )
    assert (response.status_code, response.text) == (400, "no_text")
    assert notifier.classify(response) is Verdict.PERMANENT


def test_a_revoked_webhook_is_refused_for_good(
    slack: HttpFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DW_SLACK_URL", slack.url + "/services/T0DRIFT01/B0DRIFT02/revoked")
    notifier = _notifier()
    with httpx.Client() as client:
        response = client.send(notifier.build_request(message_for(sample_event())))
    assert (response.status_code, response.text) == (404, "no_service")
    assert notifier.classify(response) is Verdict.PERMANENT


@pytest.mark.parametrize("status", [429, 500, 503])
def test_throttling_and_server_errors_are_retryable(slack: HttpFake, status: int) -> None:
    slack.respond(Reply.json(status, {"ok": False}, {"retry-after": "1"}))
    notifier = _notifier()
    with httpx.Client() as client:
        response = client.send(notifier.build_request(message_for(sample_event())))
    assert response.status_code == status
    assert notifier.classify(response) is Verdict.RETRYABLE
    assert slack.accepted() == []


def test_the_webhook_url_is_read_from_the_environment_and_never_rendered(slack: HttpFake) -> None:
    settings = SlackReceiverSettings(name="team-chat", type="slack", url_env="DW_SLACK_URL")
    request = _notifier().build_request(message_for(sample_event()))
    assert "s3cretWebhookToken0001" in str(request.url)
    assert "s3cretWebhookToken0001" not in repr(settings)
    assert b"s3cretWebhookToken0001" not in request.content
    assert b"s3cret" not in json.dumps(render_slack(sample_event())).encode()


def test_config_builds_a_slack_notifier() -> None:
    settings = parse_settings(
        {"receivers": [{"name": "chat", "type": "slack", "url_env": "DW_SLACK_URL"}]}
    )
    assert isinstance(build_notifiers(settings.receivers)["chat"], SlackNotifier)
