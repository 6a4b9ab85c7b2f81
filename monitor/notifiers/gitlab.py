"""GitLab CI retraining trigger: run a pipeline with a pipeline trigger token.

``POST /api/v4/projects/{id}/trigger/pipeline`` with form fields ``token``,
``ref`` and ``variables[KEY]=value``; GitLab answers 201 Created with the
pipeline. The project is its numeric id or its URL-encoded path.

Variables are ``DRIFTWARDEN_*`` (see ``_trigger.env_style_fields``). GitLab
has no idempotency key: a job can compare ``DRIFTWARDEN_IDEMPOTENCY_KEY``.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import quote, urlencode

import httpx
from pydantic import Field

from monitor.alerts.event import AlertEvent
from monitor.notifiers._http import USER_AGENT
from monitor.notifiers._trigger import TriggerNotifier, env_style_fields
from monitor.notifiers.spec import NotifierSpec
from monitor.secrets import resolve_secret
from monitor.settings_base import HttpUrlStr, RateLimitedSettings


class GitLabReceiverSettings(RateLimitedSettings):
    name: str
    type: Literal["gitlab"]
    url: HttpUrlStr = Field(default="https://gitlab.com", description="the GitLab instance")
    project: str = Field(min_length=1, description='numeric id or path ("group/project")')
    ref: str = Field(min_length=1, description="branch or tag to run the pipeline for")
    token_env: str = Field(description="env var holding the pipeline trigger token")

    def endpoint(self) -> str:
        project = quote(self.project, safe="")
        return f"{self.url.rstrip('/')}/api/v4/projects/{project}/trigger/pipeline"


def render_gitlab(event: AlertEvent, ref: str, token: str) -> bytes:
    """The exact form body."""
    fields = [("token", token), ("ref", ref)]
    fields += [(f"variables[{name}]", value) for name, value in env_style_fields(event).items()]
    return urlencode(fields).encode("ascii")


class GitLabNotifier(TriggerNotifier[GitLabReceiverSettings]):
    def request_for(self, event: AlertEvent) -> httpx.Request:
        token = resolve_secret(self.settings.token_env, f"{self.key}.token_env")
        headers = {
            "content-type": "application/x-www-form-urlencoded",
            "accept": "application/json",
            "user-agent": USER_AGENT,
        }
        return httpx.Request(
            "POST",
            self.settings.endpoint(),
            headers=headers,
            content=render_gitlab(event, self.settings.ref, token),
        )


SPEC = NotifierSpec(
    type="gitlab",
    settings=GitLabReceiverSettings,
    factory=GitLabNotifier,
    trigger=True,
)
