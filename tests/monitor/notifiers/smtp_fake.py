"""A real SMTP server on 127.0.0.1 (aiosmtpd) for the e-mail tests, and a CA to trust it by.

``SmtpFake`` speaks plain SMTP, STARTTLS or implicit TLS, checks AUTH
against the users it is given, records every message it accepted, and
answers ``RCPT`` or ``DATA`` with queued replies or not at all (``hang``).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import threading
from collections import deque
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

Security = Literal["none", "starttls", "tls"]


@dataclass(frozen=True)
class Certificates:
    """A private CA (``ca_file``) and a server certificate for 127.0.0.1 that it signed."""

    ca_file: Path
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_certificates(directory: Path) -> Certificates:
    """A CA and a leaf for 127.0.0.1 and localhost, valid for a day, as PEM files."""
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("driftwarden test CA")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    certificates = Certificates(
        directory / "ca.pem", directory / "server.pem", directory / "server-key.pem"
    )
    certificates.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    certificates.cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    certificates.key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return certificates


@dataclass(frozen=True)
class Mail:
    """One message the server accepted, with how it was sent."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    content: bytes
    tls: bool
    login: tuple[str, str] | None  # (mechanism, user name) of the AUTH, if any

    def message(self) -> EmailMessage:
        """The message as a mail client reads it: stored with local line ends, then parsed."""
        stored = self.content.replace(b"\r\n", b"\n")
        return message_from_bytes(stored, policy=policy.default)


@dataclass
class _Script:
    replies: dict[str, deque[str]] = field(
        default_factory=lambda: {"RCPT": deque(), "DATA": deque()}
    )
    hang: bool = False


class _Handler:
    def __init__(self, fake: SmtpFake) -> None:
        self.fake = fake

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        reply = self.fake.next_reply("RCPT")
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.fake.hanging():
            await self.fake.released()
        reply = self.fake.next_reply("DATA")
        if reply is not None:
            return reply
        assert envelope.mail_from is not None and isinstance(envelope.original_content, bytes)
        transport = server.transport
        self.fake.received.append(
            Mail(
                mail_from=envelope.mail_from,
                rcpt_tos=tuple(envelope.rcpt_tos),
                content=envelope.original_content,
                tls=transport is not None and transport.get_extra_info("ssl_object") is not None,
                login=session.auth_data if session.authenticated else None,
            )
        )
        return "250 2.0.0 OK: queued"


class _Authenticator:
    def __init__(self, users: Mapping[str, str]) -> None:
        self.users = users

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user, password = data.login.decode(), data.password.decode()
        if self.users.get(user) != password:
            return AuthResult(success=False, handled=False)  # aiosmtpd answers 535 5.7.8
        return AuthResult(success=True, auth_data=(mechanism, user))


class _BoundController(Controller):
    """aiosmtpd's threaded controller on a socket bound beforehand: port 0, no race."""

    def __init__(self, handler: _Handler, sock: socket.socket, **kwargs: Any) -> None:
        self.sock = sock
        super().__init__(handler, hostname="127.0.0.1", port=sock.getsockname()[1], **kwargs)

    def _create_server(self) -> Awaitable[asyncio.AbstractServer]:
        return self.loop.create_server(self._factory_invoker, sock=self.sock, ssl=self.ssl_context)


class SmtpFake:
    """An SMTP server on 127.0.0.1 for one test: ``with SmtpFake(...) as server: server.port``."""

    host = "127.0.0.1"

    def __init__(
        self,
        security: Security = "none",
        certificates: Certificates | None = None,
        users: Mapping[str, str] | None = None,
        auth_exclude: tuple[str, ...] = (),
    ) -> None:
        self.received: list[Mail] = []
        self._script = _Script()
        self._lock = threading.Lock()
        self._release: asyncio.Event | None = None
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind((self.host, 0))
        self.port: int = sock.getsockname()[1]
        options: dict[str, Any] = {"server_hostname": "smtp.test", "ready_timeout": 30.0}
        if security != "none":
            assert certificates is not None, "TLS needs certificates"
            context = certificates.server_context()
            if security == "tls":
                options["ssl_context"] = context
            else:
                options |= {"tls_context": context, "require_starttls": True}
        if users is not None:
            options |= {
                "authenticator": _Authenticator(users),
                "auth_required": True,
                "auth_exclude_mechanism": auth_exclude,
            }
        self._controller = _BoundController(_Handler(self), sock, **options)

    def __enter__(self) -> SmtpFake:
        self._controller.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._controller.loop.call_soon_threadsafe(self._wake)
        self._controller.stop()

    def respond(self, command: Literal["RCPT", "DATA"], *replies: str) -> None:
        """Answer the next ``command``s with ``replies`` ("451 4.3.0 Try later"), then accept."""
        with self._lock:
            self._script.replies[command].extend(replies)

    def hang(self) -> None:
        """Never answer ``DATA`` (until the server stops)."""
        with self._lock:
            self._script.hang = True

    def next_reply(self, command: str) -> str | None:
        with self._lock:
            queue = self._script.replies[command]
            return queue.popleft() if queue else None

    def hanging(self) -> bool:
        with self._lock:
            return self._script.hang

    async def released(self) -> None:
        if self._release is None:
            self._release = asyncio.Event()
        await self._release.wait()

    def _wake(self) -> None:
        if self._release is not None:
            self._release.set()
