"""AWS trigger: each action's documented body, and SigV4 as AWS checks it, on 127.0.0.1.

The fake AWS recomputes the signature with botocore from the headers the
request says it signed, refuses a timestamp more than 5 minutes old with
403 "Signature expired" (IAM's SigV4 troubleshooting guide), a mismatch with
403 "The request signature we calculated does not match", and checks each
action's required fields and ``X-Amz-Target``, as the AWS API references
describe them.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from pydantic import ValidationError
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

import monitor.notifiers.aws as aws_module
from monitor.config import parse_settings
from monitor.delivery.worker import DeliveryWorker
from monitor.metrics import Metrics
from monitor.notifiers.aws import (
    AwsNotifier,
    AwsReceiverSettings,
    SigV4Authenticator,
    client_request_token,
    execution_name,
    render_aws,
)
from monitor.notifiers.base import Verdict
from monitor.notifiers.registry import build_notifiers
from monitor.service_settings import DeliverySettings
from monitor.store.models import DeliveryAttemptRow, OutboxRow
from tests.monitor.notifiers.fake_api import message_for
from tests.support import Clock, HttpFake, Received, Reply, sample_event

ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
NOW = datetime(2026, 11, 25, 12, 0, 5, tzinfo=UTC)
ARN = "arn:aws:states:eu-west-1:123456789012:stateMachine:retrain"
ACTIONS: dict[str, dict[str, str]] = {
    "stepfunctions": {"state_machine_arn": ARN},
    "sagemaker": {"pipeline_name": "retrain"},
    "codepipeline": {"pipeline_name": "retrain"},
    "eventbridge": {},
}
TARGETS = {
    "AWSStepFunctions.StartExecution": ("states", "application/x-amz-json-1.0"),
    "SageMaker.StartPipelineExecution": ("sagemaker", "application/x-amz-json-1.1"),
    "CodePipeline_20150709.StartPipelineExecution": ("codepipeline", "application/x-amz-json-1.1"),
    "AWSEvents.PutEvents": ("events", "application/x-amz-json-1.1"),
}
_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
    r"(?P<service>[^/]+)/aws4_request, SignedHeaders=(?P<signed>[a-z0-9;-]+), "
    r"Signature=(?P<signature>[0-9a-f]{64})"
)


def aws_error(status: int, error_type: str, message: str) -> Reply:
    return Reply(
        status,
        {"content-type": "application/x-amz-json-1.1", "x-amzn-errortype": error_type},
        json.dumps({"__type": error_type, "message": message}).encode(),
    )


class FakeAws:
    """Verifies SigV4 with botocore at the server's ``now``, then the action's fields."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.executions: dict[str, bytes] = {}

    def __call__(self, request: Received) -> Reply:
        refused = self.verify_signature(request)
        if refused is not None:
            return refused
        target = request.headers.get("x-amz-target", "")
        if target not in TARGETS:
            return aws_error(400, "UnknownOperationException", "")
        if request.headers.get("content-type") != TARGETS[target][1]:
            return aws_error(400, "SerializationException", "wrong content type")
        body = json.loads(request.body)
        if target == "AWSStepFunctions.StartExecution":
            name = body.get("name", "")
            if not body.get("stateMachineArn") or not re.fullmatch(r"[A-Za-z0-9_-]{1,80}", name):
                return aws_error(400, "ValidationException", "name or stateMachineArn")
            json.loads(body["input"])
            if name in self.executions and self.executions[name] != body["input"]:
                return aws_error(400, "ExecutionAlreadyExists", f"Execution Already Exists: {name}")
            self.executions[name] = body["input"]
            return Reply.json(200, {"executionArn": f"{body['stateMachineArn']}:{name}"})
        if target == "SageMaker.StartPipelineExecution":
            token = body.get("ClientRequestToken", "")
            if not body.get("PipelineName") or not 32 <= len(token) <= 128:
                return aws_error(400, "ValidationException", "ClientRequestToken: 32 to 128")
            return Reply.json(200, {"PipelineExecutionArn": "arn:aws:sagemaker:x"})
        if target == "CodePipeline_20150709.StartPipelineExecution":
            variables = body.get("variables", [])
            if not body.get("name") or any(not v["value"] for v in variables):
                return aws_error(400, "ValidationException", "name; variable values non-empty")
            return Reply.json(200, {"pipelineExecutionId": "e-1"})
        (entry,) = body["Entries"]
        if not all(entry.get(k) for k in ("Source", "DetailType", "Detail")):
            return Reply.json(200, {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "X"}]})
        return Reply.json(200, {"FailedEntryCount": 0, "Entries": [{"EventId": "1"}]})

    def verify_signature(self, request: Received) -> Reply | None:
        match = _AUTHORIZATION.fullmatch(request.headers.get("authorization", ""))
        if match is None:
            return aws_error(403, "IncompleteSignatureException", "Authorization is malformed")
        if match["key"] != ACCESS_KEY:
            return aws_error(403, "UnrecognizedClientException", "The security token is invalid")
        amz_date = request.headers.get("x-amz-date", "")
        signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        if signed_at < self.now - timedelta(minutes=5):
            return aws_error(
                403,
                "InvalidSignatureException",
                f"Signature expired: {amz_date} is now earlier than "
                f"{(self.now - timedelta(minutes=5)).strftime('%Y%m%dT%H%M%SZ')}",
            )
        signed = match["signed"].split(";")
        if "host" not in signed or match["date"] != amz_date[:8]:
            return aws_error(403, "InvalidSignatureException", "host must be signed")
        aws_request = AWSRequest(
            method=request.method,
            url=f"http://{request.headers['host']}{request.target}",
            headers={name: request.headers[name] for name in signed},
            data=request.body,
        )
        aws_request.context["timestamp"] = amz_date
        signer = SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), match["service"], match["region"])
        expected = signer.signature(
            signer.string_to_sign(aws_request, signer.canonical_request(aws_request)), aws_request
        )
        if not hmac.compare_digest(expected, match["signature"]):
            return aws_error(
                403,
                "InvalidSignatureException",
                "The request signature we calculated does not match the signature you provided.",
            )
        return None


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fixed credentials in the environment; no shared files, no instance metadata."""
    for name in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)


@pytest.fixture
def api(credentials: None) -> Iterator[HttpFake]:
    with HttpFake(FakeAws(NOW)) as server:
        yield server


def settings(action: str, endpoint_url: str | None = None, **overrides: Any) -> AwsReceiverSettings:
    fields: dict[str, Any] = {"name": "retrain", "type": "aws", "region": "eu-west-1"}
    fields.update({"action": action, "endpoint_url": endpoint_url, **ACTIONS[action]})
    fields.update(overrides)
    return AwsReceiverSettings.model_validate(fields)


def signed_request(action: str, url: str, at: datetime = NOW) -> httpx.Request:
    notifier = AwsNotifier(settings(action, url), "receivers[0]")
    request = notifier.build_request(message_for(sample_event()))
    assert request is not None
    return notifier.authenticator.authenticate(request, at)


PAYLOAD = {
    "monitor": "credit-risk",
    "rule": "drift",
    "severity": "critical",
    "summary": "credit-risk: 2 of 7 columns drifted (income, device)",
    "run": {"id": 42, "url": "http://127.0.0.1:8470/api/runs/42"},
    "window": {"start": "2026-11-25T11:00:00+00:00", "end": "2026-11-25T12:00:00+00:00"},
    "drifted_columns": ["income", "device"],
    "idempotency_key": "credit-risk-3f2a9c0d1e4b-2",
}
FIELDS = (
    b'"monitor","value":"credit-risk"},{"name":"rule","value":"drift"},'
    b'{"name":"severity","value":"critical"},{"name":"run_id","value":"42"},'
    b'{"name":"run_url","value":"http://127.0.0.1:8470/api/runs/42"},'
    b'{"name":"window_start","value":"2026-11-25T11:00:00+00:00"},'
    b'{"name":"window_end","value":"2026-11-25T12:00:00+00:00"},'
    b'{"name":"drifted_columns","value":"income,device"},'
    b'{"name":"idempotency_key","value":"credit-risk-3f2a9c0d1e4b-2"}'
)


def test_step_functions_body_is_exact() -> None:
    document = json.loads(render_aws(sample_event(), settings("stepfunctions")))
    assert list(document) == ["stateMachineArn", "name", "input"]
    assert document["stateMachineArn"] == ARN
    assert document["name"] == "credit-risk-3f2a9c0d1e4b-2"
    assert json.loads(document["input"]) == PAYLOAD


def test_sagemaker_body_is_exact() -> None:
    assert render_aws(sample_event(), settings("sagemaker")) == (
        b'{"PipelineName":"retrain","PipelineParameters":[{"Name":'
        + FIELDS.replace(b'"name"', b'"Name"').replace(b'"value"', b'"Value"')
        + b'],"PipelineExecutionDescription":'
        b'"credit-risk: 2 of 7 columns drifted (income, device)",'
        b'"ClientRequestToken":"credit-risk-3f2a9c0d1e4b-2-1f694"}'
    )


def test_codepipeline_body_is_exact() -> None:
    assert render_aws(sample_event(), settings("codepipeline")) == (
        b'{"name":"retrain","variables":[{"name":'
        + FIELDS
        + b'],"clientRequestToken":"credit-risk-3f2a9c0d1e4b-2"}'
    )


def test_codepipeline_leaves_out_empty_variables() -> None:
    body = render_aws(sample_event(drifted_columns=()), settings("codepipeline"))
    assert b"drifted_columns" not in body


def test_eventbridge_body_is_exact() -> None:
    document = json.loads(render_aws(sample_event(), settings("eventbridge")))
    (entry,) = document["Entries"]
    assert list(document) == ["Entries"]
    assert list(entry) == ["Source", "DetailType", "Detail", "EventBusName"]
    assert (entry["Source"], entry["DetailType"], entry["EventBusName"]) == (
        "driftwarden",
        "Drift detected",
        "default",
    )
    assert json.loads(entry["Detail"]) == PAYLOAD


def test_the_same_episode_gives_the_same_execution_name_and_token() -> None:
    again = sample_event(run_id=43, run_url="http://x/runs/43")
    for action, field in (
        ("stepfunctions", "name"),
        ("sagemaker", "ClientRequestToken"),
        ("codepipeline", "clientRequestToken"),
    ):
        first = json.loads(render_aws(sample_event(), settings(action)))[field]
        assert json.loads(render_aws(again, settings(action)))[field] == first


def test_names_are_made_safe_deterministically() -> None:
    key = "Credit Risk/model:" + "x" * 100
    name = execution_name(key)
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,80}", name) and name == execution_name(key)
    assert execution_name(key) != execution_name(key + "y")
    token = client_request_token("a")
    assert 32 <= len(token) <= 128 and token == client_request_token("a")


def test_authorization_equals_botocores_sigv4auth(
    api: HttpFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = signed_request("stepfunctions", api.url)

    expected = AWSRequest(
        method="POST",
        url=str(request.url),
        headers={
            k: v for k, v in request.headers.items() if k not in ("authorization", "x-amz-date")
        },
        data=request.content,
    )
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda: NOW.replace(tzinfo=None))
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "states", "eu-west-1").add_auth(expected)

    assert request.headers["x-amz-date"] == "20261125T120005Z"
    assert request.headers["authorization"] == expected.headers["Authorization"]
    assert request.headers["authorization"].startswith(
        f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/20261125/eu-west-1/states/aws4_request, "
    )
    assert SECRET_KEY not in str(request.headers)


def test_a_session_token_is_sent_and_signed(api: HttpFake, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SESSION_TOKEN", "session-token-1")
    request = signed_request("eventbridge", api.url)
    assert request.headers["x-amz-security-token"] == "session-token-1"
    assert "x-amz-security-token" in request.headers["authorization"]


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_every_action_is_accepted_by_the_fake_aws(api: HttpFake, action: str) -> None:
    notifier = AwsNotifier(settings(action, api.url), "receivers[0]")
    with httpx.Client() as client:
        response = client.send(signed_request(action, api.url))
    assert response.status_code == 200, response.text
    assert notifier.classify(response) is Verdict.DELIVERED
    (received,) = api.requests
    service = TARGETS[received.headers["x-amz-target"]][0]
    assert f"/eu-west-1/{service}/aws4_request" in received.headers["authorization"]


def test_a_tampered_body_is_refused_for_good(api: HttpFake) -> None:
    request = signed_request("sagemaker", api.url)
    tampered = httpx.Request(
        "POST",
        request.url,
        headers=request.headers,
        content=request.content.replace(b"retrain", b"retrein"),
    )
    with httpx.Client() as client:
        response = client.send(tampered)
    assert response.status_code == 403
    assert "does not match" in response.text
    assert AwsNotifier(settings("sagemaker"), "k").classify(response) is Verdict.PERMANENT


def test_an_expired_signature_is_refused_and_retried(api: HttpFake) -> None:
    """Over 5 minutes old: 403 "Signature expired". The retry is signed afresh, so retryable."""
    with httpx.Client() as client:
        response = client.send(signed_request("sagemaker", api.url, NOW - timedelta(minutes=6)))
        assert response.status_code == 403
        assert "Signature expired" in response.text
        assert AwsNotifier(settings("sagemaker"), "k").classify(response) is Verdict.RETRYABLE
        fresh = client.send(signed_request("sagemaker", api.url, NOW - timedelta(minutes=4)))
    assert fresh.status_code == 200


def test_a_step_functions_repeat_is_refused_by_aws_and_counts_as_delivered(
    api: HttpFake,
) -> None:
    notifier = AwsNotifier(settings("stepfunctions", api.url), "k")
    with httpx.Client() as client:
        assert client.send(signed_request("stepfunctions", api.url)).status_code == 200
        changed = notifier.build_request(message_for(sample_event(run_id=43)))
        assert changed is not None
        response = client.send(notifier.authenticator.authenticate(changed, NOW))
    assert response.status_code == 400
    assert notifier.classify(response) is Verdict.DELIVERED


@pytest.mark.parametrize(
    ("response", "verdict"),
    [
        (httpx.Response(400, headers={"x-amzn-errortype": "ThrottlingException:x"}), "retryable"),
        (httpx.Response(400, json={"__type": "com.amazon#ValidationException"}), "permanent"),
        (httpx.Response(503), "retryable"),
        (httpx.Response(200, json={"FailedEntryCount": 0, "Entries": []}), "delivered"),
        (
            httpx.Response(200, json={"FailedEntryCount": 1, "Entries": [{"ErrorCode": "X"}]}),
            "permanent",
        ),
        (
            httpx.Response(
                200,
                json={"FailedEntryCount": 1, "Entries": [{"ErrorCode": "ThrottlingException"}]},
            ),
            "retryable",
        ),
    ],
)
def test_classification(response: httpx.Response, verdict: str) -> None:
    notifier = AwsNotifier(settings("eventbridge"), "k")
    assert notifier.classify(response) is Verdict(verdict)


def test_resolved_event_sends_nothing(credentials: None) -> None:
    notifier = AwsNotifier(settings("eventbridge"), "k")
    assert notifier.build_request(message_for(sample_event("resolved"))) is None


@pytest.mark.parametrize(
    ("action", "overrides", "message"),
    [
        ("stepfunctions", {"state_machine_arn": None}, "needs state_machine_arn"),
        ("sagemaker", {"pipeline_name": None}, "needs pipeline_name"),
        ("eventbridge", {"pipeline_name": "x"}, "does not apply to action eventbridge"),
        ("eventbridge", {"region": "Ireland"}, "should match pattern"),
    ],
)
def test_settings_refuse_incomplete_actions(
    action: str, overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        settings(action, **overrides)


def test_without_botocore_the_config_error_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(aws_module, "botocore_installed", lambda: False)
    with pytest.raises(ValidationError, match=r"pip install 'driftwarden\[aws\]'"):
        settings("eventbridge")


def _outbox(engine: Engine) -> None:
    event = sample_event()
    with Session(engine) as session:
        session.add(
            OutboxRow(
                message_id="msg_aws",
                receiver="retrain-aws",
                event_type=event.event_type,
                payload=event.to_payload(),
                created_at=NOW,
                next_attempt_at=NOW,
            )
        )
        session.commit()


def _worker(engine: Engine, url: str) -> DeliveryWorker:
    table = {"name": "retrain-aws", "type": "aws", "action": "stepfunctions"}
    table |= {"region": "eu-west-1", "state_machine_arn": ARN, "endpoint_url": url}
    notifiers = build_notifiers(parse_settings({"receivers": [table]}).receivers)
    return DeliveryWorker(
        engine,
        notifiers,
        {"retrain-aws": None},
        DeliverySettings(),
        Metrics(),
        "w1",
        clock=Clock(NOW),
    )


def test_the_worker_signs_and_delivers(sqlite_engine: Engine, api: HttpFake) -> None:
    _outbox(sqlite_engine)
    worker = _worker(sqlite_engine, api.url)
    try:
        assert worker.run_once() == 1
    finally:
        worker.close()
    with Session(sqlite_engine) as session:
        (attempt,) = session.scalars(select(DeliveryAttemptRow))
    assert (attempt.outcome, attempt.status_code) == ("delivered", 200)
    (received,) = api.requests
    assert received.headers["x-amz-date"] == "20261125T120005Z"


def test_missing_credentials_are_a_retryable_failure_with_a_clear_message(
    sqlite_engine: Engine,
    credentials: None,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    _outbox(sqlite_engine)
    with HttpFake(FakeAws(NOW)) as server:
        worker = _worker(sqlite_engine, server.url)
        with caplog.at_level(logging.WARNING, logger="driftwarden.delivery"):
            assert worker.run_once() == 1
        worker.close()
        assert server.requests == []
    with Session(sqlite_engine) as session:
        (attempt,) = session.scalars(select(DeliveryAttemptRow))
    assert attempt.outcome == "retry"
    assert attempt.error == (
        "AuthenticationError: no AWS credentials found (environment, shared config or "
        "credentials file, container or instance role)"
    )
    assert "no AWS credentials found" in caplog.text


def test_the_authenticator_signs_at_the_given_time_only(credentials: None) -> None:
    authenticator = SigV4Authenticator("events", "eu-west-1")
    first = authenticator.authenticate(
        httpx.Request("POST", "http://127.0.0.1/", content=b"{}"), NOW
    )
    again = authenticator.authenticate(
        httpx.Request("POST", "http://127.0.0.1/", content=b"{}"), NOW
    )
    assert first.headers["authorization"] == again.headers["authorization"]
