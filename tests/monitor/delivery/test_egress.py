from __future__ import annotations

import ast
import random
import re
import socket
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from sqlalchemy import Engine

import monitor
from monitor.config import parse_settings
from monitor.delivery.egress import EgressPolicy, EgressRefused, system_resolver
from monitor.delivery.worker import DeliveryWorker
from monitor.metrics import Metrics
from monitor.notifiers.webhook import WebhookNotifier, WebhookReceiverSettings
from monitor.service_settings import DeliverySettings
from monitor.settings_base import ConfigError
from tests.support import Clock, HttpFake, Reply

if TYPE_CHECKING:
    from tests.monitor.delivery.conftest import Outbox

TOKEN = "tok_EGRESSSECRET9"
FAKE_DNS = {
    "rebind.example": ["203.0.113.5", "169.254.169.254"],
    "v6.example": ["2001:db8::1", "fe80::1%eth0"],
    "mapped.example": ["::ffff:169.254.10.1"],
    "public.example": ["203.0.113.5", "2001:db8::1"],
}


def fake_resolver(host: str) -> list[str]:
    try:
        return FAKE_DNS[host]
    except KeyError:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254"),
        ("http://169.254.0.1:8080/", "169.254.0.1"),
        ("http://[fe80::1]/", "fe80::1"),
        ("http://[fd00:ec2::254]/latest/meta-data/", "fd00:ec2::254"),
        ("http://[::ffff:169.254.169.254]/", "::ffff:169.254.169.254"),
        ("http://metadata.google.internal/computeMetadata/v1/", "metadata.google.internal"),
        ("http://METADATA.google.internal./", "metadata.google.internal"),
        ("http://rebind.example/hook", "rebind.example"),
        ("http://v6.example/hook", "v6.example"),
        ("http://mapped.example/hook", "mapped.example"),
    ],
)
def test_link_local_and_metadata_hosts_are_refused(url: str, host: str) -> None:
    with pytest.raises(EgressRefused) as refused:
        EgressPolicy(resolver=fake_resolver).check(httpx.URL(f"{url}?token={TOKEN}"))
    assert refused.value.host == host
    assert f'refused to send to host "{host}"' in str(refused.value)
    assert TOKEN not in str(refused.value)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://[::1]:9/hook",
        "http://localhost:9/hook",
        "https://public.example/hook",
        "https://unknown.example/hook",  # unresolvable: left to the connect error, retried
        "http://10.0.0.8/hook",
        "http://[fd00::1]/hook",  # unique-local, but not the metadata address
    ],
)
def test_other_hosts_and_loopback_are_allowed(url: str) -> None:
    EgressPolicy(resolver=fake_resolver).check(httpx.URL(url))


@pytest.mark.parametrize(
    ("allow", "url"),
    [
        (["169.254.169.254"], "http://169.254.169.254/"),
        (["169.254.10.0/24"], "http://169.254.10.7/"),
        (["rebind.example"], "http://rebind.example/"),
        (["169.254.169.254"], "http://rebind.example/"),  # the address it resolves to
        (["METADATA.google.internal"], "http://metadata.google.internal/"),
        (["fe80::/10"], "http://v6.example/"),
    ],
)
def test_allow_hosts_lets_a_host_through(allow: list[str], url: str) -> None:
    EgressPolicy(allow, resolver=fake_resolver).check(httpx.URL(url))


METADATA_IPV4 = ("169.254.169.254", "100.100.100.200", "192.0.0.192", "168.63.129.16")


