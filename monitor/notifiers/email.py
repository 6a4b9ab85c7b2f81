"""E-mail over SMTP: the alert as a plain-text and an HTML alternative, threaded by episode.

The message is the same bytes on every attempt, so a server or a mail
client that sees it twice can tell: ``Message-ID`` is the outbox
``message_id`` at the sender's domain and ``Date`` is when the run queued it.
Every message about one firing episode of one alert group (firing, changes,
repeats, resolved) carries ``In-Reply-To`` and ``References`` naming one id
made from the group's fingerprint and the episode number, which no message
carries itself: clients that thread by ``References`` (Thunderbird, Apple
Mail, mutt) show the episode as one thread; Gmail also needs the same
subject, which the default subject is not across firing and resolved.
``Auto-Submitted: auto-generated`` (RFC 3834) keeps vacation responders quiet.

The conversation is ``monitor.notifiers._smtp`` (the standard library's
smtplib). The password is read from ``password_env`` at each attempt; TLS is
always verified, against the system's CAs or the ``ca_file`` given.
"""

from __future__ import annotations

import html
import ipaddress
import ssl
from datetime import UTC
from email.errors import NonASCIILocalPartDefect
from email.headerregistry import Address, AddressHeader, HeaderRegistry
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

import jinja2
from pydantic import AfterValidator, Field, field_validator, model_validator

from monitor.alerts.event import AlertEvent, DriftedColumn
from monitor.notifiers._http import utc_span
from monitor.notifiers._smtp import DEFAULT_PORTS, Endpoint, Envelope, Security, send_mail
from monitor.notifiers._template import checked_template, compile_template, render_template
from monitor.notifiers.base import DeliveryFailed, OutboundMessage
from monitor.notifiers.spec import NotifierSpec
from monitor.secrets import resolve_secret
from monitor.settings_base import RateLimitedSettings

MAX_COLUMNS = 10  # drifted columns listed before "+N more": the run's page lists them all

_HEADERS = HeaderRegistry()


def parse_address(text: str) -> Address:
    """One address, ``user@domain`` or ``Name <user@domain>``; a ``ValueError`` says why not.

    >>> parse_address("Risk team <risk@example.com>").addr_spec
    'risk@example.com'
    >>> parse_address("risk@example.com, ops@example.com")
    Traceback (most recent call last):
    ...
    ValueError: "risk@example.com, ops@example.com" is not one e-mail address \
(expected user@domain or "Name <user@domain>")
    """
    problem = f'"{text}" is not one e-mail address (expected user@domain or "Name <user@domain>")'
    if not text.isprintable():
        raise ValueError(problem)
    try:
        header = _HEADERS("To", text)
    except (IndexError, ValueError):  # the parser's answer to some malformed addresses
        raise ValueError(problem) from None
    defects = [d for d in header.defects if not isinstance(d, NonASCIILocalPartDefect)]
    if not isinstance(header, AddressHeader) or defects or len(header.addresses) != 1:
        raise ValueError(problem)
    address = header.addresses[0]
    if not address.username or not address.domain:
        raise ValueError(problem)
    if not address.addr_spec.isascii():
        raise ValueError(f'"{text}": addresses must be ASCII (SMTPUTF8 is not supported)')
    return address


def _valid_address(text: str) -> str:
    parse_address(text)
    return text


MailAddress = Annotated[str, AfterValidator(_valid_address)]


