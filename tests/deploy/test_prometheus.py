"""deploy/prometheus and the dashboard's queries, against promtool, a real daemon and Prometheus.

promtool checks the rules, runs their unit tests (rules.test.yml) and checks
the scrape config. Then a real daemon runs the demo monitor: every metric a
dashboard query or a rule names must be in its /metrics, with the labels the
query selects on; and a real Prometheus (Debian's ``prometheus``) scrapes it
with the rules loaded and the read token from the file prometheus.yml names,
so that every rule evaluates without error, every recording rule and every
dashboard query returns series.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.deploy.support import DEPLOY, READ_TOKEN, command_or_skip, load_yaml, run
from tests.monitor.test_daemon_e2e import free_port, start_daemon, stop_daemon
from tests.support import HttpFake, wait_for

PROMETHEUS = DEPLOY / "prometheus"
READ = {"Authorization": f"Bearer {READ_TOKEN}"}
DASHBOARD = DEPLOY / "grafana" / "driftwarden.json"

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_GRAFANA_VARIABLE = re.compile(r"\$\{?\w+\}?")
_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_SELECTOR = re.compile(r"\b(driftwarden_[a-zA-Z0-9_]+)\s*\{([^}]*)\}")
_MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")


def promtool() -> str:
    return command_or_skip("promtool", "Debian package `prometheus`")


def names_in(expression: str) -> set[str]:
    """Metric names (``driftwarden_...``) and recorded names (with a colon) an expression reads.

    >>> sorted(names_in('sum by (le) (rate(driftwarden_x_bucket{m=~"$m"}[$__rate_interval]))'))
    ['driftwarden_x_bucket']
    >>> sorted(names_in("time() - monitor:driftwarden_y:max > 3 * driftwarden_period"))
    ['driftwarden_period', 'monitor:driftwarden_y:max']
    """
    bare = _GRAFANA_VARIABLE.sub(" ", _STRING.sub('""', expression))
    return {name for name in _NAME.findall(bare) if name.startswith("driftwarden_") or ":" in name}


def selected_labels(expression: str) -> dict[str, set[str]]:
    """The label names each ``driftwarden_...{...}`` selector matches on."""
    selected: dict[str, set[str]] = {}
    for name, matchers in _SELECTOR.findall(_GRAFANA_VARIABLE.sub("x", expression)):
        selected.setdefault(name, set()).update(_MATCHER.findall(matchers))
    return selected


def dashboard_queries() -> list[str]:
    """Every PromQL expression of the dashboard: panel targets and template variables."""
    dashboard = json.loads(DASHBOARD.read_text())
    queries = [
        target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])
    ]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            label_values = re.fullmatch(r"label_values\((\w+), *\w+\)", variable["definition"])
            assert label_values is not None, variable["definition"]
            queries.append(label_values.group(1))
    return queries


def rules() -> list[dict[str, Any]]:
    return [
        rule for group in load_yaml(PROMETHEUS / "rules.yml")["groups"] for rule in group["rules"]
    ]


def recorded_names() -> set[str]:
    return {rule["record"] for rule in rules() if "record" in rule}


def as_instant_query(expression: str) -> str:
    """A dashboard query as Prometheus takes it: Grafana's variables filled in."""
    return expression.replace("$__rate_interval", "1m").replace('"$monitor"', '".*"')


