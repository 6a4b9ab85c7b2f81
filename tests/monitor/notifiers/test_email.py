"""E-mail: the exact message rendered, and delivery by the real worker to a real SMTP server.

The server is aiosmtpd on 127.0.0.1 (``smtp_fake``): plain, STARTTLS and
implicit TLS with a certificate from a CA made for the test, AUTH checked
against a user and password, scripted 451 and 550 replies, and a hang.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from monitor.alerts.event import AlertEvent, DriftedColumn
from monitor.config import parse_settings, secret_references
from monitor.delivery.ratelimit import RateLimiter, receiver_rate_limits
from monitor.delivery.worker import DeliveryWorker
from monitor.metrics import Metrics
from monitor.notifiers.base import OutboundMessage
from monitor.notifiers.email import (
    MAX_COLUMNS,
    EmailNotifier,
    EmailReceiverSettings,
    render_email,
)
from monitor.notifiers.registry import build_notifiers, signing_secrets
from monitor.service_settings import DeliverySettings
from monitor.settings_base import ConfigError
from monitor.store.models import DeliveryAttemptRow, OutboxRow
from tests.monitor.notifiers.smtp_fake import (
    Certificates,
    Mail,
    Security,
    SmtpFake,
    make_certificates,
)
from tests.support import Clock, sample_event

PASSWORD = "s3cret-Smtp-Passw0rd"
CREATED_AT = datetime(2026, 11, 25, 12, 0, 3, 250000, tzinfo=UTC)
SETTINGS = DeliverySettings(
    timeout=timedelta(seconds=10),
    max_age=timedelta(hours=1),
    backoff_initial=timedelta(seconds=10),
    backoff_max=timedelta(seconds=60),
)
RECEIVER: dict[str, Any] = {
    "name": "mail",
    "type": "email",
    "host": "smtp.example.com",
    "from": "Driftwarden <drift@example.com>",
    "to": ["ml-oncall@example.com", "Risk team <risk@example.com>"],
}


def _settings(**keys: Any) -> EmailReceiverSettings:
    return EmailReceiverSettings.model_validate(RECEIVER | keys)


def _message(event: AlertEvent, message_id: str = "msg_0001") -> OutboundMessage:
    return OutboundMessage(message_id, event.event_type, event.to_payload(), CREATED_AT, 1)


# --- rendering ----------------------------------------------------------------

THREAD = "<alert.3f2a9c0d1e4b5a6978877665544332211.2@example.com>"
SUMMARY = "credit-risk: 2 of 7 columns drifted (income, device)"
WINDOW = "2026-11-25T11:00:00Z – 2026-11-25T12:00:00Z"

FIRING_TEXT = f"""FIRING · critical · credit-risk

{SUMMARY}

Monitor:  credit-risk
Severity: critical
Rule:     drift
Window:   {WINDOW}

Drifted columns:
- income (ks): statistic 0.347, p-value 3.4e-107
- device (chi2): statistic 611.6, p-value 1.5e-133

Run 42: http://127.0.0.1:8470/api/runs/42
"""

FACT_ROWS = f"""<tr><th align="left">Monitor</th><td>credit-risk</td></tr>
<tr><th align="left">Severity</th><td>critical</td></tr>
<tr><th align="left">Rule</th><td>drift</td></tr>
<tr><th align="left">Window</th><td>{WINDOW}</td></tr>"""

FIRING_HTML = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"></head>
<body style="font-family: sans-serif; color: #222">
<h2 style="color: #b3261e">FIRING · critical · credit-risk</h2>
<p>{SUMMARY}</p>
<table cellpadding="4">
{FACT_ROWS}
</table>
<h3>Drifted columns</h3>
<table cellpadding="4" border="1" style="border-collapse: collapse">
<tr><th>Column</th><th>Method</th><th>Statistic</th><th>p-value</th></tr>
<tr><td><code>income</code></td><td>ks</td><td>0.347</td><td>3.4e-107</td></tr>
<tr><td><code>device</code></td><td>chi2</td><td>611.6</td><td>1.5e-133</td></tr>
</table>
<p><a href="http://127.0.0.1:8470/api/runs/42">Open run 42</a></p>
</body></html>
"""


def _headers(mail: Any) -> list[tuple[str, str]]:
    return [(name, str(value)) for name, value in mail.items()]


