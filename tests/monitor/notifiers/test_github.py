"""GitHub trigger: the documented request for both dispatch kinds, against a fake of the API.

The fake checks what GitHub's REST docs say the server checks: a bearer token,
``X-GitHub-Api-Version``, a JSON body, ``event_type`` (<= 100 characters) and
``client_payload`` (<= 10 top-level keys), or ``ref`` and ``inputs`` (<= 10,
each declared by the workflow, strings); it answers 204, 401, 400 or 422.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from pydantic import ValidationError

from monitor.notifiers.base import Verdict
from monitor.notifiers.github import GitHubNotifier, GitHubReceiverSettings, render_github
from tests.monitor.notifiers.fake_api import error, json_body, message_for, send
from tests.support import HttpFake, Received, Reply, sample_event

TOKEN = "ghp_test_token_0123456789"
DECLARED_INPUTS = {
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


def github(request: Received) -> Reply:
    if request.headers.get("authorization") != f"Bearer {TOKEN}":
        return error(401, "Bad credentials")
    if request.headers.get("x-github-api-version") != "2022-11-28":
        return error(400, "Unsupported API version")
    body = json_body(request)
    if not isinstance(body, dict):
        return error(400, "Problems parsing JSON")
    if request.target == "/repos/acme/models/dispatches":
        event_type = body.get("event_type")
        if not isinstance(event_type, str) or not 0 < len(event_type) <= 100:
            return error(422, "event_type is required and at most 100 characters")
        payload = body.get("client_payload", {})
        if not isinstance(payload, dict) or len(payload) > 10:
            return error(422, "client_payload: the maximum number of top-level properties is 10")
        return Reply(204)
    if request.target == "/repos/acme/models/actions/workflows/retrain.yml/dispatches":
        if not isinstance(body.get("ref"), str):
            return error(422, "ref is required")
        inputs = body.get("inputs", {})
        if not isinstance(inputs, dict) or len(inputs) > 10:
            return error(422, "inputs: the maximum number of properties is 10")
        if set(inputs) - DECLARED_INPUTS:
            return error(
                422, f"Unexpected inputs provided: {sorted(set(inputs) - DECLARED_INPUTS)}"
            )
        if not all(isinstance(value, str) for value in inputs.values()):
            return error(422, "inputs must be strings")
        return Reply(204)
    return error(404, "Not Found")


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[HttpFake]:
    monkeypatch.setenv("DW_GITHUB_TOKEN", TOKEN)
    with HttpFake(github) as server:
        yield server


def settings(
    api_url: str = "https://api.github.com", **overrides: object
) -> GitHubReceiverSettings:
    fields: dict[str, object] = {
        "name": "retrain",
        "type": "github",
        "repository": "acme/models",
        "token_env": "DW_GITHUB_TOKEN",
        "api_url": api_url,
    }
    fields.update(overrides)
    return GitHubReceiverSettings.model_validate(fields)


WORKFLOW = {"mode": "workflow_dispatch", "workflow": "retrain.yml", "ref": "main"}


def test_repository_dispatch_body_is_exact() -> None:
    assert render_github(sample_event(), settings()) == (
        b'{"event_type":"driftwarden-retrain","client_payload":{'
        b'"monitor":"credit-risk","rule":"drift","severity":"critical",'
        b'"summary":"credit-risk: 2 of 7 columns drifted (income, device)",'
        b'"run":{"id":42,"url":"http://127.0.0.1:8470/api/runs/42"},'
        b'"window":{"start":"2026-11-25T11:00:00+00:00","end":"2026-11-25T12:00:00+00:00"},'
        b'"drifted_columns":["income","device"],"idempotency_key":"credit-risk-3f2a9c0d1e4b-2"}}'
    )


def test_workflow_dispatch_body_is_exact() -> None:
    assert render_github(sample_event(), settings(**WORKFLOW)) == (
        b'{"ref":"main","inputs":{"monitor":"credit-risk","rule":"drift","severity":"critical",'
        b'"run_id":"42","run_url":"http://127.0.0.1:8470/api/runs/42",'
        b'"window_start":"2026-11-25T11:00:00+00:00","window_end":"2026-11-25T12:00:00+00:00",'
        b'"drifted_columns":"income,device","idempotency_key":"credit-risk-3f2a9c0d1e4b-2"}}'
    )


@pytest.mark.parametrize("mode", [{}, WORKFLOW])
def test_dispatch_is_accepted_by_the_fake_api(api: HttpFake, mode: dict[str, str]) -> None:
    notifier = GitHubNotifier(settings(api.url, **mode), "receivers[0]")
    response = send(notifier, sample_event())
    assert response.status_code == 204
    assert notifier.classify(response) is Verdict.DELIVERED
    (received,) = api.requests
    assert received.headers["accept"] == "application/vnd.github+json"
    assert received.headers["authorization"] == f"Bearer {TOKEN}"


def test_the_fake_refuses_what_github_refuses(api: HttpFake) -> None:
    """The fake is strict: a payload over the limit and a wrong token are refused."""
    with httpx.Client() as client:
        too_many = {f"k{i}": i for i in range(11)}
        response = client.post(
            f"{api.url}/repos/acme/models/dispatches",
            json={"event_type": "x", "client_payload": too_many},
            headers={"authorization": f"Bearer {TOKEN}", "x-github-api-version": "2022-11-28"},
        )
        assert response.status_code == 422
        response = client.post(
            f"{api.url}/repos/acme/models/dispatches",
            json={"event_type": "x"},
            headers={"authorization": "Bearer wrong", "x-github-api-version": "2022-11-28"},
        )
        assert response.status_code == 401
    notifier = GitHubNotifier(settings(api.url), "receivers[0]")
    assert notifier.classify(httpx.Response(422)) is Verdict.PERMANENT
    assert notifier.classify(httpx.Response(401)) is Verdict.PERMANENT


def test_the_same_episode_renders_the_same_trigger() -> None:
    first = render_github(sample_event(), settings())
    again = render_github(sample_event(run_id=43, run_url="http://x/runs/43"), settings())
    assert b'"idempotency_key":"credit-risk-3f2a9c0d1e4b-2"' in first
    assert b'"idempotency_key":"credit-risk-3f2a9c0d1e4b-2"' in again


def test_resolved_event_sends_nothing(api: HttpFake) -> None:
    notifier = GitHubNotifier(settings(api.url), "receivers[0]")
    assert notifier.build_request(message_for(sample_event("resolved"))) is None
    assert api.requests == []


@pytest.mark.parametrize(
    ("headers", "verdict"),
    [
        ({"x-ratelimit-remaining": "0"}, Verdict.RETRYABLE),
        ({"retry-after": "60"}, Verdict.RETRYABLE),
        ({}, Verdict.PERMANENT),
    ],
)
def test_rate_limited_403_is_retryable(headers: dict[str, str], verdict: Verdict) -> None:
    notifier = GitHubNotifier(settings(), "receivers[0]")
    assert notifier.classify(httpx.Response(403, headers=headers)) is verdict


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"mode": "workflow_dispatch", "workflow": "retrain.yml"}, "needs workflow and ref"),
        ({"ref": "main"}, "apply to mode workflow_dispatch only"),
        ({"repository": "models"}, "should match pattern"),
        ({"event_type": "x" * 101}, "at most 100 characters"),
    ],
)
def test_settings_refuse_incomplete_modes(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        settings(**overrides)
