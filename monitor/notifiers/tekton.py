"""Tekton Triggers retraining trigger: POST the drift payload to an EventListener.

The EventListener's URL takes any JSON body; its TriggerBindings read fields
with ``$(body.monitor)``, ``$(body.run.url)``, ``$(body.idempotency_key)``
and so on (see ``_trigger.trigger_payload``). With ``secret_env`` set, the
body is signed as GitHub signs webhooks, ``X-Hub-Signature-256:
sha256=<hex HMAC-SHA256 of the body>``, which Tekton's ``github``
interceptor verifies with its ``secretRef``; ``github_event`` sets the
``X-GitHub-Event`` header that interceptor's ``eventTypes`` filter on.

The EventListener answers 202 Accepted before its interceptors run, so a
refused signature is not seen here: it shows in the EventListener's log.
Tekton has no idempotency key; a TriggerTemplate can name its PipelineRun
from ``$(body.idempotency_key)`` so that a resend fails as AlreadyExists.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Literal

import httpx
from pydantic import Field

from monitor.alerts.event import AlertEvent
from monitor.notifiers._http import post_request
from monitor.notifiers._trigger import TriggerNotifier, trigger_payload
from monitor.notifiers.spec import NotifierSpec
from monitor.secrets import resolve_secret
from monitor.settings_base import HttpUrlStr, RateLimitedSettings


class TektonReceiverSettings(RateLimitedSettings):
    name: str
    type: Literal["tekton"]
    url: HttpUrlStr = Field(description="the EventListener's URL (e.g. http://el-retrain.ci:8080)")
    secret_env: str | None = Field(
        default=None, description="env var holding the github interceptor's secretRef token"
    )
    github_event: str | None = Field(
        default=None, min_length=1, description="X-GitHub-Event value, for eventTypes"
    )


def render_tekton(event: AlertEvent) -> bytes:
    """The exact request body (compact JSON)."""
    return json.dumps(trigger_payload(event), separators=(",", ":")).encode("utf-8")


def hub_signature(body: bytes, secret: str) -> str:
    """GitHub's ``X-Hub-Signature-256`` value for ``body``.

    >>> hub_signature(b"{}", "s")
    'sha256=143ca8d517ba1b181025d732b1cf275d90104fca57bb02a565542978aa18c4b6'
    """
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class TektonNotifier(TriggerNotifier[TektonReceiverSettings]):
    def request_for(self, event: AlertEvent) -> httpx.Request:
        body = render_tekton(event)
        headers: dict[str, str] = {}
        if self.settings.github_event is not None:
            headers["x-github-event"] = self.settings.github_event
        if self.settings.secret_env is not None:
            secret = resolve_secret(self.settings.secret_env, f"{self.key}.secret_env")
            headers["x-hub-signature-256"] = hub_signature(body, secret)
        return post_request(self.settings.url, body, first=headers)


SPEC = NotifierSpec(
    type="tekton",
    settings=TektonReceiverSettings,
    factory=TektonNotifier,
    trigger=True,
)
