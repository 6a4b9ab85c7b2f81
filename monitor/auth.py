"""Who may call the HTTP API: bearer tokens with a scope, from ``[server] tokens``.

Each route names the scope it needs once, in its ``dependencies``
(``requires("read")``, ``requires("admin")`` for a write endpoint);
``admin`` implies ``read``. With no token configured every route is open, and
the daemon then listens on loopback only unless ``allow_unauthenticated`` says
otherwise (``check_exposure``). A presented token is compared with every
configured one in constant time (``hmac.compare_digest``), and is never
logged or echoed: a refusal names the token's holder at most.

The report pages are opened from links in alerts, by browsers that send no
bearer header: a page route (``requires(scope, browser=True)``) also takes
HTTP Basic credentials whose password is a token (the user name is not
read), and its 401 asks for them, so the browser shows its login prompt.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated

from fastapi import HTTPException, Security, params
from fastapi.security import (
    HTTPAuthorizationCredentials,
    HTTPBasic,
    HTTPBasicCredentials,
    HTTPBearer,
)

from monitor.secrets import resolve_secret
from monitor.service_settings import ServerSettings, TokenScope
from monitor.settings_base import ConfigError

MIN_TOKEN_LENGTH = 16
"""Shorter tokens are refused at start: a bearer token is a password nobody types."""

IMPLIED_SCOPES: dict[TokenScope, frozenset[TokenScope]] = {
    "read": frozenset({"read"}),
    "admin": frozenset({"read", "admin"}),
}

CHALLENGE = 'Bearer realm="driftwarden"'
BROWSER_CHALLENGE = 'Basic realm="driftwarden", charset="UTF-8"'


@dataclass(frozen=True, repr=False)
class ApiToken:
    name: str
    scope: TokenScope
    value: str


def load_tokens(server: ServerSettings) -> list[ApiToken]:
    """Read every token from its environment variable (``SecretError`` when one is unset).

    A ``ConfigError``, naming the key and never the value, refuses a token too
    short to be one or one that two holders share.
    """
    tokens: list[ApiToken] = []
    for index, token in enumerate(server.tokens):
        key = f"server.tokens[{index}]"
        value = resolve_secret(token.token_env, f"{key}.token_env")
        if len(value) < MIN_TOKEN_LENGTH:
            raise ConfigError(
                f"{key}.token_env: the token in ${token.token_env} has {len(value)} characters; "
                f"use at least {MIN_TOKEN_LENGTH} (e.g. `openssl rand -hex 32`)"
            )
        for other_index, other in enumerate(tokens):
            if hmac.compare_digest(other.value.encode(), value.encode()):
                raise ConfigError(
                    f"{key}.token_env: ${token.token_env} holds the same token as "
                    f"server.tokens[{other_index}] (give each holder a token of its own)"
                )
        tokens.append(ApiToken(token.name, token.scope, value))
    return tokens


def is_loopback(host: str) -> bool:
    """``localhost`` and loopback addresses; any other name or address may be reachable."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(server: ServerSettings) -> None:
    """Refuse to serve an open API beyond this machine unless the config asks for it."""
    if server.tokens or server.allow_unauthenticated or is_loopback(server.host):
        return
    raise ConfigError(
        f'server.listen: "{server.listen}" is not a loopback address and no server.tokens '
        "are configured; add tokens, listen on 127.0.0.1, or set "
        "server.allow_unauthenticated = true to serve the API to anyone who can reach it"
    )


_BEARER = HTTPBearer(auto_error=False, description="a token from [server] tokens")
_BASIC = HTTPBasic(
    auto_error=False, description="report pages: any user name, a token as the password"
)


def _unauthorized(detail: str, error: str | None = None, *, browser: bool) -> HTTPException:
    challenge = CHALLENGE if error is None else f'{CHALLENGE}, error="{error}"'
    if browser:
        # A browser shows its login prompt only for a challenge it knows how to answer.
        challenge = f"{BROWSER_CHALLENGE}, {challenge}"
    return HTTPException(401, detail, headers={"WWW-Authenticate": challenge})


async def _open() -> None:
    """No token is configured: the route is open (on loopback, or as the config allows)."""


class Authenticator:
    """Turns the configured tokens into one FastAPI dependency per scope."""

    def __init__(self, tokens: Sequence[ApiToken]) -> None:
        self._tokens = tuple(tokens)

    @property
    def enabled(self) -> bool:
        return bool(self._tokens)

    def _holder(self, presented: str) -> ApiToken | None:
        # Every configured token is compared, so the time taken does not say which matched.
        found = None
        for token in self._tokens:
            if hmac.compare_digest(token.value.encode(), presented.encode()):
                found = token
        return found

    def access(self, scope: TokenScope, *, browser: bool = False) -> Callable[..., Awaitable[None]]:
        """A dependency that lets a request through with a token of ``scope``.

        Without tokens it lets every request through and asks for no header, so
        the OpenAPI schema then declares no security either. ``browser`` also
        takes the token as an HTTP Basic password (the report pages).
        """
        if not self._tokens:
            return _open

        missing, invalid = (
            (
                "a token is required (a bearer token, or the password of HTTP Basic)",
                "the token is not valid",
            )
            if browser
            else ("a bearer token is required", "the bearer token is not valid")
        )

        def check(presented: str | None) -> None:
            if presented is None:
                raise _unauthorized(missing, browser=browser)
            holder = self._holder(presented)
            if holder is None:
                raise _unauthorized(invalid, "invalid_token", browser=browser)
            if scope not in IMPLIED_SCOPES[holder.scope]:
                raise HTTPException(
                    403,
                    f'token "{holder.name}" has scope {holder.scope}; this needs {scope}',
                    headers={
                        "WWW-Authenticate": f'{CHALLENGE}, error="insufficient_scope", '
                        f'scope="{scope}"'
                    },
                )

        if not browser:
            # async: a plain def would wait for the threadpool, which a stuck store can
            # fill, and /metrics must keep answering then (monitor.api).
            async def require(
                bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)],
            ) -> None:
                check(bearer.credentials if bearer is not None else None)

            return require

        async def require_from_browser(
            bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)],
            basic: Annotated[HTTPBasicCredentials | None, Security(_BASIC)],
        ) -> None:
            if bearer is not None:
                check(bearer.credentials)
            else:
                check(basic.password if basic is not None else None)

        return require_from_browser

    def requires(self, scope: TokenScope, *, browser: bool = False) -> list[params.Depends]:
        """A route's ``dependencies=``: the one place it says which scope it needs."""
        return [Security(self.access(scope, browser=browser))]
