"""A generic JSON webhook: ``{"type", "timestamp", "data"}``, signed by the worker.

The URL and the extra header values may hold tokens, so they are read from
the environment each time a request is built and never kept elsewhere.
"""

from __future__ import annotations

import json
from datetime import UTC
from typing import Literal

import httpx
from pydantic import Field, model_validator

from monitor.notifiers._http import post_request
from monitor.notifiers.base import BaseNotifier, OutboundMessage
from monitor.notifiers.spec import NotifierSpec
from monitor.secrets import resolve_secret
from monitor.settings_base import HttpUrlStr, RateLimitedSettings, exactly_one


class WebhookReceiverSettings(RateLimitedSettings):
    name: str
    type: Literal["webhook"]
    url: HttpUrlStr | None = Field(default=None, description="a URL that holds no token")
    url_env: str | None = None
    secret_env: str | None = Field(
        default=None, description='env var holding the Standard Webhooks secret ("whsec_...")'
    )
    headers_env: dict[str, str] = Field(
        default_factory=dict, description="header name -> env var holding its value"
    )

    @model_validator(mode="after")
    def _one_url(self) -> WebhookReceiverSettings:
        exactly_one(self, "url", "url_env")
        return self

    def resolved_url(self, key: str) -> str:
        if self.url_env is not None:
            return resolve_secret(self.url_env, f"{key}.url_env")
        assert self.url is not None
        return self.url


def render_payload(message: OutboundMessage) -> bytes:
    """The exact request body: compact JSON, ``timestamp`` as ISO-8601 UTC of ``created_at``."""
    timestamp = message.created_at.astimezone(UTC).isoformat(timespec="microseconds")
    document = {
        "type": message.event_type,
        "timestamp": timestamp.replace("+00:00", "Z"),
        "data": message.payload,
    }
    return json.dumps(document, separators=(",", ":")).encode("utf-8")


class WebhookNotifier(BaseNotifier[WebhookReceiverSettings]):
    def build_request(self, message: OutboundMessage) -> httpx.Request:
        headers = {
            name: resolve_secret(env_name, f"{self.key}.headers_env.{name}")
            for name, env_name in self.settings.headers_env.items()
        }
        return post_request(
            self.settings.resolved_url(self.key), render_payload(message), first=headers
        )


SPEC = NotifierSpec(
    type="webhook",
    settings=WebhookReceiverSettings,
    factory=WebhookNotifier,
    signed=True,
)
