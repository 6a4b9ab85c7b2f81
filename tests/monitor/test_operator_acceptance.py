"""What an operator sees, end to end: `driftwarden run` on a drifting source, a real
Alertmanager (Debian's ``prometheus-alertmanager``), a real SMTP server (aiosmtpd) and
the run's report page in headless Chromium; then the drift stops and everything resolves.

The pieces have their own tests; this one wires them as a deployment does, through the
daemon's own scheduler, outbox and delivery worker, with nothing but config between them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from tests.chromium import Chromium, chromium_or_skip
from tests.monitor.notifiers.smtp_fake import SmtpFake
from tests.monitor.notifiers.test_alertmanager import running_alertmanager
from tests.monitor.notifiers.test_webhook_schema import assert_valid_webhook
from tests.monitor.pages.test_browser import DRAWN, MARKED_ROWS, png_size
from tests.monitor.test_daemon_e2e import (
    free_port,
    live_traffic,
    start_daemon,
    stop_daemon,
    write_data,
)
from tests.support import HttpFake, wait_for

ALERTMANAGER = "route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n"
COLUMNS = ["x_shift", "x_stable", "cat_shift", "cat_stable"]
DRIFTED = ["x_shift", "cat_shift"]


def write_config(directory: Path, port: int, alertmanager: str, smtp: SmtpFake, hook: str) -> Path:
    columns = "".join(
        f'\n[[monitors.columns]]\nname = "{name}"\nkind = "{kind}"\n'
        for name, kind in zip(
            COLUMNS, ["numeric", "numeric", "categorical", "categorical"], strict=True
        )
    )
    path = directory / "driftwarden.toml"
    path.write_text(
        f"""
[store]
url = "sqlite:///{directory}/driftwarden.db"

[server]
listen = "127.0.0.1:{port}"

[delivery]
poll_interval = "100ms"

[[monitors]]
name = "operator"
schedule = "every 1s"
window = "1h"
receivers = ["am", "mail", "hook"]

[monitors.source]
type = "file"
path = "{directory}/live-*.parquet"
timestamp_column = "ts"

[monitors.reference]
type = "file"
path = "{directory}/reference.parquet"

[[monitors.rules]]
name = "drift"
type = "dataset_drift"
severity = "critical"
resolve_after = 1

[[monitors.rules]]
name = "x-shift"
type = "column_drift"
columns = ["x_shift"]
labels = {{ team = "risk" }}
resolve_after = 1
{columns}
[[receivers]]
name = "am"
type = "alertmanager"
url = "{alertmanager}"

[[receivers]]
name = "mail"
type = "email"
host = "{smtp.host}"
port = {smtp.port}
security = "none"
from = "Driftwarden <drift@example.com>"
to = ["ml-oncall@example.com"]

