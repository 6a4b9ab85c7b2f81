"""AWS retraining trigger: Step Functions, SageMaker Pipelines, CodePipeline or EventBridge.

Each action is one call of an AWS JSON API (``POST /`` with ``X-Amz-Target``):

- ``stepfunctions``: ``AWSStepFunctions.StartExecution`` (JSON 1.0) with
  ``name`` = the idempotency key made safe (at most 80 of ``A-Za-z0-9_-``).
  An execution name is unique for 90 days, so AWS itself refuses a second
  start of the episode: ``ExecutionAlreadyExists`` counts as delivered.
- ``sagemaker``: ``SageMaker.StartPipelineExecution`` with
  ``ClientRequestToken`` = the idempotency key (32 to 128 characters, so a
  short key is lengthened by a hash of itself) and the trigger fields as
  ``PipelineParameters`` (the pipeline must declare them).
- ``codepipeline``: ``CodePipeline_20150709.StartPipelineExecution`` with the
  non-empty trigger fields as pipeline ``variables`` and ``clientRequestToken``.
- ``eventbridge``: ``AWSEvents.PutEvents``, one entry whose ``Detail`` is the
  trigger payload, for anything else on AWS that a rule can target.

The request is signed with AWS Signature Version 4 by botocore (optional
extra ``driftwarden[aws]``), with credentials from botocore's default chain
(environment, shared config and credentials files, container or instance
role), by the authentication stage of the delivery worker
(``monitor.notifiers.auth``): this module never sees a credential.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
from pydantic import Field, model_validator

from monitor.alerts.event import AlertEvent
from monitor.notifiers._http import post_request
from monitor.notifiers._trigger import (
    TriggerNotifier,
    deterministic_name,
    trigger_fields,
    trigger_payload,
)
from monitor.notifiers.auth import AuthenticationError
from monitor.notifiers.base import Verdict
from monitor.notifiers.spec import NotifierSpec
from monitor.settings_base import HttpUrlStr, RateLimitedSettings

AwsAction = Literal["stepfunctions", "sagemaker", "codepipeline", "eventbridge"]


class _Api:
    def __init__(self, host: str, service: str, target: str, json_version: str) -> None:
        self.host = host  # "{region}" is replaced
        self.service = service  # the SigV4 signing name
        self.target = target
        self.content_type = f"application/x-amz-json-{json_version}"


# Hosts, signing names, targets and JSON versions as in botocore's service models.
APIS: dict[str, _Api] = {
    "stepfunctions": _Api("states.{region}", "states", "AWSStepFunctions.StartExecution", "1.0"),
    "sagemaker": _Api(
        "api.sagemaker.{region}", "sagemaker", "SageMaker.StartPipelineExecution", "1.1"
    ),
    "codepipeline": _Api(
        "codepipeline.{region}",
        "codepipeline",
        "CodePipeline_20150709.StartPipelineExecution",
        "1.1",
    ),
    "eventbridge": _Api("events.{region}", "events", "AWSEvents.PutEvents", "1.1"),
}

_ACTION_KEYS: dict[str, tuple[str, ...]] = {
    "stepfunctions": ("state_machine_arn",),
    "sagemaker": ("pipeline_name",),
    "codepipeline": ("pipeline_name",),
    "eventbridge": (),
}
_RETRYABLE_ERRORS = frozenset(
    {
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "InternalFailure",
        "InternalException",
        "ServiceUnavailable",
    }
)
_MAX_PARAMETER_VALUE = 1024  # SageMaker's limit for a pipeline parameter value


def botocore_installed() -> bool:
    return importlib.util.find_spec("botocore") is not None


class AwsReceiverSettings(RateLimitedSettings):
    name: str
    type: Literal["aws"]
    action: AwsAction
    region: str = Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d+$", description='"eu-west-1"')
    endpoint_url: HttpUrlStr | None = Field(
        default=None, description="instead of https://<service>.<region>.amazonaws.com"
    )
    state_machine_arn: str | None = Field(
        default=None, pattern=r"^arn:aws[a-z-]*:states:", description="stepfunctions"
    )
    pipeline_name: str | None = Field(
        default=None, min_length=1, max_length=256, description="sagemaker, codepipeline"
    )
    event_bus_name: str = Field(default="default", min_length=1, description="eventbridge")
    source: str = Field(default="driftwarden", min_length=1, max_length=256)
    detail_type: str = Field(default="Drift detected", min_length=1, max_length=128)

    @model_validator(mode="after")
    def _action_keys(self) -> AwsReceiverSettings:
        for action, keys in _ACTION_KEYS.items():
            for key in keys:
                given = getattr(self, key) is not None
                if action == self.action and not given:
                    raise ValueError(f"action {self.action} needs {key}")
                if given and self.action not in [a for a, k in _ACTION_KEYS.items() if key in k]:
                    raise ValueError(f"{key} does not apply to action {self.action}")
        if not botocore_installed():
            raise ValueError(
                "type aws needs botocore, which is not installed: pip install 'driftwarden[aws]'"
            )
        return self

    @property
    def api(self) -> _Api:
        return APIS[self.action]

    def endpoint(self) -> str:
        if self.endpoint_url is not None:
            return self.endpoint_url.rstrip("/") + "/"
        return f"https://{self.api.host.format(region=self.region)}.amazonaws.com/"


def execution_name(key: str) -> str:
    """A Step Functions execution name: at most 80 of ``A-Za-z0-9_-``, the same every time.

    >>> execution_name("credit-risk-3f2a9c0d1e4b-2")
    'credit-risk-3f2a9c0d1e4b-2'
    """
    return deterministic_name("", key, "A-Za-z0-9_-", 80)


def client_request_token(key: str) -> str:
    """A SageMaker ``ClientRequestToken`` (32 to 128 of ``A-Za-z0-9-``) from the key.

    >>> client_request_token("credit-risk-3f2a9c0d1e4b-2")
    'credit-risk-3f2a9c0d1e4b-2-1f694'
    """
    token = deterministic_name("", key, "A-Za-z0-9-", 128)
    if len(token) < 32:
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
        token = f"{token}-{digest[: 31 - len(token)]}"
    return token


def render_aws(event: AlertEvent, settings: AwsReceiverSettings) -> bytes:
    """The exact request body (compact JSON) of the settings' action."""
    key = event.idempotency_key
    payload = json.dumps(trigger_payload(event), separators=(",", ":"))
    fields = trigger_fields(event)
    document: dict[str, Any]
    if settings.action == "stepfunctions":
        document = {
            "stateMachineArn": settings.state_machine_arn,
            "name": execution_name(key),
            "input": payload,
        }
    elif settings.action == "sagemaker":
        document = {
            "PipelineName": settings.pipeline_name,
            "PipelineParameters": [
                {"Name": name, "Value": value[:_MAX_PARAMETER_VALUE]}
                for name, value in fields.items()
            ],
            "PipelineExecutionDescription": event.summary[:3072],
            "ClientRequestToken": client_request_token(key),
        }
    elif settings.action == "codepipeline":
        document = {
            "name": settings.pipeline_name,
            # CodePipeline refuses an empty variable value.
            "variables": [
                {"name": name, "value": value} for name, value in fields.items() if value
            ],
            "clientRequestToken": deterministic_name("", key, "a-zA-Z0-9-", 128),
        }
    else:
        document = {
            "Entries": [
                {
                    "Source": settings.source,
                    "DetailType": settings.detail_type,
                    "Detail": payload,
                    "EventBusName": settings.event_bus_name,
                }
            ]
        }
    return json.dumps(document, separators=(",", ":")).encode("utf-8")


