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

from monitor.settings_base import SettingsModel, check_type_tag, env_references
from monitor.sources.base import Source


class SourceSettingsModel(SettingsModel):
    """The ``[monitors.source]`` table of some source; each narrows ``type`` to its tag."""

    type: str


SourceFactory = Callable[[Any], Source]
"""Builds a source from its validated settings (the spec's ``settings`` model)."""


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
