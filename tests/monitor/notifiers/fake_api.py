"""What the receiver tests share: reading a request as a service would, and sending one.

A fake service is a ``tests.support.HttpFake`` with a handler; these helpers
parse a request the way the real service does (content type first), answer
an error in the common ``{"message": ...}`` form, and drive a notifier as the
delivery worker would.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import httpx

from monitor.alerts.event import AlertEvent
from monitor.notifiers.base import Notifier, OutboundMessage
from tests.support import Received, Reply


def error(status: int, message: str) -> Reply:
    return Reply.json(status, {"message": message})


def json_body(request: Received) -> Any:
    """The parsed JSON body, or ``None`` when the content type or the JSON is wrong."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        return None
    try:
        return request.json()
    except ValueError:
        return None


def form_body(request: Received) -> list[tuple[str, str]] | None:
    """The parsed form fields, or ``None`` when the content type is not a urlencoded form."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    if content_type != "application/x-www-form-urlencoded":
        return None
    return parse_qsl(request.body.decode("ascii"), keep_blank_values=True, strict_parsing=True)


def message_for(event: AlertEvent) -> OutboundMessage:
    """The outbox message a delivery worker would hand a notifier for ``event``."""
    return OutboundMessage(
        message_id=f"msg_{event.fingerprint[:8]}_{event.status}",
        event_type=event.event_type,
        payload=event.to_payload(),
        created_at=datetime(2026, 11, 25, 12, 0, 5, tzinfo=UTC),
        attempt=1,
    )


def send(notifier: Notifier, event: AlertEvent) -> httpx.Response:
    """Build the notifier's request for ``event`` and send it with a real client."""
    request = notifier.build_request(message_for(event))
    assert request is not None
    with httpx.Client(follow_redirects=False) as client:
        return client.send(request)
