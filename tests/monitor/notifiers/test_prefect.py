"""Prefect trigger: a flow run from a deployment, made idempotent by the episode's key.

The fake enforces the documented ``create_flow_run`` request: Prefect Cloud's
account/workspace path with a bearer API key (401 otherwise), a JSON
``DeploymentFlowRunCreate`` (no other keys, or 422), parameters that fit the
deployment's schema (409 otherwise, as Prefect answers). A repeated
``idempotency_key`` returns the existing flow run instead of creating one.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from pydantic import ValidationError

from monitor.notifiers.base import Verdict
from monitor.notifiers.prefect import PrefectNotifier, PrefectReceiverSettings, render_prefect
from tests.monitor.notifiers.fake_api import error, json_body, message_for, send
from tests.support import HttpFake, Received, Reply, sample_event

API_KEY = "pnu_0123456789abcdef"
ACCOUNT = uuid.UUID("11111111-1111-4111-8111-111111111111")
WORKSPACE = uuid.UUID("22222222-2222-4222-8222-222222222222")
DEPLOYMENT = uuid.UUID("33333333-3333-4333-8333-333333333333")
FLOW_RUN_CREATE_KEYS = {
    "state",
    "name",
    "parameters",
    "enforce_parameter_schema",
    "context",
    "infrastructure_document_id",
    "empirical_policy",
    "tags",
    "idempotency_key",
    "labels",
    "parent_task_run_id",
    "work_queue_name",
    "job_variables",
}
PATH = f"/api/accounts/{ACCOUNT}/workspaces/{WORKSPACE}/deployments/{DEPLOYMENT}/create_flow_run"


class FakePrefect:
    def __init__(self) -> None:
        self.flow_runs: dict[str, dict[str, object]] = {}  # idempotency key -> flow run

    def __call__(self, request: Received) -> Reply:
        if request.target != PATH:
            return error(404, "Deployment not found")
        if request.headers.get("authorization") != f"Bearer {API_KEY}":
            return error(401, "Invalid authentication credentials")
        body = json_body(request)
        if not isinstance(body, dict) or set(body) - FLOW_RUN_CREATE_KEYS:
            return error(422, "Extra inputs are not permitted")
        parameters = body.get("parameters", {})
        if not isinstance(parameters, dict) or set(parameters) - {"drift_event"}:
            return error(409, "Error creating flow run: Validation failed for field")
        key = body.get("idempotency_key")
        if isinstance(key, str) and key in self.flow_runs:
            return Reply.json(200, self.flow_runs[key])
        flow_run = {
            "id": str(uuid.uuid4()),
            "deployment_id": str(DEPLOYMENT),
            "parameters": parameters,
            "tags": body.get("tags", []),
            "idempotency_key": key,
            "state_type": "SCHEDULED",
        }
        self.flow_runs[str(key)] = flow_run
        return Reply.json(200, flow_run)


@pytest.fixture
def prefect() -> FakePrefect:
    return FakePrefect()


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch, prefect: FakePrefect) -> Iterator[HttpFake]:
    monkeypatch.setenv("DW_PREFECT_API_KEY", API_KEY)
    with HttpFake(prefect) as server:
        yield server


def settings(
    api_url: str = "https://api.prefect.cloud/api", **overrides: object
) -> PrefectReceiverSettings:
    fields: dict[str, object] = {
        "name": "retrain",
        "type": "prefect",
        "api_url": api_url,
        "account_id": str(ACCOUNT),
        "workspace_id": str(WORKSPACE),
        "deployment_id": str(DEPLOYMENT),
        "api_key_env": "DW_PREFECT_API_KEY",
    }
    fields.update(overrides)
    return PrefectReceiverSettings.model_validate(fields)


def test_body_is_exact() -> None:
    assert render_prefect(sample_event(), "drift_event", ("driftwarden", "ml")) == (
        b'{"parameters":{"drift_event":{"monitor":"credit-risk","rule":"drift",'
        b'"severity":"critical","summary":"credit-risk: 2 of 7 columns drifted (income, device)",'
        b'"run":{"id":42,"url":"http://127.0.0.1:8470/api/runs/42"},'
        b'"window":{"start":"2026-11-25T11:00:00+00:00","end":"2026-11-25T12:00:00+00:00"},'
        b'"drifted_columns":["income","device"],"idempotency_key":"credit-risk-3f2a9c0d1e4b-2"}},'
        b'"tags":["driftwarden","ml"],"idempotency_key":"credit-risk-3f2a9c0d1e4b-2"}'
    )


def test_cloud_endpoint_includes_account_and_workspace() -> None:
    assert settings().endpoint() == f"https://api.prefect.cloud{PATH}"
    self_hosted = settings("http://prefect:4200/api/", account_id=None, workspace_id=None)
    assert self_hosted.endpoint() == (
        f"http://prefect:4200/api/deployments/{DEPLOYMENT}/create_flow_run"
    )


def test_one_flow_run_per_episode(api: HttpFake, prefect: FakePrefect) -> None:
    notifier = PrefectNotifier(settings(f"{api.url}/api"), "receivers[0]")
    first = send(notifier, sample_event())
    again = send(notifier, sample_event())
    assert first.status_code == again.status_code == 200
    assert notifier.classify(first) is notifier.classify(again) is Verdict.DELIVERED
    assert first.json()["id"] == again.json()["id"]
    assert list(prefect.flow_runs) == ["credit-risk-3f2a9c0d1e4b-2"]
    assert first.json()["tags"] == ["driftwarden"]


def test_parameters_outside_the_schema_are_permanent(api: HttpFake) -> None:
    notifier = PrefectNotifier(settings(f"{api.url}/api", parameter="event"), "receivers[0]")
    response = send(notifier, sample_event())
    assert response.status_code == 409
    assert notifier.classify(response) is Verdict.PERMANENT


def test_resolved_event_sends_nothing(api: HttpFake) -> None:
    notifier = PrefectNotifier(settings(f"{api.url}/api"), "receivers[0]")
    assert notifier.build_request(message_for(sample_event("resolved"))) is None
    assert api.requests == []


def test_settings_need_account_and_workspace_together() -> None:
    with pytest.raises(ValidationError, match="account_id and workspace_id go together"):
        settings(workspace_id=None)
