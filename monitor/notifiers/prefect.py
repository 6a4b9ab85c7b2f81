"""Prefect retraining trigger: create a flow run from a deployment.

``POST {api}/deployments/{id}/create_flow_run`` with ``parameters``,
``tags`` and ``idempotency_key``. Prefect returns the existing flow run
(2xx) when the idempotency key was used before, so a repeated send of one
episode starts nothing new. Self-hosted: ``api_url`` is the server's
``.../api``; Prefect Cloud: ``https://api.prefect.cloud/api`` plus
``account_id`` and ``workspace_id``, with an API key as bearer token.

The trigger is passed as one flow parameter (``parameter``, default
``drift_event``), a dict: the flow declares ``drift_event: dict``. A 409
from Prefect means the parameters failed the deployment's schema: permanent.
"""

from __future__ import annotations

import json
from typing import Literal
from uuid import UUID

import httpx
from pydantic import Field, model_validator

from monitor.alerts.event import AlertEvent
from monitor.notifiers._http import JSON, optional_bearer, post_request
from monitor.notifiers._trigger import TriggerNotifier, trigger_payload
from monitor.notifiers.spec import NotifierSpec
from monitor.settings_base import HttpUrlStr, RateLimitedSettings


class PrefectReceiverSettings(RateLimitedSettings):
    name: str
    type: Literal["prefect"]
    api_url: HttpUrlStr = Field(description='".../api" of a Prefect server, or Prefect Cloud\'s')
    account_id: UUID | None = Field(default=None, description="Prefect Cloud only")
    workspace_id: UUID | None = Field(default=None, description="Prefect Cloud only")
    deployment_id: UUID
    api_key_env: str | None = Field(default=None, description="env var holding the API key")
    parameter: str = Field(default="drift_event", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    tags: tuple[str, ...] = ("driftwarden",)

    @model_validator(mode="after")
    def _workspace(self) -> PrefectReceiverSettings:
        if (self.account_id is None) != (self.workspace_id is None):
            raise ValueError("account_id and workspace_id go together")
        return self

    def endpoint(self) -> str:
        base = self.api_url.rstrip("/")
        if self.account_id is not None:
            base = f"{base}/accounts/{self.account_id}/workspaces/{self.workspace_id}"
        return f"{base}/deployments/{self.deployment_id}/create_flow_run"


def render_prefect(event: AlertEvent, parameter: str, tags: tuple[str, ...]) -> bytes:
    """The exact request body (compact JSON)."""
    document = {
        "parameters": {parameter: trigger_payload(event)},
        "tags": list(tags),
        "idempotency_key": event.idempotency_key,
    }
    return json.dumps(document, separators=(",", ":")).encode("utf-8")


class PrefectNotifier(TriggerNotifier[PrefectReceiverSettings]):
    def request_for(self, event: AlertEvent) -> httpx.Request:
        return post_request(
            self.settings.endpoint(),
            render_prefect(event, self.settings.parameter, self.settings.tags),
            accept=JSON,
            authorization=optional_bearer(self.settings.api_key_env, f"{self.key}.api_key_env"),
        )


SPEC = NotifierSpec(
    type="prefect",
    settings=PrefectReceiverSettings,
    factory=PrefectNotifier,
    trigger=True,
)
