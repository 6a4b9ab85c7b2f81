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
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import Engine

from monitor.alerts.event import AlertEvent, AlertStatus, RuleAlert
from monitor.config import parse_settings
from monitor.delivery.worker import DeliveryWorker
from monitor.metrics import Metrics
from monitor.notifiers.alertmanager import (
    AlertmanagerNotifier,
    AlertmanagerReceiverSettings,
    alert_name,
    render_alertmanager,
)
from monitor.notifiers.base import Verdict
from monitor.notifiers.registry import build_notifiers, refresh_receivers
from monitor.runner import RunContext, run_check
from monitor.service_settings import DeliverySettings
from monitor.sources import build_source
from tests.monitor.notifiers.fake_api import message_for
from tests.support import Clock, HttpFake, Received, Reply, sample_event, wait_for

LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
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


RUN_URL = "http://127.0.0.1:8470/runs/42"
STARTED = datetime(2026, 11, 25, 12, 0, 3, tzinfo=UTC)
EXPIRES = datetime(2026, 11, 25, 16, 0, 3, tzinfo=UTC)  # four hourly periods after the run
DRIFT = RuleAlert(
    "drift", "dataset_drift", "critical", "firing", STARTED, None, {"team": "risk", "env": "prod"}
)
INCOME = RuleAlert(
    "income", "column_drift", "warning", "firing", STARTED + timedelta(hours=1), None, {}
)
REASON = "drift: 2 of 7 columns drifted (income, device)"
FIRING_DESCRIPTION = (
    f"{REASON}\n"
    "income (ks): statistic 0.347, p-value 3.4e-107\n"
    "device (chi2): statistic 611.6, p-value 1.5e-133"
)
DRIFT_LABELS = {
    "team": "risk",
    "env": "prod",
    "alertname": "DriftwardenDatasetDrift",
    "monitor": "credit-risk",
    "rule": "drift",
    "severity": "critical",
}
INCOME_LABELS = {
    "alertname": "DriftwardenColumnDrift",
    "monitor": "credit-risk",
    "rule": "income",
    "severity": "warning",
}


def event(status: AlertStatus = "firing", *alerts: RuleAlert, **overrides: Any) -> AlertEvent:
    """sample_event as a group message listing ``alerts`` (default: drift and income firing)."""
    return sample_event(status, run_url=RUN_URL, alerts=alerts or (DRIFT, INCOME), **overrides)


def firing_annotations(rule: str) -> dict[str, str]:
    return {
        "summary": f"credit-risk: {rule} firing: {REASON}",
        "description": FIRING_DESCRIPTION,
        "run_url": RUN_URL,
        "drifted_columns": "income, device",
    }


def resolved(alert: RuleAlert, ended_at: datetime) -> RuleAlert:
    return replace(alert, state="resolved", ended_at=ended_at)


def test_alert_names_are_the_rule_types_in_camel_case() -> None:
    assert [alert_name(t) for t in ("column_drift", "performance", "data_quality")] == [
        "DriftwardenColumnDrift",
        "DriftwardenPerformance",
        "DriftwardenDataQuality",
    ]


def test_render_is_one_postable_alert_per_rule_labelled_by_what_fired() -> None:
    expected = [
        {
            "labels": DRIFT_LABELS,
            "annotations": firing_annotations("drift"),
            "startsAt": "2026-11-25T12:00:03Z",
            "endsAt": "2026-11-25T16:00:03Z",
            "generatorURL": RUN_URL,
        },
        {
            "labels": INCOME_LABELS,
            "annotations": firing_annotations("income"),
            "startsAt": "2026-11-25T13:00:03Z",  # when this rule started firing
            "endsAt": "2026-11-25T16:00:03Z",
            "generatorURL": RUN_URL,
        },
    ]
    firing = event(expires_at=EXPIRES)
    assert render_alertmanager(firing) == expected
    # The same document on the wire, after the outbox round trip the worker makes.
    request = _notifier("http://am:9093").build_request(message_for(firing))
    assert request is not None and json.loads(request.content) == expected
    # Any time zone is sent as UTC; without an expiry there is no endsAt.
    east = timezone(timedelta(hours=2))
    shifted = event("firing", DRIFT, expires_at=EXPIRES.astimezone(east))
    assert render_alertmanager(shifted)[0]["endsAt"] == "2026-11-25T16:00:03Z"
    assert "endsAt" not in render_alertmanager(event("firing", DRIFT))[0]


