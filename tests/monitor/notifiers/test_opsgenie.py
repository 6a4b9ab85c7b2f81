"""Opsgenie Alert API: exact create/close bodies, delivery to a validating fake Opsgenie."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from monitor.config import parse_settings
from monitor.notifiers.base import Verdict
from monitor.notifiers.opsgenie import (
    OpsgenieNotifier,
    OpsgenieReceiverSettings,
    alert_path,
    render_opsgenie,
)
from monitor.notifiers.registry import build_notifiers
from tests.monitor.notifiers.fake_api import message_for
from tests.support import HttpFake, Received, Reply, sample_event

API_KEY = "eb243592-faa2-4ba2-a551-1afdf565c889"
PRIORITIES = {"P1", "P2", "P3", "P4", "P5"}
FINGERPRINT = "3f2a9c0d1e4b5a6978877665544332211"


def _unprocessable(field: str, problem: str) -> Reply:
    return Reply.json(
        422,
        {
            "message": "Request body is not processable. Please check the errors.",
            "errors": {field: problem},
            "took": 0.001,
            "requestId": str(uuid.uuid4()),
        },
    )


def _too_long(document: dict[str, Any], field: str, limit: int) -> bool:
    value = document.get(field)
    return value is not None and (not isinstance(value, str) or len(value) > limit)


class FakeOpsgenie:
    """Alert API checks (Alert API and Response pages) plus the open alerts, by alias."""

    def __init__(self) -> None:
        self.open_aliases: set[str] = set()

    def __call__(self, request: Received) -> Reply:
        if request.headers.get("authorization") != f"GenieKey {API_KEY}":
            return Reply.json(401, {"message": "Could not authenticate", "took": 0.0})
        if request.method != "POST":
            return Reply.json(405, {"message": "Method not allowed"})
        if not request.headers.get("content-type", "").startswith("application/json"):
            return Reply.json(415, {"message": "Unsupported media type"})
        try:
            document = request.json()
        except ValueError:
            return Reply.json(400, {"message": "Invalid JSON body"})
        if not isinstance(document, dict):
            return Reply.json(400, {"message": "Invalid JSON body"})
        parts = request.path.strip("/").split("/")
        if parts == ["v2", "alerts"]:
            return self._create(document)
        if len(parts) == 4 and parts[:2] == ["v2", "alerts"] and parts[3] == "close":
            return self._close(parts[2], request.query.get("identifierType", ["id"])[0], document)
        return Reply.json(404, {"message": "Resource not found"})

    def _create(self, document: dict[str, Any]) -> Reply:
        message = document.get("message")
        if not isinstance(message, str) or not message.strip():
            return _unprocessable("message", "Message can not be empty.")
        if len(message) > 130:
            return _unprocessable("message", "Message can not be longer than 130 characters.")
        for field, limit in (("alias", 512), ("description", 15000), ("entity", 512)):
            if _too_long(document, field, limit):
                return _unprocessable(field, f"must be at most {limit} characters")
        for field, limit in (("source", 100), ("user", 100), ("note", 25000)):
            if _too_long(document, field, limit):
                return _unprocessable(field, f"must be at most {limit} characters")
        if document.get("priority", "P3") not in PRIORITIES:
            return _unprocessable("priority", "Priority should be one of P1..P5")
        tags = document.get("tags", [])
        if not isinstance(tags, list) or len(tags) > 20 or any(len(t) > 50 for t in tags):
            return _unprocessable("tags", "at most 20 tags of at most 50 characters")
        details = document.get("details", {})
        if not isinstance(details, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in details.items()
        ):
            return _unprocessable("details", "must map strings to strings")
        if sum(len(k) + len(v) for k, v in details.items()) > 8000:
            return _unprocessable("details", "must be at most 8000 characters in total")
        self.open_aliases.add(document.get("alias") or message)
        return self._accepted()

    def _close(self, identifier: str, identifier_type: str, document: dict[str, Any]) -> Reply:
        if identifier_type not in ("id", "tiny", "alias"):
            return _unprocessable("identifierType", "should be one of id, tiny, alias")
        for field, limit in (("source", 100), ("user", 100), ("note", 25000)):
            if _too_long(document, field, limit):
                return _unprocessable(field, f"must be at most {limit} characters")
        # Accepted either way: an unknown identifier fails later, in the request's status.
        if identifier_type == "alias":
            self.open_aliases.discard(identifier)
        return self._accepted()

    @staticmethod
    def _accepted() -> Reply:
        return Reply.json(
            202,
            {"result": "Request will be processed", "took": 0.002, "requestId": str(uuid.uuid4())},
        )


@pytest.fixture
def fake_opsgenie() -> FakeOpsgenie:
    return FakeOpsgenie()


@pytest.fixture
def opsgenie(fake_opsgenie: FakeOpsgenie, monkeypatch: pytest.MonkeyPatch) -> Iterator[HttpFake]:
    monkeypatch.setenv("DW_OPSGENIE_KEY", API_KEY)
    with HttpFake(fake_opsgenie) as server:
        yield server


def _notifier(server: HttpFake) -> OpsgenieNotifier:
    settings = OpsgenieReceiverSettings(
        name="ops", type="opsgenie", api_key_env="DW_OPSGENIE_KEY", url=server.url
    )
    return OpsgenieNotifier(settings, "receivers[3]")


def test_render_firing_is_the_exact_create_alert_body() -> None:
    columns = (
        "income (ks: statistic 0.347, p-value 3.4e-107); "
        "device (chi2: statistic 611.6, p-value 1.5e-133)"
    )
    assert render_opsgenie(sample_event("firing")) == {
        "message": "credit-risk: 2 of 7 columns drifted (income, device)",
        "alias": FINGERPRINT,
        "description": "drift: 2 of 7 columns drifted (income, device)\n\n"
        "Run: http://127.0.0.1:8470/api/runs/42\n"
        f"Drifted columns: {columns}",
        "priority": "P1",
        "source": "driftwarden",
        "entity": "credit-risk",
        "tags": ["env:prod", "team:risk"],
        "details": {
            "monitor": "credit-risk",
            "rule": "drift",
            "rule_type": "dataset_drift",
            "run_id": "42",
            "run_url": "http://127.0.0.1:8470/api/runs/42",
            "window": "2026-11-25T11:00:00Z – 2026-11-25T12:00:00Z",
            "drifted_columns": columns,
        },
    }
    assert alert_path(sample_event("firing")) == "/v2/alerts"


def test_render_resolved_is_the_exact_close_body_addressed_by_alias() -> None:
    assert render_opsgenie(sample_event("resolved")) == {
        "source": "driftwarden",
        "user": "driftwarden",
        "note": "Resolved: credit-risk: 2 of 7 columns drifted (income, device) "
        "(http://127.0.0.1:8470/api/runs/42)",
    }
    assert alert_path(sample_event("resolved")) == f"/v2/alerts/{FINGERPRINT}/close"


@pytest.mark.parametrize(
    ("severity", "priority"),
    [("critical", "P1"), ("error", "P2"), ("warning", "P3"), ("info", "P5")],
)
def test_priority_follows_severity(severity: str, priority: str) -> None:
    assert render_opsgenie(sample_event(severity=severity))["priority"] == priority


def test_message_and_tags_are_clipped_to_the_documented_limits() -> None:
    labels = {f"label{i:02d}": "v" * 60 for i in range(25)}
    body = render_opsgenie(sample_event(summary="s" * 300, labels=labels))
    assert len(body["message"]) == 130
    assert body["message"].endswith("…")
    assert len(body["tags"]) == 20
    assert all(len(tag) <= 50 for tag in body["tags"])


def test_region_and_url_choose_the_base_url() -> None:
    def base(**kwargs: Any) -> str:
        return OpsgenieReceiverSettings(
            name="o", type="opsgenie", api_key_env="K", **kwargs
        ).base_url

    assert base() == "https://api.opsgenie.com"
    assert base(region="eu") == "https://api.eu.opsgenie.com"
    assert base(url="http://127.0.0.1:9/") == "http://127.0.0.1:9"
    with pytest.raises(ValidationError, match="at most one of region and url"):
        base(region="eu", url="http://127.0.0.1:9")


def test_create_then_close_by_alias_end_to_end(
    opsgenie: HttpFake, fake_opsgenie: FakeOpsgenie
) -> None:
    notifier = _notifier(opsgenie)
    with httpx.Client() as client:
        response = client.send(notifier.build_request(message_for(sample_event("firing"))))
        assert response.status_code == 202
        assert notifier.classify(response) is Verdict.DELIVERED
        assert fake_opsgenie.open_aliases == {FINGERPRINT}
        response = client.send(notifier.build_request(message_for(sample_event("resolved"))))
        assert response.status_code == 202
        assert notifier.classify(response) is Verdict.DELIVERED
    assert fake_opsgenie.open_aliases == set()
    create, close = opsgenie.accepted()
    assert create.path == "/v2/alerts"
    assert create.headers["authorization"] == f"GenieKey {API_KEY}"
    assert create.headers["content-type"] == "application/json"
    assert create.json() == render_opsgenie(sample_event("firing"))
    assert close.path == f"/v2/alerts/{FINGERPRINT}/close"
    assert close.query == {"identifierType": ["alias"]}
    assert close.json() == render_opsgenie(sample_event("resolved"))


def test_the_eu_region_is_one_setting(opsgenie: HttpFake) -> None:
    settings = OpsgenieReceiverSettings(
        name="ops", type="opsgenie", api_key_env="DW_OPSGENIE_KEY", region="eu"
    )
    request = OpsgenieNotifier(settings, "k").build_request(message_for(sample_event("resolved")))
    assert str(request.url) == (
        f"https://api.eu.opsgenie.com/v2/alerts/{FINGERPRINT}/close?identifierType=alias"
    )


def test_a_wrong_key_is_refused_for_good(
    opsgenie: HttpFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DW_OPSGENIE_KEY", "not-the-key")
    notifier = _notifier(opsgenie)
    with httpx.Client() as client:
        response = client.send(notifier.build_request(message_for(sample_event())))
    assert response.status_code == 401
    assert notifier.classify(response) is Verdict.PERMANENT


def test_a_create_without_message_is_refused_for_good(
    opsgenie: HttpFake, fake_opsgenie: FakeOpsgenie
) -> None:
    notifier = _notifier(opsgenie)
    request = notifier.build_request(message_for(sample_event()))
    body = render_opsgenie(sample_event())
    del body["message"]
    with httpx.Client() as client:
        auth = {"authorization": request.headers["authorization"]}
        response = client.post(str(request.url), headers=auth, json=body)
    assert response.status_code == 422
    assert notifier.classify(response) is Verdict.PERMANENT
    assert fake_opsgenie.open_aliases == set()


@pytest.mark.parametrize("status", [429, 500, 503])
def test_throttling_and_server_errors_are_retryable(opsgenie: HttpFake, status: int) -> None:
    opsgenie.respond(Reply.json(status, {"message": "Too many requests"}))
    notifier = _notifier(opsgenie)
    with httpx.Client() as client:
        response = client.send(notifier.build_request(message_for(sample_event())))
    assert notifier.classify(response) is Verdict.RETRYABLE


def test_the_api_key_is_only_in_the_authorization_header(opsgenie: HttpFake) -> None:
    notifier = _notifier(opsgenie)
    for status in ("firing", "resolved"):
        request = notifier.build_request(message_for(sample_event(status)))
        assert request.headers["authorization"] == f"GenieKey {API_KEY}"
        assert API_KEY.encode() not in request.content
        assert API_KEY not in str(request.url)
    assert API_KEY not in repr(notifier.settings)


def test_config_builds_an_opsgenie_notifier() -> None:
    settings = parse_settings(
        {"receivers": [{"name": "o", "type": "opsgenie", "api_key_env": "DW_OG", "region": "eu"}]}
    )
    assert isinstance(build_notifiers(settings.receivers)["o"], OpsgenieNotifier)
