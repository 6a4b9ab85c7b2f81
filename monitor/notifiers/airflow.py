"""Airflow retraining trigger: create a DAG run with a run id fixed per firing episode.

Airflow 2 (stable REST API, ``api_version = 1``): ``POST /api/v1/dags/{dag_id}/dagRuns``
with ``dag_run_id`` and ``conf``, basic auth or a bearer token. Airflow 3
(``api_version = 2``): ``POST /api/v2/dags/{dag_id}/dagRuns``, a bearer token,
and ``logical_date`` is a required key; it is sent as ``null``.

``dag_run_id`` is derived from the idempotency key, so a repeated send of one
episode asks for a run that already exists: Airflow answers 409 Conflict, and
that counts as delivered. No ``logical_date`` is sent to Airflow 2: it is unique
per DAG there too, and a date taken from the window could collide with a
scheduled run and turn a real trigger into a 409.
"""

from __future__ import annotations

import json
from typing import Literal
from urllib.parse import quote

import httpx
from pydantic import Field, model_validator

from monitor.alerts.event import AlertEvent
from monitor.notifiers._http import JSON, post_request
from monitor.notifiers._trigger import (
    TriggerNotifier,
    basic,
    bearer,
    deterministic_name,
    trigger_payload,
)
from monitor.notifiers.spec import NotifierSpec
from monitor.secrets import resolve_secret
from monitor.settings_base import HttpUrlStr, RateLimitedSettings, exactly_one

# Airflow's default ``allowed_run_id_pattern``; its run_id column holds 250 characters.
_RUN_ID_CHARACTERS = r"A-Za-z0-9_.~:+-"
_RUN_ID_MAX = 250


class AirflowReceiverSettings(RateLimitedSettings):
    name: str
    type: Literal["airflow"]
    url: HttpUrlStr = Field(description="the Airflow API server's base URL, without /api/...")
    api_version: Literal[1, 2] = Field(default=1, description="1: Airflow 2; 2: Airflow 3")
    dag_id: str = Field(min_length=1)
    token_env: str | None = Field(default=None, description="env var holding a bearer token")
    username: str | None = None
    password_env: str | None = Field(default=None, description="basic auth (Airflow 2 only)")

    @model_validator(mode="after")
    def _one_auth(self) -> AirflowReceiverSettings:
        exactly_one(self, "token_env", "password_env")
        if self.password_env is not None and self.username is None:
            raise ValueError("password_env needs username")
        if self.password_env is not None and self.api_version == 2:
            raise ValueError("the Airflow 3 API (api_version 2) takes token_env, not a password")
        return self

    def endpoint(self) -> str:
        base = self.url.rstrip("/")
        return f"{base}/api/v{self.api_version}/dags/{quote(self.dag_id, safe='')}/dagRuns"


def dag_run_id(event: AlertEvent) -> str:
    """The same id for every message of one firing episode, within Airflow's run id rules."""
    return deterministic_name(
        "driftwarden__", event.idempotency_key, _RUN_ID_CHARACTERS, _RUN_ID_MAX
    )


def render_airflow(event: AlertEvent, api_version: Literal[1, 2]) -> bytes:
    """The exact request body (compact JSON)."""
    document: dict[str, object] = {"dag_run_id": dag_run_id(event)}
    if api_version == 2:
        document["logical_date"] = None
    document["conf"] = trigger_payload(event)
    return json.dumps(document, separators=(",", ":")).encode("utf-8")


class AirflowNotifier(TriggerNotifier[AirflowReceiverSettings]):
    # 409: a run with this ``dag_run_id`` exists, so this episode's run was started.
    delivered_statuses = frozenset({409})

    def request_for(self, event: AlertEvent) -> httpx.Request:
        settings = self.settings
        if settings.token_env is not None:
            authorization = bearer(resolve_secret(settings.token_env, f"{self.key}.token_env"))
        else:
            assert settings.password_env is not None and settings.username is not None
            password = resolve_secret(settings.password_env, f"{self.key}.password_env")
            authorization = basic(settings.username, password)
        return post_request(
            settings.endpoint(),
            render_airflow(event, settings.api_version),
            accept=JSON,
            first={"authorization": authorization},
        )


SPEC = NotifierSpec(
    type="airflow",
    settings=AirflowReceiverSettings,
    factory=AirflowNotifier,
    trigger=True,
)
