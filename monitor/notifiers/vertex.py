"""Vertex AI Pipelines retraining trigger: create a PipelineJob from a compiled template.

``POST https://{location}-aiplatform.googleapis.com/v1/projects/{project}/locations/
{location}/pipelineJobs?pipelineJobId={id}`` with ``templateUri`` (a compiled
pipeline in GCS, ``gs://...``, or Artifact Registry, ``https://...``) and
``runtimeConfig.parameterValues`` = the trigger fields (the pipeline declares
them as string parameters). ``pipelineJobId`` is the idempotency key made
safe (``[a-z][-a-z0-9]{0,127}``): a second create for the episode is refused
with 409 ALREADY_EXISTS, which counts as delivered.

The OAuth2 access token is added by the delivery worker's authentication
stage (``monitor.notifiers.auth``). It is read from the variable
``access_token_env`` names when set (a token minted by a sidecar or
``gcloud auth print-access-token``); otherwise it comes from google-auth's
Application Default Credentials (optional extra ``driftwarden[gcp]``),
refreshed through google-auth's urllib3 transport, so no ``requests``.
"""

from __future__ import annotations

import importlib.util
import json
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

import httpx
from pydantic import Field, model_validator

from monitor.alerts.event import AlertEvent
from monitor.notifiers._http import post_request
from monitor.notifiers._trigger import (
    TriggerNotifier,
    bearer,
    deterministic_name,
    trigger_fields,
)
from monitor.notifiers.auth import AuthenticationError
from monitor.notifiers.spec import NotifierSpec
from monitor.secrets import resolve_secret
from monitor.settings_base import HttpUrlStr, RateLimitedSettings

CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
_REFRESH_TIMEOUT_SECONDS = 30.0


def google_auth_installed() -> bool:
    try:
        return importlib.util.find_spec("google.auth") is not None
    except ModuleNotFoundError:  # no "google" package at all
        return False


class VertexReceiverSettings(RateLimitedSettings):
    name: str
    type: Literal["vertex"]
    project: str = Field(pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$", description="project id")
    location: str = Field(pattern=r"^[a-z]+-[a-z]+\d+$", description='"europe-west4"')
    template_uri: str = Field(
        pattern=r"^(gs|https)://", description="compiled pipeline: gs://... or Artifact Registry"
    )
    pipeline_root: str | None = Field(
        default=None, pattern=r"^gs://", description="runtimeConfig.gcsOutputDirectory"
    )
    service_account: str | None = Field(default=None, description="the job runs as this account")
    access_token_env: str | None = Field(
        default=None, description="env var holding an access token (else default credentials)"
    )
    endpoint_url: HttpUrlStr | None = Field(
        default=None, description="instead of https://{location}-aiplatform.googleapis.com"
    )

    @model_validator(mode="after")
    def _token_source(self) -> VertexReceiverSettings:
        if self.access_token_env is None and not google_auth_installed():
            raise ValueError(
                "without access_token_env, type vertex needs google-auth, which is not "
                "installed: pip install 'driftwarden[gcp]'"
            )
        return self

    def endpoint(self, job_id: str) -> str:
        base = self.endpoint_url or f"https://{self.location}-aiplatform.googleapis.com"
        parent = f"projects/{self.project}/locations/{self.location}"
        return f"{base.rstrip('/')}/v1/{parent}/pipelineJobs?pipelineJobId={quote(job_id)}"


def pipeline_job_id(key: str) -> str:
    """``dw-`` + the key, lower case, ``[a-z][-a-z0-9]{0,127}``, the same every time.

    >>> pipeline_job_id("credit-risk-3f2a9c0d1e4b-2")
    'dw-credit-risk-3f2a9c0d1e4b-2'
    """
    return deterministic_name("dw-", key, "a-z0-9-", 128, lower=True)


def render_vertex(event: AlertEvent, settings: VertexReceiverSettings) -> bytes:
    """The exact PipelineJob body (compact JSON)."""
    runtime_config: dict[str, Any] = {"parameterValues": trigger_fields(event)}
    if settings.pipeline_root is not None:
        runtime_config["gcsOutputDirectory"] = settings.pipeline_root
    document: dict[str, Any] = {
        "displayName": f"driftwarden {event.monitor} {event.rule}"[:128],
        "templateUri": settings.template_uri,
        "runtimeConfig": runtime_config,
    }
    if settings.service_account is not None:
        document["serviceAccount"] = settings.service_account
    return json.dumps(document, separators=(",", ":")).encode("utf-8")


class GoogleTokenAuthenticator:
    """``Authorization: Bearer <token>``: from ``access_token_env``, else default credentials."""

    def __init__(self, access_token_env: str | None, key: str) -> None:
        self.access_token_env = access_token_env
        self.key = key
        self._credentials: Any = None

    def authenticate(self, request: httpx.Request, now: datetime) -> httpx.Request:
        if self.access_token_env is not None:
            token = resolve_secret(self.access_token_env, f"{self.key}.access_token_env")
        else:
            token = self._default_token()
        request.headers["authorization"] = bearer(token)
        return request

    def _default_token(self) -> str:
        try:
            import google.auth
            import google.auth.exceptions
            import google.auth.transport.urllib3
            import urllib3
        except ImportError:
            raise AuthenticationError(
                "google-auth is not installed (pip install 'driftwarden[gcp]') "
                "and access_token_env is not set"
            ) from None
        if self._credentials is None:
            try:
                self._credentials, _ = google.auth.default(scopes=[CLOUD_PLATFORM_SCOPE])
            except google.auth.exceptions.DefaultCredentialsError:
                raise AuthenticationError(
                    "no Google Application Default Credentials found (set "
                    "GOOGLE_APPLICATION_CREDENTIALS or the receiver's access_token_env)"
                ) from None
        if not self._credentials.valid:
            http = urllib3.PoolManager(timeout=urllib3.Timeout(total=_REFRESH_TIMEOUT_SECONDS))
            request = google.auth.transport.urllib3.Request(http)  # type: ignore[no-untyped-call]
            try:
                self._credentials.refresh(request)
            except google.auth.exceptions.GoogleAuthError as exc:
                raise AuthenticationError(
                    f"refreshing the Google access token failed ({type(exc).__name__})"
                ) from None
            finally:
                http.clear()
        token = self._credentials.token
        if not token:
            raise AuthenticationError("Google default credentials gave no access token")
        return str(token)


class VertexNotifier(TriggerNotifier[VertexReceiverSettings]):
    # 409 ALREADY_EXISTS: this episode's PipelineJob was created by an earlier attempt.
    delivered_statuses = frozenset({409})

    def __init__(self, settings: VertexReceiverSettings, key: str) -> None:
        super().__init__(settings, key)
        self.authenticator = GoogleTokenAuthenticator(settings.access_token_env, key)

    def request_for(self, event: AlertEvent) -> httpx.Request:
        job_id = pipeline_job_id(event.idempotency_key)
        return post_request(
            self.settings.endpoint(job_id),
            render_vertex(event, self.settings),
            accept="application/json",
        )


SPEC = NotifierSpec(
    type="vertex",
    settings=VertexReceiverSettings,
    factory=VertexNotifier,
    trigger=True,
)