def aws_error_type(response: httpx.Response) -> str:
    """``ThrottlingException`` from ``x-amzn-ErrorType`` or the body's ``__type``."""
    raw = str(response.headers.get("x-amzn-errortype", ""))
    if not raw:
        try:
            body = response.json()
        except ValueError:
            body = None
        raw = str(body.get("__type", "")) if isinstance(body, dict) else ""
    return raw.split(":")[0].rsplit("#", 1)[-1]


class SigV4Authenticator:
    """AWS Signature Version 4 by botocore's ``SigV4Auth``, credentials from its default chain.

    ``SigV4Auth.add_auth`` reads the wall clock; this stage signs at the
    attempt's time instead, with the same botocore steps ``add_auth`` runs
    (a test holds the two equal), so a fixed clock gives a reproducible
    signature.
    """

    def __init__(self, service: str, region: str) -> None:
        from botocore.session import Session

        self.service = service
        self.region = region
        self._session = Session()

    def _credentials(self) -> Any:
        from botocore.exceptions import BotoCoreError

        try:
            credentials = self._session.get_credentials()
            frozen = None if credentials is None else credentials.get_frozen_credentials()
        except BotoCoreError as exc:
            # botocore's messages can quote a credential process's output: keep the class only.
            raise AuthenticationError(
                f"AWS credentials could not be loaded ({type(exc).__name__})"
            ) from None
        if frozen is None or not frozen.access_key or not frozen.secret_key:
            raise AuthenticationError(
                "no AWS credentials found (environment, shared config or credentials "
                "file, container or instance role)"
            )
        return frozen

    def authenticate(self, request: httpx.Request, now: datetime) -> httpx.Request:
        from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
        from botocore.awsrequest import AWSRequest

        signer = SigV4Auth(self._credentials(), self.service, self.region)
        aws_request = AWSRequest(
            method=request.method,
            url=str(request.url),
            headers=dict(request.headers),
            data=request.read(),
        )
        at = now.astimezone(UTC) if now.tzinfo else now
        # SigV4Auth.add_auth, with the time given instead of read.
        aws_request.context["timestamp"] = at.strftime(SIGV4_TIMESTAMP)
        signer._modify_request_before_signing(aws_request)
        canonical_request = signer.canonical_request(aws_request)
        string_to_sign = signer.string_to_sign(aws_request, canonical_request)
        signature = signer.signature(string_to_sign, aws_request)
        signer._inject_signature_to_request(aws_request, signature)
        for name in ("X-Amz-Date", "X-Amz-Security-Token", "Authorization"):
            value = aws_request.headers.get(name)
            if value is not None:
                request.headers[name] = value
        return request


