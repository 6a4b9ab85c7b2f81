"""The seams notifiers implement: a message -> a request and a response -> a verdict, or
a message sent by the notifier itself for a receiver that does not speak HTTP.

Retry, backoff, idempotency, signing, redaction and metrics are stages the
delivery worker wraps around every notifier (Alertmanager's ``notify``
design); a notifier only knows its receiver's wire format. Network errors and
timeouts never reach a :class:`Notifier`: the worker treats them as retryable.
A :class:`DirectNotifier` (e-mail over SMTP) holds its own connection, so it
judges its own failures and says which are retryable.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Protocol, TypeAlias, TypeVar, runtime_checkable

import httpx

from monitor.alerts.event import AlertEvent
from monitor.settings_base import RateLimitedSettings

SettingsT = TypeVar("SettingsT", bound=RateLimitedSettings)


class ReceiverEntry(Protocol):
    """A ``[[receivers]]`` entry as the registry sees it: its name and its kind."""

    @property
    def name(self) -> str: ...

    @property
    def type(self) -> str: ...


class Verdict(enum.Enum):
    """What a response means for the message."""

    DELIVERED = "delivered"
    RETRYABLE = "retryable"
    PERMANENT = "permanent"


@dataclass(frozen=True)
class OutboundMessage:
    """One message as a notifier sees it; ``attempt`` counts from 1."""

    message_id: str
    event_type: str
    payload: dict[str, Any]
    created_at: datetime
    attempt: int

    @property
    def event(self) -> AlertEvent:
        """The alert this message is about, as typed data (the payload is its stored form)."""
        return AlertEvent.from_payload(self.payload)


class Notifier(Protocol):
    def build_request(self, message: OutboundMessage) -> httpx.Request | None:
        """The request that delivers ``message``; secrets are read from the environment now.

        ``None`` means this receiver has nothing to send for ``message`` (a
        retraining trigger is told of a resolved alert): the worker sends no
        request and records the message as delivered.
        """
        ...

    def classify(self, response: httpx.Response) -> Verdict:
        """Whether ``response`` delivered the message, or failed retryably or for good."""
        ...


class DeliveryFailed(Exception):
    """A :class:`DirectNotifier`'s attempt failed; ``error`` is safe to store and log.

    ``error`` names the step and the kind of failure and never holds a
    secret or text the server wrote (a banner or a reply may echo what it was
    sent). ``permanent`` failures are dead at once; the others are retried.
    """

    def __init__(self, error: str, *, permanent: bool) -> None:
        super().__init__(error)
        self.error = error
        self.permanent = permanent


@runtime_checkable
class DirectNotifier(Protocol):
    """A notifier that sends by itself, over a protocol of its own (SMTP).

    The worker wraps it in the same stages as a :class:`Notifier`: the rate
    limit, the egress check of ``host``, backoff, dead letters, redaction and
    metrics. Nothing is signed: Standard Webhooks signatures are for HTTP.
    """

    @property
    def host(self) -> str:
        """The host ``deliver`` connects to, for the egress check before it does."""
        ...

    @property
    def port(self) -> int:
        """The port ``deliver`` connects to on ``host`` (``validate --connect`` reaches it)."""
        ...

    def deliver(self, message: OutboundMessage, timeout: float) -> None:
        """Send ``message``, the whole exchange within ``timeout`` seconds.

        Returns once the receiver accepted it; raises :class:`DeliveryFailed`,
        or ``monitor.secrets.SecretError`` when a secret's variable is unset.
        """
        ...


AnyNotifier: TypeAlias = Notifier | DirectNotifier
"""What the registry builds for a receiver and the worker sends through."""


_RETRYABLE_4XX = frozenset({408, 425, 429})


def classify_status(status_code: int) -> Verdict:
    """2xx delivered; 408, 425, 429 and 5xx retryable; anything else (4xx, 3xx) permanent.

    >>> classify_status(204), classify_status(429), classify_status(503), classify_status(404)
    (<Verdict.DELIVERED: 'delivered'>, <Verdict.RETRYABLE: 'retryable'>, \
<Verdict.RETRYABLE: 'retryable'>, <Verdict.PERMANENT: 'permanent'>)
    """
    if 200 <= status_code < 300:
        return Verdict.DELIVERED
    if status_code in _RETRYABLE_4XX or 500 <= status_code < 600:
        return Verdict.RETRYABLE
    return Verdict.PERMANENT


class BaseNotifier(Generic[SettingsT]):
    """What most notifiers share: their settings, their config key, verdicts by status alone.

    The key (``receivers[2]``) names the receiver in the errors a secret
    raises. A subclass adds ``build_request``; one whose receiver gives some
    status a meaning of its own overrides ``classify``.
    """

    def __init__(self, settings: SettingsT, key: str) -> None:
        self.settings = settings
        self.key = key

    def classify(self, response: httpx.Response) -> Verdict:
        return classify_status(response.status_code)
