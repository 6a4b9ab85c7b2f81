"""deploy/compose.yaml: the Compose Specification's schema, and that its parts fit together.

No Docker engine or `docker compose` here: the file is validated against the
compose-spec JSON schema that check-jsonschema ships (``vendor.compose-spec``),
and the rest is checked by reading it: every file it mounts exists, every
service, volume and secret it names is defined, the driftwarden config it
mounts passes ``driftwarden validate`` with the environment compose gives it,
Alertmanager's config passes ``amtool check-config``, and the addresses each
service uses to reach another are that service's name and port.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from monitor.config import load_settings, secret_references
from tests.deploy.support import (
    DEPLOY,
    READ_TOKEN,
    assert_valid_config,
    command_or_skip,
    load_yaml,
    run,
)

COMPOSE = DEPLOY / "compose.yaml"
_VARIABLE = re.compile(r"\$\{(\w+)(?::?[?-][^}]*)?\}")


def compose() -> dict[str, Any]:
    document: dict[str, Any] = load_yaml(COMPOSE)
    return document


def services() -> dict[str, Any]:
    found: dict[str, Any] = compose()["services"]
    return found


def bind_mounts(service: str) -> dict[str, str]:
    """A service's bind mounts (``./source:target[:ro]``), source -> target."""
    mounts = {}
    for volume in services()[service].get("volumes", []):
        source, target, *_ = volume.split(":")
        if source.startswith("."):
            mounts[source] = target
    return mounts


def driftwarden_config() -> Path:
    targets = {target: source for source, target in bind_mounts("driftwarden").items()}
    return DEPLOY / targets["/etc/driftwarden/config.toml"]


def driftwarden_environment() -> dict[str, str]:
    """The daemon's environment as compose sets it, with .env's variables filled in."""
    environment: dict[str, str] = services()["driftwarden"]["environment"]
    filled = {"POSTGRES_PASSWORD": "0123456789abcdef", "DRIFTWARDEN_READ_TOKEN": READ_TOKEN}
    return {
        key: _VARIABLE.sub(lambda match: filled[match.group(1)], value)
        for key, value in environment.items()
    }


def test_the_compose_file_follows_the_compose_specification() -> None:
    checker = command_or_skip("check-jsonschema", "the `check-jsonschema` test extra")
    result = run(checker, "--builtin-schema", "vendor.compose-spec", str(COMPOSE))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok -- validation done" in result.stdout


def test_it_runs_the_store_the_daemon_and_what_watches_it() -> None:
    assert set(services()) == {"postgres", "driftwarden", "prometheus", "alertmanager", "grafana"}
    build = services()["driftwarden"]["build"]
    context = (DEPLOY / build["context"]).resolve()
    assert (context / build["dockerfile"]).is_file() and (context / "pyproject.toml").is_file()


def test_every_name_it_uses_is_defined_and_every_file_it_mounts_exists() -> None:
    document = compose()
    for name, service in services().items():
        for dependency in service.get("depends_on", []):
            assert dependency in services(), (name, dependency)
        for source in bind_mounts(name):
            assert (DEPLOY / source).exists(), f"{name} mounts {source}, which does not exist"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith("."):
                assert source in document["volumes"], (name, source)
        for secret in service.get("secrets", []):
            assert secret["source"] in document["secrets"], (name, secret)
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"


def test_every_variable_it_needs_is_in_the_env_example() -> None:
    example = DEPLOY / ".env.example"
    listed = {
        line.split("=", 1)[0]
        for line in example.read_text().splitlines()
        if line and not line.startswith("#")
    }
    needed = set(_VARIABLE.findall(COMPOSE.read_text()))
    needed |= {secret["environment"] for secret in compose()["secrets"].values()}
    assert needed == listed


def test_the_driftwarden_config_it_mounts_is_valid_with_what_compose_passes() -> None:
    config = driftwarden_config()
    environment = driftwarden_environment()
    assert_valid_config(config, **environment)
    settings = load_settings(config)
    assert {variable for _, variable in secret_references(settings)} <= set(environment)
    assert settings.store.url_env is not None
    assert environment[settings.store.url_env].startswith(
        "postgresql+psycopg://driftwarden:0123456789abcdef@postgres:5432/driftwarden"
    )


def test_the_daemon_listens_where_prometheus_looks_with_the_token_prometheus_holds() -> None:
    raw = tomllib.loads(driftwarden_config().read_text())
    host, port = raw["server"]["listen"].rsplit(":", 1)
    assert host == "0.0.0.0"
    assert services()["driftwarden"]["ports"] == [f"127.0.0.1:{port}:{port}"]
    prometheus = load_yaml(DEPLOY / "prometheus" / "prometheus.yml")
    (job,) = [job for job in prometheus["scrape_configs"] if job["job_name"] == "driftwarden"]
    assert job["static_configs"] == [{"targets": [f"driftwarden:{port}"]}]

    (token,) = raw["server"]["tokens"]
    assert token["scope"] == "read" and "allow_unauthenticated" not in raw["server"]
    (secret,) = services()["prometheus"]["secrets"]
    assert compose()["secrets"][secret["source"]] == {"environment": token["token_env"]}
    assert secret["target"] == "/etc/prometheus/" + job["authorization"]["credentials_file"]


def test_prometheus_gets_its_config_and_rules_where_the_config_says() -> None:
    mounts = bind_mounts("prometheus")
    assert mounts["./prometheus/prometheus.yml"] == "/etc/prometheus/prometheus.yml"
    (rule_file,) = load_yaml(DEPLOY / "prometheus" / "prometheus.yml")["rule_files"]
    assert mounts["./prometheus/rules.yml"] == f"/etc/prometheus/{rule_file}"


def test_alertmanager_s_config_passes_amtool_and_is_where_both_senders_look() -> None:
    amtool = command_or_skip("amtool", "Debian package `prometheus-alertmanager`")
    mounts = bind_mounts("alertmanager")
    assert mounts["./alertmanager/alertmanager.yml"] == "/etc/alertmanager/alertmanager.yml"
    result = run(amtool, "check-config", str(DEPLOY / "alertmanager" / "alertmanager.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert services()["alertmanager"]["ports"] == ["127.0.0.1:9093:9093"]

    prometheus = load_yaml(DEPLOY / "prometheus" / "prometheus.yml")
    (alertmanagers,) = prometheus["alerting"]["alertmanagers"]
    assert alertmanagers["static_configs"] == [{"targets": ["alertmanager:9093"]}]
    receivers = tomllib.loads(driftwarden_config().read_text())["receivers"]
    assert [(r["type"], r["url"]) for r in receivers] == [
        ("alertmanager", "http://alertmanager:9093")
    ]


def test_provisioning_points_grafana_at_compose_s_prometheus_and_dashboard() -> None:
    provisioning = DEPLOY / "grafana" / "provisioning"
    (datasource,) = load_yaml(provisioning / "datasources" / "prometheus.yml")["datasources"]
    assert (datasource["type"], datasource["url"], datasource["isDefault"]) == (
        "prometheus",
        "http://prometheus:9090",
        True,
    )
    (provider,) = load_yaml(provisioning / "dashboards" / "driftwarden.yml")["providers"]
    mounts = bind_mounts("grafana")
    assert mounts["./grafana/driftwarden.json"].rsplit("/", 1)[0] == provider["options"]["path"]
    assert mounts["./grafana/provisioning/datasources"] == "/etc/grafana/provisioning/datasources"
    assert mounts["./grafana/provisioning/dashboards"] == "/etc/grafana/provisioning/dashboards"
