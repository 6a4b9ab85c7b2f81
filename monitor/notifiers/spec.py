"""What one receiver kind declares about itself, once, in its own module.

Each notifier module exports ``SPEC``; ``monitor.notifiers.registry`` lists
them, and everything that used to special-case a kind by its ``type`` string
(the config union, sink routing, default rate limits, refresh while firing,
signing, the trigger contract test) reads the spec instead.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from monitor.notifiers.base import AnyNotifier
from monitor.settings_base import RateLimitedSettings, check_type_tag


class ReceiverModel(Protocol):
    """Any registered kind's settings, as code outside its module sees them.

    ``monitor.config.ReceiverSettings`` is this to the type checker and the
    discriminated union of every ``NotifierSpec.settings`` to pydantic; narrow
    with ``isinstance`` to reach a kind's own keys.
    """

    @property
    def name(self) -> str: ...

    @property
    def type(self) -> str: ...

    @property
    def rate_limit(self) -> float | None: ...

    def __iter__(self) -> Iterator[tuple[str, Any]]: ...


NotifierFactory = Callable[[Any, str], AnyNotifier]
"""Builds a notifier from its validated settings and config key (``receivers[2]``)."""


@dataclass(frozen=True, kw_only=True)
class NotifierSpec:
    """Everything the daemon needs to know about one receiver kind.

    ``type`` is the config tag and must be the only value of the settings
    model's ``type: Literal[...]``. ``default_rate_limit`` is the receiver's
    documented limit in messages per second (``None``: no limit unless
    configured). ``refresh_while_firing`` re-sends a still-firing alert on
    every run, so the receiver does not auto-resolve it (Alertmanager's
    ``endsAt``). ``sink`` receivers log every completed run instead of hearing
    about alerts (``monitors.sinks``). ``trigger`` notifiers start a pipeline
    once per firing episode (``_trigger.event_to_trigger``) and are covered by
    the trigger contract test. ``signed`` receivers get the worker's Standard
    Webhooks signature with the secret named by their ``secret_env``.
    """

    type: str
    settings: builtins.type[RateLimitedSettings]
    factory: NotifierFactory
    default_rate_limit: float | None = None
    refresh_while_firing: bool = False
    sink: bool = False
    trigger: bool = False
    signed: bool = False

    def __post_init__(self) -> None:
        check_type_tag(self.settings, self.type)
        if "secret_env" not in self.settings.model_fields and self.signed:
            raise ValueError(f"{self.settings.__name__} is signed but has no secret_env key")
