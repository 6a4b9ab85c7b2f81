"""Alertmanager API v2: exact postable alerts; a schema-enforcing fake and the real binary.

The real-binary test runs when Debian's ``prometheus-alertmanager`` (installed
as ``/usr/bin/prometheus-alertmanager``) or an ``alertmanager`` binary is on
the machine, and skips loudly otherwise; the fake runs every time.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from pydantic import ValidationError

from monitor.config import parse_settings
from monitor.notifiers.alertmanager import (
    AlertmanagerNotifier,
    AlertmanagerReceiverSettings,
    render_alertmanager,
)
from monitor.notifiers.base import Verdict
from monitor.notifiers.registry import build_notifiers
from tests.monitor.notifiers.fake_api import message_for
from tests.support import HttpFake, Received, Reply, sample_event, wait_for

LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
RUN_URL = "http://127.0.0.1:8470/api/runs/42"
TOKEN = "s3cretAlertmanagerToken"


def _rfc3339(value: Any) -> datetime | None:
    if not isinstance(value, str) or not re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", value
    ):
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _string_map(value: Any) -> bool:
    return isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    )


def _alert_problem(alert: Any) -> tuple[int, str] | None:
    """The postableAlert schema and Alertmanager's own validation (status codes as 0.25 answers)."""
    if not isinstance(alert, dict):
        return 400, "alert must be an object"
    if "labels" not in alert:
        return 422, "labels in body is required"
    labels = alert["labels"]
    if not _string_map(labels):
        return 400, "labels must map strings to strings"
    if not labels:
        return 400, "at least one label pair required"
    bad = [name for name in labels if not LABEL_NAME.fullmatch(name)]
    if bad:
        return 400, f"invalid label set: invalid name {bad[0]!r}"
    if "alertname" not in labels:  # required by the Alerts API page
        return 400, "labels must include alertname"
    if not _string_map(alert.get("annotations", {})):
        return 400, "annotations must map strings to strings"
    times: dict[str, datetime] = {}
    for field in ("startsAt", "endsAt"):
        if field in alert:
            parsed = _rfc3339(alert[field])
            if parsed is None:
                return 400, f"{field} is not RFC 3339"
            times[field] = parsed
    if "startsAt" in times and "endsAt" in times and times["endsAt"] < times["startsAt"]:
        return 400, "start time must be before end time"
    if "generatorURL" in alert:
        parts = urlsplit(str(alert["generatorURL"]))
        if not parts.scheme or not parts.netloc:
            return 422, "generatorURL in body must be of type uri"
    return None


class FakeAlertmanager:
    """POST /api/v2/alerts as the OpenAPI spec and Alertmanager validate it; keeps the alerts."""

    def __init__(self, authorization: str | None = None) -> None:
        self.authorization = authorization
        self.alerts: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}

    def __call__(self, request: Received) -> Reply:
        if request.path != "/api/v2/alerts" or request.method != "POST":
            return Reply.text(404, "404 page not found")
        if self.authorization and request.headers.get("authorization") != self.authorization:
            return Reply.text(401, "Unauthorized")  # the proxy in front of Alertmanager
        content_type = request.headers.get("content-type", "")
        if not content_type.startswith("application/json"):
            return Reply.json(
                415, {"code": 415, "message": f"unsupported media type {content_type!r}"}
            )
        try:
            alerts = request.json()
        except ValueError:
            return Reply.json(400, {"code": 400, "message": "parsing alerts body failed"})
        if not isinstance(alerts, list):
            return Reply.json(400, {"code": 400, "message": "body must be a list of alerts"})
        for alert in alerts:
            problem = _alert_problem(alert)
            if problem:
                return Reply.json(problem[0], {"code": problem[0], "message": problem[1]})
        for alert in alerts:
            self.alerts[tuple(sorted(alert["labels"].items()))] = alert
        return Reply(200)


def _notifier(url: str, **auth: str) -> AlertmanagerNotifier:
    settings = AlertmanagerReceiverSettings.model_validate(
        {"name": "am", "type": "alertmanager", "url": url, **auth}
    )
    return AlertmanagerNotifier(settings, "receivers[4]")


