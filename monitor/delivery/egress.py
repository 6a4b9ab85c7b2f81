"""Where the worker may send: never to link-local or cloud-metadata addresses unless allowed.

A receiver URL comes from config or the environment. A mistaken or hostile
one must not make the daemon fetch the cloud metadata service (instance
credentials) or poke link-local devices on its behalf. Just before each
request the host is checked by name, and by every address it resolves to;
one blocked address is enough to refuse. A refusal is permanent (the message
is dead at once) and names the host, never the URL's path or query.

An IPv6 address that carries an IPv4 address inside it reaches that IPv4
address through a translator or tunnel, so it is checked as that address
too: IPv4-mapped (``::ffff:a.b.c.d``) and -compatible (``::a.b.c.d``), NAT64
(``64:ff9b::/96``, and ``64:ff9b:1::/48`` at each RFC 6052 prefix length),
6to4 (``2002::/16``) and Teredo (``2001::/32``, server and client).

Loopback stays allowed: tests and sidecars listen there.

What this does not stop: httpx (or smtplib) resolves the name again when it
connects, so a DNS server answering differently a moment later (DNS
rebinding) gets through.
Pinning the checked address would need a transport of our own.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Iterator

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

BLOCKED_NETWORKS: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(network)
    for network in (
        "169.254.0.0/16",  # IPv4 link-local: AWS, GCP, Azure, Oracle, OpenStack metadata
        "100.100.100.200/32",  # Alibaba Cloud metadata
        "192.0.0.192/32",  # Oracle Cloud metadata
        "168.63.129.16/32",  # Azure WireServer (the host agent's endpoint)
        "fe80::/10",  # IPv6 link-local (OpenStack metadata: fe80::a9fe:a9fe)
        "fd00:ec2::254/128",  # AWS instance metadata over IPv6
        "fd00:ec2::23/128",  # AWS EKS Pod Identity agent over IPv6
        "fd20:ce::254/128",  # GCP metadata over IPv6
        "fd00:42::42/128",  # Scaleway metadata over IPv6
    )
)
BLOCKED_NAMES = frozenset(
    {
        "metadata.google.internal",
        "metadata.goog",
        "metadata",  # GCP's short name, through the resolver's search domain
        "instance-data",  # AWS
        "instance-data.ec2.internal",
    }
)

_NAT64_WELL_KNOWN = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_IPV4_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")

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
        return ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone ("%eth0")
    except ValueError:
        return None


def _rfc6052(address: ipaddress.IPv6Address, prefix_length: int) -> ipaddress.IPv4Address:
    bits = f"{int(address):0128b}"
    usable = bits[:64] + bits[72:]  # bits 64-71 never carry the IPv4 address
    start = prefix_length if prefix_length <= 64 else prefix_length - 8
    return ipaddress.IPv4Address(int(usable[start : start + 32], 2))


def embedded_ipv4(address: IPAddress) -> Iterator[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address reaches through a translator or tunnel.

    >>> [str(a) for a in embedded_ipv4(ipaddress.ip_address("64:ff9b::a9fe:a9fe"))]
    ['169.254.169.254']
    >>> [str(a) for a in embedded_ipv4(ipaddress.ip_address("2002:6464:64c8::1"))]
    ['100.100.100.200']
    """
    if isinstance(address, ipaddress.IPv4Address):
        return
    low = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.ipv4_mapped is not None:
        yield address.ipv4_mapped
    if address in _IPV4_TRANSLATED or (address in _IPV4_COMPATIBLE and int(address) > 1):
        yield low
    if address in _NAT64_WELL_KNOWN:
        yield low
    if address in _NAT64_LOCAL:
        yield from (_rfc6052(address, length) for length in (48, 56, 64, 96))
    if address.sixtofour is not None:
        yield address.sixtofour
    if address.teredo is not None:
        yield from address.teredo


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

    def _refused(self, address: IPAddress) -> IPAddress | None:
        """The blocked, not allowed address that ``address`` is or carries; None if none."""
        for candidate in (address, *embedded_ipv4(address)):
            blocked = any(candidate in network for network in BLOCKED_NETWORKS)
            if blocked and not any(candidate in network for network in self._allowed_networks):
                return candidate
        return None

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
            refused = self._refused(literal)
            if refused == literal:
                raise EgressRefused(host, "a link-local or cloud metadata address")
            if refused is not None:
                raise EgressRefused(
                    host, f"it carries {refused}, a link-local or cloud metadata address"
                )
            return
        try:
            resolved = self._resolver(host)
        except (OSError, UnicodeError):
            return  # unresolvable: the send fails to connect, and that is retried
        for text in resolved:
            address = _address(text)
            refused = None if address is None else self._refused(address)
            if refused is not None:
                carried = "" if refused == address else f", which carries {refused}"
                raise EgressRefused(
                    host,
                    f"it resolves to {address}{carried}, a link-local or cloud metadata address",
                )
