"""Azure DevOps trigger: the documented "Runs - Run Pipeline" request, against a fake of the API.

The fake checks what the REST reference says the service checks:
``api-version=7.1`` in the query, HTTP basic auth whose password is the PAT
(any user name; we send an empty one), a JSON body, ``templateParameters``
that the pipeline's YAML declares (string values), and a full ``refName``;
it answers 200 with the run, 401 for a wrong token, 400 otherwise.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import pytest
from pydantic import ValidationError

from monitor.alerts.event import AlertEvent
from monitor.notifiers.azure_devops import (
    AzureDevOpsNotifier,
    AzureDevOpsReceiverSettings,
    render_azure_devops,
)
from monitor.notifiers.base import Verdict
from monitor.secrets import SecretError
from tests.monitor.notifiers.fake_api import error, json_body, message_for, send
from tests.support import HttpFake, Received, Reply, sample_event

TOKEN = "azdo-pat-0123456789abcdef"
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


def azure_devops(request: Received) -> Reply:
    if request.path != "/acme/ml%20models/_apis/pipelines/12/runs":
        return error(404, "The requested pipeline was not found")
    if request.query.get("api-version") != ["7.1"]:
        return error(400, "The api-version query parameter must be 7.1")
    authorization = request.headers.get("authorization", "")
    scheme, _, encoded = authorization.partition(" ")
    try:
        _user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except ValueError:
        password = ""
    if scheme != "Basic" or password != TOKEN:
        return error(401, "Unauthorized")
    body = json_body(request)
    if not isinstance(body, dict):
        return error(400, "The request body must be JSON")
    parameters = body.get("templateParameters", {})
    if not isinstance(parameters, dict) or set(parameters) - DECLARED_PARAMETERS:
        return error(
            400, f"Unexpected parameter(s): {sorted(set(parameters) - DECLARED_PARAMETERS)}"
        )
    if not all(isinstance(value, str) for value in parameters.values()):
        return error(400, "templateParameters values must be strings")
    self_repo = body.get("resources", {}).get("repositories", {}).get("self", {})
    ref = self_repo.get("refName", "refs/heads/main")
    if not isinstance(ref, str) or not ref.startswith("refs/"):
        return error(400, f"Invalid refName {ref!r}")
    return Reply.json(200, {"id": 1001, "name": "20261125.1", "state": "inProgress"})


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[HttpFake]:
    monkeypatch.setenv("DW_AZDO_PAT", TOKEN)
    with HttpFake(azure_devops) as server:
        yield server


def settings(
    organization_url: str = "https://dev.azure.com/acme", /, **overrides: object
) -> AzureDevOpsReceiverSettings:
    fields: dict[str, object] = {
        "name": "retrain",
        "type": "azure_devops",
        "organization_url": organization_url,
        "project": "ml models",
        "pipeline_id": 12,
        "ref": "main",
        "token_env": "DW_AZDO_PAT",
    }
    fields.update(overrides)
    return AzureDevOpsReceiverSettings.model_validate(fields)


def test_body_is_exact() -> None:
    assert render_azure_devops(sample_event(), settings()) == (
        b'{"resources":{"repositories":{"self":{"refName":"refs/heads/main"}}},'
        b'"templateParameters":{"monitor":"credit-risk","rule":"drift","severity":"critical",'
        b'"run_id":"42","run_url":"http://127.0.0.1:8470/api/runs/42",'
        b'"window_start":"2026-11-25T11:00:00+00:00","window_end":"2026-11-25T12:00:00+00:00",'
        b'"drifted_columns":"income,device","idempotency_key":"credit-risk-3f2a9c0d1e4b-2"}}'
    )


def test_without_ref_the_pipeline_default_branch_runs() -> None:
    body = render_azure_devops(sample_event(), settings(ref=None))
    assert body.startswith(b'{"templateParameters":{')


def test_endpoint_is_the_documented_one() -> None:
    assert settings().endpoint() == (
        "https://dev.azure.com/acme/ml%20models/_apis/pipelines/12/runs?api-version=7.1"
    )


def test_run_is_accepted_by_the_fake_api(api: HttpFake) -> None:
    notifier = AzureDevOpsNotifier(settings(f"{api.url}/acme"), "receivers[0]")
    response = send(notifier, sample_event())
    assert response.status_code == 200
    assert notifier.classify(response) is Verdict.DELIVERED
    (received,) = api.requests
    expected = "Basic " + base64.b64encode(f":{TOKEN}".encode()).decode()
    assert received.headers["authorization"] == expected
    assert received.headers["content-type"] == "application/json"
    assert TOKEN.encode() not in received.body


def test_the_fake_refuses_what_azure_devops_refuses(api: HttpFake) -> None:
    url = f"{api.url}/acme/ml%20models/_apis/pipelines/12/runs"
    good = "Basic " + base64.b64encode(f":{TOKEN}".encode()).decode()
    with httpx.Client() as client:
        assert client.post(f"{url}?api-version=7.1", json={}).status_code == 401
        assert client.post(url, json={}, headers={"authorization": good}).status_code == 400
        undeclared = {"templateParameters": {"retrain": "yes"}}
        response = client.post(
            f"{url}?api-version=7.1", json=undeclared, headers={"authorization": good}
        )
        assert response.status_code == 400
    notifier = AzureDevOpsNotifier(settings(), "receivers[0]")
    assert notifier.classify(httpx.Response(400)) is Verdict.PERMANENT
    assert notifier.classify(httpx.Response(401)) is Verdict.PERMANENT
    assert notifier.classify(httpx.Response(429)) is Verdict.RETRYABLE


def test_sign_in_page_for_a_refused_token_is_not_a_delivery() -> None:
    notifier = AzureDevOpsNotifier(settings(), "receivers[0]")
    assert notifier.classify(httpx.Response(203, text="<html>Sign in</html>")) is Verdict.PERMANENT


@pytest.mark.parametrize("event", [sample_event("resolved"), sample_event(occasion="repeat")])
def test_resolved_or_repeated_event_sends_nothing(api: HttpFake, event: AlertEvent) -> None:
    notifier = AzureDevOpsNotifier(settings(api.url), "receivers[0]")
    assert notifier.build_request(message_for(event)) is None
    assert api.requests == []


def test_missing_token_names_the_key_not_a_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DW_AZDO_PAT", raising=False)
    monkeypatch.delenv("DW_AZDO_PAT_FILE", raising=False)
    notifier = AzureDevOpsNotifier(settings(), "receivers[3]")
    with pytest.raises(SecretError, match=r"receivers\[3\]\.token_env: .*DW_AZDO_PAT"):
        notifier.build_request(message_for(sample_event()))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [({"pipeline_id": 0}, "greater than 0"), ({"ref": ""}, "at least 1 character")],
)
def test_settings_refuse_bad_values(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        settings(**overrides)