def _bodies(mail: Any) -> tuple[str, str]:
    text, page = mail.iter_parts()
    assert (text.get_content_type(), page.get_content_type()) == ("text/plain", "text/html")
    return text.get_content(), page.get_content()


def test_render_firing_is_the_exact_message() -> None:
    mail = render_email(_message(sample_event("firing")), _settings())
    assert _headers(mail) == [
        ("From", "Driftwarden <drift@example.com>"),
        ("To", "ml-oncall@example.com, Risk team <risk@example.com>"),
        ("Subject", f"[FIRING] critical · {SUMMARY}"),
        ("Date", "Wed, 25 Nov 2026 12:00:03 +0000"),
        ("Message-ID", "<msg_0001@example.com>"),
        ("In-Reply-To", THREAD),
        ("References", THREAD),
        ("Auto-Submitted", "auto-generated"),
        ("MIME-Version", "1.0"),
        ("Content-Type", 'multipart/alternative; boundary="=_msg_0001"'),
    ]
    assert _bodies(mail) == (FIRING_TEXT, FIRING_HTML)


def test_render_resolved_threads_with_the_firing_message_of_its_episode() -> None:
    mail = render_email(_message(sample_event("resolved"), "msg_0002"), _settings())
    headers = dict(_headers(mail))
    assert headers["Subject"] == f"[RESOLVED] critical · {SUMMARY}"
    assert headers["Message-ID"] == "<msg_0002@example.com>"
    assert headers["In-Reply-To"] == headers["References"] == THREAD
    text, page = _bodies(mail)
    assert text == FIRING_TEXT.replace("FIRING", "RESOLVED").replace(
        """
Drifted columns:
- income (ks): statistic 0.347, p-value 3.4e-107
- device (chi2): statistic 611.6, p-value 1.5e-133
""",
        "",
    )
    assert page == (
        "<!DOCTYPE html>\n"
        '<html><head><meta charset="utf-8"></head>\n'
        '<body style="font-family: sans-serif; color: #222">\n'
        '<h2 style="color: #1e7b34">RESOLVED · critical · credit-risk</h2>\n'
        f"<p>{SUMMARY}</p>\n"
        '<table cellpadding="4">\n'
        f"{FACT_ROWS}\n"
        "</table>\n"
        '<p><a href="http://127.0.0.1:8470/api/runs/42">Open run 42</a></p>\n'
        "</body></html>\n"
    )
    next_episode = render_email(_message(sample_event(episode=3)), _settings())
    assert next_episode["References"] == THREAD.replace(".2@", ".3@")


def test_html_escapes_every_value_and_the_column_list_is_capped() -> None:
    columns = tuple(DriftedColumn(f"c{i}", "psi", 0.5, None, None, 0.2) for i in range(12)) + (
        DriftedColumn("<script>alert(1)</script>", "ks", 0.1, 0.01, 0.02, 0.05),
    )
    event = sample_event(drifted_columns=columns[-1:], summary='a & "b" <i>', monitor="<b>m</b>")
    text, page = _bodies(render_email(_message(event), _settings()))
    assert "<script>" not in page and "<b>" not in page and "<i>" not in page
    assert "<tr><td><code>&lt;script&gt;alert(1)&lt;/script&gt;</code></td><td>ks</td>" in page
    assert "<p>a &amp; &quot;b&quot; &lt;i&gt;</p>" in page
    assert "FIRING · critical · &lt;b&gt;m&lt;/b&gt;</h2>" in page
    assert "- <script>alert(1)</script> (ks): statistic 0.1, p-value 0.01" in text

    text, page = _bodies(render_email(_message(sample_event(drifted_columns=columns)), _settings()))
    listed = [line for line in text.splitlines() if line.startswith("- ")]
    assert listed[0] == "- c0 (psi): statistic 0.5, p-value n/a"
    assert len(listed) == MAX_COLUMNS
    assert "\n+3 more\n" in text
    assert page.count("<tr><td><code>") == MAX_COLUMNS
    assert '<tr><td colspan="4">+3 more</td></tr>' in page


