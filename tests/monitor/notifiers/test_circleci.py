"""CircleCI trigger: the documented "Trigger a new pipeline" request, against a fake of API v2.

The fake checks what CircleCI's API v2 reference says the server checks: a
``Circle-Token`` header, a JSON body, ``branch`` and ``tag`` not both, and
``parameters`` declared by the project's config; it answers 201 with the
pipeline, 401 without a valid token, 400 otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from pydantic import ValidationError

from monitor.alerts.event import AlertEvent
from monitor.notifiers.base import Verdict
from monitor.notifiers.circleci import CircleCiNotifier, CircleCiReceiverSettings, render_circleci
from monitor.secrets import SecretError
from tests.monitor.notifiers.fake_api import error, json_body, message_for, send
from tests.support import HttpFake, Received, Reply, sample_event

TOKEN = "CCIPAT_test_0123456789"
DECLARED_PARAMETERS = {
    "monitor",
    "rule",
    "severity",
    "run_id",
    "run_url",
    "window_start",
    "window_end",
    "drifted_columns",
    "idempotency_key",
}


def circleci(request: Received) -> Reply:
    if request.target != "/api/v2/project/gh/acme/models/pipeline":
        return error(404, "Project not found")
    if request.headers.get("circle-token") != TOKEN:
        return error(401, "You must log in first.")
    body = json_body(request)
    if not isinstance(body, dict):
        return error(400, "Request body must be JSON")
    if "branch" in body and "tag" in body:
        return error(400, "branch and tag are mutually exclusive")
    parameters = body.get("parameters", {})
    if not isinstance(parameters, dict):
        return error(400, "parameters must be an object")
    if set(parameters) - DECLARED_PARAMETERS:
        return error(
            400, f"Unexpected argument(s): {', '.join(set(parameters) - DECLARED_PARAMETERS)}"
        )
    return Reply.json(
        201,
        {"number": 125, "state": "pending", "id": "4b9b35c7", "created_at": "2026-11-25T12:00:06Z"},
    )


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[HttpFake]:
    monkeypatch.setenv("DW_CIRCLE_TOKEN", TOKEN)
    with HttpFake(circleci) as server:
        yield server


def settings(
    api_url: str = "https://circleci.com/api/v2", /, **overrides: object
) -> CircleCiReceiverSettings:
    fields: dict[str, object] = {
        "name": "retrain",
        "type": "circleci",
        "project_slug": "gh/acme/models",
        "branch": "main",
        "token_env": "DW_CIRCLE_TOKEN",
        "api_url": api_url,
    }
    fields.update(overrides)
    return CircleCiReceiverSettings.model_validate(fields)


def test_body_is_exact() -> None:
    assert render_circleci(sample_event(), settings()) == (
        b'{"branch":"main","parameters":{"monitor":"credit-risk","rule":"drift",'
        b'"severity":"critical","run_id":"42","run_url":"http://127.0.0.1:8470/api/runs/42",'
        b'"window_start":"2026-11-25T11:00:00+00:00","window_end":"2026-11-25T12:00:00+00:00",'
        b'"drifted_columns":"income,device","idempotency_key":"credit-risk-3f2a9c0d1e4b-2"}}'
    )


def test_a_tag_replaces_the_branch() -> None:
    body = render_circleci(sample_event(), settings(branch=None, tag="v1.2"))
    assert body.startswith(b'{"tag":"v1.2","parameters":{')


def test_pipeline_is_accepted_by_the_fake_api(api: HttpFake) -> None:
    notifier = CircleCiNotifier(settings(f"{api.url}/api/v2"), "receivers[0]")
    response = send(notifier, sample_event())
    assert response.status_code == 201
    assert notifier.classify(response) is Verdict.DELIVERED
    (received,) = api.requests
    assert received.headers["circle-token"] == TOKEN
    assert "authorization" not in received.headers
    assert TOKEN.encode() not in received.body


def test_the_fake_refuses_what_circleci_refuses(api: HttpFake) -> None:
    url = f"{api.url}/api/v2/project/gh/acme/models/pipeline"
    with httpx.Client() as client:
        assert client.post(url, json={}, headers={"circle-token": "wrong"}).status_code == 401
        both = {"branch": "main", "tag": "v1"}
        assert client.post(url, json=both, headers={"circle-token": TOKEN}).status_code == 400
        undeclared = {"parameters": {"retrain": True}}
        assert client.post(url, json=undeclared, headers={"circle-token": TOKEN}).status_code == 400
    notifier = CircleCiNotifier(settings(), "receivers[0]")
    assert notifier.classify(httpx.Response(400)) is Verdict.PERMANENT
    assert notifier.classify(httpx.Response(429)) is Verdict.RETRYABLE


@pytest.mark.parametrize("event", [sample_event("resolved"), sample_event(occasion="changed")])
def test_resolved_or_changed_event_sends_nothing(api: HttpFake, event: AlertEvent) -> None:
    notifier = CircleCiNotifier(settings(f"{api.url}/api/v2"), "receivers[0]")
    assert notifier.build_request(message_for(event)) is None
    assert api.requests == []


def test_missing_token_names_the_key_not_a_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DW_CIRCLE_TOKEN", raising=False)
    monkeypatch.delenv("DW_CIRCLE_TOKEN_FILE", raising=False)
    notifier = CircleCiNotifier(settings(), "receivers[2]")
    with pytest.raises(SecretError, match=r"receivers\[2\]\.token_env: .*DW_CIRCLE_TOKEN"):
        notifier.build_request(message_for(sample_event()))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"tag": "v1"}, "branch and tag are mutually exclusive"),
        ({"project_slug": "acme/models"}, "should match pattern"),
    ],
)
def test_settings_refuse_bad_values(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        settings(**overrides)
