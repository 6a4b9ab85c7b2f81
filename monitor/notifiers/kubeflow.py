"""Kubeflow Pipelines retraining trigger: create a run from a pipeline version (KFP v2).

``POST {url}/apis/v2beta1/runs`` with the run: ``display_name`` (required),
``pipeline_version_reference`` (``pipeline_id`` and ``pipeline_version_id``,
both required), ``runtime_config.parameters`` and optionally
``experiment_id`` (default: the default experiment) and ``service_account``;
the API server answers 200 with the run, 400 for a missing field. It is
authorised by ``Authorization: Bearer <token>`` where the deployment checks
one (multi-user Kubeflow, a service account token), or by nothing.

The run's ``display_name`` is derived from the idempotency key, so the runs of
one firing episode are easy to find; KFP does not refuse a second run with the
same name, so the pipeline can also check the ``idempotency_key`` parameter.
"""

from __future__ import annotations

import json
from typing import Literal

import httpx
from pydantic import Field

from monitor.alerts.event import AlertEvent
from monitor.notifiers._http import JSON, optional_bearer, post_request
from monitor.notifiers._trigger import TriggerNotifier, trigger_fields
from monitor.notifiers.spec import NotifierSpec
from monitor.settings_base import HttpUrlStr, RateLimitedSettings


class KubeflowReceiverSettings(RateLimitedSettings):
    name: str
    type: Literal["kubeflow"]
    url: HttpUrlStr = Field(
        description="the KFP API server (e.g. https://kubeflow.example.com/pipeline)"
    )
    pipeline_id: str = Field(min_length=1)
    pipeline_version_id: str = Field(min_length=1)
    experiment_id: str | None = Field(default=None, min_length=1)
    service_account: str | None = Field(default=None, min_length=1)
    name_prefix: str = Field(default="driftwarden-", max_length=40)
    token_env: str | None = Field(
        default=None, description="env var holding a bearer token (none: no auth)"
    )

    def endpoint(self) -> str:
        return f"{self.url.rstrip('/')}/apis/v2beta1/runs"


def run_display_name(event: AlertEvent, prefix: str = "driftwarden-") -> str:
    """The same name for every message of one firing episode."""
    return f"{prefix}{event.idempotency_key}"


def render_kubeflow(event: AlertEvent, settings: KubeflowReceiverSettings) -> bytes:
    """The exact request body (compact JSON)."""
    document: dict[str, object] = {"display_name": run_display_name(event, settings.name_prefix)}
    document["description"] = event.summary
    if settings.experiment_id is not None:
        document["experiment_id"] = settings.experiment_id
    document["pipeline_version_reference"] = {
        "pipeline_id": settings.pipeline_id,
        "pipeline_version_id": settings.pipeline_version_id,
    }
    document["runtime_config"] = {"parameters": trigger_fields(event)}
    if settings.service_account is not None:
        document["service_account"] = settings.service_account
    return json.dumps(document, separators=(",", ":")).encode("utf-8")


class KubeflowNotifier(TriggerNotifier[KubeflowReceiverSettings]):
    def request_for(self, event: AlertEvent) -> httpx.Request:
        return post_request(
            self.settings.endpoint(),
            render_kubeflow(event, self.settings),
            accept=JSON,
            authorization=optional_bearer(self.settings.token_env, f"{self.key}.token_env"),
        )


SPEC = NotifierSpec(
    type="kubeflow",
    settings=KubeflowReceiverSettings,
    factory=KubeflowNotifier,
    trigger=True,
)
