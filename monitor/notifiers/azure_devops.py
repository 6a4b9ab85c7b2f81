"""Azure DevOps Pipelines retraining trigger: run a YAML pipeline with template parameters.

``POST {organization_url}/{project}/_apis/pipelines/{pipelineId}/runs?api-version=7.1``
("Runs - Run Pipeline") with ``resources.repositories.self.refName`` (the
branch to run) and ``templateParameters``; Azure DevOps answers 200 OK with
the run. A personal access token goes in HTTP basic auth with an empty user
name. Every template parameter must be declared in the pipeline's YAML, or
the run is refused with 400, so the pipeline declares the nine
``trigger_fields`` names as string parameters.

Azure DevOps has no idempotency key for runs: the pipeline can use the
``idempotency_key`` parameter to skip a run it has already done. A request
whose token is refused may come back as 203 with a sign-in page instead of
401; that is no delivery.
"""

from __future__ import annotations

import json
from typing import Literal
from urllib.parse import quote

import httpx
from pydantic import Field

from monitor.alerts.event import AlertEvent
from monitor.notifiers._http import JSON, post_request
from monitor.notifiers._trigger import TriggerNotifier, basic, trigger_fields
from monitor.notifiers.base import Verdict
from monitor.notifiers.spec import NotifierSpec
from monitor.secrets import resolve_secret
from monitor.settings_base import HttpUrlStr, RateLimitedSettings

API_VERSION = "7.1"


class AzureDevOpsReceiverSettings(RateLimitedSettings):
    name: str
    type: Literal["azure_devops"]
    organization_url: HttpUrlStr = Field(
        description='"https://dev.azure.com/{organization}", or a server\'s collection URL'
    )
    project: str = Field(min_length=1, description="project name or id")
    pipeline_id: int = Field(gt=0)
    ref: str | None = Field(
        default=None,
        min_length=1,
        description='branch to run ("main" or "refs/heads/main"); default: the pipeline\'s',
    )
    token_env: str = Field(description="env var holding a PAT with Build (read & execute)")

    def endpoint(self) -> str:
        project = quote(self.project, safe="")
        return (
            f"{self.organization_url.rstrip('/')}/{project}/_apis/pipelines/"
            f"{self.pipeline_id}/runs?api-version={API_VERSION}"
        )


def ref_name(ref: str) -> str:
    """A full ref: a bare branch name becomes ``refs/heads/<name>``.

    >>> ref_name("main"), ref_name("refs/tags/v1")
    ('refs/heads/main', 'refs/tags/v1')
    """
    return ref if ref.startswith("refs/") else f"refs/heads/{ref}"


def render_azure_devops(event: AlertEvent, settings: AzureDevOpsReceiverSettings) -> bytes:
    """The exact request body (compact JSON)."""
    document: dict[str, object] = {}
    if settings.ref is not None:
        document["resources"] = {"repositories": {"self": {"refName": ref_name(settings.ref)}}}
    document["templateParameters"] = trigger_fields(event)
    return json.dumps(document, separators=(",", ":")).encode("utf-8")


class AzureDevOpsNotifier(TriggerNotifier[AzureDevOpsReceiverSettings]):
    def request_for(self, event: AlertEvent) -> httpx.Request:
        token = resolve_secret(self.settings.token_env, f"{self.key}.token_env")
        return post_request(
            self.settings.endpoint(),
            render_azure_devops(event, self.settings),
            accept=JSON,
            authorization=basic("", token),
        )

    def classify(self, response: httpx.Response) -> Verdict:
        """203 is Azure DevOps' sign-in page for a refused token: not delivered, not retryable."""
        if response.status_code == 203:
            return Verdict.PERMANENT
        return super().classify(response)


SPEC = NotifierSpec(
    type="azure_devops",
    settings=AzureDevOpsReceiverSettings,
    factory=AzureDevOpsNotifier,
    trigger=True,
)
