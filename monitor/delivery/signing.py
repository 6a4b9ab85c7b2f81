"""Standard Webhooks signing (https://www.standardwebhooks.com), applied to every request.

``webhook-id`` and ``webhook-timestamp`` are always set, so receivers can
de-duplicate unsigned messages too; ``webhook-signature`` only with a secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

import httpx

SECRET_PREFIX = "whsec_"


class SigningKeyError(ValueError):
    """The configured secret is not valid base64 (the message never holds the secret)."""


def signing_key(secret: str) -> bytes:
    """The HMAC key: the secret without its ``whsec_`` prefix, base64-decoded."""
    encoded = secret.removeprefix(SECRET_PREFIX).rstrip("=")
    try:
        # Unpadded secrets are accepted, as the reference implementation does.
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise SigningKeyError(
            "the signing secret is not base64 (expected whsec_<base64>)"
        ) from None
    if not key:
        raise SigningKeyError("the signing secret is empty")
    return key


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(signing_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def sign_request(
    request: httpx.Request, message_id: str, timestamp: int, secret: str | None
) -> None:
    """Add the Standard Webhooks headers to ``request`` (in place)."""
    request.headers["webhook-id"] = message_id
    request.headers["webhook-timestamp"] = str(timestamp)
    if secret is not None:
        request.headers["webhook-signature"] = signature(
            secret, message_id, timestamp, request.read()
        )
