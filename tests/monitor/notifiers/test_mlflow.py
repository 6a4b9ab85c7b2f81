"""MLflow sink: the documented ``runs/log-batch`` request, against a fake tracking server.

The fake checks what the MLflow REST API documents for ``LogBatch``: a JSON
body with a ``run_id`` of a known run, metrics with a string ``key``, a
numeric ``value``, an int64 ``timestamp`` and ``step``, tags with string
``key`` and ``value``; keys of at most 250 characters made of alphanumerics,
``_ - . space /``; at most 1000 metrics, 100 tags and 1000 entities in total
and 1 MB per request; the auth header when the server has one. It answers
200 ``{}``, or MLflow's error JSON with 400, 401 or 404.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from monitor.notifiers.base import OutboundMessage, Verdict
from monitor.notifiers.mlflow import (
    MlflowNotifier,
    MlflowReceiverSettings,
    metric_key,
    render_log_batch,
)
from monitor.secrets import SecretError
from tests.monitor.notifiers.fake_api import json_body
from tests.support import Handler, HttpFake, Received, Reply, sample_event

RUN_ID = "4f2c9e1b7a8d4c3e9f0a1b2c3d4e5f60"
TOKEN = "dapi-0123456789abcdef"
KEY = re.compile(r"^[/\w.\- ]*$")

PAYLOAD: dict[str, Any] = {
    "monitor": "credit-risk",
    "run_id": 42,
    "finished_at": "2026-11-25T12:00:03+00:00",
    "status": "succeeded",
    "drifted": True,
    "results": [
        {
            "column": "income",
            "method": "ks",
            "statistic": 0.347,
            "p_value": 3.4e-107,
            "p_value_adjusted": 1.0e-106,
            "drifted": True,
        },
        {
            "column": "label",
            "method": "accuracy",
            "statistic": 0.91,
            "p_value": None,
            "p_value_adjusted": None,
            "drifted": False,
        },
    ],
}


def message(payload: dict[str, Any], event_type: str = "run.completed") -> OutboundMessage:
    return OutboundMessage(
        "run_0001", event_type, payload, datetime(2026, 11, 25, 12, 0, 4, tzinfo=UTC), 1
    )


def settings(**overrides: Any) -> MlflowReceiverSettings:
    fields: dict[str, Any] = {
        "name": "mlflow",
        "type": "mlflow",
        "tracking_uri": "https://mlflow.example.com/",
        "run_id": RUN_ID,
    }
    fields.update(overrides)
    return MlflowReceiverSettings(**fields)


def error(status: int, code: str, text: str) -> Reply:
    return Reply.json(status, {"error_code": code, "message": text})


def _entity_problem(entity: Any, kind: str) -> str | None:
    if not isinstance(entity, dict) or not isinstance(entity.get("key"), str):
        return f"{kind} key is required and must be a string"
    key = entity["key"]
    if not key or len(key) > 250 or not KEY.match(key):
        return f"invalid {kind} key {key!r}"
    if kind == "tag":
        value = entity.get("value")
        if not isinstance(value, str) or len(value) > 5000:
            return f"tag value of {key!r} must be a string of at most 5000 characters"
        return None
    value = entity.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"metric {key!r}: value must be a number"
    for field in ("timestamp", "step"):
        if isinstance(entity.get(field), bool) or not isinstance(entity.get(field), int):
            return f"metric {key!r}: {field} must be an int64"
    return None


def mlflow_server(authorization: str | None) -> Handler:
    def handle(request: Received) -> Reply:
        if request.method != "POST" or request.target != "/api/2.0/mlflow/runs/log-batch":
            return error(404, "ENDPOINT_NOT_FOUND", "No API endpoint found")
        if authorization is not None and request.headers.get("authorization") != authorization:
            return error(401, "UNAUTHENTICATED", "Credential was not sent or was invalid")
        if len(request.body) > 1_000_000:
            return error(400, "INVALID_PARAMETER_VALUE", "request is larger than 1 MB")
        body = json_body(request)
        if not isinstance(body, dict):
            return error(400, "MALFORMED_REQUEST", "the body must be a JSON object")
        if not isinstance(body.get("run_id"), str) or not body["run_id"]:
            return error(400, "INVALID_PARAMETER_VALUE", "Missing value for required parameter")
        if body["run_id"] != RUN_ID:
            return error(404, "RESOURCE_DOES_NOT_EXIST", f"Run '{body['run_id']}' not found")
        metrics, tags = body.get("metrics", []), body.get("tags", [])
        params = body.get("params", [])
        if len(metrics) > 1000 or len(tags) > 100 or len(params) > 100:
            return error(400, "INVALID_PARAMETER_VALUE", "too many metrics, params or tags")
        if len(metrics) + len(tags) + len(params) > 1000:
            return error(400, "INVALID_PARAMETER_VALUE", "at most 1000 entities per request")
        for entity, kind in [(m, "metric") for m in metrics] + [(t, "tag") for t in tags]:
            problem = _entity_problem(entity, kind)
            if problem is not None:
                return error(400, "INVALID_PARAMETER_VALUE", problem)
        return Reply.json(200, {})

    return handle


@pytest.fixture
def bearer_server() -> Iterator[HttpFake]:
    with HttpFake(mlflow_server(f"Bearer {TOKEN}")) as api:
        yield api


def send(notifier: MlflowNotifier, payload: dict[str, Any]) -> httpx.Response:
    request = notifier.build_request(message(payload))
    assert request is not None
    with httpx.Client(follow_redirects=False) as client:
        return client.send(request)


def test_body_is_the_exact_documented_log_batch() -> None:
    timestamp = 1795608003000  # 2026-11-25T12:00:03Z in ms
    metric = '{"key":"%s","value":%s,"timestamp":%d,"step":42}'
    metrics = ",".join(
        metric % (key, value, timestamp)
        for key, value in [
            ("drift.credit-risk.drifted", "1.0"),
            ("drift.credit-risk.income.ks.statistic", "0.347"),
            ("drift.credit-risk.income.ks.p_value", "3.4e-107"),
            ("drift.credit-risk.income.ks.p_value_adjusted", "1e-106"),
            ("drift.credit-risk.income.ks.drifted", "1.0"),
            ("drift.credit-risk.label.accuracy.statistic", "0.91"),
            ("drift.credit-risk.label.accuracy.drifted", "0.0"),
        ]
    )
    tags = (
        '{"key":"driftwarden.monitor","value":"credit-risk"},'
        '{"key":"driftwarden.last_run_id","value":"42"},'
        '{"key":"driftwarden.last_run_drifted","value":"true"}'
    )
    expected = f'{{"run_id":"{RUN_ID}","metrics":[{metrics}],"tags":[{tags}]}}'
    assert render_log_batch(PAYLOAD, RUN_ID) == expected.encode()


def test_keys_are_sanitised_and_cut_to_250_characters() -> None:
    assert metric_key("drift", "m", "amount (€)/day:x", "ks", "p_value") == (
        "drift.m.amount ____day_x.ks.p_value"
    )
    long = metric_key("drift", "m", "c" * 300, "ks", "statistic")
    assert len(long) == 250 and KEY.match(long)
    assert long != metric_key("drift", "m", "c" * 299, "ks", "statistic")


def test_a_run_with_too_many_metrics_is_truncated_to_the_documented_limits(
    bearer_server: HttpFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = [
        {
            "column": f"feature_{i:03d}",
            "method": "psi",
            "statistic": 0.01 * i,
            "p_value": 0.5,
            "p_value_adjusted": 0.5,
            "drifted": False,
        }
        for i in range(300)
    ]
    payload = {**PAYLOAD, "results": results}
    body = json.loads(render_log_batch(payload, RUN_ID))
    assert len(body["metrics"]) + len(body["tags"]) == 1000
    assert body["metrics"][0]["key"] == "drift.credit-risk.drifted"  # the decision is kept
    omitted = {t["key"]: t["value"] for t in body["tags"]}["driftwarden.metrics_omitted"]
    assert int(omitted) + len(body["metrics"]) == 1 + 4 * 300

    monkeypatch.setenv("MLFLOW_TOKEN", TOKEN)
    notifier = MlflowNotifier(
        settings(tracking_uri=bearer_server.url, token_env="MLFLOW_TOKEN"), "receivers[0]"
    )
    assert send(notifier, payload).status_code == 200


def test_non_finite_and_missing_values_are_skipped() -> None:
    results = [{**PAYLOAD["results"][0], "statistic": float("inf"), "p_value": None}]
    body = json.loads(render_log_batch({**PAYLOAD, "results": results}, RUN_ID, "dw"))
    keys = [m["key"] for m in body["metrics"]]
    assert keys == [
        "dw.credit-risk.drifted",
        "dw.credit-risk.income.ks.p_value_adjusted",
        "dw.credit-risk.income.ks.drifted",
    ]


def test_bearer_token_send_is_accepted(
    bearer_server: HttpFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TOKEN", TOKEN)
    notifier = MlflowNotifier(
        settings(tracking_uri=bearer_server.url + "/", token_env="MLFLOW_TOKEN"), "receivers[0]"
    )
    response = send(notifier, PAYLOAD)
    assert response.status_code == 200
    assert notifier.classify(response) is Verdict.DELIVERED
    (received,) = bearer_server.requests
    assert received.headers["content-type"] == "application/json"
    assert json.loads(received.body)["run_id"] == RUN_ID


def test_basic_auth_send_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_PASSWORD", "s3cret")
    expected = "Basic ZHJpZnR3YXJkZW46czNjcmV0"  # base64("driftwarden:s3cret")
    with HttpFake(mlflow_server(expected)) as api:
        notifier = MlflowNotifier(
            settings(tracking_uri=api.url, username="driftwarden", password_env="MLFLOW_PASSWORD"),
            "receivers[0]",
        )
        assert send(notifier, PAYLOAD).status_code == 200


def test_missing_auth_and_unknown_run_are_permanent_failures(bearer_server: HttpFake) -> None:
    notifier = MlflowNotifier(settings(tracking_uri=bearer_server.url), "receivers[0]")
    response = send(notifier, PAYLOAD)
    assert response.status_code == 401
    assert notifier.classify(response) is Verdict.PERMANENT
    with HttpFake(mlflow_server(None)) as api:
        unknown = MlflowNotifier(settings(tracking_uri=api.url, run_id="nope"), "receivers[0]")
        assert send(unknown, PAYLOAD).status_code == 404


def test_the_fake_refuses_what_mlflow_refuses() -> None:
    with HttpFake(mlflow_server(None)) as api, httpx.Client() as client:
        url = f"{api.url}/api/2.0/mlflow/runs/log-batch"
        assert client.post(url, json={"metrics": []}).status_code == 400
        metric = {"key": "a:b", "value": 1.0, "timestamp": 1, "step": 0}
        assert client.post(url, json={"run_id": RUN_ID, "metrics": [metric]}).status_code == 400
        metric = {"key": "a", "value": "1", "timestamp": 1, "step": 0}
        assert client.post(url, json={"run_id": RUN_ID, "metrics": [metric]}).status_code == 400
        many = [{"key": f"k{i}", "value": 1.0, "timestamp": 1, "step": 0} for i in range(1001)]
        assert client.post(url, json={"run_id": RUN_ID, "metrics": many}).status_code == 400


def test_missing_password_names_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DW_NO_PASSWORD", raising=False)
    notifier = MlflowNotifier(settings(username="u", password_env="DW_NO_PASSWORD"), "receivers[3]")
    with pytest.raises(SecretError, match=r"receivers\[3\]\.password_env"):
        notifier.build_request(message(PAYLOAD))


def test_an_alert_message_is_not_logged() -> None:
    notifier = MlflowNotifier(settings(), "receivers[0]")
    alert = sample_event()
    assert notifier.build_request(message(alert.to_payload(), alert.event_type)) is None


@pytest.mark.parametrize(
    ("overrides", "text"),
    [
        ({"username": "u"}, "set username and password_env together"),
        ({"password_env": "P"}, "set username and password_env together"),
        (
            {"token_env": "T", "username": "u", "password_env": "P"},
            "set token_env or username/password_env, not both",
        ),
        ({"metric_prefix": "drift:x"}, "String should match pattern"),
        ({"run_id": ""}, "at least 1 character"),
    ],
)
def test_settings_are_validated(overrides: dict[str, Any], text: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(text)):
        settings(**overrides)