def test_a_rule_that_resolves_while_another_fires_gets_its_own_ends_at() -> None:
    ended = datetime(2026, 11, 25, 14, 0, 2, tzinfo=UTC)
    changed = event(
        "firing", resolved(DRIFT, ended), INCOME, expires_at=EXPIRES, occasion="changed"
    )
    drift, income = render_alertmanager(changed)
    assert drift == {
        "labels": DRIFT_LABELS,  # the identity it fired with
        "annotations": {
            "summary": f"credit-risk: drift resolved: {REASON}",
            "description": REASON,
            "run_url": RUN_URL,
        },
        "startsAt": "2026-11-25T12:00:03Z",
        "endsAt": "2026-11-25T14:00:02Z",  # when it ended, never the group's expiry
        "generatorURL": RUN_URL,
    }
    assert (income["labels"], income["endsAt"]) == (INCOME_LABELS, "2026-11-25T16:00:03Z")


def test_render_resolved_ends_every_rule_when_it_ended() -> None:
    ended = datetime(2026, 11, 25, 13, 0, 2, tzinfo=UTC)
    done = event("resolved", resolved(DRIFT, ended), resolved(INCOME, ended))
    assert render_alertmanager(done) == [
        {
            "labels": labels,
            "annotations": {
                "summary": f"credit-risk: {rule} resolved: {REASON}",
                "description": REASON,
                "run_url": RUN_URL,
            },
            "startsAt": starts,
            "endsAt": "2026-11-25T13:00:02Z",
            "generatorURL": RUN_URL,
        }
        for rule, labels, starts in (
            ("drift", DRIFT_LABELS, "2026-11-25T12:00:03Z"),
            ("income", INCOME_LABELS, "2026-11-25T13:00:03Z"),
        )
    ]
    # A resolution ends at ended_at, never at a (stray) expiry.
    assert render_alertmanager(replace(done, expires_at=EXPIRES)) == render_alertmanager(done)


def test_labels_are_sanitised_and_cannot_override_the_identity() -> None:
    spoofing = replace(
        DRIFT,
        labels={
            "alertname": "spoof",
            "monitor": "other-monitor",
            "rule": "other-rule",
            "severity": "page",
            "group": "mine",
            "data-set": "loans",
            "team.name": "risk",
            "9x": "y",
            "région": "eu",
            "empty": "",
        },
    )
    labelled = event("firing", spoofing)
    labels = render_alertmanager(labelled)[0]["labels"]
    assert labels == {
        "alertname": "DriftwardenDatasetDrift",
        "monitor": "credit-risk",
        "rule": "drift",
        "severity": "critical",
        "group": "mine",
        "data_set": "loans",
        "team_name": "risk",
        "_9x": "y",
        "r_gion": "eu",
    }
    assert all(LABEL_NAME.fullmatch(name) for name in labels)
    with HttpFake(FakeAlertmanager()) as server, httpx.Client() as client:
        request = _notifier(server.url).build_request(message_for(labelled))
        assert request is not None
        assert client.send(request).status_code == 200
    (stored,) = server.accepted()
    assert stored.json()[0]["labels"] == labels


def test_a_message_that_lists_no_rule_sends_nothing() -> None:
    """A message queued before messages listed their rules: its alert had other labels."""
    assert render_alertmanager(sample_event("firing")) == []
    assert _notifier("http://am:9093").build_request(message_for(sample_event("firing"))) is None


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
    ended = datetime(2026, 11, 25, 14, 0, 2, tzinfo=UTC)
    messages = (
        event(expires_at=EXPIRES),
        event("firing", resolved(DRIFT, ended), INCOME, expires_at=EXPIRES, occasion="changed"),
        event("resolved", resolved(DRIFT, ended), resolved(INCOME, ended)),
    )
    with HttpFake(fake) as server, httpx.Client() as client:
        notifier = _notifier(server.url + "/", bearer_token_env="DW_AM_TOKEN")
        for message in messages:
            request = notifier.build_request(message_for(message))
            assert request is not None
            response = client.send(request)
            assert response.status_code == 200
            assert notifier.classify(response) is Verdict.DELIVERED
    sent = server.accepted()
    assert [r.path for r in sent] == ["/api/v2/alerts"] * 3
    assert sent[0].headers["content-type"] == "application/json"
    assert [r.json() for r in sent] == [render_alertmanager(m) for m in messages]
    # Two alerts, one per rule: later messages update them in place by their labels.
    assert list(fake.alerts) == [
        tuple(sorted(DRIFT_LABELS.items())),
        tuple(sorted(INCOME_LABELS.items())),
    ]
    assert [a["endsAt"] for a in fake.alerts.values()] == ["2026-11-25T14:00:02Z"] * 2


def test_basic_auth_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DW_AM_PASSWORD", TOKEN)
    notifier = _notifier(
        "https://am.example.com/prefix",
        basic_auth_username="driftwarden",
        basic_auth_password_env="DW_AM_PASSWORD",
    )
    request = notifier.build_request(message_for(event()))
    assert request is not None
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
        request = notifier.build_request(message_for(event()))
        assert request is not None
        response = client.send(request)
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