def test_the_message_is_the_same_bytes_on_every_attempt_and_seven_bit() -> None:
    message = _message(sample_event())
    first = render_email(message, _settings()).as_bytes()
    retry = OutboundMessage(
        message.message_id, message.event_type, message.payload, message.created_at, 4
    )
    assert render_email(retry, _settings()).as_bytes() == first
    assert first.isascii()
    assert all(line.endswith(b"\r") for line in first.split(b"\n")[:-1])

    accented = sample_event(drifted_columns=(DriftedColumn("größe", "ks", 0.2, 0.01, 0.02, 0.05),))
    settings = _settings(to=["Jörg Müller <joerg@example.com>"])
    sent = render_email(_message(accented), settings)
    assert sent.as_bytes().isascii()
    assert sent["To"] == "Jörg Müller <joerg@example.com>"
    assert "- größe (ks): statistic 0.2, p-value 0.01" in _bodies(sent)[0]


def test_a_subject_template_renders_on_one_line() -> None:
    settings = _settings(subject="{{ alert.state | upper }}\n{{ monitor }}: {{ summary }}")
    mail = render_email(_message(sample_event()), settings)
    assert mail["Subject"] == f"FIRING credit-risk: {SUMMARY}"


# --- settings -----------------------------------------------------------------


def _config_error(**keys: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_settings({"receivers": [RECEIVER | keys]})
    return str(caught.value)


def test_default_ports_follow_the_security_mode() -> None:
    assert _settings().smtp_port == 587
    assert _settings(security="tls").smtp_port == 465
    assert _settings(security="none", host="127.0.0.1").smtp_port == 25
    assert _settings(port=2525).smtp_port == 2525


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        (
            {"to": ["ml-oncall@example.com", "risk@"]},
            'receivers[0].to[1]: "risk@" is not one e-mail address',
        ),
        ({"to": []}, "receivers[0].to: expected at least one address"),
        ({"from": "a@b.com, c@d.com"}, 'receivers[0].from: "a@b.com, c@d.com" is not one'),
        (
            {"to": ["jörg@example.com"]},
            'receivers[0].to[0]: "jörg@example.com": addresses must be ASCII',
        ),
        (
            {"security": "none"},
            'receivers[0]: security = "none" sends in clear text; to "smtp.example.com", '
            "which is not a loopback host, only with allow_insecure = true",
        ),
        ({"allow_insecure": True}, 'allow_insecure applies only to security = "none"'),
        ({"username": "drift"}, "receivers[0]: set both username and password_env, or neither"),
        ({"host": "smtp://smtp.example.com"}, "receivers[0].host: expected a host name"),
        ({"host": "[::1]"}, 'receivers[0].host: expected a host name or address, got "[::1]"'),
        ({"subject": "{{ monitr }}"}, "receivers[0].subject: template: 'monitr' is undefined"),
        ({"security": "ssl"}, "receivers[0].security: Input should be 'starttls', 'tls' or"),
    ],
)
def test_config_errors_name_the_key(keys: dict[str, Any], expected: str) -> None:
    assert expected in _config_error(**keys)


def test_plain_smtp_is_allowed_to_loopback_or_when_asked() -> None:
    assert _settings(security="none", host="localhost").security == "none"
    assert _settings(security="none", host="::1").security == "none"
    insecure = _settings(security="none", host="relay.internal", allow_insecure=True)
    assert insecure.allow_insecure


def test_email_is_a_known_receiver_type_and_its_password_a_secret() -> None:
    assert "'email'" in _config_error(type="mail")
    config = parse_settings(
        {"receivers": [RECEIVER | {"username": "drift", "password_env": "DW_SMTP_PASSWORD"}]}
    )
    assert isinstance(build_notifiers(config.receivers)["mail"], EmailNotifier)
    assert secret_references(config) == [("receivers[0].password_env", "DW_SMTP_PASSWORD")]
    assert signing_secrets(config.receivers) == {"mail": None}


# --- delivery through the worker to a real SMTP server ------------------------


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("smtp-tls"))


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime.now(UTC))


WorkerFactory = Callable[..., DeliveryWorker]


@pytest.fixture
def make_worker(clock: Clock) -> Iterator[WorkerFactory]:
    workers: list[DeliveryWorker] = []

    def make(
        engine: Engine,
        receiver: dict[str, Any],
        settings: DeliverySettings = SETTINGS,
        metrics: Metrics | None = None,
        limiter: RateLimiter | None = None,
    ) -> DeliveryWorker:
        config = parse_settings({"receivers": [receiver]})
        worker = DeliveryWorker(
            engine,
            build_notifiers(config.receivers),
            signing_secrets(config.receivers),
            settings,
            metrics if metrics is not None else Metrics(),
            "w1",
            clock=clock,
            rng=random.Random(5),
            batch_size=10,
            limiter=limiter,
        )
        workers.append(worker)
        return worker

    yield make
    for worker in workers:
        worker.close()


