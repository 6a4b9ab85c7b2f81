"""The daemon's own sections of the config: store, server and tokens, scheduler, delivery.

They configure the process rather than what it monitors; ``monitor.config``
assembles them with the monitors and receivers into ``Settings``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal, TypeAlias

from pydantic import Field, field_validator, model_validator
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from monitor.secrets import resolve_secret
from monitor.settings_base import SettingsModel, as_duration, exactly_one


class StoreSettings(SettingsModel):
    url: str | None = Field(default=None, description="SQLAlchemy URL without a password")
    url_env: str | None = Field(default=None, description="env var holding the URL")
    retention: timedelta = Field(default=timedelta(days=90))

    _check_retention = field_validator("retention", mode="before")(as_duration)

    @field_validator("url")
    @classmethod
    def _sqlalchemy_url(cls, url: str | None) -> str | None:
        """Unparseable fails now rather than at every command (the message shows no URL)."""
        if url is not None:
            try:
                make_url(url)
            except (ArgumentError, ValueError):
                raise ValueError(
                    'not an SQLAlchemy URL such as "sqlite:///driftwarden.db" or '
                    '"postgresql+psycopg://host/db"'
                ) from None
        return url

    @model_validator(mode="after")
    def _one_url(self) -> StoreSettings:
        exactly_one(self, "url", "url_env")
        return self

    def resolved_url(self) -> str:
        if self.url_env is not None:
            return resolve_secret(self.url_env, "store.url_env")
        assert self.url is not None
        return self.url


TokenScope: TypeAlias = Literal["read", "admin"]


class TokenSettings(SettingsModel):
    """A bearer token the HTTP API accepts; its value is read from ``token_env`` at start."""

    name: str = Field(min_length=1, description="who holds it; shown in logs, never the token")
    scope: TokenScope = Field(description="read: /metrics and GET /api/*; admin: also writes")
    token_env: str = Field(min_length=1)


class ServerSettings(SettingsModel):
    listen: str = "127.0.0.1:8470"
    public_url: str | None = None
    tokens: tuple[TokenSettings, ...] = ()
    allow_unauthenticated: bool = Field(
        default=False,
        description="serve without tokens on an address other than loopback",
    )

    @field_validator("tokens")
    @classmethod
    def _unique_names(cls, tokens: tuple[TokenSettings, ...]) -> tuple[TokenSettings, ...]:
        names = [token.name for token in tokens]
        for index, name in enumerate(names):
            if name in names[:index]:
                raise ValueError(f'tokens[{index}].name: token name "{name}" is used twice')
        return tokens

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f'expected "host:port" such as "127.0.0.1:8470", got "{value}"')
        return value

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])

    def base_url(self) -> str:
        return (self.public_url or f"http://{self.listen}").rstrip("/")


class SchedulerSettings(SettingsModel):
    misfire_grace: timedelta = Field(default=timedelta(seconds=60))
    catch_up: bool = False
    max_concurrent_runs: int = Field(default=4, ge=1)
    run_timeout: timedelta = Field(
        default=timedelta(minutes=10),
        description="a run still in progress after this is stored as failed (timed out)",
    )
    run_lease: timedelta = Field(
        default=timedelta(seconds=15),
        description="a claim not renewed for this long is expired by any process",
    )

    _check_durations = field_validator("misfire_grace", "run_timeout", "run_lease", mode="before")(
        as_duration
    )


class DeliverySettings(SettingsModel):
    timeout: timedelta = Field(default=timedelta(seconds=10))
    max_age: timedelta = Field(default=timedelta(hours=24))
    backoff_initial: timedelta = Field(default=timedelta(seconds=1))
    backoff_max: timedelta = Field(default=timedelta(minutes=5))
    poll_interval: timedelta = Field(default=timedelta(seconds=1))
    allow_hosts: tuple[str, ...] = Field(
        default=(),
        description="link-local or metadata hosts/addresses/networks receivers may still reach",
    )

    _check_durations = field_validator(
        "timeout", "max_age", "backoff_initial", "backoff_max", "poll_interval", mode="before"
    )(as_duration)

    @field_validator("allow_hosts")
    @classmethod
    def _hosts(cls, hosts: tuple[str, ...]) -> tuple[str, ...]:
        for index, host in enumerate(hosts):
            if not host.strip() or "://" in host:
                raise ValueError(
                    f'allow_hosts[{index}]: expected a host name, address or network, got "{host}"'
                )
        return hosts