[[receivers]]
name = "hook"
type = "webhook"
url = "{hook}"
"""
    )
    return path


def write_quiet_traffic(directory: Path) -> None:
    """Live traffic drawn like the reference: the drift is over."""
    quiet = live_traffic(np.random.default_rng(20261206), 3000, shifted=False)
    quiet.to_parquet(directory / "live-0002.parquet")
    (directory / "live-0001.parquet").unlink()


def listed(alertmanager: str) -> dict[str, dict[str, Any]]:
    response = httpx.get(
        alertmanager + "/api/v2/alerts", params={"filter": 'monitor="operator"'}, timeout=5
    )
    response.raise_for_status()
    return {alert["labels"]["rule"]: alert for alert in response.json()}


def subjects(smtp: SmtpFake) -> list[str]:
    return [str(mail.message()["Subject"]) for mail in smtp.received]


def webhook_types(hook: HttpFake) -> list[str]:
    return [json.loads(request.body)["type"] for request in hook.accepted()]


def text_body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[str]:
    with running_alertmanager(tmp_path / "alertmanager", ALERTMANAGER) as url:
        yield url


def test_an_operator_is_paged_mailed_shown_the_run_and_told_when_it_is_over(
    alertmanager: str, tmp_path: Path
) -> None:
    executable = chromium_or_skip()
    write_data(tmp_path)
    port = free_port()
    with SmtpFake() as smtp, HttpFake() as hook:
        config = write_config(tmp_path, port, alertmanager, smtp, hook.url + "/hook")
        env = dict(os.environ)
        daemon = start_daemon(config, env, port, tmp_path / "daemon.log", ["--log-format", "json"])
        try:
            wait_for(lambda: len(listed(alertmanager)) == 2, "one alert per firing rule", 60)
            alerts = listed(alertmanager)
            wait_for(lambda: len(smtp.received) >= 1, "the firing e-mail", 60)
            firing_mail = smtp.received[0].message()

            run_url = alerts["drift"]["generatorURL"]
            with Chromium(executable, tmp_path / "profile") as browser:
                tab = browser.open(run_url, width=1280)
                charts: list[dict[str, Any]] = tab.evaluate(DRAWN)
                marked_rows = tab.evaluate(MARKED_ROWS)
                screenshot = tab.screenshot(tmp_path / "operator-run-page.png")
            print(f"screenshot of the drifted run's page: {screenshot}")

            write_quiet_traffic(tmp_path)
            wait_for(lambda: listed(alertmanager) == {}, "both alerts to resolve", 60)
            wait_for(
                lambda: any(s.startswith("[RESOLVED]") for s in subjects(smtp)),
                "the resolved e-mail",
                60,
            )
            wait_for(
                lambda: webhook_types(hook)[-1:] == ["alert.resolved"], "the resolved hook", 60
            )
        finally:
            exit_code = stop_daemon(daemon)
    assert exit_code == 0, daemon.log()

    assert {rule: alert["labels"] for rule, alert in alerts.items()} == {
        "drift": {
            "alertname": "DriftwardenDatasetDrift",
            "monitor": "operator",
            "rule": "drift",
            "severity": "critical",
        },
        "x-shift": {
            "alertname": "DriftwardenColumnDrift",
            "monitor": "operator",
            "rule": "x-shift",
            "severity": "warning",
            "team": "risk",
        },
    }
    run_id = int(run_url.rsplit("/", 1)[1])
    assert run_url == f"http://127.0.0.1:{port}/runs/{run_id}"
    assert {alert["generatorURL"] for alert in alerts.values()} == {run_url}
    assert alerts["x-shift"]["annotations"]["run_url"] == run_url
    for column in DRIFTED:
        assert column in alerts["drift"]["annotations"]["drifted_columns"]

    assert str(firing_mail["Subject"]).startswith("[FIRING] critical")
    assert firing_mail["To"] == "ml-oncall@example.com"
    body = text_body(firing_mail)
    assert body.startswith("FIRING · critical · operator\n")
    for column in DRIFTED:
        assert f"- {column} (" in body
    assert "x_stable (" not in body and "cat_stable (" not in body
    assert subjects(smtp)[-1].startswith("[RESOLVED]")

    assert [chart["column"] for chart in charts] == COLUMNS
    for chart in charts:
        assert chart["bars"] >= 2, chart
        assert chart["marked"] is (chart["column"] in DRIFTED), chart
    assert sorted(marked_rows) == sorted(DRIFTED)
    width, height = png_size(screenshot)
    assert width == 1280 and height > 600

    # The webhooks a pipeline codes against follow the published schema, firing and resolved.
    delivered = [assert_valid_webhook(request.body) for request in hook.accepted()]
    assert delivered[0]["type"] == "alert.firing"
    # Alertmanager hears every run while firing (its link is the latest run); the hook, once.
    first_run = delivered[0]["data"]["run"]
    assert first_run["url"] == f"http://127.0.0.1:{port}/runs/{first_run['id']}"
    assert first_run["id"] <= run_id
    assert delivered[-1]["type"] == "alert.resolved"

    logged = [json.loads(line) for line in daemon.log().splitlines()]
    transitions = [
        (entry["rule"], "resolved" in entry["message"])
        for entry in logged
        if entry["logger"] == "driftwarden.alerting" and "rule" in entry
    ]
    assert sorted(transitions) == [
        ("drift", False),
        ("drift", True),
        ("x-shift", False),
        ("x-shift", True),
    ]
    assert all({"time", "level", "logger", "message"} <= entry.keys() for entry in logged)