def _to(server: SmtpFake, **keys: Any) -> dict[str, Any]:
    """The receiver table for ``server``; plain SMTP unless ``security`` says otherwise."""
    return RECEIVER | {"host": server.host, "port": server.port, "security": "none"} | keys


def _queue(engine: Engine, now: datetime, event: AlertEvent, message_id: str = "msg_0001") -> int:
    with Session(engine) as session:
        row = OutboxRow(
            message_id=message_id,
            receiver="mail",
            event_type=event.event_type,
            payload=event.to_payload(),
            created_at=now,
            status="pending",
            next_attempt_at=now,
        )
        session.add(row)
        session.commit()
        return row.id


def _row(engine: Engine, row_id: int) -> OutboxRow:
    with Session(engine, expire_on_commit=False) as session:
        row = session.get(OutboxRow, row_id)
        assert row is not None
        return row


def _attempts(engine: Engine, row_id: int) -> list[tuple[str, int | None, str | None]]:
    query = select(DeliveryAttemptRow).where(DeliveryAttemptRow.outbox_id == row_id)
    with Session(engine) as session:
        return [(a.outcome, a.status_code, a.error) for a in session.scalars(query)]


def _expected_bytes(engine: Engine, row_id: int, receiver: dict[str, Any]) -> bytes:
    row = _row(engine, row_id)
    message = OutboundMessage(row.message_id, row.event_type, row.payload, row.created_at, 1)
    return render_email(message, EmailReceiverSettings.model_validate(receiver)).as_bytes()


def _assert_received(mail: Mail, expected: bytes) -> None:
    assert mail.mail_from == "drift@example.com"
    assert mail.rcpt_tos == ("ml-oncall@example.com", "risk@example.com")
    assert mail.content == expected
    received = mail.message()
    assert received["Message-ID"] == "<msg_0001@example.com>"
    assert received["To"] == "ml-oncall@example.com, Risk team <risk@example.com>"
    assert _bodies(received) == (FIRING_TEXT, FIRING_HTML)


def test_plain_smtp_on_loopback_delivers_the_exact_message(
    engine: Engine, clock: Clock, make_worker: WorkerFactory
) -> None:
    metrics = Metrics()
    with SmtpFake() as server:
        receiver = _to(server)
        row_id = _queue(engine, clock.now, sample_event())
        worker = make_worker(engine, receiver, metrics=metrics)
        assert worker.run_once() == 1
        assert worker.run_once() == 0

    row = _row(engine, row_id)
    assert (row.status, row.attempts, row.delivered_at, row.last_error) == (
        "delivered",
        1,
        clock.now,
        None,
    )
    assert _attempts(engine, row_id) == [("delivered", None, None)]
    (mail,) = server.received
    _assert_received(mail, _expected_bytes(engine, row_id, receiver))
    assert (mail.tls, mail.login) == (False, None)
    delivered = metrics.registry.get_sample_value(
        "driftwarden_deliveries_total", {"receiver": "mail", "outcome": "delivered"}
    )
    assert delivered == 1


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_tls_is_verified_against_the_private_ca(
    sqlite_engine: Engine,
    clock: Clock,
    make_worker: WorkerFactory,
    certificates: Certificates,
    security: Security,
) -> None:
    with SmtpFake(security, certificates) as server:
        receiver = _to(server, security=security, ca_file=str(certificates.ca_file))
        row_id = _queue(sqlite_engine, clock.now, sample_event())
        assert make_worker(sqlite_engine, receiver).run_once() == 1
    assert _row(sqlite_engine, row_id).status == "delivered"
    (mail,) = server.received
    _assert_received(mail, _expected_bytes(sqlite_engine, row_id, receiver))
    assert mail.tls


