"""GitHub Actions retraining trigger: a repository dispatch or a workflow dispatch.

``repository_dispatch`` (``POST /repos/{owner}/{repo}/dispatches``) sends
``event_type`` and ``client_payload`` (at most 10 top-level keys);
``workflow_dispatch`` (``POST /repos/{owner}/{repo}/actions/workflows/{id}/dispatches``)
sends ``ref`` and ``inputs`` (at most 10, each declared in the workflow, or
GitHub answers 422). Both answer 204 No Content. GitHub has no idempotency
key: the workflow can use ``idempotency_key`` as its ``concurrency`` group or
check it before retraining.
"""

from __future__ import annotations

import json
from typing import Literal
from urllib.parse import quote

import httpx
from pydantic import Field, model_validator

from monitor.alerts.event import AlertEvent
from monitor.notifiers._http import post_request
from monitor.notifiers._trigger import (
    TriggerNotifier,
    bearer,
    trigger_fields,
    trigger_payload,
)
from monitor.notifiers.base import Verdict
from monitor.notifiers.spec import NotifierSpec
from monitor.secrets import resolve_secret
from monitor.settings_base import HttpUrlStr, RateLimitedSettings

API_VERSION = "2022-11-28"


class GitHubReceiverSettings(RateLimitedSettings):
    name: str
    type: Literal["github"]
    mode: Literal["repository_dispatch", "workflow_dispatch"] = "repository_dispatch"
    repository: str = Field(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", description="owner/name")
    token_env: str = Field(description="env var holding a token allowed to dispatch")
    event_type: str = Field(default="driftwarden-retrain", min_length=1, max_length=100)
    workflow: str | None = Field(
        default=None, description='workflow file name ("retrain.yml") or id'
    )
    ref: str | None = Field(default=None, description="branch or tag the workflow runs on")
    api_url: HttpUrlStr = Field(
        default="https://api.github.com", description="GitHub Enterprise: its /api/v3"
    )

    @model_validator(mode="after")
    def _mode_keys(self) -> GitHubReceiverSettings:
        if self.mode == "workflow_dispatch":
            if self.workflow is None or self.ref is None:
                raise ValueError("mode workflow_dispatch needs workflow and ref")
        elif self.workflow is not None or self.ref is not None:
            raise ValueError("workflow and ref apply to mode workflow_dispatch only")
        return self

    def endpoint(self) -> str:
        base = f"{self.api_url.rstrip('/')}/repos/{self.repository}"
        if self.mode == "workflow_dispatch":
            assert self.workflow is not None
            return f"{base}/actions/workflows/{quote(self.workflow, safe='')}/dispatches"
        return f"{base}/dispatches"


def render_github(event: AlertEvent, settings: GitHubReceiverSettings) -> bytes:
    """The exact request body (compact JSON) for the settings' mode."""
    if settings.mode == "workflow_dispatch":
        document: dict[str, object] = {"ref": settings.ref, "inputs": trigger_fields(event)}
    else:
        document = {"event_type": settings.event_type, "client_payload": trigger_payload(event)}
    return json.dumps(document, separators=(",", ":")).encode("utf-8")


class GitHubNotifier(TriggerNotifier[GitHubReceiverSettings]):
    def request_for(self, event: AlertEvent) -> httpx.Request:
        token = resolve_secret(self.settings.token_env, f"{self.key}.token_env")
        headers = {
            "accept": "application/vnd.github+json",
            "authorization": bearer(token),
            "x-github-api-version": API_VERSION,
        }
        return post_request(
            self.settings.endpoint(), render_github(event, self.settings), first=headers
        )

    def classify(self, response: httpx.Response) -> Verdict:
        """A rate limit may come as 403 (with ``x-ratelimit-remaining: 0`` or ``retry-after``)."""
        if response.status_code == 403 and (
            response.headers.get("x-ratelimit-remaining") == "0"
            or "retry-after" in response.headers
        ):
            return Verdict.RETRYABLE
        return super().classify(response)


SPEC = NotifierSpec(
    type="github",
    settings=GitHubReceiverSettings,
    factory=GitHubNotifier,
    trigger=True,
)
