"""Jenkins trigger: buildWithParameters with a form body, a build token and/or an API token.

The fake enforces Jenkins' remote trigger: ``POST .../job/<folder>/job/<name>/buildWithParameters``,
an ``application/x-www-form-urlencoded`` body, and either the job's build token
(``token``) or basic auth with a user's API token (401 for bad credentials,
403 for a bad build token); it answers 201 with ``Location`` naming the queue item.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from pydantic import ValidationError

from monitor.notifiers.base import Verdict
from monitor.notifiers.jenkins import JenkinsNotifier, JenkinsReceiverSettings, render_jenkins
from tests.monitor.notifiers.fake_api import error, form_body, message_for, send
from tests.support import HttpFake, Received, Reply, sample_event

BUILD_TOKEN = "retrain-remote-token"
USER, API_TOKEN = "drift-bot", "11aa22bb33cc44dd55ee66ff77"
FIELDS = [
    ("DRIFTWARDEN_MONITOR", "credit-risk"),
    ("DRIFTWARDEN_RULE", "drift"),
    ("DRIFTWARDEN_SEVERITY", "critical"),
    ("DRIFTWARDEN_RUN_ID", "42"),
    ("DRIFTWARDEN_RUN_URL", "http://127.0.0.1:8470/api/runs/42"),
    ("DRIFTWARDEN_WINDOW_START", "2026-11-25T11:00:00+00:00"),
    ("DRIFTWARDEN_WINDOW_END", "2026-11-25T12:00:00+00:00"),
    ("DRIFTWARDEN_DRIFTED_COLUMNS", "income,device"),
    ("DRIFTWARDEN_IDEMPOTENCY_KEY", "credit-risk-3f2a9c0d1e4b-2"),
    ("cause", "driftwarden: credit-risk: 2 of 7 columns drifted (income, device)"),
]


class FakeJenkins:
    def __init__(self) -> None:
        self.queue: list[dict[str, str]] = []

    def __call__(self, request: Received) -> Reply:
        if request.target != "/job/ml/job/retrain/buildWithParameters":
            return error(404, "Not Found")
        fields = form_body(request)
        if fields is None:
            return error(400, "Nothing is submitted")
        parameters = dict(fields)
        authorization = request.headers.get("authorization")
        if authorization is not None:
            expected = "Basic " + base64.b64encode(f"{USER}:{API_TOKEN}".encode()).decode()
            if authorization != expected:
                return error(401, "Invalid password/token for user")
        elif parameters.get("token") != BUILD_TOKEN:
            return error(403, "anonymous is missing the Job/Build permission")
        self.queue.append(parameters)
        location = f"http://jenkins.example.com/queue/item/{len(self.queue)}/"
        return Reply(201, {"location": location})


@pytest.fixture
def jenkins() -> FakeJenkins:
    return FakeJenkins()


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch, jenkins: FakeJenkins) -> Iterator[HttpFake]:
    monkeypatch.setenv("DW_JENKINS_BUILD_TOKEN", BUILD_TOKEN)
    monkeypatch.setenv("DW_JENKINS_API_TOKEN", API_TOKEN)
    with HttpFake(jenkins) as server:
        yield server


def settings(
    url: str = "https://jenkins.example.com", **overrides: object
) -> JenkinsReceiverSettings:
    fields: dict[str, object] = {
        "name": "retrain",
        "type": "jenkins",
        "url": url,
        "job": "ml/retrain",
        "token_env": "DW_JENKINS_BUILD_TOKEN",
    }
    fields.update(overrides)
    return JenkinsReceiverSettings.model_validate(fields)


def test_form_body_is_exact() -> None:
    assert render_jenkins(sample_event()) == urlencode(FIELDS).encode()
    assert render_jenkins(sample_event(), "t0k") == urlencode([*FIELDS, ("token", "t0k")]).encode()


@pytest.mark.parametrize(
    "auth",
    [
        {},
        {"token_env": None, "user": USER, "api_token_env": "DW_JENKINS_API_TOKEN"},
        {"user": USER, "api_token_env": "DW_JENKINS_API_TOKEN"},
    ],
)
def test_build_is_queued(api: HttpFake, jenkins: FakeJenkins, auth: dict[str, object]) -> None:
    notifier = JenkinsNotifier(settings(api.url, **auth), "receivers[0]")
    response = send(notifier, sample_event())
    assert response.status_code == 201
    assert response.headers["location"] == "http://jenkins.example.com/queue/item/1/"
    assert notifier.classify(response) is Verdict.DELIVERED
    (queued,) = jenkins.queue
    assert queued["DRIFTWARDEN_IDEMPOTENCY_KEY"] == "credit-risk-3f2a9c0d1e4b-2"
    assert "token" not in api.requests[0].target  # the build token travels in the body


def test_the_same_episode_sends_the_same_key() -> None:
    assert render_jenkins(sample_event()) == render_jenkins(sample_event())


def test_a_wrong_build_token_is_permanent(api: HttpFake, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DW_JENKINS_BUILD_TOKEN", "wrong")
    notifier = JenkinsNotifier(settings(api.url), "receivers[0]")
    response = send(notifier, sample_event())
    assert response.status_code == 403
    assert notifier.classify(response) is Verdict.PERMANENT


def test_resolved_event_sends_nothing(api: HttpFake) -> None:
    notifier = JenkinsNotifier(settings(api.url), "receivers[0]")
    assert notifier.build_request(message_for(sample_event("resolved"))) is None
    assert api.requests == []


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"token_env": None}, "set token_env, or user and api_token_env"),
        ({"user": USER}, "user and api_token_env go together"),
        ({"job": "/ml//retrain"}, "should match pattern"),
    ],
)
def test_settings_refuse_missing_auth(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        settings(**overrides)
