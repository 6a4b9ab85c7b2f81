"""CircleCI retraining trigger: trigger a pipeline with pipeline parameters.

``POST {api_url}/project/{project-slug}/pipeline`` (API v2 "Trigger a new
pipeline") with ``branch`` or ``tag`` (never both) and ``parameters``,
authorised by the ``Circle-Token`` header; CircleCI answers 201 Created with
the pipeline's id and number. Each parameter must be declared in the
project's ``.circleci/config.yml``, or CircleCI answers 400, so the config
declares the nine ``trigger_fields`` names as string parameters.

CircleCI has no idempotency key: a workflow can compare the
``idempotency_key`` parameter before retraining.
"""

from __future__ import annotations

import json
from typing import Literal

import httpx
from pydantic import Field, model_validator

from monitor.alerts.event import AlertEvent
from monitor.notifiers._http import JSON, post_request
from monitor.notifiers._trigger import TriggerNotifier, trigger_fields
from monitor.notifiers.spec import NotifierSpec
from monitor.secrets import resolve_secret
from monitor.settings_base import HttpUrlStr, RateLimitedSettings


class CircleCiReceiverSettings(RateLimitedSettings):
    name: str
    type: Literal["circleci"]
    project_slug: str = Field(
        pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$",
        description='"gh/acme/models", "bb/...", or "circleci/{org id}/{project id}"',
    )
    branch: str | None = Field(default=None, min_length=1)
    tag: str | None = Field(default=None, min_length=1)
    token_env: str = Field(description="env var holding a CircleCI personal API token")
    api_url: HttpUrlStr = Field(
        default="https://circleci.com/api/v2", description="CircleCI server: its /api/v2"
    )

    @model_validator(mode="after")
    def _branch_or_tag(self) -> CircleCiReceiverSettings:
        if self.branch is not None and self.tag is not None:
            raise ValueError("branch and tag are mutually exclusive")
        return self

    def endpoint(self) -> str:
        return f"{self.api_url.rstrip('/')}/project/{self.project_slug}/pipeline"


def render_circleci(event: AlertEvent, settings: CircleCiReceiverSettings) -> bytes:
    """The exact request body (compact JSON)."""
    document: dict[str, object] = {}
    if settings.branch is not None:
        document["branch"] = settings.branch
    if settings.tag is not None:
        document["tag"] = settings.tag
    document["parameters"] = trigger_fields(event)
    return json.dumps(document, separators=(",", ":")).encode("utf-8")


class CircleCiNotifier(TriggerNotifier[CircleCiReceiverSettings]):
    def request_for(self, event: AlertEvent) -> httpx.Request:
        token = resolve_secret(self.settings.token_env, f"{self.key}.token_env")
        return post_request(
            self.settings.endpoint(),
            render_circleci(event, self.settings),
            accept=JSON,
            first={"circle-token": token},
        )


SPEC = NotifierSpec(
    type="circleci",
    settings=CircleCiReceiverSettings,
    factory=CircleCiNotifier,
    trigger=True,
)
