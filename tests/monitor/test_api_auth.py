"""Bearer tokens on the HTTP API, served by a real uvicorn server on 127.0.0.1."""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from monitor.api import create_app
from monitor.auth import Authenticator, check_exposure, load_tokens
from monitor.config import missing_secrets, parse_settings
from monitor.metrics import Metrics
from monitor.secrets import SecretError
from monitor.service_settings import ServerSettings
from monitor.settings_base import ConfigError
from tests.monitor.test_api import BASE_URL, add_runs, all_ready
from tests.support import serving

READ = "read-token-0123456789abcdef"
ADMIN = "admin-token-0123456789abcdef"
API = ["/metrics", "/api/runs", "/api/runs/1"]
PAGES = ["/runs/1", "/monitors/churn"]
OPEN = ["/healthz", "/readyz", "/openapi.json"]


@pytest.fixture
def tokens(monkeypatch: pytest.MonkeyPatch) -> ServerSettings:
    monkeypatch.setenv("DW_TEST_READ_TOKEN", READ)
    monkeypatch.setenv("DW_TEST_ADMIN_TOKEN", ADMIN)
    return ServerSettings.model_validate(
        {
            "tokens": [
                {"name": "grafana", "scope": "read", "token_env": "DW_TEST_READ_TOKEN"},
                {"name": "ops", "scope": "admin", "token_env": "DW_TEST_ADMIN_TOKEN"},
            ]
        }
    )


@contextmanager
def guarded(engine: Engine, server: ServerSettings) -> Iterator[httpx.Client]:
    authenticator = Authenticator(load_tokens(server))
    app = create_app(engine, Metrics(), all_ready, BASE_URL, authenticator=authenticator)
    with serving(app) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_probes_and_the_schema_stay_open(sqlite_engine: Engine, tokens: ServerSettings) -> None:
    with guarded(sqlite_engine, tokens) as client:
        statuses = [client.get(path).status_code for path in OPEN]
    assert statuses == [200, 200, 200]


@pytest.mark.parametrize("path", API)
def test_a_missing_token_is_401_with_a_bearer_challenge(
    sqlite_engine: Engine, tokens: ServerSettings, path: str
) -> None:
    add_runs(sqlite_engine, "churn", 1)
    with guarded(sqlite_engine, tokens) as client:
        missing = client.get(path)
        basic = client.get(path, headers={"Authorization": "Basic Z3JhZmFuYTpwdw=="})
    for response in (missing, basic):
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == 'Bearer realm="driftwarden"'
        assert response.json() == {"detail": "a bearer token is required"}


@pytest.mark.parametrize("path", API)
def test_a_wrong_token_is_401_invalid_token(
    sqlite_engine: Engine, tokens: ServerSettings, path: str
) -> None:
    with guarded(sqlite_engine, tokens) as client:
        responses = [
            client.get(path, headers=bearer(token))
            for token in (READ + "x", READ[:-1], ADMIN.upper(), "x" * 10_000)
        ]
    for response in responses:
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == (
            'Bearer realm="driftwarden", error="invalid_token"'
        )
        assert response.json() == {"detail": "the bearer token is not valid"}


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.mark.parametrize("path", PAGES)
def test_a_page_asks_a_browser_for_the_token_as_a_basic_password(
    sqlite_engine: Engine, tokens: ServerSettings, path: str
) -> None:
    """Alert links open pages in browsers, which send no bearer header but answer Basic."""
    add_runs(sqlite_engine, "churn", 1)
    with guarded(sqlite_engine, tokens) as client:
        missing = client.get(path)
        wrong = client.get(path, headers=basic("anyone", READ + "x"))
        by_password = client.get(path, headers=basic("anyone", READ))
        by_bearer = client.get(path, headers=bearer(ADMIN))
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == (
        'Basic realm="driftwarden", charset="UTF-8", Bearer realm="driftwarden"'
    )
    assert missing.json() == {
        "detail": "a token is required (a bearer token, or the password of HTTP Basic)"
    }
    assert wrong.status_code == 401
    assert wrong.json() == {"detail": "the token is not valid"}
    assert (by_password.status_code, by_bearer.status_code) == (200, 200)
    assert by_password.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize("token", [READ, ADMIN], ids=["read", "admin"])
def test_a_read_or_admin_token_reads(
    sqlite_engine: Engine, tokens: ServerSettings, token: str
) -> None:
    (run_id,) = add_runs(sqlite_engine, "churn", 1)
    with guarded(sqlite_engine, tokens) as client:
        statuses = [
            client.get(path, headers=bearer(token)).status_code
            for path in ["/metrics", "/api/runs", f"/api/runs/{run_id}", f"/runs/{run_id}"]
        ]
    assert statuses == [200, 200, 200, 200]


def test_an_admin_route_refuses_a_read_token_with_403(
    sqlite_engine: Engine, tokens: ServerSettings
) -> None:
    """No write endpoint exists yet: one declared with access("admin") behaves like this."""
    authenticator = Authenticator(load_tokens(tokens))
    app = create_app(sqlite_engine, Metrics(), all_ready, BASE_URL, authenticator=authenticator)

    @app.post("/api/admin-probe", dependencies=authenticator.requires("admin"))
    def probe() -> dict[str, str]:
        return {"status": "done"}

    with serving(app) as client:
        read = client.post("/api/admin-probe", headers=bearer(READ))
        admin = client.post("/api/admin-probe", headers=bearer(ADMIN))
        nobody = client.post("/api/admin-probe")
    assert read.status_code == 403
    assert read.json() == {"detail": 'token "grafana" has scope read; this needs admin'}
    assert read.headers["www-authenticate"] == (
        'Bearer realm="driftwarden", error="insufficient_scope", scope="admin"'
    )
    assert (admin.status_code, admin.json()) == (200, {"status": "done"})
    assert nobody.status_code == 401