GROUP = "3f2a9c0d1e4b"  # the first 12 characters of sample_event's fingerprint
LABELS = {
    "alertname": "DriftwardenAlert",
    "monitor": "credit-risk",
    "group": GROUP,
    "team": "risk",
    "env": "prod",
}
SUMMARY = "credit-risk: 2 of 7 columns drifted (income, device)"
FIRING_DESCRIPTION = (
    "drift: 2 of 7 columns drifted (income, device)\n"
    "income (ks): statistic 0.347, p-value 3.4e-107\n"
    "device (chi2): statistic 611.6, p-value 1.5e-133"
)
FIRING_ANNOTATIONS = {
    "summary": SUMMARY,
    "description": FIRING_DESCRIPTION,
    "severity": "critical",
    "rules": "drift",
    "run_url": RUN_URL,
}
EXPIRES = datetime(2026, 11, 25, 16, 0, 3, tzinfo=UTC)  # four hourly periods after the run


def test_render_firing_without_expiry_is_the_exact_postable_alert_without_ends_at() -> None:
    assert render_alertmanager(sample_event("firing")) == [
        {
            "labels": LABELS,
            "annotations": FIRING_ANNOTATIONS,
            "startsAt": "2026-11-25T12:00:03Z",
            "generatorURL": RUN_URL,
        }
    ]


def test_render_firing_with_expiry_sends_it_as_ends_at() -> None:
    event = sample_event("firing", expires_at=EXPIRES, rules=("drift", "income_psi"))
    expected = [
        {
            "labels": LABELS,
            "annotations": {**FIRING_ANNOTATIONS, "rules": "drift, income_psi"},
            "startsAt": "2026-11-25T12:00:03Z",
            "endsAt": "2026-11-25T16:00:03Z",
            "generatorURL": RUN_URL,
        }
    ]
    assert render_alertmanager(event) == expected
    # The same document on the wire, after the outbox round trip the worker makes.
    request = _notifier("http://am:9093").build_request(message_for(event))
    assert json.loads(request.content) == expected
    # Any time zone is sent as UTC.
    east = timezone(timedelta(hours=2))
    shifted = sample_event("firing", expires_at=EXPIRES.astimezone(east))
    assert render_alertmanager(shifted)[0]["endsAt"] == "2026-11-25T16:00:03Z"


def test_render_resolved_is_the_exact_postable_alert_ending_when_it_ended() -> None:
    expected = [
        {
            "labels": LABELS,  # the same identity as the firing alert
            "annotations": {
                "summary": SUMMARY,
                "description": "drift: 2 of 7 columns drifted (income, device)",
                "severity": "info",
                "rules": "drift, income_psi",
                "run_url": RUN_URL,
            },
            "startsAt": "2026-11-25T12:00:03Z",
            "endsAt": "2026-11-25T13:00:02Z",
            "generatorURL": RUN_URL,
        }
    ]
    resolved = sample_event("resolved", severity="info", rules=("drift", "income_psi"))
    assert render_alertmanager(resolved) == expected
    # A resolution ends at ended_at, never at a (stray) expiry.
    assert render_alertmanager(replace(resolved, expires_at=EXPIRES)) == expected


def test_severity_and_rules_are_annotations_so_the_identity_stays_put() -> None:
    first = render_alertmanager(sample_event("firing", expires_at=EXPIRES))[0]
    changed = render_alertmanager(
        sample_event(
            "firing",
            severity="warning",
            rule="income_psi",
            rules=("income_psi",),
            occasion="changed",
            expires_at=EXPIRES + timedelta(hours=1),
        )
    )[0]
    assert changed["labels"] == first["labels"] == LABELS
    assert (changed["annotations"]["severity"], changed["annotations"]["rules"]) == (
        "warning",
        "income_psi",
    )
    assert changed["endsAt"] == "2026-11-25T17:00:03Z"


