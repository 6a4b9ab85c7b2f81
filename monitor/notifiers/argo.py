"""Argo Workflows retraining trigger: submit a workflow from a WorkflowTemplate.

``POST /api/v1/workflows/{namespace}/submit`` on the Argo Server with
``resourceKind``, ``resourceName`` and ``submitOptions`` (``name``,
``parameters`` as ``"name=value"`` strings, ``labels`` as ``"k=v,k2=v2"``),
authorised by ``Authorization: Bearer <service account token>``.

The workflow's ``name`` is derived from the idempotency key, so a repeated
send of one episode asks Kubernetes for a workflow that already exists: the
server answers 409 (AlreadyExists), and that counts as delivered. The name
is kept to 63 characters because Argo copies it into a label on every pod.
"""

from __future__ import annotations

import json
import re
from typing import Literal

import httpx
from pydantic import Field

from monitor.alerts.event import AlertEvent
from monitor.notifiers._http import JSON, optional_bearer, post_request
from monitor.notifiers._trigger import (
    TriggerNotifier,
    deterministic_name,
    trigger_fields,
)
from monitor.notifiers.spec import NotifierSpec
from monitor.settings_base import HttpUrlStr, RateLimitedSettings

_LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$")


class ArgoReceiverSettings(RateLimitedSettings):
    name: str
    type: Literal["argo"]
    url: HttpUrlStr = Field(description="the Argo Server's base URL")
    namespace: str = Field(pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
    workflow_template: str = Field(min_length=1)
    template_kind: Literal["WorkflowTemplate", "ClusterWorkflowTemplate"] = "WorkflowTemplate"
    name_prefix: str = Field(default="driftwarden-", pattern=r"^[a-z0-9][a-z0-9-]{0,30}$")
    token_env: str | None = Field(
        default=None, description="env var holding the service account token (none: no auth)"
    )

    def endpoint(self) -> str:
        return f"{self.url.rstrip('/')}/api/v1/workflows/{self.namespace}/submit"


def workflow_name(event: AlertEvent, prefix: str = "driftwarden-") -> str:
    """The same DNS-1123 name for every message of one firing episode."""
    return deterministic_name(prefix, event.idempotency_key, "a-z0-9-", 63, lower=True)


def render_argo(event: AlertEvent, settings: ArgoReceiverSettings) -> bytes:
    """The exact request body (compact JSON)."""
    fields = trigger_fields(event)
    labels = [f"driftwarden/run-id={event.run_id}"]
    if _LABEL_VALUE.match(event.monitor):
        labels.insert(0, f"driftwarden/monitor={event.monitor}")
    document = {
        "namespace": settings.namespace,
        "resourceKind": settings.template_kind,
        "resourceName": settings.workflow_template,
        "submitOptions": {
            "name": workflow_name(event, settings.name_prefix),
            "parameters": [f"{name}={value}" for name, value in fields.items()],
            "labels": ",".join(labels),
        },
    }
    return json.dumps(document, separators=(",", ":")).encode("utf-8")


class ArgoNotifier(TriggerNotifier[ArgoReceiverSettings]):
    # 409: a workflow with this episode's name exists, so it was submitted.
    delivered_statuses = frozenset({409})

    def request_for(self, event: AlertEvent) -> httpx.Request:
        return post_request(
            self.settings.endpoint(),
            render_argo(event, self.settings),
            accept=JSON,
            authorization=optional_bearer(self.settings.token_env, f"{self.key}.token_env"),
        )


SPEC = NotifierSpec(
    type="argo",
    settings=ArgoReceiverSettings,
    factory=ArgoNotifier,
    trigger=True,
)