def _loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class EmailReceiverSettings(RateLimitedSettings):
    """An SMTP server and who gets the mail; the password comes from ``password_env``."""

    name: str
    type: Literal["email"]
    host: str = Field(min_length=1, description="the SMTP server (submission or relay)")
    port: int | None = Field(
        default=None, ge=1, le=65535, description="default: 587 starttls, 465 tls, 25 none"
    )
    security: Security = "starttls"
    allow_insecure: bool = Field(
        default=False, description='allow security = "none" to a host that is not loopback'
    )
    ca_file: Path | None = Field(
        default=None, description="PEM CA bundle to verify the server by, instead of the system's"
    )
    username: str | None = None
    password_env: str | None = None
    sender: MailAddress = Field(alias="from")
    to: tuple[MailAddress, ...]
    subject: str | None = Field(
        default=None,
        description="sandboxed Jinja2 over the event payload; "
        "default: [FIRING] <severity> · <summary>",
    )

    @field_validator("host")
    @classmethod
    def _host_only(cls, host: str) -> str:
        if any(c in "/[]" or c.isspace() for c in host):  # no URL, no bracketed IPv6
            raise ValueError(f'expected a host name or address, got "{host}"')
        return host

    @field_validator("to")
    @classmethod
    def _someone(cls, to: tuple[str, ...]) -> tuple[str, ...]:
        if not to:
            raise ValueError("expected at least one address")
        return to

    _subject_compiles = field_validator("subject")(checked_template)

    @model_validator(mode="after")
    def _consistent(self) -> EmailReceiverSettings:
        if (self.username is None) != (self.password_env is None):
            raise ValueError("set both username and password_env, or neither")
        if self.allow_insecure and self.security != "none":
            raise ValueError('allow_insecure applies only to security = "none"')
        if self.security == "none" and not self.allow_insecure and not _loopback(self.host):
            raise ValueError(
                f'security = "none" sends in clear text; to "{self.host}", which is not a '
                'loopback host, only with allow_insecure = true (else use "starttls" or "tls")'
            )
        if self.ca_file is not None and self.security == "none":
            raise ValueError('ca_file applies only to security = "starttls" or "tls"')
        return self

    @property
    def smtp_port(self) -> int:
        return self.port if self.port is not None else DEFAULT_PORTS[self.security]

    @cached_property
    def subject_template(self) -> jinja2.Template | None:
        return None if self.subject is None else compile_template(self.subject)