def test_labels_are_sanitised_and_cannot_override_the_identity() -> None:
    event = sample_event(
        labels={
            "alertname": "spoof",
            "monitor": "other-monitor",
            "group": "mine",
            "severity": "page",
            "data-set": "loans",
            "team.name": "risk",
            "9x": "y",
            "région": "eu",
            "empty": "",
        }
    )
    labels = render_alertmanager(event)[0]["labels"]
    assert labels == {
        "alertname": "DriftwardenAlert",
        "monitor": "credit-risk",
        "group": GROUP,
        "severity": "page",  # only the three identifying names are reserved
        "data_set": "loans",
        "team_name": "risk",
        "_9x": "y",
        "r_gion": "eu",
    }
    assert all(LABEL_NAME.fullmatch(name) for name in labels)
    with HttpFake(FakeAlertmanager()) as server, httpx.Client() as client:
        response = client.send(_notifier(server.url).build_request(message_for(event)))
    assert response.status_code == 200
    (stored,) = server.accepted()
    assert stored.json()[0]["labels"] == labels


def test_settings_keep_credentials_out_of_the_url() -> None:
    with pytest.raises(ValidationError, match="credentials do not belong in the URL"):
        AlertmanagerReceiverSettings(name="a", type="alertmanager", url="http://u:p@am:9093")
    with pytest.raises(ValidationError, match="at most one of bearer_token_env and basic auth"):
        AlertmanagerReceiverSettings(
            name="a",
            type="alertmanager",
            url="http://am:9093",
            bearer_token_env="T",
            basic_auth_username="u",
            basic_auth_password_env="P",
        )


