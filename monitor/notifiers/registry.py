"""The one registry of receiver kinds: config ``type`` -> notifier class."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from monitor.notifiers.airflow import AirflowNotifier
from monitor.notifiers.alertmanager import AlertmanagerNotifier
from monitor.notifiers.argo import ArgoNotifier
from monitor.notifiers.aws import AwsNotifier
from monitor.notifiers.azure_devops import AzureDevOpsNotifier
from monitor.notifiers.base import Notifier, ReceiverEntry
from monitor.notifiers.circleci import CircleCiNotifier
from monitor.notifiers.github import GitHubNotifier
from monitor.notifiers.gitlab import GitLabNotifier
from monitor.notifiers.http import HttpNotifier
from monitor.notifiers.jenkins import JenkinsNotifier
from monitor.notifiers.kubeflow import KubeflowNotifier
from monitor.notifiers.mlflow import MlflowNotifier
from monitor.notifiers.opsgenie import OpsgenieNotifier
from monitor.notifiers.pagerduty import PagerDutyNotifier
from monitor.notifiers.prefect import PrefectNotifier
from monitor.notifiers.slack import SlackNotifier
from monitor.notifiers.teams import TeamsNotifier
from monitor.notifiers.tekton import TektonNotifier
from monitor.notifiers.vertex import VertexNotifier
from monitor.notifiers.webhook import WebhookNotifier, WebhookReceiverSettings
from monitor.settings_base import ConfigError

NOTIFIER_TYPES: dict[str, Callable[[Any, str], Notifier]] = {
    "webhook": WebhookNotifier,
    "github": GitHubNotifier,
    "airflow": AirflowNotifier,
    "argo": ArgoNotifier,
    "jenkins": JenkinsNotifier,
    "gitlab": GitLabNotifier,
    "prefect": PrefectNotifier,
    "http": HttpNotifier,
    "slack": SlackNotifier,
    "teams": TeamsNotifier,
    "pagerduty": PagerDutyNotifier,
    "opsgenie": OpsgenieNotifier,
    "alertmanager": AlertmanagerNotifier,
    "aws": AwsNotifier,
    "vertex": VertexNotifier,
    "azure_devops": AzureDevOpsNotifier,
    "kubeflow": KubeflowNotifier,
    "circleci": CircleCiNotifier,
    "tekton": TektonNotifier,
    "mlflow": MlflowNotifier,
}


def build_notifiers(receivers: Sequence[ReceiverEntry]) -> dict[str, Notifier]:
    """One notifier per ``[[receivers]]`` entry, keyed by receiver name."""
    notifiers: dict[str, Notifier] = {}
    for index, receiver in enumerate(receivers):
        key = f"receivers[{index}]"
        factory = NOTIFIER_TYPES.get(receiver.type)
        if factory is None:
            known = ", ".join(sorted(NOTIFIER_TYPES))
            raise ConfigError(f'{key}.type: unknown type "{receiver.type}" (known: {known})')
        notifiers[receiver.name] = factory(receiver, key)
    return notifiers


def signing_secrets(receivers: Sequence[ReceiverEntry]) -> dict[str, str | None]:
    """Receiver name -> env var holding its Standard Webhooks secret (None: unsigned)."""
    return {
        receiver.name: (
            receiver.secret_env if isinstance(receiver, WebhookReceiverSettings) else None
        )
        for receiver in receivers
    }
