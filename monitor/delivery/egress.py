"""Where the worker may send: never to link-local or cloud-metadata addresses unless allowed.

A receiver URL comes from config or the environment. A mistaken or hostile
one must not make the daemon fetch the cloud metadata service (instance
credentials) or poke link-local devices on its behalf. Just before each
request the host is checked by name, and by every address it resolves to;
one blocked address is enough to refuse. A refusal is permanent (the message
is dead at once) and names the host, never the URL's path or query.

Loopback stays allowed: tests and sidecars listen there.

What this does not stop: httpx (or smtplib) resolves the name again when it
connects, so a DNS server answering differently a moment later (DNS
rebinding) gets through.
Pinning the checked address would need a transport of our own.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

BLOCKED_NETWORKS: tuple[IPNetwork, ...] = (
    ipaddress.ip_network("169.254.0.0/16"),  # IPv4 link-local; 169.254.169.254 is metadata
    ipaddress.ip_network("fe80::/10"),  # IPv6 link-local
    ipaddress.ip_network("fd00:ec2::254/128"),  # AWS instance metadata over IPv6
)
BLOCKED_NAMES = frozenset({"metadata.google.internal"})

Resolver = Callable[[str], list[str]]


class EgressRefused(Exception):
    """The request was not sent: its host is not one the daemon may talk to."""

    def __init__(self, host: str, reason: str) -> None:
        super().__init__(
            f'refused to send to host "{host}": {reason} '
            "(allow it with [delivery] allow_hosts if this is intended)"
        )
        self.host = host


def system_resolver(host: str) -> list[str]:
    """Every address ``host`` resolves to, as the system resolver answers (getaddrinfo)."""
    return [str(info[4][0]) for info in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)]


def _address(text: str) -> IPAddress | None:
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone ("%eth0")
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # ::ffff:169.254.169.254 is 169.254.169.254
    return address


def _blocked(address: IPAddress) -> bool:
    return any(address in network for network in BLOCKED_NETWORKS)


def _normalise(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


class EgressPolicy:
    """Refuses link-local and metadata hosts except those in ``allow_hosts``.

    ``allow_hosts`` entries are host names (matched exactly, case-insensitively),
    IP addresses or networks ("169.254.10.0/24").

    >>> fake_dns = {"evil.example": ["203.0.113.7", "169.254.169.254"]}.__getitem__
    >>> policy = EgressPolicy(resolver=fake_dns)
    >>> policy.check(httpx.URL("http://127.0.0.1:8080/hook"))
    >>> policy.check(httpx.URL("http://evil.example/x?token=t0k"))
    Traceback (most recent call last):
    ...
    monitor.delivery.egress.EgressRefused: refused to send to host "evil.example": \
it resolves to 169.254.169.254, a link-local or cloud metadata address \
(allow it with [delivery] allow_hosts if this is intended)
    >>> EgressPolicy(["evil.example"], resolver=fake_dns).check(httpx.URL("http://evil.example/"))
    """

    def __init__(self, allow_hosts: Iterable[str] = (), resolver: Resolver = system_resolver):
        self._allowed_names: set[str] = set()
        self._allowed_networks: list[IPNetwork] = []
        for entry in allow_hosts:
            name = _normalise(entry)
            try:
                self._allowed_networks.append(ipaddress.ip_network(name, strict=False))
            except ValueError:
                self._allowed_names.add(name)
        self._resolver = resolver

    def _allowed(self, address: IPAddress) -> bool:
        return any(address in network for network in self._allowed_networks)

    def check(self, url: httpx.URL) -> None:
        """Return if ``url`` may be requested; raise ``EgressRefused`` naming the host if not."""
        self.check_host(url.host)

    def check_host(self, host: str) -> None:
        """Return if ``host`` may be connected to (any protocol: SMTP too); else raise.

        >>> EgressPolicy().check_host("169.254.169.254")
        Traceback (most recent call last):
        ...
        monitor.delivery.egress.EgressRefused: refused to send to host "169.254.169.254": \
a link-local or cloud metadata address (allow it with [delivery] allow_hosts if this is intended)
        """
        host = _normalise(host)
        if not host or host in self._allowed_names:
            return  # no host: httpx refuses the URL itself
        if host in BLOCKED_NAMES:
            raise EgressRefused(host, "a cloud metadata service")
        literal = _address(host)
        if literal is not None:
            if _blocked(literal) and not self._allowed(literal):
                raise EgressRefused(host, "a link-local or cloud metadata address")
            return
        try:
            resolved = self._resolver(host)
        except (OSError, UnicodeError):
            return  # unresolvable: the send fails to connect, and that is retried
        for text in resolved:
            address = _address(text)
            if address is not None and _blocked(address) and not self._allowed(address):
                raise EgressRefused(
                    host, f"it resolves to {address}, a link-local or cloud metadata address"
                )
