"""Jenkins retraining trigger: queue a parameterised build.

``POST {jenkins}/job/{name}/buildWithParameters`` with the parameters as an
``application/x-www-form-urlencoded`` body. Jenkins accepts either the job's
"Trigger builds remotely" token (``token`` parameter) or a user's API token
by HTTP basic auth (which also spares the CSRF crumb); both may be set.
It answers 201 Created with ``Location`` naming the queue item.

Parameters are ``DRIFTWARDEN_*`` (see ``_trigger.env_style_fields``); Jenkins
passes only the parameters the job declares. Jenkins has no idempotency key:
the job can compare ``DRIFTWARDEN_IDEMPOTENCY_KEY`` with its last build's.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import quote, urlencode

import httpx
from pydantic import Field, model_validator

from monitor.alerts.event import AlertEvent
from monitor.notifiers._http import FORM, post_request
from monitor.notifiers._trigger import TriggerNotifier, basic, env_style_fields
from monitor.notifiers.spec import NotifierSpec
from monitor.secrets import resolve_secret
from monitor.settings_base import HttpUrlStr, RateLimitedSettings


class JenkinsReceiverSettings(RateLimitedSettings):
    name: str
    type: Literal["jenkins"]
    url: HttpUrlStr = Field(description="Jenkins' root URL")
    job: str = Field(
        pattern=r"^[^/]+(/[^/]+)*$", description='job name; in folders "folder/sub/job"'
    )
    token_env: str | None = Field(
        default=None, description='env var holding the job\'s "Trigger builds remotely" token'
    )
    user: str | None = None
    api_token_env: str | None = Field(default=None, description="env var holding user's API token")

    @model_validator(mode="after")
    def _some_auth(self) -> JenkinsReceiverSettings:
        if self.token_env is None and self.api_token_env is None:
            raise ValueError("set token_env, or user and api_token_env, or both")
        if (self.user is None) != (self.api_token_env is None):
            raise ValueError("user and api_token_env go together")
        return self

    def endpoint(self) -> str:
        path = "".join(f"/job/{quote(part, safe='')}" for part in self.job.split("/"))
        return f"{self.url.rstrip('/')}{path}/buildWithParameters"


def render_jenkins(event: AlertEvent, build_token: str | None = None) -> bytes:
    """The exact form body; ``cause`` is recorded by Jenkins as the build's cause."""
    fields = list(env_style_fields(event).items())
    fields.append(("cause", f"driftwarden: {event.summary}"))
    if build_token is not None:
        fields.append(("token", build_token))
    return urlencode(fields).encode("ascii")


class JenkinsNotifier(TriggerNotifier[JenkinsReceiverSettings]):
    def request_for(self, event: AlertEvent) -> httpx.Request:
        settings = self.settings
        authorization = None
        if settings.api_token_env is not None:
            assert settings.user is not None
            api_token = resolve_secret(settings.api_token_env, f"{self.key}.api_token_env")
            authorization = basic(settings.user, api_token)
        build_token = None
        if settings.token_env is not None:
            build_token = resolve_secret(settings.token_env, f"{self.key}.token_env")
        # The build token goes in the body, not the query string, so it stays out of access logs.
        return post_request(
            settings.endpoint(),
            render_jenkins(event, build_token),
            FORM,
            authorization=authorization,
        )


SPEC = NotifierSpec(
    type="jenkins",
    settings=JenkinsReceiverSettings,
    factory=JenkinsNotifier,
    trigger=True,
)