class AwsNotifier(TriggerNotifier[AwsReceiverSettings]):
    def __init__(self, settings: AwsReceiverSettings, key: str) -> None:
        super().__init__(settings, key)
        self.authenticator = SigV4Authenticator(settings.api.service, settings.region)

    def request_for(self, event: AlertEvent) -> httpx.Request:
        api = self.settings.api
        return post_request(
            self.settings.endpoint(),
            render_aws(event, self.settings),
            api.content_type,
            first={"x-amz-target": api.target},
        )

    def classify(self, response: httpx.Response) -> Verdict:
        """AWS JSON errors are 400s named by type; some mean "try again" or "done already"."""
        if response.is_success:
            return self._classify_put_events(response)
        error_type = aws_error_type(response)
        if self.settings.action == "stepfunctions" and error_type == "ExecutionAlreadyExists":
            return Verdict.DELIVERED  # this episode's execution was started (name is unique)
        if error_type in _RETRYABLE_ERRORS:
            return Verdict.RETRYABLE
        if response.status_code == 403 and _clock_skew(response):
            # Every attempt is signed afresh at its own time: once the clock is
            # right again (NTP), the retry is accepted.
            return Verdict.RETRYABLE
        return super().classify(response)

    def _classify_put_events(self, response: httpx.Response) -> Verdict:
        """PutEvents answers 200 with ``FailedEntryCount`` when its one entry failed."""
        if self.settings.action != "eventbridge":
            return Verdict.DELIVERED
        try:
            body = response.json()
        except ValueError:
            return Verdict.DELIVERED
        if not isinstance(body, dict) or not body.get("FailedEntryCount"):
            return Verdict.DELIVERED
        codes = {entry.get("ErrorCode") for entry in body.get("Entries", []) if entry}
        return Verdict.RETRYABLE if codes & _RETRYABLE_ERRORS else Verdict.PERMANENT


def _clock_skew(response: httpx.Response) -> bool:
    """AWS's "Signature expired" / "Signature not yet current" (IAM SigV4 troubleshooting)."""
    text = response.text
    return "Signature expired" in text or "Signature not yet current" in text


SPEC = NotifierSpec(
    type="aws",
    settings=AwsReceiverSettings,
    factory=AwsNotifier,
    trigger=True,
)
