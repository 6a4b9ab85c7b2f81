"""What every retraining trigger carries, in the two shapes pipeline APIs accept.

A pipeline is started once per firing episode: a trigger renders nothing for
a resolved event, nor for a repeat or a change of a still-firing episode
(``AlertEvent.occasion`` other than "first"); its notifier's ``build_request``
returns ``None`` then. Every trigger carries the event's ``idempotency_key``,
so the pipeline, or the API in front of it, can also drop a resend of the
first message.

JSON APIs (GitHub ``client_payload``, Airflow ``conf``, Prefect
``parameters``) get :func:`trigger_payload`; APIs whose parameters are flat
strings (GitHub workflow inputs, Argo parameters, Jenkins build parameters,
GitLab variables) get :func:`trigger_fields`. Both hold at most 10 keys,
GitHub's limit for ``client_payload`` and for workflow ``inputs``.

Each trigger's notifier is a :class:`TriggerNotifier`, which holds its
settings and the status handling (``base.BaseNotifier``), so a module keeps
only its URL, headers, body and any status of its own.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any, ClassVar

import httpx

from monitor.alerts.event import AlertEvent
from monitor.notifiers.base import BaseNotifier, OutboundMessage, SettingsT, Verdict


def event_to_trigger(message: OutboundMessage) -> AlertEvent | None:
    """The message's event if it should start a pipeline, else ``None``.

    Only the first message of a firing episode starts one: repeats and changes
    of the same episode would start it again where the API has no idempotency.
    """
    event = message.event
    return event if event.status == "firing" and event.occasion == "first" else None


def trigger_payload(event: AlertEvent) -> dict[str, Any]:
    """The trigger as a JSON object: 8 top-level keys, drifted columns by name only."""
    return {
        "monitor": event.monitor,
        "rule": event.rule,
        "severity": event.severity,
        "summary": event.summary,
        "run": {"id": event.run_id, "url": event.run_url},
        "window": {"start": event.window_start.isoformat(), "end": event.window_end.isoformat()},
        "drifted_columns": [column.column for column in event.drifted_columns],
        "idempotency_key": event.idempotency_key,
    }


def trigger_fields(event: AlertEvent) -> dict[str, str]:
    """The trigger as 9 string fields; drifted columns comma-separated.

    >>> from datetime import UTC, datetime
    >>> at = datetime(2026, 1, 1, tzinfo=UTC)
    >>> event = AlertEvent("firing", "m", "r", "dataset_drift", "info", "f", 1, "m-f-1",
    ...                    "s", "why", 7, "http://x/runs/7", at, at, at, None, True)
    >>> trigger_fields(event)["run_id"], trigger_fields(event)["drifted_columns"]
    ('7', '')
    """
    return {
        "monitor": event.monitor,
        "rule": event.rule,
        "severity": event.severity,
        "run_id": str(event.run_id),
        "run_url": event.run_url,
        "window_start": event.window_start.isoformat(),
        "window_end": event.window_end.isoformat(),
        "drifted_columns": ",".join(column.column for column in event.drifted_columns),
        "idempotency_key": event.idempotency_key,
    }


def env_style_fields(event: AlertEvent) -> dict[str, str]:
    """:func:`trigger_fields` named as CI variables: ``DRIFTWARDEN_MONITOR`` and so on.

    Jenkins parameters and GitLab variables become environment variables of
    the build, where upper case with a prefix is the convention and avoids
    clashing with the CI's own variables.
    """
    return {f"DRIFTWARDEN_{name.upper()}": value for name, value in trigger_fields(event).items()}


def deterministic_name(
    prefix: str, key: str, allowed: str, max_length: int, lower: bool = False
) -> str:
    """``prefix`` + ``key`` made safe for a name the server checks, the same on every call.

    When ``key`` must be changed to fit (characters outside ``allowed``, or too
    long), a short hash of the original key is appended, so two different keys
    never map to one name.

    >>> deterministic_name("dw-", "credit-risk-3f2a-2", r"a-z0-9-", 63)
    'dw-credit-risk-3f2a-2'
    >>> deterministic_name("dw-", "Credit Risk/2", r"a-z0-9-", 63, lower=True)
    'dw-credit-risk-2-66ff0d9abd'
    """
    text = key.lower() if lower else key
    safe = re.sub(f"[^{allowed}]+", "-", text)
    name = f"{prefix}{safe}"
    if safe == key and len(name) <= max_length:
        return name
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:10]
    head = name[: max_length - len(digest) - 1].rstrip("-.")
    return f"{head}-{digest}"


def bearer(token: str) -> str:
    """An ``Authorization`` value; a token already written as ``Bearer ...`` is kept as is."""
    return token if token.lower().startswith("bearer ") else f"Bearer {token}"


def basic(user: str, password: str) -> str:
    """An ``Authorization`` value for HTTP basic auth (RFC 7617, UTF-8)."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


class TriggerNotifier(BaseNotifier[SettingsT]):
    """What every trigger's notifier shares: one request per episode, and its verdicts.

    A subclass adds ``request_for``, the request that starts its pipeline;
    ``build_request`` calls it only for the first message of a firing
    episode (:func:`event_to_trigger`). ``delivered_statuses`` are the
    statuses by which a receiver
    says this episode's pipeline exists already (a run named after the
    idempotency key: 409), so a resend counts as delivered; a receiver with
    other special statuses overrides ``classify``.
    """

    delivered_statuses: ClassVar[frozenset[int]] = frozenset()

    def build_request(self, message: OutboundMessage) -> httpx.Request | None:
        event = event_to_trigger(message)
        return None if event is None else self.request_for(event)

    def request_for(self, event: AlertEvent) -> httpx.Request:
        """The request that starts the pipeline for the first firing of ``event``'s episode."""
        raise NotImplementedError

    def classify(self, response: httpx.Response) -> Verdict:
        if response.status_code in self.delivered_statuses:
            return Verdict.DELIVERED
        return super().classify(response)
