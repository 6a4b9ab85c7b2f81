"""The authentication stage: credentials a receiver needs, applied after ``build_request``.

A notifier renders its receiver's wire format and nothing more; a receiver
whose platform wants real authentication (an AWS Signature Version 4, an
OAuth2 access token) names an :class:`Authenticator` in its ``authenticator``
attribute. The delivery worker applies it in one place, right after
``build_request``, at the attempt's time, so every attempt is signed afresh
and a signature never outlives the request it was made for.

A notifier without the attribute needs no authentication stage (its token, if
any, is a static header it reads itself).
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

import httpx


class AuthenticationError(Exception):
    """Credentials could not be obtained now; the attempt is retried.

    The message says what is missing or failed and never holds a credential:
    the worker stores and logs it as the attempt's error.
    """


class Authenticator(Protocol):
    def authenticate(self, request: httpx.Request, now: datetime) -> httpx.Request:
        """``request`` with its credentials added (signed at ``now``).

        Raises :class:`AuthenticationError` when no credentials can be had.
        """
        ...


def authenticator_of(notifier: object) -> Authenticator | None:
    """The authenticator a notifier declares in its ``authenticator`` attribute, if any."""
    authenticator: Authenticator | None = getattr(notifier, "authenticator", None)
    return authenticator