def _number(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def render_subject(event: AlertEvent, template: jinja2.Template | None) -> str:
    """The subject on one line: the template's rendering, or ``[FIRING] critical · summary``."""
    if template is None:
        text = f"[{event.status.upper()}] {event.severity} · {event.summary}"
    else:
        text = render_template(template, event.to_payload())
    return " ".join(text.split())


def _facts(event: AlertEvent) -> list[tuple[str, str]]:
    return [
        ("Monitor", event.monitor),
        ("Severity", event.severity),
        ("Rule", event.rule),
        ("Window", utc_span(event.window_start, event.window_end)),
    ]


def _title(event: AlertEvent) -> str:
    return f"{event.status.upper()} · {event.severity} · {event.monitor}"


def _shown(event: AlertEvent) -> tuple[tuple[DriftedColumn, ...], int]:
    shown = event.drifted_columns[:MAX_COLUMNS]
    return shown, len(event.drifted_columns) - len(shown)


def render_text(event: AlertEvent) -> str:
    """The plain-text body."""
    lines = [_title(event), "", event.summary, ""]
    lines += [f"{label + ':':<10}{value}" for label, value in _facts(event)]
    shown, hidden = _shown(event)
    if shown:
        lines += ["", "Drifted columns:"]
        lines += [
            f"- {c.shown_name} ({c.method}): statistic {_number(c.statistic, '.4g')}, "
            f"p-value {_number(c.p_value, '.3g')}"
            for c in shown
        ]
        if hidden:
            lines.append(f"+{hidden} more")
    lines += ["", f"Run {event.run_id}: {event.run_url}", ""]
    return "\n".join(lines)


def render_html(event: AlertEvent) -> str:
    """The HTML body: the same facts, every value escaped, styles inline (clients strip CSS)."""
    e = html.escape
    colour = "#b3261e" if event.status == "firing" else "#1e7b34"
    lines = [
        "<!DOCTYPE html>",
        '<html><head><meta charset="utf-8"></head>',
        '<body style="font-family: sans-serif; color: #222">',
        f'<h2 style="color: {colour}">{e(_title(event))}</h2>',
        f"<p>{e(event.summary)}</p>",
        '<table cellpadding="4">',
    ]
    lines += [
        f'<tr><th align="left">{label}</th><td>{e(value)}</td></tr>'
        for label, value in _facts(event)
    ]
    lines.append("</table>")
    shown, hidden = _shown(event)
    if shown:
        lines += [
            "<h3>Drifted columns</h3>",
            '<table cellpadding="4" border="1" style="border-collapse: collapse">',
            "<tr><th>Column</th><th>Method</th><th>Statistic</th><th>p-value</th></tr>",
        ]
        lines += [
            f"<tr><td><code>{e(c.shown_name)}</code></td><td>{e(c.method)}</td>"
            f"<td>{_number(c.statistic, '.4g')}</td><td>{_number(c.p_value, '.3g')}</td></tr>"
            for c in shown
        ]
        if hidden:
            lines.append(f'<tr><td colspan="4">+{hidden} more</td></tr>')
        lines.append("</table>")
    lines += [
        f'<p><a href="{e(event.run_url)}">Open run {event.run_id}</a></p>',
        "</body></html>",
        "",
    ]
    return "\n".join(lines)


def thread_id(fingerprint: str, episode: int, domain: str) -> str:
    """The id every message about one episode of one alert group refers to.

    >>> thread_id("3f2a9c0d1e4b5a6978877665544332211", 2, "example.com")
    '<alert.3f2a9c0d1e4b5a6978877665544332211.2@example.com>'
    """
    return f"<alert.{fingerprint}.{episode}@{domain}>"


def render_email(message: OutboundMessage, settings: EmailReceiverSettings) -> EmailMessage:
    """The exact message for ``message``: headers, a text part and its HTML alternative."""
    event = message.event
    sender = parse_address(settings.sender)
    mail = EmailMessage(policy=SMTP)
    mail["From"] = sender
    mail["To"] = [parse_address(recipient) for recipient in settings.to]
    mail["Subject"] = render_subject(event, settings.subject_template)
    mail["Date"] = format_datetime(message.created_at.astimezone(UTC))
    mail["Message-ID"] = f"<{message.message_id}@{sender.domain}>"
    thread = thread_id(event.fingerprint, event.episode, sender.domain)
    mail["In-Reply-To"] = thread
    mail["References"] = thread
    mail["Auto-Submitted"] = "auto-generated"
    # Quoted-printable keeps the message 7-bit (no 8BITMIME needed), and "=_" never
    # occurs in quoted-printable text, so the boundary cannot, and it is stable.
    mail.set_content(render_text(event), cte="quoted-printable")
    mail.add_alternative(render_html(event), subtype="html", cte="quoted-printable")
    mail.set_boundary(f"=_{message.message_id}")
    return mail


class EmailNotifier:
    """Renders the message and sends it by itself (a ``DirectNotifier``)."""

    def __init__(self, settings: EmailReceiverSettings, key: str) -> None:
        self.settings = settings
        self.key = key

    @property
    def host(self) -> str:
        return self.settings.host

    @property
    def port(self) -> int:
        return self.settings.smtp_port

    def deliver(self, message: OutboundMessage, timeout: float) -> None:
        mail = render_email(message, self.settings)
        envelope = Envelope(
            sender=parse_address(self.settings.sender).addr_spec,
            recipients=tuple(parse_address(r).addr_spec for r in self.settings.to),
            content=mail.as_bytes(),
        )
        send_mail(self._endpoint(), envelope, self._login(), timeout)

    def _login(self) -> tuple[str, str] | None:
        if self.settings.username is None or self.settings.password_env is None:
            return None
        password = resolve_secret(self.settings.password_env, f"{self.key}.password_env")
        return self.settings.username, password

    def _endpoint(self) -> Endpoint:
        settings = self.settings
        tls = None
        if settings.security != "none":
            cafile = None if settings.ca_file is None else str(settings.ca_file)
            try:
                # Verifies the chain and the host name; with a cafile, only against it.
                tls = ssl.create_default_context(cafile=cafile)
            except (OSError, ssl.SSLError) as exc:
                reason = exc.strerror or getattr(exc, "reason", None) or type(exc).__name__
                raise DeliveryFailed(
                    f"{self.key}.ca_file: cannot load {cafile} ({reason})", permanent=False
                ) from None
        return Endpoint(settings.host, settings.smtp_port, settings.security, tls)


SPEC = NotifierSpec(
    type="email",
    settings=EmailReceiverSettings,
    factory=EmailNotifier,
)
