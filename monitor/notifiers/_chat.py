"""What the chat webhooks share: a secret URL, and a POST of the event rendered as JSON.

A chat receiver's incoming-webhook URL is its credential, so only the name
of the environment variable holding it is configured, read each time a
request is built. A module keeps its settings' ``type``, its pure render
function and its ``SPEC``; its notifier names the render function.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

import httpx

from monitor.alerts.event import AlertEvent
from monitor.notifiers._http import post_request
from monitor.notifiers.base import BaseNotifier, OutboundMessage
from monitor.secrets import resolve_secret
from monitor.settings_base import RateLimitedSettings


class ChatReceiverSettings(RateLimitedSettings):
    """A chat webhook's keys; each kind narrows ``type`` to its tag."""

    name: str
    type: str
    url_env: str  # env var holding the webhook URL (the URL is the secret)


ChatSettingsT = TypeVar("ChatSettingsT", bound=ChatReceiverSettings)


class ChatNotifier(BaseNotifier[ChatSettingsT]):
    """Posts ``render(event)`` as JSON to the URL in ``url_env``; verdicts by status."""

    @staticmethod
    def render(event: AlertEvent) -> dict[str, Any]:
        """The exact webhook body for ``event``: a subclass sets its module's render function."""
        raise NotImplementedError

    def build_request(self, message: OutboundMessage) -> httpx.Request:
        return post_request(
            resolve_secret(self.settings.url_env, f"{self.key}.url_env"),
            json.dumps(self.render(message.event)).encode("utf-8"),
        )
