"""Teams Workflows webhook: exact Adaptive Card rendering, delivered to a fake workflow."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from monitor.alerts.event import DriftedColumn
from monitor.config import parse_settings
from monitor.notifiers.base import Verdict
from monitor.notifiers.registry import build_notifiers
from monitor.notifiers.teams import TeamsNotifier, TeamsReceiverSettings, render_teams
from tests.monitor.notifiers.fake_api import message_for
from tests.support import HttpFake, Received, Reply, sample_event

TRIGGER_PATH = "/workflows/0d6f3c1e9a/triggers/manual/paths/invoke"
SIGNATURE = "s3cretWorkflowSig0001"
ADAPTIVE = "application/vnd.microsoft.card.adaptive"


def _card_ok(card: Any) -> bool:
    if not isinstance(card, dict) or card.get("type") != "AdaptiveCard":
        return False
    if not isinstance(card.get("version"), str) or not isinstance(card.get("body"), list):
        return False
    for element in card["body"]:
        kind = element.get("type")
        if kind == "TextBlock" and not isinstance(element.get("text"), str):
            return False
        if kind == "FactSet" and not all(
            isinstance(fact.get("title"), str) and isinstance(fact.get("value"), str)
            for fact in element.get("facts", [])
        ):
            return False
    return all(
        action.get("type") != "Action.OpenUrl" or isinstance(action.get("url"), str)
        for action in card.get("actions", [])
    )


def workflow_check(request: Received) -> Reply:
    """The "When a Teams webhook request is received" trigger: signed URL, a message with cards."""
    if request.method != "POST" or request.path != TRIGGER_PATH:
        return Reply.json(404, {"error": {"code": "TriggerNotFound"}})
    if request.query.get("sig") != [SIGNATURE]:
        return Reply.json(401, {"error": {"code": "DirectApiInvalidAuthorizationSignature"}})
    if not request.headers.get("content-type", "").startswith("application/json"):
        return Reply.json(400, {"error": {"code": "InvalidRequestContent"}})
    try:
        document = request.json()
    except ValueError:
        return Reply.json(400, {"error": {"code": "InvalidRequestContent"}})
    attachments = document.get("attachments") if isinstance(document, dict) else None
    if (
        document.get("type") != "message"
        or not isinstance(attachments, list)
        or not attachments
        or not all(
            a.get("contentType") == ADAPTIVE and _card_ok(a.get("content")) for a in attachments
        )
    ):
        return Reply.json(400, {"error": {"code": "InvalidTemplate"}})
    return Reply(202)


@pytest.fixture
def workflow(monkeypatch: pytest.MonkeyPatch) -> Iterator[HttpFake]:
    with HttpFake(workflow_check) as server:
        url = (
            f"{server.url}{TRIGGER_PATH}"
            f"?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual&sig={SIGNATURE}"
        )
        monkeypatch.setenv("DW_TEAMS_URL", url)
        yield server


def _notifier() -> TeamsNotifier:
    settings = TeamsReceiverSettings(name="ops-channel", type="teams", url_env="DW_TEAMS_URL")
    return TeamsNotifier(settings, "receivers[1]")


SUMMARY = "credit-risk: 2 of 7 columns drifted (income, device)"
FACTS = {
    "type": "FactSet",
    "facts": [
        {"title": "Monitor", "value": "credit-risk"},
        {"title": "Severity", "value": "critical"},
        {"title": "Rule", "value": "drift"},
        {"title": "Window", "value": "2026-11-25T11:00:00Z – 2026-11-25T12:00:00Z"},
    ],
}
OPEN_RUN = [
    {"type": "Action.OpenUrl", "title": "Open run 42", "url": "http://127.0.0.1:8470/api/runs/42"}
]


def _message(body: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": ADAPTIVE,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": body,
                    "actions": OPEN_RUN,
                },
            }
        ],
    }


def _title(text: str, color: str) -> dict[str, Any]:
    return {
        "type": "TextBlock",
        "text": text,
        "size": "Large",
        "weight": "Bolder",
        "color": color,
        "wrap": True,
    }


def test_render_firing_is_the_exact_adaptive_card() -> None:
    assert render_teams(sample_event("firing")) == _message(
        [
            _title("FIRING · critical · credit-risk", "Attention"),
            {"type": "TextBlock", "text": SUMMARY, "wrap": True},
            FACTS,
            {"type": "TextBlock", "text": "Drifted columns", "weight": "Bolder", "wrap": True},
            {
                "type": "FactSet",
                "facts": [
                    {"title": "income", "value": "ks: statistic 0.347, p-value 3.4e-107"},
                    {"title": "device", "value": "chi2: statistic 611.6, p-value 1.5e-133"},
                ],
            },
        ]
    )


def test_render_resolved_is_the_exact_adaptive_card() -> None:
    assert render_teams(sample_event("resolved")) == _message(
        [
            _title("RESOLVED · critical · credit-risk", "Good"),
            {"type": "TextBlock", "text": SUMMARY, "wrap": True},
            FACTS,
        ]
    )


def test_render_caps_the_column_list() -> None:
    columns = tuple(DriftedColumn(f"c{i}", "ks", 0.2, 0.001, None, 0.05) for i in range(12))
    facts = render_teams(sample_event(drifted_columns=columns))["attachments"][0]["content"][
        "body"
    ][-1]["facts"]
    assert len(facts) == 11
    assert facts[-1] == {"title": "+2 more", "value": "see the run"}


def test_firing_then_resolved_are_accepted_by_the_fake_workflow(workflow: HttpFake) -> None:
    notifier = _notifier()
    with httpx.Client() as client:
        for status in ("firing", "resolved"):
            response = client.send(notifier.build_request(message_for(sample_event(status))))
            assert response.status_code == 202
            assert notifier.classify(response) is Verdict.DELIVERED
    firing, resolved = workflow.accepted()
    assert firing.headers["content-type"] == "application/json"
    assert firing.query["api-version"] == ["2016-06-01"]
    assert firing.json() == render_teams(sample_event("firing"))
    assert resolved.json() == render_teams(sample_event("resolved"))


def test_a_bad_signature_is_refused_for_good(
    workflow: HttpFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DW_TEAMS_URL", f"{workflow.url}{TRIGGER_PATH}?sig=stale")
    notifier = _notifier()
    with httpx.Client() as client:
        response = client.send(notifier.build_request(message_for(sample_event())))
    assert response.status_code == 401
    assert notifier.classify(response) is Verdict.PERMANENT


def test_a_legacy_message_card_is_refused_for_good(workflow: HttpFake) -> None:
    notifier = _notifier()
    request = notifier.build_request(message_for(sample_event()))
    legacy = {"@type": "MessageCard", "summary": "drift", "text": "drift"}
    with httpx.Client() as client:
        response = client.post(str(request.url), json=legacy)
    assert response.status_code == 400
    assert notifier.classify(response) is Verdict.PERMANENT


@pytest.mark.parametrize("status", [429, 502])
def test_throttling_and_gateway_errors_are_retryable(workflow: HttpFake, status: int) -> None:
    workflow.respond(Reply.json(status, {"error": {"code": "Throttled"}}, {"retry-after": "3"}))
    notifier = _notifier()
    with httpx.Client() as client:
        response = client.send(notifier.build_request(message_for(sample_event())))
    assert notifier.classify(response) is Verdict.RETRYABLE


def test_the_signed_url_is_never_rendered(workflow: HttpFake) -> None:
    settings = TeamsReceiverSettings(name="ops-channel", type="teams", url_env="DW_TEAMS_URL")
    request = _notifier().build_request(message_for(sample_event()))
    assert request.url.params["sig"] == SIGNATURE
    assert SIGNATURE not in repr(settings)
    assert SIGNATURE.encode() not in request.content


def test_config_builds_a_teams_notifier() -> None:
    settings = parse_settings(
        {"receivers": [{"name": "ops", "type": "teams", "url_env": "DW_TEAMS_URL"}]}
    )
    assert isinstance(build_notifiers(settings.receivers)["ops"], TeamsNotifier)