def test_promtool_accepts_the_rules() -> None:
    result = run(promtool(), "check", "rules", str(PROMETHEUS / "rules.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules())} rules found" in result.stdout


def test_the_rules_unit_tests_pass_and_each_alert_is_tested() -> None:
    result = run(promtool(), "test", "rules", "rules.test.yml", cwd=PROMETHEUS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
    tests = load_yaml(PROMETHEUS / "rules.test.yml")["tests"]
    tested = {case["alertname"] for test in tests for case in test.get("alert_rule_test", [])}
    fired = {
        case["alertname"]
        for test in tests
        for case in test.get("alert_rule_test", [])
        if case["exp_alerts"]
    }
    alerts = {rule["alert"] for rule in rules() if "alert" in rule}
    assert tested == alerts and fired == alerts


def test_every_alert_has_a_severity_and_says_what_happened() -> None:
    for rule in rules():
        if "alert" in rule:
            assert rule["labels"]["severity"] in {"critical", "error", "warning", "info"}, rule
            assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule


def test_promtool_accepts_the_scrape_config(tmp_path: Path) -> None:
    """Checked where it will live: beside rules.yml, with the token file it reads."""
    shutil.copy(PROMETHEUS / "prometheus.yml", tmp_path)
    shutil.copy(PROMETHEUS / "rules.yml", tmp_path)
    config = load_yaml(PROMETHEUS / "prometheus.yml")
    token_file = tmp_path / config["scrape_configs"][0]["authorization"]["credentials_file"]
    token_file.parent.mkdir()
    token_file.write_text("a-read-token-for-promtool-0123456789")
    result = run(promtool(), "check", "config", str(tmp_path / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is valid prometheus config file syntax" in result.stdout
    assert "SUCCESS: 1 rule files found" in result.stdout


def test_the_dashboards_queries_are_promql(tmp_path: Path) -> None:
    """promtool parses each query as the expression of a recording rule."""
    queries = [as_instant_query(query) for query in dashboard_queries()]
    rules_file = tmp_path / "dashboard.rules.yml"
    rules_file.write_text(
        yaml.safe_dump(
            {
                "groups": [
                    {
                        "name": "dashboard",
                        "rules": [
                            {"record": f"dashboard:query_{index}", "expr": query}
                            for index, query in enumerate(queries)
                        ],
                    }
                ]
            }
        )
    )
    result = run(promtool(), "check", "rules", str(rules_file))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_dashboard_stands_alone_without_the_recording_rules() -> None:
    used = set().union(*(names_in(query) for query in dashboard_queries()))
    assert not {name for name in used if ":" in name}


def test_every_recorded_name_a_rule_reads_is_recorded() -> None:
    read = set().union(*(names_in(rule["expr"]) for rule in rules()))
    assert {name for name in read if ":" in name} <= recorded_names()


@dataclass(frozen=True)
class RunningDaemon:
    url: str
    metrics_text: str


def write_demo_config(directory: Path, port: int, hook_url: str) -> Path:
    """The demo monitor (drift statistics, p-values, pooled tests, performance), a receiver,
    and the read token that Prometheus presents, as in the deploy configs."""
    path = directory / "driftwarden.toml"
    path.write_text(
        f"""
[store]
url = "sqlite:///{directory}/driftwarden.db"

[server]
listen = "127.0.0.1:{port}"
tokens = [{{ name = "prometheus", scope = "read", token_env = "DEPLOY_TEST_READ_TOKEN" }}]

[delivery]
poll_interval = "100ms"

[[monitors]]
name = "demo"
schedule = "every 1s"
window = "5m"
receivers = ["hook"]
segments = ["device"]

[monitors.source]
type = "demo"

[monitors.reference]
type = "window"
start = "2026-01-01T00:00:00Z"
end = "2026-01-01T00:00:30Z"

[[monitors.columns]]
name = "income"
kind = "numeric"

[[monitors.columns]]
name = "device"
kind = "categorical"

[[monitors.columns]]
name = "tenure_months"
kind = "numeric"
method = "psi"

[monitors.performance]
task = "classification"
prediction = "prediction"
label = "label"

[[receivers]]
name = "hook"
type = "webhook"
url = "{hook_url}"
"""
    )
    return path


def successful_runs(text: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "driftwarden_runs_total"
        and sample.labels["outcome"] in ("drift", "no_drift")
    )


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDaemon]:
    """A real daemon whose demo monitor has run at least 4 times (so pooled tests exist too)."""
    directory = tmp_path_factory.mktemp("daemon")
    port = free_port()
    with HttpFake() as receiver:
        config = write_demo_config(directory, port, f"{receiver.url}/hook")
        environment = {**os.environ, "DEPLOY_TEST_READ_TOKEN": READ_TOKEN}
        process = start_daemon(config, environment, port, directory / "daemon.log")
        url = f"http://127.0.0.1:{port}"
        try:
            texts: list[str] = []

            def ran_four_times() -> bool:
                texts.append(httpx.get(f"{url}/metrics", headers=READ, timeout=5).text)
                return successful_runs(texts[-1]) >= 4

            wait_for(ran_four_times, "four successful runs of the demo monitor")
            yield RunningDaemon(url, texts[-1])
        finally:
            assert stop_daemon(process) == 0, process.log()


def exported(text: str) -> dict[str, set[str]]:
    """Every sample name in a scrape, with the label names its samples carry."""
    labels: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels.setdefault(sample.name, set()).update(sample.labels)
    return labels


@pytest.mark.parametrize("source", ["dashboard", "rules"])
def test_every_query_names_a_metric_the_daemon_exports(daemon: RunningDaemon, source: str) -> None:
    queries = dashboard_queries() if source == "dashboard" else [r["expr"] for r in rules()]
    metrics = exported(daemon.metrics_text)
    for query in queries:
        for name in names_in(query):
            if ":" in name:
                assert name in recorded_names(), (name, query)
            else:
                assert name in metrics, f"{name} (in {query!r}) is not in /metrics"
        for name, labels in selected_labels(query).items():
            assert labels <= metrics[name] | {"job", "instance"}, (name, labels, query)


def test_the_dashboard_draws_every_metric_family_the_issue_asks_for() -> None:
    used = set().union(*(names_in(query) for query in dashboard_queries()))
    assert used >= {
        "driftwarden_monitor_drifted",
        "driftwarden_runs_total",
        "driftwarden_run_duration_seconds_bucket",
        "driftwarden_column_statistic",
        "driftwarden_column_p_value",
        "driftwarden_last_successful_run_timestamp_seconds",
        "driftwarden_outbox_messages",
        "driftwarden_deliveries_total",
        "driftwarden_performance_value",
    }


def test_the_daemon_shows_its_metrics_to_the_read_token_only(daemon: RunningDaemon) -> None:
    assert httpx.get(f"{daemon.url}/metrics", timeout=5).status_code == 401
    assert httpx.get(f"{daemon.url}/metrics", headers=READ, timeout=5).status_code == 200


@pytest.fixture
def prometheus(daemon: RunningDaemon, tmp_path: Path) -> Iterator[str]:
    """Debian's Prometheus on 127.0.0.1, scraping the daemon every second with rules.yml."""
    executable = command_or_skip("prometheus", "Debian package `prometheus`")
    config = load_yaml(PROMETHEUS / "prometheus.yml")
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    del config["alerting"]
    job = config["scrape_configs"][0]
    job["static_configs"] = [{"targets": [daemon.url.removeprefix("http://")]}]
    token_file = tmp_path / job["authorization"]["credentials_file"]
    token_file.parent.mkdir()
    token_file.write_text(READ_TOKEN)
    shutil.copy(PROMETHEUS / "rules.yml", tmp_path)
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = (tmp_path / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            executable,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    url = f"http://127.0.0.1:{port}"
    try:

        def ready() -> bool:
            if process.poll() is not None:
                raise AssertionError((tmp_path / "prometheus.log").read_text())
            try:
                return httpx.get(f"{url}/-/ready", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(ready, "Prometheus ready")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def query(url: str, expression: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{url}/api/v1/query", params={"query": expression}, timeout=10).json()
    assert answer["status"] == "success", (expression, answer)
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result


def test_a_real_prometheus_scrapes_the_daemon_and_every_query_has_data(prometheus: str) -> None:
    wait_for(
        lambda: bool(query(prometheus, 'count_over_time(up{job="driftwarden"}[1m]) >= 3')),
        "three scrapes of the daemon",
    )
    assert [sample["value"][1] for sample in query(prometheus, 'up{job="driftwarden"}')] == ["1"]
    recorded = sorted(recorded_names())
    wait_for(lambda: all(query(prometheus, name) for name in recorded), "every recorded series")
    for expression in dashboard_queries():
        assert query(prometheus, as_instant_query(expression)), expression
    groups = httpx.get(f"{prometheus}/api/v1/rules", timeout=10).json()["data"]["groups"]
    health = {rule["name"]: rule["health"] for group in groups for rule in group["rules"]}
    assert set(health.values()) == {"ok"}, health
    assert len(health) == len(rules())