def ipv6_forms(ipv4: str) -> dict[str, str]:
    """Every IPv6 spelling that reaches ``ipv4`` through a translator or tunnel, by hand."""
    a, b, c, d = (int(octet) for octet in ipv4.split("."))
    ab, cd = f"{a:02x}{b:02x}", f"{c:02x}{d:02x}"
    client = f"{(a << 8 | b) ^ 0xFFFF:04x}:{(c << 8 | d) ^ 0xFFFF:04x}"
    return {
        "mapped": f"::ffff:{ipv4}",
        "mapped-hex": f"::ffff:{ab}:{cd}",
        "compatible": f"::{ipv4}",
        "translated": f"::ffff:0:{ab}:{cd}",
        "nat64": f"64:ff9b::{ipv4}",
        "nat64-hex": f"64:ff9b::{ab}:{cd}",
        "nat64-local-48": f"64:ff9b:1:{ab}:{c:04x}:{d:02x}00::",
        "nat64-local-56": f"64:ff9b:1:{a:04x}:{b:04x}:{cd}::",
        "nat64-local-64": f"64:ff9b:1:0:{a:04x}:{b:02x}{c:02x}:{d:02x}00:0",
        "nat64-local-96": f"64:ff9b:1::{ab}:{cd}",
        "6to4": f"2002:{ab}:{cd}::1",
        "teredo-server": f"2001:0:{ab}:{cd}::1",
        "teredo-client": f"2001:0:cb00:7101:0:0:{client}",
    }


@pytest.mark.parametrize("ipv4", METADATA_IPV4)
@pytest.mark.parametrize("form", list(ipv6_forms("0.0.0.0")))
def test_every_ipv6_form_of_a_metadata_address_is_refused(ipv4: str, form: str) -> None:
    ipv6 = ipv6_forms(ipv4)[form]
    policy = EgressPolicy(resolver=fake_resolver)
    with pytest.raises(EgressRefused) as literal:
        policy.check(httpx.URL(f"http://[{ipv6}]/hook"))
    assert str(literal.value) == (
        f'refused to send to host "{ipv6}": it carries {ipv4}, a link-local or cloud metadata '
        "address (allow it with [delivery] allow_hosts if this is intended)"
    )
    resolving = EgressPolicy(resolver={"nat.example": ["203.0.113.5", ipv6]}.__getitem__)
    with pytest.raises(EgressRefused, match=f"it resolves to .*, which carries {ipv4}, a link"):
        resolving.check(httpx.URL("http://nat.example/hook"))


@pytest.mark.parametrize(
    "host", ["::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe", "2002:a9fe:a9fe::"]
)
def test_allowing_an_ipv4_address_allows_its_ipv6_forms(host: str) -> None:
    EgressPolicy(["169.254.169.254"]).check(httpx.URL(f"http://[{host}]/hook"))


@pytest.mark.parametrize(
    "host",
    [
        "100.100.100.200",  # Alibaba
        "192.0.0.192",  # Oracle
        "168.63.129.16",  # Azure WireServer
        "169.254.170.2",  # AWS ECS task metadata
        "fd00:ec2::23",  # AWS EKS Pod Identity
        "fd20:ce::254",  # GCP
        "fd00:42::42",  # Scaleway
        "fe80::a9fe:a9fe",  # OpenStack
        "metadata.goog",
        "metadata",
        "instance-data",
        "instance-data.ec2.internal",
    ],
)
def test_other_clouds_metadata_hosts_are_refused(host: str) -> None:
    url = f"http://[{host}]/" if ":" in host else f"http://{host}/"
    with pytest.raises(EgressRefused, match=f'refused to send to host "{re.escape(host)}"'):
        EgressPolicy(resolver=fake_resolver).check(httpx.URL(url))


@pytest.mark.parametrize(
    "host",
    ["64:ff9b::808:808", "2002:808:808::1", "::ffff:8.8.8.8", "2001:db8::1", "2001::1", "::"],
)
def test_ipv6_forms_of_other_addresses_are_allowed(host: str) -> None:
    EgressPolicy(resolver=fake_resolver).check(httpx.URL(f"http://[{host}]/hook"))


@pytest.mark.parametrize("spelling", ["2852039166", "0xa9fea9fe"])
def test_integer_and_hex_spellings_resolve_to_the_metadata_address(spelling: str) -> None:
    with pytest.raises(EgressRefused, match="it resolves to 169.254.169.254"):
        EgressPolicy().check(httpx.URL(f"http://{spelling}/latest/meta-data/"))


def test_the_system_resolver_resolves_localhost() -> None:
    assert {"127.0.0.1", "::1"} & set(system_resolver("localhost"))


