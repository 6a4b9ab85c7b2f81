"""One SMTP conversation within a deadline, and what each way it can fail means.

Built on the standard library's ``smtplib``, kept with CPython itself:
STARTTLS (RFC 3207), implicit TLS (RFC 8314) and AUTH (RFC 4954: CRAM-MD5,
PLAIN, LOGIN, whichever the server offers first in that order).

The delivery timeout bounds the whole conversation, not each step: every
command is given what is left of it, so a slow server cannot hold a message
past the worker's claim on it. Nothing is sent before every recipient is
accepted (``RCPT TO`` for each, then ``DATA``), so a refused recipient fails
the attempt without a copy reaching the others, and its retry sends one
message to all of them, not a second one to some.

Failures are classified as RFC 5321 does: a 4xx reply is transient, a 5xx
reply permanent; a connection refused, dropped or timed out, or a TLS
handshake that failed, is retried. An error names the step, the reply code
(and the enhanced status code, RFC 3463) and what the code means, never the
server's own text: banners and replies may echo what was sent, a user name
or an address.
"""

from __future__ import annotations

import math
import re
import smtplib
import ssl
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

from monitor.notifiers.base import DeliveryFailed

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

Security = Literal["starttls", "tls", "none"]

DEFAULT_PORTS: Final[dict[Security, int]] = {"starttls": 587, "tls": 465, "none": 25}
"""Submission with STARTTLS (RFC 6409), submissions over TLS (RFC 8314), plain SMTP."""

REPLY_MEANINGS: Final = {
    421: "service not available",
    450: "mailbox unavailable",
    451: "local error in processing",
    452: "insufficient system storage",
    454: "temporary authentication or TLS failure",
    455: "server unable to accommodate parameters",
    500: "command not recognised",
    501: "syntax error in parameters",
    502: "command not implemented",
    503: "bad sequence of commands",
    504: "parameter not implemented",
    521: "host does not accept mail",
    523: "message too big",
    530: "authentication required",
    534: "authentication mechanism too weak",
    535: "authentication credentials invalid",
    538: "encryption required for this authentication mechanism",
    550: "mailbox unavailable",
    551: "user not local",
    552: "exceeded storage allocation",
    553: "mailbox name not allowed",
    554: "transaction failed",
    556: "domain does not accept mail",
}
"""RFC 5321 section 4.2 and RFC 4954, 7504, 1870: what a reply code says, in our words."""

_ENHANCED_STATUS = re.compile(rb"^([245]\.\d{1,3}\.\d{1,3})(?:\s|$)")


@dataclass(frozen=True)
class Endpoint:
    """Where to connect and how: ``tls`` verifies the server for "starttls" and "tls"."""

    host: str
    port: int
    security: Security
    tls: ssl.SSLContext | None


@dataclass(frozen=True)
class Envelope:
    """What ``MAIL FROM``, ``RCPT TO`` and ``DATA`` carry: addr-specs and the message bytes."""

    sender: str
    recipients: tuple[str, ...]
    content: bytes


class _Client(smtplib.SMTP):
    """``smtplib.SMTP`` whose every command gets only what is left of the conversation's time."""

    deadline = math.inf

    def send(self, s: ReadableBuffer | str) -> None:
        if self.sock is not None:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the conversation's deadline passed")
            self.sock.settimeout(left)
        super().send(s)


class _TlsClient(_Client, smtplib.SMTP_SSL):
    """The same over implicit TLS."""


def _connect(endpoint: Endpoint, timeout: float) -> _Client:
    """Connected, greeted (the 220 banner read within ``timeout``), not yet introduced."""
    if endpoint.security == "tls":
        return _TlsClient(endpoint.host, endpoint.port, timeout=timeout, context=endpoint.tls)
    return _Client(endpoint.host, endpoint.port, timeout=timeout)


def _expect(reply: tuple[int, bytes], *codes: int) -> None:
    code, text = reply
    if code not in codes:
        raise smtplib.SMTPResponseException(code, text)


