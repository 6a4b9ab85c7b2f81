"""MLflow sink: log each run's drift statistics and decision as metrics on an MLflow run.

Not a trigger: a monitor names it in ``sinks``, and every succeeded or empty
run queues one ``run.completed`` message for it (see ``monitor.sinks``). The
message's payload is the run (:class:`monitor.sinks.RunCompleted`), not an
alert event.

``POST {tracking_uri}/api/2.0/mlflow/runs/log-batch`` with ``run_id``,
``metrics`` (``key``, ``value``, ``timestamp`` in ms, ``step``) and ``tags``
(``key``, ``value``), as the MLflow REST API documents it; the server answers
200 with ``{}``. Authorised by ``Authorization: Bearer <token>`` (Databricks,
managed MLflow), by basic auth (a tracking server behind ``mlflow server
--app-name basic-auth``), or by nothing.

The documented request limits are applied here: at most 1000 metrics, 100
tags and 1000 entities in total per request, metric and tag keys of at most
250 characters made only of alphanumerics, ``_ - . space /``. A run with more
metrics than fit is truncated, and the ``driftwarden.metrics_omitted`` tag
says how many were left out. Metrics carry the run's finish time as their
timestamp and the driftwarden run id as their step, so a re-sent message logs
the identical points again, which MLflow de-duplicates, rather than new ones.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

import httpx
from pydantic import Field, model_validator

from detectors import finite_or_none
from monitor.notifiers._http import JSON, optional_bearer, post_request
from monitor.notifiers._trigger import basic
from monitor.notifiers.base import BaseNotifier, OutboundMessage
from monitor.notifiers.spec import NotifierSpec
from monitor.secrets import resolve_secret
from monitor.settings_base import HttpUrlStr, RateLimitedSettings

MAX_METRICS_PER_BATCH = 1000
MAX_TAGS_PER_BATCH = 100
MAX_ENTITIES_PER_BATCH = 1000
MAX_KEY_LENGTH = 250
MAX_TAG_VALUE_LENGTH = 5000

# MLflow allows "/" too, but a key must not change under posixpath.normpath;
# keeping "/" out of the keys we build makes that hold whatever a column is called.
_KEY_CHARACTERS = r"A-Za-z0-9_.\- "
_DISALLOWED = re.compile(f"[^{_KEY_CHARACTERS}]")


class MlflowReceiverSettings(RateLimitedSettings):
    name: str
    type: Literal["mlflow"]
    tracking_uri: HttpUrlStr = Field(
        description="the tracking server (e.g. https://mlflow.example.com)"
    )
    run_id: str = Field(
        min_length=1, description="the MLflow run drift metrics are logged on (the model's run)"
    )
    token_env: str | None = Field(default=None, description="env var holding a bearer token")
    username: str | None = Field(default=None, min_length=1)
    password_env: str | None = Field(default=None, description="env var holding the password")
    metric_prefix: str = Field(
        default="drift", min_length=1, max_length=50, pattern=f"^[{_KEY_CHARACTERS}]+$"
    )

    @model_validator(mode="after")
    def _one_auth(self) -> MlflowReceiverSettings:
        if (self.username is None) != (self.password_env is None):
            raise ValueError("set username and password_env together")
        if self.token_env is not None and self.username is not None:
            raise ValueError("set token_env or username/password_env, not both")
        return self

    def endpoint(self) -> str:
        return f"{self.tracking_uri.rstrip('/')}/api/2.0/mlflow/runs/log-batch"


def metric_key(*parts: str) -> str:
    """Parts joined by ".", each sanitised; a key over 250 characters ends in a hash.

    >>> metric_key("drift", "credit-risk", "débit:eur", "ks", "statistic")
    'drift.credit-risk.d_bit_eur.ks.statistic'
    """
    key = ".".join(_DISALLOWED.sub("_", part) for part in parts)
    if len(key) <= MAX_KEY_LENGTH:
        return key
    digest = hashlib.sha256(".".join(parts).encode()).hexdigest()[:12]
    return f"{key[: MAX_KEY_LENGTH - 13]}.{digest}"


def _metrics(payload: Mapping[str, Any], prefix: str) -> list[tuple[str, float]]:
    """(key, value) pairs in order: the run's decision first, then each result's."""
    monitor = str(payload["monitor"])
    pairs: list[tuple[str, float | None]] = [
        (metric_key(prefix, monitor, "drifted"), float(bool(payload["drifted"])))
    ]
    for result in payload["results"]:
        base = (prefix, monitor, str(result["column"]), str(result["method"]))
        pairs += [
            (metric_key(*base, "statistic"), finite_or_none(result.get("statistic"))),
            (metric_key(*base, "p_value"), finite_or_none(result.get("p_value"))),
            (metric_key(*base, "p_value_adjusted"), finite_or_none(result.get("p_value_adjusted"))),
            (metric_key(*base, "drifted"), float(bool(result["drifted"]))),
        ]
    seen: set[str] = set()
    metrics: list[tuple[str, float]] = []
    for key, value in pairs:
        if value is None or key in seen:  # two columns that sanitise alike: the first wins
            continue
        seen.add(key)
        metrics.append((key, value))
    return metrics


def render_log_batch(payload: Mapping[str, Any], run_id: str, prefix: str = "drift") -> bytes:
    """The exact ``runs/log-batch`` body for a run payload (compact JSON)."""
    finished = datetime.fromisoformat(str(payload["finished_at"]))
    timestamp = int(finished.timestamp() * 1000)
    step = int(payload["run_id"])
    tags = {
        "driftwarden.monitor": str(payload["monitor"]),
        "driftwarden.last_run_id": str(step),
        "driftwarden.last_run_drifted": "true" if payload["drifted"] else "false",
    }
    metrics = _metrics(payload, prefix)
    if len(metrics) > min(MAX_METRICS_PER_BATCH, MAX_ENTITIES_PER_BATCH - len(tags)):
        room = min(MAX_METRICS_PER_BATCH, MAX_ENTITIES_PER_BATCH - len(tags) - 1)
        tags["driftwarden.metrics_omitted"] = str(len(metrics) - room)
        metrics = metrics[:room]
    document = {
        "run_id": run_id,
        "metrics": [
            {"key": key, "value": value, "timestamp": timestamp, "step": step}
            for key, value in metrics
        ],
        "tags": [
            {"key": key, "value": value[:MAX_TAG_VALUE_LENGTH]} for key, value in tags.items()
        ],
    }
    return json.dumps(document, separators=(",", ":")).encode("utf-8")


class MlflowNotifier(BaseNotifier[MlflowReceiverSettings]):
    def _authorization(self) -> str | None:
        if self.settings.username is not None and self.settings.password_env is not None:
            password = resolve_secret(self.settings.password_env, f"{self.key}.password_env")
            return basic(self.settings.username, password)
        return optional_bearer(self.settings.token_env, f"{self.key}.token_env")

    def build_request(self, message: OutboundMessage) -> httpx.Request | None:
        if message.event_type != "run.completed":
            return None  # a sink logs runs; it has nothing to say about an alert
        return post_request(
            self.settings.endpoint(),
            render_log_batch(message.payload, self.settings.run_id, self.settings.metric_prefix),
            accept=JSON,
            authorization=self._authorization(),
        )


SPEC = NotifierSpec(
    type="mlflow",
    settings=MlflowReceiverSettings,
    factory=MlflowNotifier,
    sink=True,
)