def _with_auth(server: SmtpFake, certificates: Certificates) -> dict[str, Any]:
    """STARTTLS to ``server`` as user "drift", the password in $DW_SMTP_PASSWORD."""
    return _to(
        server,
        security="starttls",
        ca_file=str(certificates.ca_file),
        username="drift",
        password_env="DW_SMTP_PASSWORD",
    )


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_auth_with_the_password_from_the_environment(
    sqlite_engine: Engine,
    clock: Clock,
    make_worker: WorkerFactory,
    certificates: Certificates,
    monkeypatch: pytest.MonkeyPatch,
    mechanism: str,
) -> None:
    monkeypatch.setenv("DW_SMTP_PASSWORD", PASSWORD)
    other = {"PLAIN": "LOGIN", "LOGIN": "PLAIN"}[mechanism]
    users = {"drift": PASSWORD}
    with SmtpFake("starttls", certificates, users=users, auth_exclude=(other,)) as server:
        row_id = _queue(sqlite_engine, clock.now, sample_event())
        assert make_worker(sqlite_engine, _with_auth(server, certificates)).run_once() == 1
    assert _row(sqlite_engine, row_id).status == "delivered"
    (mail,) = server.received
    assert mail.login == (mechanism, "drift")
    assert PASSWORD.encode() not in mail.content


@pytest.mark.parametrize(
    ("password", "status", "error"),
    [
        ("not-" + PASSWORD, "dead", "SMTP 535 5.7.8 at AUTH: authentication credentials invalid"),
        (
            None,
            "pending",
            "SecretError: receivers[0].password_env: environment variable DW_SMTP_PASSWORD "
            "(or DW_SMTP_PASSWORD_FILE) is not set",
        ),
    ],
    ids=["wrong", "unset"],
)
def test_a_wrong_password_is_dead_an_unset_one_retried_and_neither_stored(
    sqlite_engine: Engine,
    clock: Clock,
    make_worker: WorkerFactory,
    certificates: Certificates,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    password: str | None,
    status: str,
    error: str,
) -> None:
    if password is None:
        monkeypatch.delenv("DW_SMTP_PASSWORD", raising=False)
    else:
        monkeypatch.setenv("DW_SMTP_PASSWORD", password)
    with SmtpFake("starttls", certificates, users={"drift": PASSWORD}) as server:
        row_id = _queue(sqlite_engine, clock.now, sample_event())
        assert make_worker(sqlite_engine, _with_auth(server, certificates)).run_once() == 1
    row = _row(sqlite_engine, row_id)
    assert (row.status, row.attempts, row.last_error) == (status, 1, error)
    outcome = "dead" if status == "dead" else "retry"
    assert _attempts(sqlite_engine, row_id) == [(outcome, None, error)]
    assert server.received == []
    assert error in caplog.text
    assert PASSWORD not in caplog.text


def test_a_451_is_retried_after_the_backoff_then_delivered_once(
    engine: Engine, clock: Clock, make_worker: WorkerFactory
) -> None:
    with SmtpFake() as server:
        server.respond("DATA", "451 4.3.0 Mail server temporarily rejected message")
        receiver = _to(server)
        row_id = _queue(engine, clock.now, sample_event())
        worker = make_worker(engine, receiver)
        assert worker.run_once() == 1
        row = _row(engine, row_id)
        error = "SMTP 451 4.3.0 at DATA: local error in processing"
        assert (row.status, row.attempts, row.last_error) == ("pending", 1, error)
        delay = row.next_attempt_at - clock.now
        assert timedelta(0) < delay <= SETTINGS.backoff_initial
        assert server.received == []

        clock.advance(delay)
        assert worker.run_once() == 1
    row = _row(engine, row_id)
    assert (row.status, row.attempts, row.last_error) == ("delivered", 2, None)
    assert _attempts(engine, row_id) == [("retry", None, error), ("delivered", None, None)]
    (mail,) = server.received
    _assert_received(mail, _expected_bytes(engine, row_id, receiver))


def test_a_550_recipient_is_dead_at_once_and_nobody_gets_a_copy(
    sqlite_engine: Engine, clock: Clock, make_worker: WorkerFactory
) -> None:
    with SmtpFake() as server:
        # The first recipient is accepted, the second refused: no DATA is sent.
        server.respond("RCPT", "250 2.1.5 OK", "550 5.1.1 <risk@example.com>: User unknown")
        row_id = _queue(sqlite_engine, clock.now, sample_event())
        assert make_worker(sqlite_engine, _to(server)).run_once() == 1
    row = _row(sqlite_engine, row_id)
    error = "SMTP 550 5.1.1 at RCPT TO: mailbox unavailable"
    assert (row.status, row.attempts, row.last_error) == ("dead", 1, error)
    assert server.received == []


