"""Generic HTTP retraining trigger: any URL, method, headers and a templated body.

For pipelines without a receiver of their own (Kubeflow, Dagster, SageMaker
Pipelines behind a gateway, an internal service). The body is a sandboxed
Jinja2 template (``monitor.notifiers._template``) whose variables are the
event's payload (``monitor``, ``summary``, ``idempotency_key``, ``alert``,
``run``, ``window``, ``decision``, ``drifted_columns``); without a template
the body is the trigger as JSON (``_trigger.trigger_payload``). The request
also carries ``Idempotency-Key`` so a service that honours it can drop repeats.
"""

from __future__ import annotations

import json
from functools import cached_property
from typing import Literal

import httpx
import jinja2
from pydantic import Field, field_validator, model_validator

from monitor.alerts.event import AlertEvent
from monitor.notifiers._http import USER_AGENT
from monitor.notifiers._template import checked_template, compile_template, render_template
from monitor.notifiers._trigger import TriggerNotifier, trigger_payload
from monitor.notifiers.spec import NotifierSpec
from monitor.secrets import resolve_secret
from monitor.settings_base import HttpUrlStr, RateLimitedSettings, exactly_one


class HttpReceiverSettings(RateLimitedSettings):
    name: str
    type: Literal["http"]
    url: HttpUrlStr | None = Field(default=None, description="a URL that holds no token")
    url_env: str | None = None
    method: Literal["POST", "PUT", "PATCH"] = "POST"
    headers_env: dict[str, str] = Field(
        default_factory=dict, description="header name -> env var holding its value"
    )
    body_template: str | None = Field(
        default=None, description="sandboxed Jinja2 over the event payload; none: trigger JSON"
    )
    content_type: str = "application/json"

    @model_validator(mode="after")
    def _one_url(self) -> HttpReceiverSettings:
        exactly_one(self, "url", "url_env")
        return self

    _template_compiles = field_validator("body_template")(checked_template)

    @cached_property
    def template(self) -> jinja2.Template | None:
        return None if self.body_template is None else compile_template(self.body_template)

    def resolved_url(self, key: str) -> str:
        if self.url_env is not None:
            return resolve_secret(self.url_env, f"{key}.url_env")
        assert self.url is not None
        return self.url


def render_http(event: AlertEvent, template: jinja2.Template | None) -> bytes:
    """The exact request body: the rendered template, or the trigger as compact JSON."""
    if template is None:
        return json.dumps(trigger_payload(event), separators=(",", ":")).encode("utf-8")
    return render_template(template, event.to_payload()).encode("utf-8")


class HttpNotifier(TriggerNotifier[HttpReceiverSettings]):
    def request_for(self, event: AlertEvent) -> httpx.Request:
        headers = {
            name: resolve_secret(env_name, f"{self.key}.headers_env.{name}")
            for name, env_name in self.settings.headers_env.items()
        }
        headers["content-type"] = self.settings.content_type
        headers["idempotency-key"] = event.idempotency_key
        headers["user-agent"] = USER_AGENT
        return httpx.Request(
            self.settings.method,
            self.settings.resolved_url(self.key),
            headers=headers,
            content=render_http(event, self.settings.template),
        )


SPEC = NotifierSpec(
    type="http",
    settings=HttpReceiverSettings,
    factory=HttpNotifier,
    trigger=True,
)
