"""The request most notifiers send: a POST of a rendered body with driftwarden's headers.

Headers go out in a fixed order: the receiver's own ``first`` headers,
``accept`` if given, ``content-type``, ``user-agent``, then ``authorization``
if given. A notifier whose headers do not fit that order builds its own
request, so that no receiver's wire format changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

import httpx

from monitor import __version__
from monitor.notifiers._trigger import bearer
from monitor.secrets import resolve_secret

USER_AGENT = f"driftwarden/{__version__}"
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


def post_request(
    url: str,
    body: bytes,
    content_type: str = JSON,
    *,
    accept: str | None = None,
    authorization: str | None = None,
    first: Mapping[str, str] | None = None,
) -> httpx.Request:
    """A ``POST`` of ``body`` to ``url`` with the headers in the order documented above.

    >>> request = post_request("http://x/", b"{}", accept=JSON, authorization="Bearer t")
    >>> list(request.headers)  # httpx adds host and content-length
    ['host', 'accept', 'content-type', 'user-agent', 'authorization', 'content-length']
    """
    headers = dict(first or {})
    if accept is not None:
        headers["accept"] = accept
    headers["content-type"] = content_type
    headers["user-agent"] = USER_AGENT
    if authorization is not None:
        headers["authorization"] = authorization
    return httpx.Request("POST", url, headers=headers, content=body)


def optional_bearer(env_name: str | None, config_key: str) -> str | None:
    """``Bearer <token>`` with the token read from ``env_name`` now; ``None`` without one."""
    if env_name is None:
        return None
    return bearer(resolve_secret(env_name, config_key))


def utc_timestamp(moment: datetime) -> str:
    """ISO-8601 in UTC with a "Z", the form every receiver API here documents."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def utc_span(start: datetime, end: datetime) -> str:
    """A window as chat messages show it: "start – end", both in UTC."""
    return f"{utc_timestamp(start)} – {utc_timestamp(end)}"