@contextmanager
def running_alertmanager(directory: Path, config: str) -> Iterator[str]:
    """The real binary on a free port with ``config`` (YAML); yields its URL, then stops it."""
    binary = _alertmanager_binary()
    if binary is None:
        pytest.skip(
            "!!! REAL ALERTMANAGER NOT RUN: no alertmanager binary (Debian package "
            "prometheus-alertmanager) on this machine; only the schema-enforcing fake ran !!!"
        )
    directory.mkdir(parents=True, exist_ok=True)
    config_file = directory / "alertmanager.yml"
    config_file.write_text(config)
    port = _free_port()
    log_path = directory / "alertmanager.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config_file}",
            f"--storage.path={directory / 'data'}",
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
                raise AssertionError(f"alertmanager exited: {log_path.read_text()}")
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


@pytest.fixture
def real_alertmanager(tmp_path: Path) -> Iterator[str]:
    config = "route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n"
    with running_alertmanager(tmp_path / "alertmanager", config) as url:
        yield url


def _listed(url: str, monitor: str = "credit-risk") -> dict[str, dict[str, Any]]:
    """The alerts Alertmanager lists for ``monitor`` by rule (it never lists resolved ones)."""
    response = httpx.get(url + "/api/v2/alerts", params={"filter": f'monitor="{monitor}"'})
    response.raise_for_status()
    return {alert["labels"]["rule"]: alert for alert in response.json()}


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_the_real_alertmanager_lists_one_alert_per_rule_and_ends_each_on_its_own(
    real_alertmanager: str,
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    expires = now + timedelta(hours=1)  # far beyond the test: only a resolution can end it
    drift = replace(DRIFT, started_at=now - timedelta(minutes=10))
    income = replace(INCOME, started_at=now - timedelta(minutes=5))
    ended = now - timedelta(seconds=1)
    notifier = _notifier(real_alertmanager)

    def send(message: AlertEvent) -> None:
        request = notifier.build_request(message_for(message))
        assert request is not None
        with httpx.Client() as client:
            response = client.send(request)
        assert (response.status_code, notifier.classify(response)) == (200, Verdict.DELIVERED)

    send(event("firing", drift, income, expires_at=expires))
    wait_for(lambda: len(_listed(real_alertmanager)) == 2, "both rules to be listed", 15)
    listed = _listed(real_alertmanager)
    assert {rule: a["labels"] for rule, a in listed.items()} == {
        "drift": DRIFT_LABELS,
        "income": INCOME_LABELS,
    }
    assert listed["drift"]["annotations"] == firing_annotations("drift")
    assert listed["drift"]["generatorURL"] == RUN_URL
    assert listed["drift"]["status"]["state"] == "active"
    assert [_time(listed[r]["startsAt"]) for r in ("drift", "income")] == [
        drift.started_at,
        income.started_at,
    ]
    assert _time(listed["drift"]["endsAt"]) == expires  # ours, not "now + resolve_timeout"

    send(event("firing", resolved(drift, ended), income, expires_at=expires, occasion="changed"))
    wait_for(lambda: list(_listed(real_alertmanager)) == ["income"], "drift to resolve", 15)

    send(event("resolved", resolved(drift, ended), resolved(income, ended)))
    wait_for(lambda: _listed(real_alertmanager) == {}, "income to resolve", 15)

    with httpx.Client() as client:
        invalid = client.post(real_alertmanager + "/api/v2/alerts", json=[{"labels": {}}])
    assert (invalid.status_code, notifier.classify(invalid)) == (400, Verdict.PERMANENT)


ROUTES = """
route:
  receiver: blackhole
  group_by: [alertname, monitor, rule]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
  routes:
    - matchers: ['severity="critical"']
      receiver: pager
    - matchers: ['rule="income"']
      receiver: income-team
receivers:
  - name: blackhole
  - name: pager
    webhook_configs: [{url: "HOOKS/pager"}]
  - name: income-team
    webhook_configs: [{url: "HOOKS/income"}]
"""


def _notified(hooks: HttpFake, path: str) -> list[tuple[str, str, str]]:
    """(status, rule, severity) of each alert Alertmanager's webhook posted to ``path``."""
    return [
        (alert["status"], alert["labels"]["rule"], alert["labels"]["severity"])
        for request in hooks.accepted()
        if request.path == path
        for alert in request.json()["alerts"]
    ]


def test_alertmanager_routes_and_silences_each_rule_by_severity_and_rule_name(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    """The daemon's own runs and delivery worker against the real binary with routes.

    The clock runs half an hour behind the real one (Alertmanager judges endsAt by
    its own), on slots the demo source makes shifted (S) or quiet (Q).
    """
    with (
        HttpFake() as hooks,
        running_alertmanager(tmp_path / "alertmanager", ROUTES.replace("HOOKS", hooks.url)) as url,
    ):
        settings = parse_settings(
            {
                "monitors": [
                    {
                        "name": "demo",
                        "schedule": "every 1h",
                        "window": "5m",
                        "receivers": ["am"],
                        "source": {"type": "demo", "seed": 3, "rows_per_window": 1500},
                        "reference": {
                            "type": "window",
                            "start": "2026-01-01T00:00:00Z",
                            "end": "2026-01-01T00:00:30Z",
                        },
                        "columns": [
                            {"name": "age", "kind": "numeric"},
                            {"name": "income", "kind": "numeric"},
                            {"name": "device", "kind": "categorical"},
                        ],
                        "rules": [
                            {
                                "name": "drift",
                                "type": "dataset_drift",
                                "severity": "critical",
                                "resolve_after": 1,
                            },
                            {
                                "name": "income",
                                "type": "column_drift",
                                "columns": ["income"],
                                "labels": {"team": "risk"},
                                "resolve_after": 2,
                            },
                        ],
                    }
                ],
                "receivers": [{"name": "am", "type": "alertmanager", "url": url}],
            }
        )
        monitor = settings.monitors[0]
        behind = datetime.now(UTC) - timedelta(minutes=30)
        cycle = behind.replace(second=0, microsecond=0, minute=behind.minute // 2 * 2)
        clock = Clock(cycle)
        ctx = RunContext(
            engine=sqlite_engine,
            metrics=Metrics(),
            sources={"demo": build_source(monitor.source)},
            worker_id="test",
            base_url="http://127.0.0.1:8470",
            clock=clock,
            refresh_receivers=refresh_receivers(settings.receivers),
        )
        worker = DeliveryWorker(
            sqlite_engine,
            build_notifiers(settings.receivers),
            {},
            DeliverySettings(),
            Metrics(),
            "w1",
            clock=clock,
        )

        def run(index: int, phase: timedelta) -> int:
            clock.now = cycle + timedelta(minutes=2 * index) + phase
            outcome = run_check(ctx, monitor, clock.now, "schedule")
            assert outcome is not None and outcome.status == "succeeded"
            assert worker.run_once() == 1  # one message to the group, whatever fired
            return outcome.run_id

        try:
            shifted = run(0, timedelta(seconds=90))
            wait_for(lambda: len(_listed(url, "demo")) == 2, "both rules to fire", 15)
            listed = _listed(url, "demo")
            assert {rule: a["labels"] for rule, a in listed.items()} == {
                "drift": {
                    "alertname": "DriftwardenDatasetDrift",
                    "monitor": "demo",
                    "rule": "drift",
                    "severity": "critical",
                },
                "income": {
                    "alertname": "DriftwardenColumnDrift",
                    "monitor": "demo",
                    "rule": "income",
                    "severity": "warning",
                    "team": "risk",
                },
            }
            run_link = f"http://127.0.0.1:8470/runs/{shifted}"
            assert {a["generatorURL"] for a in listed.values()} == {run_link}
            assert listed["income"]["annotations"]["run_url"] == run_link
            assert "income" in listed["income"]["annotations"]["drifted_columns"]
            # Routed by severity to the pager, by rule name to the income team.
            wait_for(lambda: _notified(hooks, "/pager") != [], "the pager to be notified", 15)
            wait_for(lambda: _notified(hooks, "/income") != [], "the team to be notified", 15)
            assert _notified(hooks, "/pager") == [("firing", "drift", "critical")]
            assert _notified(hooks, "/income") == [("firing", "income", "warning")]

            # A silence by rule name mutes that rule alone.
            silence = httpx.post(
                url + "/api/v2/silences",
                json={
                    "matchers": [{"name": "rule", "value": "income", "isRegex": False}],
                    "startsAt": datetime.now(UTC).isoformat(),
                    "endsAt": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
                    "createdBy": "test",
                    "comment": "income model retraining",
                },
            )
            assert silence.status_code == 200
            silence_id = silence.json()["silenceID"]

            def states() -> dict[str, tuple[str, list[str]]]:
                return {
                    rule: (a["status"]["state"], a["status"]["silencedBy"])
                    for rule, a in _listed(url, "demo").items()
                }

            wait_for(lambda: states()["income"] == ("suppressed", [silence_id]), "the silence", 15)
            assert states()["drift"] == ("active", [])

            # drift resolves after one quiet run; income still fires (resolve_after 2).
            run(1, timedelta(seconds=30))
            wait_for(lambda: list(_listed(url, "demo")) == ["income"], "drift to resolve", 15)
            wait_for(lambda: len(_notified(hooks, "/pager")) == 2, "the pager to hear it ended", 15)
            assert _notified(hooks, "/pager")[1] == ("resolved", "drift", "critical")

            run(2, timedelta(seconds=30))
            wait_for(lambda: _listed(url, "demo") == {}, "income to resolve", 15)
        finally:
            worker.close()
