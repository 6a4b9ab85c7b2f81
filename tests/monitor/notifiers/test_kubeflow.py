"""Kubeflow trigger: the documented KFP v2 ``CreateRun`` request, against a fake API server.

The fake checks what ``backend/api/v2beta1/run.proto`` says the server
checks: a JSON body of ``Run`` fields only (gRPC gateway), a non-empty
``display_name``, ``pipeline_version_reference`` with both ids,
``runtime_config.parameters`` as an object, and, on a multi-user deployment,
``Authorization: Bearer <token>``; it answers 200 with the run, 401 or 400
(gRPC status JSON) otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from pydantic import ValidationError

from monitor.alerts.event import AlertEvent
from monitor.notifiers.base import Verdict
from monitor.notifiers.kubeflow import KubeflowNotifier, KubeflowReceiverSettings, render_kubeflow
from monitor.secrets import SecretError
from tests.monitor.notifiers.fake_api import json_body, message_for, send
from tests.support import Handler, HttpFake, Received, Reply, sample_event

TOKEN = "kfp-sa-token-0123456789"
RUN_INPUT_FIELDS = {
    "experiment_id",
    "display_name",
    "description",
    "pipeline_version_reference",
    "pipeline_spec",
    "runtime_config",
    "service_account",
}


def status(http: int, code: int, message: str) -> Reply:
    return Reply.json(http, {"error": message, "code": code, "message": message})


def kubeflow_server(require_token: bool) -> Handler:
    def handle(request: Received) -> Reply:
        if request.target != "/pipeline/apis/v2beta1/runs":
            return status(404, 5, "Not Found")
        if require_token and request.headers.get("authorization") != f"Bearer {TOKEN}":
            return status(401, 16, "Unauthenticated: request header error")
        body = json_body(request)
        if not isinstance(body, dict):
            return status(400, 3, "Invalid input error: the body must be a JSON Run")
        if set(body) - RUN_INPUT_FIELDS:
            return status(400, 3, f"unknown field {sorted(set(body) - RUN_INPUT_FIELDS)[0]!r}")
        if not isinstance(body.get("display_name"), str) or not body["display_name"]:
            return status(400, 3, "Invalid input error: run display name is required")
        reference = body.get("pipeline_version_reference")
        if not isinstance(reference, dict) or not all(
            isinstance(reference.get(key), str) and reference[key]
            for key in ("pipeline_id", "pipeline_version_id")
        ):
            return status(400, 3, "Invalid input error: pipeline version reference is required")
        parameters = body.get("runtime_config", {}).get("parameters", {})
        if not isinstance(parameters, dict):
            return status(400, 3, "Invalid input error: runtime_config.parameters")
        return Reply.json(200, {"run_id": "9f1c", "display_name": body["display_name"]})

    return handle


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[HttpFake]:
    monkeypatch.setenv("DW_KFP_TOKEN", TOKEN)
    with HttpFake(kubeflow_server(require_token=True)) as server:
        yield server


def settings(
    url: str = "https://kubeflow.example.com/pipeline", /, **overrides: object
) -> KubeflowReceiverSettings:
    fields: dict[str, object] = {
        "name": "retrain",
        "type": "kubeflow",
        "url": url,
        "pipeline_id": "5b2b0c8e",
        "pipeline_version_id": "7d41aa09",
        "token_env": "DW_KFP_TOKEN",
    }
    fields.update(overrides)
    return KubeflowReceiverSettings.model_validate(fields)


def test_body_is_exact() -> None:
    assert render_kubeflow(sample_event(), settings(experiment_id="exp-1")) == (
        b'{"display_name":"driftwarden-credit-risk-3f2a9c0d1e4b-2",'
        b'"description":"credit-risk: 2 of 7 columns drifted (income, device)",'
        b'"experiment_id":"exp-1",'
        b'"pipeline_version_reference":{"pipeline_id":"5b2b0c8e","pipeline_version_id":"7d41aa09"},'
        b'"runtime_config":{"parameters":{"monitor":"credit-risk","rule":"drift",'
        b'"severity":"critical","run_id":"42","run_url":"http://127.0.0.1:8470/api/runs/42",'
        b'"window_start":"2026-11-25T11:00:00+00:00","window_end":"2026-11-25T12:00:00+00:00",'
        b'"drifted_columns":"income,device","idempotency_key":"credit-risk-3f2a9c0d1e4b-2"}}}'
    )


def test_the_same_episode_gets_the_same_run_name() -> None:
    again = render_kubeflow(sample_event(run_id=43, run_url="http://x/runs/43"), settings())
    assert again.startswith(b'{"display_name":"driftwarden-credit-risk-3f2a9c0d1e4b-2",')


def test_run_is_accepted_by_the_fake_api(api: HttpFake) -> None:
    notifier = KubeflowNotifier(settings(f"{api.url}/pipeline"), "receivers[0]")
    response = send(notifier, sample_event())
    assert response.status_code == 200
    assert notifier.classify(response) is Verdict.DELIVERED
    (received,) = api.requests
    assert received.headers["authorization"] == f"Bearer {TOKEN}"
    assert TOKEN.encode() not in received.body


def test_without_a_token_no_authorization_is_sent() -> None:
    with HttpFake(kubeflow_server(require_token=False)) as server:
        notifier = KubeflowNotifier(settings(f"{server.url}/pipeline", token_env=None), "r[0]")
        assert send(notifier, sample_event()).status_code == 200
        (received,) = server.requests
    assert "authorization" not in received.headers


def test_the_fake_refuses_what_kubeflow_refuses(api: HttpFake) -> None:
    url = f"{api.url}/pipeline/apis/v2beta1/runs"
    auth = {"authorization": f"Bearer {TOKEN}"}
    reference = {"pipeline_id": "p", "pipeline_version_id": "v"}
    with httpx.Client() as client:
        assert client.post(url, json={"display_name": "x"}).status_code == 401
        no_name = {"pipeline_version_reference": reference}
        assert client.post(url, json=no_name, headers=auth).status_code == 400
        no_version = {"display_name": "x", "pipeline_version_reference": {"pipeline_id": "p"}}
        assert client.post(url, json=no_version, headers=auth).status_code == 400
        unknown = {"display_name": "x", "pipeline_version_reference": reference, "name": "x"}
        assert client.post(url, json=unknown, headers=auth).status_code == 400
    notifier = KubeflowNotifier(settings(), "receivers[0]")
    assert notifier.classify(httpx.Response(400)) is Verdict.PERMANENT
    assert notifier.classify(httpx.Response(503)) is Verdict.RETRYABLE


@pytest.mark.parametrize("event", [sample_event("resolved"), sample_event(occasion="repeat")])
def test_resolved_or_repeated_event_sends_nothing(api: HttpFake, event: AlertEvent) -> None:
    notifier = KubeflowNotifier(settings(f"{api.url}/pipeline"), "receivers[0]")
    assert notifier.build_request(message_for(event)) is None
    assert api.requests == []


def test_missing_token_names_the_key_not_a_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DW_KFP_TOKEN", raising=False)
    monkeypatch.delenv("DW_KFP_TOKEN_FILE", raising=False)
    notifier = KubeflowNotifier(settings(), "receivers[1]")
    with pytest.raises(SecretError, match=r"receivers\[1\]\.token_env: .*DW_KFP_TOKEN"):
        notifier.build_request(message_for(sample_event()))


def test_settings_require_both_ids() -> None:
    with pytest.raises(ValidationError, match="pipeline_version_id"):
        KubeflowReceiverSettings.model_validate(
            {"name": "r", "type": "kubeflow", "url": "http://x", "pipeline_id": "p"}
        )