def test_tokens_never_reach_the_log(
    sqlite_engine: Engine, tokens: ServerSettings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with guarded(sqlite_engine, tokens) as client:
        for token in (READ, ADMIN, READ + "x"):
            client.get("/api/runs", headers=bearer(token))
    for token in (READ, ADMIN):
        assert token not in caplog.text


def test_without_tokens_every_route_is_open(sqlite_engine: Engine) -> None:
    with guarded(sqlite_engine, ServerSettings()) as client:
        statuses = [client.get(path).status_code for path in ["/metrics", "/api/runs"]]
    assert statuses == [200, 200]


def test_a_token_file_works_like_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "token"
    secret.write_text(READ + "\n")
    monkeypatch.delenv("DW_TEST_FILE_TOKEN", raising=False)
    monkeypatch.setenv("DW_TEST_FILE_TOKEN_FILE", str(secret))
    server = ServerSettings.model_validate(
        {"tokens": [{"name": "grafana", "scope": "read", "token_env": "DW_TEST_FILE_TOKEN"}]}
    )
    (token,) = load_tokens(server)
    assert (token.name, token.scope, token.value) == ("grafana", "read", READ)
    assert READ not in repr(token)


@pytest.mark.parametrize(
    ("tokens", "message"),
    [
        (
            [{"name": "g", "scope": "write", "token_env": "X"}],
            "server.tokens[0].scope: Input should be 'read' or 'admin'",
        ),
        (
            [
                {"name": "g", "scope": "read", "token_env": "X"},
                {"name": "g", "scope": "admin", "token_env": "Y"},
            ],
            'server.tokens: tokens[1].name: token name "g" is used twice',
        ),
        ([{"name": "g", "scope": "read"}], "server.tokens[0].token_env: required key is missing"),
        (
            [{"name": "g", "scope": "read", "token": READ}],
            "server.tokens[0].token_env: required key is missing\n"
            "  server.tokens[0].token: unknown key",
        ),
    ],
)
def test_bad_token_settings_name_the_key(tokens: list[dict[str, str]], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_settings({"server": {"tokens": tokens}})
    assert str(raised.value) == f"config: {message}"


def test_an_unset_token_variable_is_a_missing_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DW_TEST_UNSET_TOKEN", raising=False)
    monkeypatch.delenv("DW_TEST_UNSET_TOKEN_FILE", raising=False)
    settings = parse_settings(
        {"server": {"tokens": [{"name": "g", "scope": "read", "token_env": "DW_TEST_UNSET_TOKEN"}]}}
    )
    assert missing_secrets(settings) == [
        "server.tokens[0].token_env: environment variable DW_TEST_UNSET_TOKEN "
        "(or DW_TEST_UNSET_TOKEN_FILE) is not set"
    ]
    with pytest.raises(SecretError):
        load_tokens(settings.server)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            ["short"],
            "server.tokens[0].token_env: the token in $DW_TEST_T0 has 5 characters; use at "
            "least 16 (e.g. `openssl rand -hex 32`)",
        ),
        (
            [READ, READ],
            "server.tokens[1].token_env: $DW_TEST_T1 holds the same token as server.tokens[0] "
            "(give each holder a token of its own)",
        ),
    ],
)
def test_weak_or_shared_tokens_are_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, values: list[str], message: str
) -> None:
    for index, value in enumerate(values):
        monkeypatch.setenv(f"DW_TEST_T{index}", value)
    server = ServerSettings.model_validate(
        {
            "tokens": [
                {"name": f"t{index}", "scope": "read", "token_env": f"DW_TEST_T{index}"}
                for index in range(len(values))
            ]
        }
    )
    with pytest.raises(ConfigError) as raised:
        load_tokens(server)
    assert str(raised.value) == message
    assert all(value not in str(raised.value) for value in values if value != "short")


@pytest.mark.parametrize("listen", ["127.0.0.1:8470", "127.9.9.9:1", "[::1]:8470", "localhost:1"])
def test_loopback_may_serve_without_tokens(listen: str) -> None:
    check_exposure(ServerSettings(listen=listen))


@pytest.mark.parametrize("listen", ["0.0.0.0:8470", "[::]:8470", "10.0.0.5:80", "myhost:8470"])
def test_another_address_needs_tokens_or_allow_unauthenticated(
    listen: str, tokens: ServerSettings
) -> None:
    with pytest.raises(ConfigError) as raised:
        check_exposure(ServerSettings(listen=listen))
    assert str(raised.value) == (
        f'server.listen: "{listen}" is not a loopback address and no server.tokens are '
        "configured; add tokens, listen on 127.0.0.1, or set server.allow_unauthenticated = "
        "true to serve the API to anyone who can reach it"
    )
    check_exposure(ServerSettings(listen=listen, allow_unauthenticated=True))
    check_exposure(ServerSettings(listen=listen, tokens=tokens.tokens))