def test_firing_then_resolved_against_the_schema_enforcing_fake(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DW_AM_TOKEN", TOKEN)
    fake = FakeAlertmanager(authorization=f"Bearer {TOKEN}")
    firing = sample_event("firing", expires_at=EXPIRES)
    resolved = sample_event("resolved")
    with HttpFake(fake) as server, httpx.Client() as client:
        notifier = _notifier(server.url + "/", bearer_token_env="DW_AM_TOKEN")
        for event in (firing, resolved):
            response = client.send(notifier.build_request(message_for(event)))
            assert response.status_code == 200
            assert notifier.classify(response) is Verdict.DELIVERED
    sent_firing, sent_resolved = server.accepted()
    assert sent_firing.path == sent_resolved.path == "/api/v2/alerts"
    assert sent_firing.headers["content-type"] == "application/json"
    assert sent_firing.json() == render_alertmanager(firing)
    assert sent_firing.json()[0]["endsAt"] == "2026-11-25T16:00:03Z"
    assert sent_resolved.json() == render_alertmanager(resolved)
    assert sent_resolved.json()[0]["endsAt"] == "2026-11-25T13:00:02Z"
    # One alert: the resolution carries the same labels and updates it in place.
    assert list(fake.alerts) == [tuple(sorted(LABELS.items()))]
    (stored,) = fake.alerts.values()
    assert stored["endsAt"] == "2026-11-25T13:00:02Z"


def test_basic_auth_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DW_AM_PASSWORD", TOKEN)
    notifier = _notifier(
        "https://am.example.com/prefix",
        basic_auth_username="driftwarden",
        basic_auth_password_env="DW_AM_PASSWORD",
    )
    request = notifier.build_request(message_for(sample_event()))
    assert str(request.url) == "https://am.example.com/prefix/api/v2/alerts"
    expected = base64.b64encode(f"driftwarden:{TOKEN}".encode()).decode()
    assert request.headers["authorization"] == f"Basic {expected}"
    assert TOKEN.encode() not in request.content
    assert TOKEN not in repr(notifier.settings)


@pytest.mark.parametrize(
    ("alerts", "status"),
    [
        ([{"annotations": {"summary": "x"}}], 422),
        ([{"labels": {}}], 400),
        ([{"labels": {"monitor": "credit-risk"}}], 400),
        ([{"labels": {"alertname": "drift", "bad-name": "x"}}], 400),
        ([{"labels": {"alertname": "drift"}, "startsAt": "yesterday"}], 400),
        ({"labels": {"alertname": "drift"}}, 400),
    ],
)
def test_invalid_alerts_are_refused_for_good(alerts: Any, status: int) -> None:
    with HttpFake(FakeAlertmanager()) as server, httpx.Client() as client:
        response = client.post(server.url + "/api/v2/alerts", json=alerts)
    assert response.status_code == status
    assert _notifier(server.url).classify(response) is Verdict.PERMANENT


@pytest.mark.parametrize("status", [429, 500, 503])
def test_throttling_and_server_errors_are_retryable(status: int) -> None:
    with HttpFake(FakeAlertmanager()) as server, httpx.Client() as client:
        server.respond(Reply.text(status, "unavailable"))
        notifier = _notifier(server.url)
        response = client.send(notifier.build_request(message_for(sample_event())))
    assert notifier.classify(response) is Verdict.RETRYABLE


def test_config_builds_an_alertmanager_notifier() -> None:
    settings = parse_settings(
        {"receivers": [{"name": "am", "type": "alertmanager", "url": "http://am:9093"}]}
    )
    assert isinstance(build_notifiers(settings.receivers)["am"], AlertmanagerNotifier)


# --- the real binary ---------------------------------------------------------------------------


def _alertmanager_binary() -> str | None:
    for candidate in ("alertmanager", "prometheus-alertmanager"):
        found = shutil.which(candidate)
        if found:
            return found
    for path in ("/usr/bin/alertmanager", "/usr/bin/prometheus-alertmanager"):
        if Path(path).is_file():
            return path
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def real_alertmanager(tmp_path: Path) -> Iterator[str]:
    binary = _alertmanager_binary()
    if binary is None:
        pytest.skip(
            "!!! REAL ALERTMANAGER NOT RUN: no alertmanager binary (Debian package "
            "prometheus-alertmanager) on this machine; only the schema-enforcing fake ran !!!"
        )
    config = tmp_path / "alertmanager.yml"
    config.write_text("route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n")
    port = _free_port()
    log = (tmp_path / "alertmanager.log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:

        def ready() -> bool:
            if process.poll() is not None:
                raise AssertionError(
                    f"alertmanager exited: {(tmp_path / 'alertmanager.log').read_text()}"
                )
            try:
                return httpx.get(url + "/-/ready", timeout=1.0).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(ready, "alertmanager to be ready", deadline=30)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _listed(url: str) -> list[dict[str, Any]]:
    """The alerts Alertmanager lists for our monitor (it never lists resolved ones)."""
    response = httpx.get(url + "/api/v2/alerts", params={"filter": 'monitor="credit-risk"'})
    response.raise_for_status()
    alerts: list[dict[str, Any]] = response.json()
    return alerts


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_the_real_alertmanager_keeps_our_ends_at_then_resolves_the_alert(
    real_alertmanager: str,
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    started = now - timedelta(minutes=10)
    expires = now + timedelta(hours=1)  # far beyond the test: only the resolve can end it
    notifier = _notifier(real_alertmanager)
    firing = sample_event("firing", started_at=started, expires_at=expires)
    resolved = sample_event("resolved", started_at=started, ended_at=now - timedelta(seconds=1))
    assert render_alertmanager(resolved)[0]["labels"] == render_alertmanager(firing)[0]["labels"]
    with httpx.Client() as client:
        response = client.send(notifier.build_request(message_for(firing)))
        assert (response.status_code, notifier.classify(response)) == (200, Verdict.DELIVERED)

        def active() -> bool:
            listed = _listed(real_alertmanager)
            return len(listed) == 1 and listed[0]["status"]["state"] == "active"

        wait_for(active, "the alert to be listed active", 15)
        (alert,) = _listed(real_alertmanager)
        assert alert["labels"] == LABELS
        assert alert["annotations"] == FIRING_ANNOTATIONS
        assert alert["generatorURL"] == RUN_URL
        assert _time(alert["startsAt"]) == started
        assert _time(alert["endsAt"]) == expires  # ours, not "now + resolve_timeout"

        response = client.send(notifier.build_request(message_for(resolved)))
        assert (response.status_code, notifier.classify(response)) == (200, Verdict.DELIVERED)
        wait_for(lambda: _listed(real_alertmanager) == [], "the alert to be resolved", 15)

        invalid = client.post(real_alertmanager + "/api/v2/alerts", json=[{"labels": {}}])
        assert (invalid.status_code, notifier.classify(invalid)) == (400, Verdict.PERMANENT)