def send_mail(
    endpoint: Endpoint, envelope: Envelope, login: tuple[str, str] | None, timeout: float
) -> None:
    """Deliver ``envelope`` to ``endpoint`` within ``timeout`` seconds, or raise ``DeliveryFailed``.

    ``login`` is (user name, password) for AUTH. Once ``DATA`` is accepted the
    message is delivered: a failure of the closing ``QUIT`` does not count.
    """
    deadline = time.monotonic() + timeout
    step = "connect"
    client: _Client | None = None
    try:
        client = _connect(endpoint, timeout)
        client.deadline = deadline
        step = "EHLO"
        client.ehlo_or_helo_if_needed()
        if endpoint.security == "starttls":
            step = "STARTTLS"
            if not client.has_extn("starttls"):
                raise DeliveryFailed(
                    'the server does not offer STARTTLS (security = "starttls"); nothing was sent',
                    permanent=True,
                )
            client.starttls(context=endpoint.tls)
            step = "EHLO"
            client.ehlo_or_helo_if_needed()
        if login is not None:
            step = "AUTH"
            client.login(*login)
        step = "MAIL FROM"
        _expect(client.mail(envelope.sender), 250)
        step = "RCPT TO"
        for recipient in envelope.recipients:
            _expect(client.rcpt(recipient), 250, 251)
        step = "DATA"
        _expect(client.data(envelope.content), 250)
    except DeliveryFailed:
        raise
    except Exception as exc:
        raise describe_failure(exc, step, timeout) from None
    finally:
        if client is not None:
            _close(client)


def _close(client: _Client) -> None:
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()


def describe_failure(exc: Exception, step: str, timeout: float) -> DeliveryFailed:
    """What ``exc``, raised at ``step`` of the conversation, means; text safe to store.

    >>> error = smtplib.SMTPResponseException(550, b"5.1.1 <ops@example.com>: no such user")
    >>> failure = describe_failure(error, "RCPT TO", 10.0)
    >>> failure.error, failure.permanent
    ('SMTP 550 5.1.1 at RCPT TO: mailbox unavailable', True)
    >>> describe_failure(smtplib.SMTPResponseException(451, b"try later"), "DATA", 10.0).error
    'SMTP 451 at DATA: local error in processing'
    >>> describe_failure(ConnectionRefusedError(111, "Connection refused"), "connect", 10.0).error
    'ConnectionRefusedError at connect: Connection refused'
    """
    if isinstance(exc, smtplib.SMTPResponseException):
        return _reply_failure(exc.smtp_code, exc.smtp_error, step)
    if isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError):
        # smtplib reports a reply that never came as SMTPServerDisconnected.
        return DeliveryFailed(
            f"TimeoutError at {step}: no answer within the {timeout:g}s timeout", permanent=False
        )
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return DeliveryFailed(
            f"SMTPServerDisconnected at {step}: the server closed the connection", permanent=False
        )
    if isinstance(exc, smtplib.SMTPException):
        # smtplib's own words (no AUTH offered, no mechanism in common), not the server's.
        return DeliveryFailed(f"{type(exc).__name__} at {step}: {exc}", permanent=True)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return DeliveryFailed(
            f"SSLCertVerificationError at {step}: {exc.verify_message}", permanent=False
        )
    if isinstance(exc, ssl.SSLError):
        return DeliveryFailed(f"SSLError at {step}: {exc.reason}", permanent=False)
    if isinstance(exc, OSError) and exc.strerror:
        return DeliveryFailed(f"{type(exc).__name__} at {step}: {exc.strerror}", permanent=False)
    # Anything else may quote what it was given (a UnicodeEncodeError quotes the password).
    return DeliveryFailed(f"{type(exc).__name__} at {step}", permanent=False)


def _reply_failure(code: int, text: bytes | str, step: str) -> DeliveryFailed:
    raw = text.encode("ascii", "replace") if isinstance(text, str) else text
    enhanced = _ENHANCED_STATUS.match(raw)
    status = f" {enhanced.group(1).decode()}" if enhanced else ""
    if code < 0:
        meaning = "the reply could not be read"
    else:
        meaning = REPLY_MEANINGS.get(code, "failure" if 500 <= code < 600 else "transient failure")
    return DeliveryFailed(f"SMTP {code}{status} at {step}: {meaning}", permanent=500 <= code < 600)
