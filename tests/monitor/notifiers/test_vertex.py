"""Vertex AI trigger: the documented PipelineJob create, its token, against a fake on 127.0.0.1.

The fake checks what ``projects.locations.pipelineJobs.create`` checks: a
bearer token, a JSON body with ``templateUri``, a ``pipelineJobId`` of
``[a-z][-a-z0-9]{0,127}``, and 409 ALREADY_EXISTS for an id it has seen. It
also serves an OAuth2 token endpoint, so the default-credentials path is
refreshed by google-auth over real HTTP.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from monitor.config import parse_settings
from monitor.delivery.worker import DeliveryWorker
from monitor.metrics import Metrics
from monitor.notifiers.base import Verdict
from monitor.notifiers.registry import build_notifiers
from monitor.notifiers.vertex import (
    VertexNotifier,
    VertexReceiverSettings,
    pipeline_job_id,
    render_vertex,
)
from monitor.service_settings import DeliverySettings
from monitor.store.models import DeliveryAttemptRow, OutboxRow
from tests.monitor.notifiers.fake_api import error, json_body, message_for, send
from tests.support import Clock, HttpFake, Received, Reply, sample_event

TOKEN = "ya29.test-access-token"
REFRESHED = "ya29.refreshed-by-google-auth"
PATH = "/v1/projects/acme-ml/locations/europe-west4/pipelineJobs"
NOW = datetime(2026, 11, 25, 12, 0, 5, tzinfo=UTC)
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"


class FakeVertex:
    def __init__(self) -> None:
        self.jobs: set[str] = set()

    def __call__(self, request: Received) -> Reply:
        if request.path == "/token":  # OAuth2 JWT-bearer grant of a service account
            form = parse_qs(request.body.decode())
            if form.get("grant_type") != [JWT_BEARER] or not form.get("assertion"):
                return error(400, "invalid_grant")
            body = {"access_token": REFRESHED, "expires_in": 3600, "token_type": "Bearer"}
            return Reply.json(200, body)
        if request.headers.get("authorization") not in (f"Bearer {TOKEN}", f"Bearer {REFRESHED}"):
            return error(401, "UNAUTHENTICATED")
        if request.path != PATH:
            return error(404, "NOT_FOUND")
        (job_id,) = request.query.get("pipelineJobId", [""])
        if not re.fullmatch(r"[a-z][-a-z0-9]{0,127}", job_id):
            return error(400, "INVALID_ARGUMENT: pipelineJobId")
        job = json_body(request)
        if not isinstance(job, dict) or not str(job.get("templateUri", "")).startswith("gs://"):
            return error(400, "INVALID_ARGUMENT: templateUri")
        if not isinstance(job.get("runtimeConfig", {}).get("parameterValues"), dict):
            return error(400, "INVALID_ARGUMENT: runtimeConfig")
        if job_id in self.jobs:
            return error(409, "ALREADY_EXISTS")
        self.jobs.add(job_id)
        name = f"{PATH[4:]}/{job_id}"
        return Reply.json(200, {"name": name})


@pytest.fixture
def no_google_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No ADC file, an empty gcloud config, no metadata-server probe."""
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.delenv("DW_VERTEX_TOKEN", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.setenv("NO_GCE_CHECK", "True")


@pytest.fixture
def api() -> Iterator[HttpFake]:
    with HttpFake(FakeVertex()) as server:
        yield server


def settings(endpoint_url: str | None = None, **overrides: Any) -> VertexReceiverSettings:
    fields: dict[str, Any] = {
        "name": "retrain-vertex",
        "type": "vertex",
        "project": "acme-ml",
        "location": "europe-west4",
        "template_uri": "gs://acme-pipelines/retrain.yaml",
        "pipeline_root": "gs://acme-pipelines/runs",
        "access_token_env": "DW_VERTEX_TOKEN",
        "endpoint_url": endpoint_url,
    }
    fields.update(overrides)
    return VertexReceiverSettings.model_validate(fields)


def test_body_is_exact() -> None:
    assert render_vertex(sample_event(), settings()) == (
        b'{"displayName":"driftwarden credit-risk drift",'
        b'"templateUri":"gs://acme-pipelines/retrain.yaml","runtimeConfig":{"parameterValues":{'
        b'"monitor":"credit-risk","rule":"drift","severity":"critical","run_id":"42",'
        b'"run_url":"http://127.0.0.1:8470/api/runs/42",'
        b'"window_start":"2026-11-25T11:00:00+00:00","window_end":"2026-11-25T12:00:00+00:00",'
        b'"drifted_columns":"income,device","idempotency_key":"credit-risk-3f2a9c0d1e4b-2"},'
        b'"gcsOutputDirectory":"gs://acme-pipelines/runs"}}'
    )


def test_url_carries_the_pipeline_job_id() -> None:
    notifier = VertexNotifier(settings(), "receivers[0]")
    request = notifier.build_request(message_for(sample_event()))
    assert request is not None
    assert str(request.url) == (
        "https://europe-west4-aiplatform.googleapis.com/v1/projects/acme-ml/locations/"
        "europe-west4/pipelineJobs?pipelineJobId=dw-credit-risk-3f2a9c0d1e4b-2"
    )
    assert "authorization" not in request.headers  # the authentication stage adds it


def test_the_same_episode_gives_the_same_pipeline_job_id() -> None:
    notifier = VertexNotifier(settings(), "receivers[0]")
    first = notifier.build_request(message_for(sample_event()))
    again = notifier.build_request(message_for(sample_event(run_id=43, run_url="http://x/43")))
    assert first is not None and again is not None
    assert first.url == again.url
    assert re.fullmatch(r"[a-z][-a-z0-9]{0,127}", pipeline_job_id("9 Credit/Risk" + "x" * 200))


def test_token_from_env_is_accepted_and_a_repeat_is_already_delivered(
    api: HttpFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DW_VERTEX_TOKEN", TOKEN)
    notifier = VertexNotifier(settings(api.url), "receivers[0]")
    with httpx.Client() as client:
        for expected in (200, 409):
            request = notifier.build_request(message_for(sample_event()))
            assert request is not None
            response = client.send(notifier.authenticator.authenticate(request, NOW))
            assert response.status_code == expected
            assert notifier.classify(response) is Verdict.DELIVERED
    assert api.requests[0].headers["authorization"] == f"Bearer {TOKEN}"


def test_without_a_token_the_fake_refuses(api: HttpFake) -> None:
    response = send(VertexNotifier(settings(api.url), "receivers[0]"), sample_event())
    assert response.status_code == 401
    assert VertexNotifier(settings(), "k").classify(response) is Verdict.PERMANENT


def test_default_credentials_are_refreshed_by_google_auth(
    api: HttpFake,
    no_google_credentials: None,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    adc = tmp_path / "adc.json"
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    info = {
        "type": "service_account",
        "project_id": "acme-ml",
        "private_key_id": "k1",
        "private_key": pem.decode(),
        "client_email": "driftwarden@acme-ml.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": f"{api.url}/token",
    }
    adc.write_text(json.dumps(info))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(adc))
    notifier = VertexNotifier(settings(api.url, access_token_env=None), "receivers[0]")
    request = notifier.build_request(message_for(sample_event()))
    assert request is not None
    with httpx.Client() as client:
        response = client.send(notifier.authenticator.authenticate(request, NOW))
    assert response.status_code == 200
    assert api.requests[-1].headers["authorization"] == f"Bearer {REFRESHED}"


def _deliver_once(engine: Engine, table: dict[str, Any]) -> DeliveryAttemptRow:
    event = sample_event()
    with Session(engine) as session:
        session.add(
            OutboxRow(
                message_id="msg_vertex",
                receiver="retrain-vertex",
                event_type=event.event_type,
                payload=event.to_payload(),
                created_at=NOW,
                next_attempt_at=NOW,
            )
        )
        session.commit()
    notifiers = build_notifiers(parse_settings({"receivers": [table]}).receivers)
    worker = DeliveryWorker(
        engine,
        notifiers,
        {"retrain-vertex": None},
        DeliverySettings(),
        Metrics(),
        "w1",
        clock=Clock(NOW),
    )
    try:
        assert worker.run_once() == 1
    finally:
        worker.close()
    with Session(engine) as session:
        (attempt,) = session.scalars(select(DeliveryAttemptRow))
    return attempt


def _table(url: str, **overrides: Any) -> dict[str, Any]:
    table = settings(url).model_dump(exclude_none=True, exclude={"rate_limit"})
    table.update(overrides)
    return {k: v for k, v in table.items() if v is not None}


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        (
            {},
            "SecretError: receivers[0].access_token_env: environment variable "
            "DW_VERTEX_TOKEN (or DW_VERTEX_TOKEN_FILE) is not set",
        ),
        (
            {"access_token_env": None},
            "AuthenticationError: no Google Application Default Credentials found (set "
            "GOOGLE_APPLICATION_CREDENTIALS or the receiver's access_token_env)",
        ),
    ],
)
def test_token_acquisition_failure_is_a_retryable_failure_with_a_clear_message(
    sqlite_engine: Engine,
    api: HttpFake,
    no_google_credentials: None,
    caplog: pytest.LogCaptureFixture,
    overrides: dict[str, Any],
    error: str,
) -> None:
    with caplog.at_level(logging.DEBUG):
        attempt = _deliver_once(sqlite_engine, _table(api.url, **overrides))
    assert (attempt.outcome, attempt.status_code, attempt.error) == ("retry", None, error)
    assert api.requests == []
    assert error.split(": ", 1)[1] in caplog.text
    assert "ya29" not in caplog.text


def test_the_worker_adds_the_token_and_delivers(
    sqlite_engine: Engine, api: HttpFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DW_VERTEX_TOKEN", TOKEN)
    attempt = _deliver_once(sqlite_engine, _table(api.url))
    assert (attempt.outcome, attempt.status_code) == ("delivered", 200)
    assert api.requests[0].headers["authorization"] == f"Bearer {TOKEN}"


def test_resolved_event_sends_nothing() -> None:
    notifier = VertexNotifier(settings(), "receivers[0]")
    assert notifier.build_request(message_for(sample_event("resolved"))) is None
