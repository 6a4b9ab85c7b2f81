"""What one source declares about itself, once, in its own module.

Each source module exports ``SPEC``; ``monitor.sources`` lists them, and the
config union (``monitors[].source``), ``build_source`` and the secrets checked
at start (``secret_references``) read the specs instead of naming each source.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from monitor.settings_base import SettingsModel, check_type_tag
from monitor.sources.base import Source


class SourceSettingsModel(SettingsModel):
    """The ``[monitors.source]`` table of some source; each narrows ``type`` to its tag."""

    type: str


SourceFactory = Callable[[Any], Source]
"""Builds a source from its validated settings (the spec's ``settings`` model)."""


def env_references(settings: SourceSettingsModel) -> tuple[tuple[str, str], ...]:
    """Every (key, environment variable) of a ``*_env`` key that is set.

    Secrets are never literal in config: a source names each one in a key
    ending in ``_env``, so scanning those finds them all.

    >>> class Target(SourceSettingsModel):
    ...     url_env: str | None = None
    ...     token_env: str | None = None
    >>> env_references(Target(type="x", url_env="DB_URL"))
    (('url_env', 'DB_URL'),)
    """
    return tuple(
        (key, value)
        for key, value in settings
        if key.endswith("_env") and isinstance(value, str) and value
    )


@dataclass(frozen=True, kw_only=True)
class SourceSpec:
    """Everything the daemon needs to know about one source.

    ``type`` is the config tag and must be the only value of the settings
    model's ``type: Literal[...]``. ``factory`` builds the source from those
    settings. ``secrets`` lists the (key, environment variable) pairs the
    source will read a secret from, so ``validate`` and ``run`` can check
    them before the first sample (by default every ``*_env`` key).
    """

    type: str
    settings: builtins.type[SourceSettingsModel]  # builtins: ``type`` is the field above
    factory: SourceFactory
    secrets: Callable[[SourceSettingsModel], tuple[tuple[str, str], ...]] = env_references

    def __post_init__(self) -> None:
        check_type_tag(self.settings, self.type)
