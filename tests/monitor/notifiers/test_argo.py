"""Argo trigger: submit a WorkflowTemplate with a workflow name fixed per episode.

The fake enforces the Argo Server's submit request: a bearer token, a JSON
``WorkflowSubmitRequest`` whose ``namespace`` matches the path, a known
``resourceKind`` and template, ``"name=value"`` parameters the template
declares, a DNS-1123 ``name`` of at most 63 characters; it answers 200 with
the workflow, and 409 (AlreadyExists) for a name that exists.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from monitor.notifiers.argo import ArgoNotifier, ArgoReceiverSettings, render_argo, workflow_name
from monitor.notifiers.base import Verdict
from tests.monitor.notifiers.fake_api import error, json_body, message_for, send
from tests.support import HttpFake, Received, Reply, sample_event

TOKEN = "eyJhbGciOiJSUzI1NiJ9.argo"
TEMPLATE_PARAMETERS = {
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
DNS_1123 = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


class FakeArgo:
    def __init__(self) -> None:
        self.workflows: dict[str, dict[str, object]] = {}

    def __call__(self, request: Received) -> Reply:
        if request.target != "/api/v1/workflows/ml/submit":
            return error(404, "not found")
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return error(401, "Unauthorized")
        body = json_body(request)
        if not isinstance(body, dict):
            return error(400, "invalid JSON")
        if body.get("namespace", "ml") != "ml":
            return error(400, "namespace does not match the path")
        if body.get("resourceKind") != "WorkflowTemplate":
            return error(400, f"resourceKind {body.get('resourceKind')!r} is not supported")
        if body.get("resourceName") != "retrain":
            return error(404, 'workflowtemplates.argoproj.io "?" not found')
        options = body.get("submitOptions", {})
        for parameter in options.get("parameters", []):
            name, sep, _ = parameter.partition("=")
            if not sep or name not in TEMPLATE_PARAMETERS:
                return error(400, f"parameter {parameter!r} is not declared")
        name = options.get("name")
        if not isinstance(name, str) or not DNS_1123.match(name):
            return error(400, f"metadata.name {name!r} is invalid")
        if name in self.workflows:
            return error(409, f'workflows.argoproj.io "{name}" already exists')
        self.workflows[name] = options
        return Reply.json(200, {"metadata": {"name": name, "namespace": "ml"}})


@pytest.fixture
def argo() -> FakeArgo:
    return FakeArgo()


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch, argo: FakeArgo) -> Iterator[HttpFake]:
    monkeypatch.setenv("DW_ARGO_TOKEN", TOKEN)
    with HttpFake(argo) as server:
        yield server


def settings(url: str = "https://argo.example.com") -> ArgoReceiverSettings:
    return ArgoReceiverSettings(
        name="retrain",
        type="argo",
        url=url,
        namespace="ml",
        workflow_template="retrain",
        token_env="DW_ARGO_TOKEN",
    )


def test_submit_body_is_exact() -> None:
    assert render_argo(sample_event(), settings()) == (
        b'{"namespace":"ml","resourceKind":"WorkflowTemplate","resourceName":"retrain",'
        b'"submitOptions":{"name":"driftwarden-credit-risk-3f2a9c0d1e4b-2","parameters":['
        b'"monitor=credit-risk","rule=drift","severity=critical","run_id=42",'
        b'"run_url=http://127.0.0.1:8470/api/runs/42",'
        b'"window_start=2026-11-25T11:00:00+00:00","window_end=2026-11-25T12:00:00+00:00",'
        b'"drifted_columns=income,device","idempotency_key=credit-risk-3f2a9c0d1e4b-2"],'
        b'"labels":"driftwarden/monitor=credit-risk,driftwarden/run-id=42"}}'
    )


def test_submitted_once_and_a_repeat_counts_as_delivered(api: HttpFake, argo: FakeArgo) -> None:
    notifier = ArgoNotifier(settings(api.url), "receivers[0]")
    first = send(notifier, sample_event())
    assert first.status_code == 200
    assert notifier.classify(first) is Verdict.DELIVERED
    again = send(notifier, sample_event())
    assert again.status_code == 409
    assert notifier.classify(again) is Verdict.DELIVERED
    assert list(argo.workflows) == ["driftwarden-credit-risk-3f2a9c0d1e4b-2"]


def test_workflow_name_is_deterministic_and_a_valid_name() -> None:
    assert workflow_name(sample_event()) == workflow_name(sample_event(run_id=7))
    long_key = "Credit_Risk." + "x" * 80 + "-2"
    name = workflow_name(sample_event(idempotency_key=long_key))
    assert DNS_1123.match(name) and len(name) <= 63
    assert name == workflow_name(sample_event(idempotency_key=long_key))
    assert name != workflow_name(sample_event(idempotency_key=long_key[:-1] + "3"))


def test_wrong_token_is_permanent(api: HttpFake, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DW_ARGO_TOKEN", "stale")
    notifier = ArgoNotifier(settings(api.url), "receivers[0]")
    response = send(notifier, sample_event())
    assert response.status_code == 401
    assert notifier.classify(response) is Verdict.PERMANENT


def test_resolved_event_sends_nothing(api: HttpFake) -> None:
    notifier = ArgoNotifier(settings(api.url), "receivers[0]")
    assert notifier.build_request(message_for(sample_event("resolved"))) is None
    assert api.requests == []
