"""The OpenAPI schema at /openapi.json: every route and every answer it can give is declared."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import Engine

from monitor.api import create_app
from monitor.api_models import MONITOR_NAME
from monitor.auth import ApiToken, Authenticator
from monitor.config import MonitorSettings
from monitor.metrics import Metrics
from tests.monitor.test_api import BASE_URL, all_ready, make_client

OPEN_ROUTES = {("/healthz", "get"): {"200"}, ("/readyz", "get"): {"200", "503"}}
GUARDED_ROUTES = {
    ("/metrics", "get"): {"200"},
    ("/api/runs", "get"): {"200", "422", "503"},
    ("/api/runs/{run_id}", "get"): {"200", "404", "422", "503"},
    ("/api/alerts", "get"): {"200", "422", "503"},
    ("/runs/{run_id}", "get"): {"200", "404", "422", "503"},
    ("/monitors/{name}", "get"): {"200", "404", "422", "503"},
}
HTML = {("/runs/{run_id}", "200"), ("/runs/{run_id}", "404")} | {
    ("/monitors/{name}", "200"),
    ("/monitors/{name}", "404"),
}


def operations(schema: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (path, method): operation
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
    }


def test_the_schema_is_served_and_the_docs_pages_are_not(sqlite_engine: Engine) -> None:
    with make_client(sqlite_engine) as client:
        schema = client.get("/openapi.json")
        pages = [client.get(path).status_code for path in ("/docs", "/redoc")]
    assert schema.status_code == 200
    assert schema.json()["openapi"].startswith("3.1")
    assert schema.json()["info"]["title"] == "driftwarden"
    assert pages == [404, 404]


def test_every_route_declares_every_answer_without_tokens(sqlite_engine: Engine) -> None:
    schema = create_app(sqlite_engine, Metrics(), all_ready, BASE_URL).openapi()
    declared = {key: set(op["responses"]) for key, op in operations(schema).items()}
    assert declared == OPEN_ROUTES | GUARDED_ROUTES
    assert all("security" not in op for op in operations(schema).values())
    assert "securitySchemes" not in schema.get("components", {})


def test_every_guarded_route_declares_the_bearer_scheme_and_its_refusals(
    sqlite_engine: Engine,
) -> None:
    authenticator = Authenticator([ApiToken("grafana", "read", "r" * 16)])
    app = create_app(sqlite_engine, Metrics(), all_ready, BASE_URL, authenticator=authenticator)
    schema = app.openapi()
    ops = operations(schema)
    assert {key: set(ops[key]["responses"]) for key in OPEN_ROUTES} == OPEN_ROUTES
    for key, statuses in GUARDED_ROUTES.items():
        assert set(ops[key]["responses"]) == statuses | {"401", "403"}, key
        page = key[0] in ("/runs/{run_id}", "/monitors/{name}")
        expected: list[dict[str, list[str]]] = [{"HTTPBearer": []}]
        if page:
            expected.append({"HTTPBasic": []})
        assert ops[key]["security"] == expected, key
    for key in OPEN_ROUTES:
        assert "security" not in ops[key], key
    schemes = schema["components"]["securitySchemes"]
    assert (schemes["HTTPBearer"]["scheme"], schemes["HTTPBasic"]["scheme"]) == ("bearer", "basic")


@pytest.mark.parametrize("with_tokens", [False, True])
def test_answers_are_declared_with_the_content_type_they_have(
    sqlite_engine: Engine, with_tokens: bool
) -> None:
    tokens = [ApiToken("grafana", "read", "r" * 16)] if with_tokens else []
    app = create_app(
        sqlite_engine, Metrics(), all_ready, BASE_URL, authenticator=Authenticator(tokens)
    )
    for (path, _), operation in operations(app.openapi()).items():
        for status, response in operation["responses"].items():
            declared = list(response["content"])
            expected = ["text/html"] if (path, status) in HTML else ["application/json"]
            if (path, status) in {("/runs/{run_id}", "404"), ("/monitors/{name}", "404")}:
                expected = ["text/html", "application/json"]  # JSON: no route matched at all
            if (path, status) == ("/metrics", "200"):
                expected = [CONTENT_TYPE_LATEST]
            assert declared == expected, (path, status, declared)


def test_the_monitor_filter_accepts_exactly_the_names_config_accepts() -> None:
    pattern = MonitorSettings.model_json_schema()["properties"]["name"]["pattern"]
    assert pattern == MONITOR_NAME
