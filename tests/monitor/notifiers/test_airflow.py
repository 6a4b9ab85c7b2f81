"""Airflow trigger: a DAG run per episode on Airflow 2 (/api/v1) and Airflow 3 (/api/v2).

The fake enforces the documented request bodies: Airflow 2's DAGRun (writable
keys only, ``conf`` an object, ``dag_run_id`` within ``allowed_run_id_pattern``)
with basic auth or a bearer token, answered 200; Airflow 3's
TriggerDAGRunPostBody (no other keys, ``logical_date`` a required key) with a
bearer token, answered 200. A ``dag_run_id`` that exists gets 409.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from monitor.notifiers.airflow import (
    AirflowNotifier,
    AirflowReceiverSettings,
    dag_run_id,
    render_airflow,
)
from monitor.notifiers.base import Verdict
from tests.monitor.notifiers.fake_api import error, json_body, message_for, send
from tests.support import HttpFake, Received, Reply, sample_event

TOKEN = "airflow-jwt-0123"
USER, PASSWORD = "driftwarden", "pa:ss wörd"
V1_KEYS = {
    "dag_run_id",
    "logical_date",
    "execution_date",
    "conf",
    "note",
    "data_interval_start",
    "data_interval_end",
}
V2_KEYS = {
    "dag_run_id",
    "data_interval_start",
    "data_interval_end",
    "logical_date",
    "run_after",
    "conf",
    "note",
    "partition_key",
}
RUN_ID = re.compile(r"^[A-Za-z0-9_.~:+-]+$")
CONF = {
    "monitor": "credit-risk",
    "rule": "drift",
    "severity": "critical",
    "summary": "credit-risk: 2 of 7 columns drifted (income, device)",
    "run": {"id": 42, "url": "http://127.0.0.1:8470/api/runs/42"},
    "window": {"start": "2026-11-25T11:00:00+00:00", "end": "2026-11-25T12:00:00+00:00"},
    "drifted_columns": ["income", "device"],
    "idempotency_key": "credit-risk-3f2a9c0d1e4b-2",
}


class FakeAirflow:
    def __init__(self) -> None:
        self.runs: dict[str, dict[str, object]] = {}

    def __call__(self, request: Received) -> Reply:
        version = request.target.split("/")[2]
        if request.target not in ("/api/v1/dags/retrain/dagRuns", "/api/v2/dags/retrain/dagRuns"):
            return error(404, "DAG not found")
        authorization = request.headers.get("authorization", "")
        basic = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        allowed = {f"Bearer {TOKEN}"} | ({basic} if version == "v1" else set())
        if authorization not in allowed:
            return error(401, "Unauthorized")
        body = json_body(request)
        if not isinstance(body, dict):
            return error(400, "Bad request: not JSON")
        if version == "v1" and set(body) - V1_KEYS:
            return error(400, f"unknown fields {sorted(set(body) - V1_KEYS)}")
        if version == "v2":
            if set(body) - V2_KEYS:
                return error(422, "extra fields not permitted")
            if "logical_date" not in body:
                return error(422, "logical_date: Field required")
        if not isinstance(body.get("conf", {}), dict):
            return error(400, "conf must be an object")
        run_id = body.get("dag_run_id")
        if not isinstance(run_id, str) or not RUN_ID.match(run_id):
            return error(400, "dag_run_id does not match allowed_run_id_pattern")
        if run_id in self.runs:
            return error(409, f"DAGRun with DAG ID: 'retrain' and DAGRun ID: '{run_id}' exists")
        self.runs[run_id] = body
        return Reply.json(200, {"dag_id": "retrain", "dag_run_id": run_id, "state": "queued"})


@pytest.fixture
def airflow() -> FakeAirflow:
    return FakeAirflow()


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch, airflow: FakeAirflow) -> Iterator[HttpFake]:
    monkeypatch.setenv("DW_AIRFLOW_TOKEN", TOKEN)
    monkeypatch.setenv("DW_AIRFLOW_PASSWORD", PASSWORD)
    with HttpFake(airflow) as server:
        yield server


def settings(
    url: str = "https://airflow.example.com", **overrides: object
) -> AirflowReceiverSettings:
    fields: dict[str, object] = {
        "name": "retrain",
        "type": "airflow",
        "url": url,
        "dag_id": "retrain",
        "token_env": "DW_AIRFLOW_TOKEN",
    }
    fields.update(overrides)
    return AirflowReceiverSettings.model_validate(fields)


BASIC = {"token_env": None, "username": USER, "password_env": "DW_AIRFLOW_PASSWORD"}


def test_airflow2_body_is_exact() -> None:
    assert render_airflow(sample_event(), 1) == (
        b'{"dag_run_id":"driftwarden__credit-risk-3f2a9c0d1e4b-2","conf":{'
        b'"monitor":"credit-risk","rule":"drift","severity":"critical",'
        b'"summary":"credit-risk: 2 of 7 columns drifted (income, device)",'
        b'"run":{"id":42,"url":"http://127.0.0.1:8470/api/runs/42"},'
        b'"window":{"start":"2026-11-25T11:00:00+00:00","end":"2026-11-25T12:00:00+00:00"},'
        b'"drifted_columns":["income","device"],"idempotency_key":"credit-risk-3f2a9c0d1e4b-2"}}'
    )


def test_airflow3_body_sends_logical_date_null() -> None:
    assert render_airflow(sample_event(), 2).startswith(
        b'{"dag_run_id":"driftwarden__credit-risk-3f2a9c0d1e4b-2","logical_date":null,"conf":{'
    )


@pytest.mark.parametrize(
    ("overrides", "path"),
    [
        ({}, "/api/v1/dags/retrain/dagRuns"),
        (BASIC, "/api/v1/dags/retrain/dagRuns"),
        ({"api_version": 2}, "/api/v2/dags/retrain/dagRuns"),
    ],
)
def test_dag_run_is_created_once_and_a_repeat_counts_as_delivered(
    api: HttpFake, airflow: FakeAirflow, overrides: dict[str, object], path: str
) -> None:
    notifier = AirflowNotifier(settings(api.url, **overrides), "receivers[0]")

    first = send(notifier, sample_event())
    assert first.status_code == 200
    assert notifier.classify(first) is Verdict.DELIVERED

    # The worker retries after a lost response: the same episode, the same dag_run_id.
    again = send(notifier, sample_event())
    assert again.status_code == 409
    assert notifier.classify(again) is Verdict.DELIVERED

    assert [r.target for r in api.requests] == [path, path]
    assert list(airflow.runs) == ["driftwarden__credit-risk-3f2a9c0d1e4b-2"]
    assert airflow.runs["driftwarden__credit-risk-3f2a9c0d1e4b-2"]["conf"] == CONF


def test_next_episode_starts_a_new_run(api: HttpFake, airflow: FakeAirflow) -> None:
    notifier = AirflowNotifier(settings(api.url), "receivers[0]")
    send(notifier, sample_event())
    response = send(notifier, sample_event(episode=3, idempotency_key="credit-risk-3f2a9c0d1e4b-3"))
    assert response.status_code == 200
    assert sorted(airflow.runs) == [
        "driftwarden__credit-risk-3f2a9c0d1e4b-2",
        "driftwarden__credit-risk-3f2a9c0d1e4b-3",
    ]


def test_dag_run_id_is_deterministic_and_within_airflows_pattern() -> None:
    assert dag_run_id(sample_event()) == dag_run_id(sample_event(run_id=99))
    odd = sample_event(idempotency_key="credit risk/3f2a#2")
    assert dag_run_id(odd) == dag_run_id(sample_event(idempotency_key="credit risk/3f2a#2"))
    assert RUN_ID.match(dag_run_id(odd))
    assert dag_run_id(odd) != dag_run_id(sample_event(idempotency_key="credit risk/3f2a#3"))


def test_wrong_credentials_are_permanent(api: HttpFake, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DW_AIRFLOW_TOKEN", "expired")
    notifier = AirflowNotifier(settings(api.url), "receivers[0]")
    response = send(notifier, sample_event())
    assert response.status_code == 401
    assert notifier.classify(response) is Verdict.PERMANENT
    assert notifier.classify(httpx.Response(503)) is Verdict.RETRYABLE


def test_resolved_event_sends_nothing(api: HttpFake) -> None:
    notifier = AirflowNotifier(settings(api.url), "receivers[0]")
    assert notifier.build_request(message_for(sample_event("resolved"))) is None
    assert api.requests == []


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"password_env": "P"}, "exactly one of token_env and password_env"),
        ({"token_env": None}, "exactly one of token_env and password_env"),
        ({"token_env": None, "password_env": "P"}, "password_env needs username"),
        ({**BASIC, "api_version": 2}, "takes token_env"),
        ({"api_version": 3}, "api_version"),
    ],
)
def test_settings_refuse_bad_auth(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        settings(**overrides)
