"""Contract of every retraining trigger, parametrised over the registry's trigger kinds.

A trigger is a kind whose ``NotifierSpec.trigger`` is set; each needs an
example table in ``TRIGGERS`` below, or its cases fail. Each is configured
from a ``[[receivers]]`` table and built by the registry; a firing event
gives a request that carries the idempotency key, a resolved event gives
none, and the delivery worker records that as delivered without
sending anything.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from monitor.alerts.event import AlertStatus
from monitor.config import parse_settings, secret_references
from monitor.delivery.worker import DeliveryWorker
from monitor.metrics import Metrics
from monitor.notifiers._trigger import TriggerNotifier
from monitor.notifiers.registry import SPECS, build_notifiers
from monitor.notifiers.spec import NotifierSpec
from monitor.service_settings import DeliverySettings
from monitor.store.models import DeliveryAttemptRow, OutboxRow
from tests.monitor.notifiers.fake_api import message_for
from tests.support import HttpFake, sample_event

DEPLOYMENT = "33333333-3333-4333-8333-333333333333"
TRIGGER_KINDS = sorted(spec.type for spec in SPECS if spec.trigger)
TRIGGERS: dict[str, dict[str, Any]] = {
    "github": {"repository": "acme/models", "token_env": "DW_T_GITHUB"},
    "airflow": {"url": "{url}", "dag_id": "retrain", "token_env": "DW_T_AIRFLOW"},
    "argo": {
        "url": "{url}",
        "namespace": "ml",
        "workflow_template": "retrain",
        "token_env": "DW_T_ARGO",
    },
    "jenkins": {"url": "{url}", "job": "retrain", "token_env": "DW_T_JENKINS"},
    "gitlab": {"url": "{url}", "project": "7", "ref": "main", "token_env": "DW_T_GITLAB"},
    "prefect": {"api_url": "{url}/api", "deployment_id": DEPLOYMENT, "api_key_env": "DW_T_PREFECT"},
    "http": {"url_env": "DW_T_HTTP_URL", "headers_env": {"authorization": "DW_T_HTTP_AUTH"}},
    "azure_devops": {
        "organization_url": "{url}/acme",
        "project": "ml",
        "pipeline_id": 12,
        "token_env": "DW_T_AZURE_DEVOPS",
    },
    "kubeflow": {
        "url": "{url}",
        "pipeline_id": "p",
        "pipeline_version_id": "v",
        "token_env": "DW_T_KUBEFLOW",
    },
    "circleci": {"project_slug": "gh/acme/models", "token_env": "DW_T_CIRCLECI"},
    "tekton": {"url": "{url}/", "secret_env": "DW_T_TEKTON"},
    "aws": {
        "action": "sagemaker",
        "region": "eu-west-1",
        "pipeline_name": "retrain",
        "endpoint_url": "{url}",
    },
    "vertex": {
        "project": "acme-ml",
        "location": "europe-west4",
        "template_uri": "gs://acme/pipeline.json",
        "access_token_env": "DW_T_VERTEX",
        "endpoint_url": "{url}",
    },
}


def receiver(kind: str, url: str = "https://pipelines.example.com") -> dict[str, Any]:
    if kind not in TRIGGERS:
        pytest.fail(f"trigger kind {kind!r} has no example table in TRIGGERS")
    table: dict[str, Any] = {"name": f"retrain-{kind}", "type": kind}
    for key, value in TRIGGERS[kind].items():
        table[key] = value.replace("{url}", url) if isinstance(value, str) else value
    if kind == "github":
        table["api_url"] = url
    if kind == "circleci":
        table["api_url"] = f"{url}/api/v2"
    return table


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[HttpFake]:
    for name in ("GITHUB", "AIRFLOW", "ARGO", "JENKINS", "GITLAB", "PREFECT", "HTTP_AUTH"):
        monkeypatch.setenv(f"DW_T_{name}", f"secret-{name.lower()}")
    for name in ("AZURE_DEVOPS", "KUBEFLOW", "CIRCLECI", "TEKTON", "VERTEX"):
        monkeypatch.setenv(f"DW_T_{name}", f"secret-{name.lower()}")
    with HttpFake() as server:
        monkeypatch.setenv("DW_T_HTTP_URL", f"{server.url}/hook")
        yield server


def test_every_trigger_kind_has_an_example_and_nothing_else_does() -> None:
    assert set(TRIGGERS) == set(TRIGGER_KINDS)


@pytest.mark.parametrize("spec", SPECS, ids=[spec.type for spec in SPECS])
def test_a_notifier_that_fires_once_per_episode_is_declared_a_trigger(spec: NotifierSpec) -> None:
    # A notifier built on the trigger base fires once per episode and must say so,
    # or the contract below would skip it.
    is_trigger = isinstance(spec.factory, type) and issubclass(spec.factory, TriggerNotifier)
    assert is_trigger == spec.trigger


@pytest.mark.parametrize("kind", TRIGGER_KINDS)
def test_first_firing_builds_a_request_with_the_key_and_nothing_else_does(
    kind: str, env: HttpFake
) -> None:
    settings = parse_settings({"receivers": [receiver(kind, env.url)]})
    notifier = build_notifiers(settings.receivers)[f"retrain-{kind}"]
    assert isinstance(notifier, TriggerNotifier)

    request = notifier.build_request(message_for(sample_event()))
    assert request is not None
    assert request.url.host == "127.0.0.1"
    assert b"credit-risk-3f2a9c0d1e4b-2" in request.content

    assert notifier.build_request(message_for(sample_event("resolved"))) is None
    for occasion in ("repeat", "changed"):  # the same episode, still firing: started already
        assert notifier.build_request(message_for(sample_event(occasion=occasion))) is None


@pytest.mark.parametrize("kind", TRIGGER_KINDS)
def test_secret_references_name_every_env_key(kind: str) -> None:
    settings = parse_settings({"receivers": [receiver(kind)]})
    expected = {
        (f"receivers[0].{key}", value)
        for key, value in TRIGGERS[kind].items()
        if key.endswith("_env") and isinstance(value, str)
    }
    expected |= {
        (f"receivers[0].headers_env.{header}", value)
        for header, value in TRIGGERS[kind].get("headers_env", {}).items()
    }
    assert set(secret_references(settings)) == expected


def test_worker_records_a_resolved_trigger_as_delivered_without_sending(
    sqlite_engine: Engine, env: HttpFake
) -> None:
    settings = parse_settings({"receivers": [receiver("http")]})
    now = datetime.now(UTC)
    with Session(sqlite_engine) as session:
        statuses: tuple[tuple[str, AlertStatus], ...] = (
            ("msg_resolved", "resolved"),
            ("msg_firing", "firing"),
        )
        for message_id, status in statuses:
            event = sample_event(status)
            session.add(
                OutboxRow(
                    message_id=message_id,
                    receiver="retrain-http",
                    event_type=event.event_type,
                    payload=event.to_payload(),
                    created_at=now,
                    next_attempt_at=now,
                )
            )
        session.commit()

    with httpx.Client() as client:
        worker = DeliveryWorker(
            sqlite_engine,
            build_notifiers(settings.receivers),
            {"retrain-http": None},
            DeliverySettings(),
            Metrics(),
            "w1",
            client=client,
            batch_size=10,
        )
        assert worker.run_once() == 2

    with Session(sqlite_engine) as session:
        rows = {row.message_id: row for row in session.scalars(select(OutboxRow))}
        attempts = {
            row.message_id: [
                (a.outcome, a.status_code)
                for a in session.scalars(
                    select(DeliveryAttemptRow).where(DeliveryAttemptRow.outbox_id == row.id)
                )
            ]
            for row in rows.values()
        }
    assert rows["msg_resolved"].status == rows["msg_firing"].status == "delivered"
    assert attempts == {"msg_resolved": [("delivered", None)], "msg_firing": [("delivered", 200)]}
    (sent,) = env.requests
    assert sent.headers["idempotency-key"] == "credit-risk-3f2a9c0d1e4b-2"
