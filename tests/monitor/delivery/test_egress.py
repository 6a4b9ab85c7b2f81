from __future__ import annotations

import ast
import random
import socket
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from sqlalchemy import Engine

import monitor
from monitor.config import DeliverySettings, parse_settings
from monitor.delivery.egress import EgressPolicy, EgressRefused, system_resolver
from monitor.delivery.worker import DeliveryWorker
from monitor.metrics import Metrics
from monitor.notifiers.webhook import WebhookNotifier, WebhookReceiverSettings
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