def test_a_server_that_never_answers_times_out_and_is_retried(
    sqlite_engine: Engine, clock: Clock, make_worker: WorkerFactory
) -> None:
    settings = SETTINGS.model_copy(update={"timeout": timedelta(seconds=0.5)})
    with SmtpFake() as server:
        server.hang()
        row_id = _queue(sqlite_engine, clock.now, sample_event())
        assert make_worker(sqlite_engine, _to(server), settings).run_once() == 1
    row = _row(sqlite_engine, row_id)
    assert (row.status, row.attempts, row.last_error) == (
        "pending",
        1,
        "TimeoutError at DATA: no answer within the 0.5s timeout",
    )


@pytest.mark.parametrize(("security", "step"), [("starttls", "STARTTLS"), ("tls", "connect")])
def test_a_certificate_the_system_cas_do_not_trust_is_refused_and_retried(
    sqlite_engine: Engine,
    clock: Clock,
    make_worker: WorkerFactory,
    certificates: Certificates,
    security: Security,
    step: str,
) -> None:
    with SmtpFake(security, certificates) as server:
        row_id = _queue(sqlite_engine, clock.now, sample_event())
        assert make_worker(sqlite_engine, _to(server, security=security)).run_once() == 1
    row = _row(sqlite_engine, row_id)
    assert row.status == "pending"
    assert row.last_error == (
        f"SSLCertVerificationError at {step}: unable to get local issuer certificate"
    )
    assert server.received == []


def test_starttls_not_offered_is_dead_and_nothing_is_sent_in_clear(
    sqlite_engine: Engine, clock: Clock, make_worker: WorkerFactory
) -> None:
    with SmtpFake() as server:
        row_id = _queue(sqlite_engine, clock.now, sample_event())
        assert make_worker(sqlite_engine, _to(server, security="starttls")).run_once() == 1
    row = _row(sqlite_engine, row_id)
    assert (row.status, row.last_error) == (
        "dead",
        'the server does not offer STARTTLS (security = "starttls"); nothing was sent',
    )
    assert server.received == []


def test_a_missing_ca_file_is_retried_naming_the_key(
    sqlite_engine: Engine, clock: Clock, make_worker: WorkerFactory, tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-ca.pem"
    with SmtpFake() as server:
        receiver = _to(server, security="starttls", ca_file=str(missing))
        row_id = _queue(sqlite_engine, clock.now, sample_event())
        assert make_worker(sqlite_engine, receiver).run_once() == 1
    assert _row(sqlite_engine, row_id).last_error == (
        f"receivers[0].ca_file: cannot load {missing} (No such file or directory)"
    )


def test_a_metadata_address_is_refused_before_connecting(
    sqlite_engine: Engine, clock: Clock, make_worker: WorkerFactory
) -> None:
    receiver = RECEIVER | {"host": "169.254.169.254", "port": 25, "security": "tls"}
    row_id = _queue(sqlite_engine, clock.now, sample_event())
    assert make_worker(sqlite_engine, receiver).run_once() == 1
    row = _row(sqlite_engine, row_id)
    assert row.status == "dead"
    assert row.last_error is not None
    assert row.last_error.startswith('EgressRefused: refused to send to host "169.254.169.254"')


def test_the_rate_limit_defers_the_second_message(
    sqlite_engine: Engine, clock: Clock, make_worker: WorkerFactory
) -> None:
    with SmtpFake() as server:
        receiver = _to(server, rate_limit=0.5)
        limits = receiver_rate_limits(parse_settings({"receivers": [receiver]}).receivers)
        limiter = RateLimiter(limits, clock=lambda: 100.0)
        first = _queue(sqlite_engine, clock.now, sample_event())
        second = _queue(sqlite_engine, clock.now, sample_event(), "msg_0002")
        assert make_worker(sqlite_engine, receiver, limiter=limiter).run_once() == 2
    assert _row(sqlite_engine, first).status == "delivered"
    deferred = _row(sqlite_engine, second)
    assert (deferred.status, deferred.attempts) == ("pending", 0)
    assert deferred.next_attempt_at == clock.now + timedelta(seconds=2)
    assert len(server.received) == 1