def test_allow_hosts_is_a_delivery_setting() -> None:
    settings = parse_settings({"delivery": {"allow_hosts": ["169.254.169.254"]}})
    assert settings.delivery.allow_hosts == ("169.254.169.254",)
    with pytest.raises(ConfigError, match=r"delivery\.allow_hosts: allow_hosts\[0\]"):
        parse_settings({"delivery": {"allow_hosts": ["http://169.254.169.254/"]}})


def _worker(
    engine: Engine, client: httpx.Client | None, clock: Clock, settings: DeliverySettings
) -> DeliveryWorker:
    receiver = WebhookReceiverSettings(name="hook", type="webhook", url_env="DW_TEST_EGRESS_URL")
    return DeliveryWorker(
        engine,
        {"hook": WebhookNotifier(receiver, "receivers[0]")},
        {"hook": None},
        settings,
        Metrics(),
        "w1",
        client=client,
        clock=clock,
        rng=random.Random(3),
    )


def test_a_metadata_url_is_dead_at_once_without_a_request(
    engine: Engine, outbox: Outbox, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    requests: list[httpx.Request] = []
    monkeypatch.setenv("DW_TEST_EGRESS_URL", f"http://169.254.169.254/latest/{TOKEN}?k={TOKEN}")
    row_id = outbox.add(clock.now)

    def record(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200)

    transport = httpx.MockTransport(record)
    with httpx.Client(transport=transport) as client:
        assert _worker(engine, client, clock, DeliverySettings()).run_once() == 1
    row = outbox.row(row_id)
    assert row.status == "dead"
    assert row.last_error == (
        'EgressRefused: refused to send to host "169.254.169.254": a link-local or cloud '
        "metadata address (allow it with [delivery] allow_hosts if this is intended)"
    )
    assert requests == []
    (attempt,) = outbox.attempts(row_id)
    assert (attempt.outcome, attempt.status_code) == ("dead", None)


def test_an_allowed_metadata_host_is_sent_to(
    engine: Engine, outbox: Outbox, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    requests: list[httpx.Request] = []
    monkeypatch.setenv("DW_TEST_EGRESS_URL", "http://169.254.169.254/hook")
    row_id = outbox.add(clock.now)

    def record(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200)

    transport = httpx.MockTransport(record)
    settings = DeliverySettings(allow_hosts=("169.254.169.254",))
    with httpx.Client(transport=transport) as client:
        assert _worker(engine, client, clock, settings).run_once() == 1
    assert outbox.row(row_id).status == "delivered"
    assert [str(request.url) for request in requests] == ["http://169.254.169.254/hook"]


def test_a_redirect_is_not_followed_and_is_permanent(
    engine: Engine,
    outbox: Outbox,
    server: HttpFake,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DW_TEST_EGRESS_URL", f"{server.url}/hook")
    server.respond(Reply(307, {"Location": "http://169.254.169.254/latest/meta-data/"}))
    row_id = outbox.add(clock.now)
    worker = _worker(engine, None, clock, DeliverySettings())  # the daemon's own client
    try:
        assert worker.client.follow_redirects is False
        assert worker.run_once() == 1
    finally:
        worker.close()
    assert (outbox.row(row_id).status, outbox.row(row_id).last_error) == (
        "dead",
        "HTTP 307 Temporary Redirect",
    )
    assert len(server.requests) == 1


_UNVERIFIED = ("verify", "CERT_NONE", "check_hostname", "_create_unverified_context")


def test_tls_verification_is_never_disabled_in_the_package() -> None:
    """httpx verifies certificates by default; nothing in ``monitor`` may switch that off."""
    offenders = []
    for path in sorted(Path(monitor.__file__).parent.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.keyword) and node.arg is not None:
                names.append(node.arg)
            if isinstance(node, ast.Attribute):
                names.append(node.attr)
            if isinstance(node, ast.Name):
                names.append(node.id)
            if any(name in _UNVERIFIED for name in names):
                offenders.append(f"{path}:{getattr(node, 'lineno', '?')}")
    assert offenders == []
