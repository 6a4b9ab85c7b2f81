"""The one registry of receiver kinds: config ``type`` -> :class:`NotifierSpec`.

Adding a kind is one module exporting ``SPEC`` and one entry in ``SPECS``;
nothing registers itself on import. ``monitor.config`` builds the
``[[receivers]]`` union from these specs, in this order (the order pydantic
lists the known types in an error).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Final

from monitor.notifiers import (
    airflow,
    alertmanager,
    argo,
    aws,
    azure_devops,
    circleci,
    email,
    github,
    gitlab,
    http,
    jenkins,
    kubeflow,
    mlflow,
    opsgenie,
    pagerduty,
    prefect,
    slack,
    teams,
    tekton,
    vertex,
    webhook,
)
from monitor.notifiers.base import AnyNotifier, ReceiverEntry
from monitor.notifiers.spec import NotifierSpec
from monitor.settings_base import ConfigError

SPECS: Final = (
    webhook.SPEC,
    github.SPEC,
    airflow.SPEC,
    argo.SPEC,
    jenkins.SPEC,
    gitlab.SPEC,
    prefect.SPEC,
    http.SPEC,
    slack.SPEC,
    teams.SPEC,
    pagerduty.SPEC,
    opsgenie.SPEC,
    alertmanager.SPEC,
    email.SPEC,
    azure_devops.SPEC,
    kubeflow.SPEC,
    circleci.SPEC,
    tekton.SPEC,
    aws.SPEC,
    vertex.SPEC,
    mlflow.SPEC,
)

NOTIFIERS: Final[Mapping[str, NotifierSpec]] = MappingProxyType({spec.type: spec for spec in SPECS})
"""Read-only map from receiver ``type`` to spec."""

SINK_TYPES: Final = frozenset(spec.type for spec in SPECS if spec.sink)
"""Receiver types that log every completed run rather than hear about alerts."""


class UnknownReceiverTypeError(ConfigError):
    """A receiver ``type`` that is not in the registry (the message lists the known ones)."""


def get_notifier_spec(kind: str) -> NotifierSpec:
    """Return the spec registered under ``kind``.

    >>> get_notifier_spec("slack").default_rate_limit
    1.0
    >>> get_notifier_spec("pager")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    monitor.notifiers.registry.UnknownReceiverTypeError: unknown type "pager" (known: airflow, ...
    """
    try:
        return NOTIFIERS[kind]
    except KeyError:
        known = ", ".join(sorted(NOTIFIERS))
        raise UnknownReceiverTypeError(f'unknown type "{kind}" (known: {known})') from None


def build_notifiers(receivers: Sequence[ReceiverEntry]) -> dict[str, AnyNotifier]:
    """One notifier per ``[[receivers]]`` entry, keyed by receiver name."""
    notifiers: dict[str, AnyNotifier] = {}
    for index, receiver in enumerate(receivers):
        key = f"receivers[{index}]"
        try:
            spec = get_notifier_spec(receiver.type)
        except UnknownReceiverTypeError as exc:
            raise UnknownReceiverTypeError(f"{key}.type: {exc}") from None
        notifiers[receiver.name] = spec.factory(receiver, key)
    return notifiers


def signing_secrets(receivers: Sequence[ReceiverEntry]) -> dict[str, str | None]:
    """Receiver name -> env var holding its Standard Webhooks secret (None: unsigned)."""
    return {
        receiver.name: (
            getattr(receiver, "secret_env", None) if NOTIFIERS[receiver.type].signed else None
        )
        for receiver in receivers
    }


def refresh_receivers(receivers: Sequence[ReceiverEntry]) -> frozenset[str]:
    """Names of the receivers told of a still-firing alert on every run."""
    return frozenset(r.name for r in receivers if NOTIFIERS[r.type].refresh_while_firing)
