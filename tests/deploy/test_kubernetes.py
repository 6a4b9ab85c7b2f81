"""deploy/kubernetes.yaml: Kubernetes' schemas, its cross-references and its monitor config.

kubernetes-validate (a test extra) checks every object against the
Kubernetes 1.37 JSON schemas it ships, strictly (an unknown key fails). The
rest is read from the objects: names that refer to each other resolve, the
probes reach a port the container opens, two replicas run on PostgreSQL,
the pod runs as the image's non-root user on a read-only root, and the
ConfigMap's config passes ``driftwarden validate`` with the Secret's keys
as its environment. The ServiceMonitor (a Prometheus Operator resource, no
schema here) is checked against the Service and the Secret it names.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import yaml

from monitor.config import load_settings, secret_references
from tests.deploy.support import (
    DEPLOY,
    READ_TOKEN,
    assert_valid_config,
    command_or_skip,
    run,
)
from tests.deploy.test_dockerfile import only

MANIFEST = DEPLOY / "kubernetes.yaml"
SERVICE_MONITOR = DEPLOY / "kubernetes-servicemonitor.yaml"


def documents(path: Path = MANIFEST) -> list[dict[str, Any]]:
    return [document for document in yaml.safe_load_all(path.read_text()) if document]


def one(kind: str) -> dict[str, Any]:
    (found,) = [document for document in documents() if document["kind"] == kind]
    return found


def pod() -> dict[str, Any]:
    spec: dict[str, Any] = one("Deployment")["spec"]["template"]["spec"]
    return spec


def container() -> dict[str, Any]:
    (found,) = pod()["containers"]
    return dict(found)


def secret_keys() -> set[str]:
    return set(one("Secret")["stringData"])


def test_every_object_passes_the_kubernetes_schemas_strictly() -> None:
    validator = command_or_skip("kubernetes-validate", "the `kubernetes-validate` test extra")
    result = run(validator, "--strict", "--kubernetes-version", "1.37.0", str(MANIFEST))
    assert result.returncode == 0, result.stdout + result.stderr
    kinds = {document["kind"] for document in documents()}
    assert kinds == {
        "Namespace",
        "Secret",
        "ConfigMap",
        "Deployment",
        "Service",
        "PodDisruptionBudget",
    }
    assert result.stdout.count("passed for resource") == len(documents())


def test_every_object_is_named_in_the_one_namespace() -> None:
    namespace = one("Namespace")["metadata"]["name"]
    for document in documents():
        assert document["apiVersion"] and document["metadata"]["name"], document
        if document["kind"] != "Namespace":
            assert document["metadata"]["namespace"] == namespace, document["kind"]


def test_references_resolve() -> None:
    secret = one("Secret")["metadata"]["name"]
    for variable in container()["env"]:
        reference = variable["valueFrom"]["secretKeyRef"]
        assert (reference["name"], reference["key"] in secret_keys()) == (secret, True), variable
    volumes = {volume["name"]: volume for volume in pod()["volumes"]}
    assert {mount["name"] for mount in container()["volumeMounts"]} == set(volumes)
    assert volumes["config"]["configMap"]["name"] == one("ConfigMap")["metadata"]["name"]

    labels = one("Deployment")["spec"]["template"]["metadata"]["labels"]
    for selector in (
        one("Deployment")["spec"]["selector"]["matchLabels"],
        one("Service")["spec"]["selector"],
        one("PodDisruptionBudget")["spec"]["selector"]["matchLabels"],
    ):
        assert selector.items() <= labels.items(), selector

    ports = {port["name"]: port["containerPort"] for port in container()["ports"]}
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container()[probe]["httpGet"]["port"] in ports, probe
    assert container()["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container()["readinessProbe"]["httpGet"]["path"] == "/readyz"
    (service_port,) = one("Service")["spec"]["ports"]
    assert service_port["targetPort"] in ports


def test_two_replicas_share_a_postgresql_store_and_the_config_is_valid(tmp_path: Path) -> None:
    assert one("Deployment")["spec"]["replicas"] == 2
    arguments = container()["args"]
    assert arguments[:2] == ["run", "--config"]
    (mount,) = [m for m in container()["volumeMounts"] if m["name"] == "config"]
    (key,) = one("ConfigMap")["data"]
    assert arguments[2] == f"{mount['mountPath']}/{key}"

    config = tmp_path / key
    config.write_text(one("ConfigMap")["data"][key])
    environment = {
        variable["name"]: one("Secret")["stringData"][variable["valueFrom"]["secretKeyRef"]["key"]]
        for variable in container()["env"]
    }
    environment.update(DRIFTWARDEN_READ_TOKEN=READ_TOKEN)
    assert_valid_config(config, **environment)
    settings = load_settings(config)
    assert {variable for _, variable in secret_references(settings)} <= set(environment)
    assert settings.store.url_env is not None
    assert environment[settings.store.url_env].startswith("postgresql+psycopg://")
    raw = tomllib.loads(config.read_text())
    assert raw["server"]["listen"] == f"0.0.0.0:{container()['ports'][0]['containerPort']}"
    assert [token["scope"] for token in raw["server"]["tokens"]] == ["read"]
    assert "allow_unauthenticated" not in raw["server"]
    assert [monitor["source"]["type"] for monitor in raw["monitors"]] == ["sql"]


def test_the_pod_runs_as_the_image_s_user_on_a_read_only_root_with_limits() -> None:
    security = pod()["securityContext"]
    user, group = (int(part) for part in only("USER").arguments.split(":"))
    assert (security["runAsNonRoot"], security["runAsUser"], security["runAsGroup"]) == (
        True,
        user,
        group,
    )
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container()["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    writable = {m["mountPath"] for m in container()["volumeMounts"] if not m.get("readOnly")}
    assert writable == {"/tmp"}
    assert {v["name"] for v in pod()["volumes"] if "emptyDir" in v} == {"tmp"}
    resources = container()["resources"]
    assert {"cpu", "memory"} <= set(resources["requests"]) and "memory" in resources["limits"]


def test_the_service_monitor_scrapes_the_service_with_the_read_token() -> None:
    (monitor,) = documents(SERVICE_MONITOR)
    assert (monitor["apiVersion"], monitor["kind"]) == (
        "monitoring.coreos.com/v1",
        "ServiceMonitor",
    )
    assert monitor["metadata"]["namespace"] == one("Namespace")["metadata"]["name"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= (
        one("Service")["metadata"]["labels"].items()
    )
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] in {port["name"] for port in one("Service")["spec"]["ports"]}
    assert endpoint["path"] == "/metrics"
    credentials = endpoint["authorization"]["credentials"]
    assert credentials["name"] == one("Secret")["metadata"]["name"]
    token_variable = next(
        v for v in container()["env"] if v["valueFrom"]["secretKeyRef"]["key"] == credentials["key"]
    )
    config = tomllib.loads(one("ConfigMap")["data"]["config.toml"])
    assert [token["token_env"] for token in config["server"]["tokens"]] == [token_variable["name"]]
