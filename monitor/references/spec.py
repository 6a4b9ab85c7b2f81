"""What one reference kind declares about itself, once, in its own module.

Each reference module exports ``SPEC``; ``monitor.references`` lists them, and
the config union (``monitors[].reference``), ``load_reference``,
``reference_key`` and the secrets checked at start (``secret_references``)
read the specs instead of naming each kind.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from monitor.settings_base import SettingsModel, check_type_tag, env_references
from monitor.sources.base import Source, SourceError

if TYPE_CHECKING:
    from monitor.config import MonitorSettings


class ReferenceSettingsModel(SettingsModel):
    """The ``[monitors.reference]`` table of some kind; each narrows ``type`` to its tag."""

    type: str


ReferenceLoader = Callable[["MonitorSettings", Source, int], pd.DataFrame]
"""Reads at most ``monitor.reference_limit`` rows of the monitor's reference with a seed."""

ReferenceKeyParts = Callable[["MonitorSettings"], list[str]]
"""What the kind adds to ``reference_key`` beyond the settings every kind shares."""


def non_empty(monitor: MonitorSettings, frame: pd.DataFrame, why_empty: str) -> pd.DataFrame:
    """``frame``, or the error every kind raises for an empty reference, saying why."""
    if frame.empty:
        raise SourceError(f"reference for monitor {monitor.name} is empty: {why_empty}")
    return frame


@dataclass(frozen=True, kw_only=True)
class ReferenceSpec:
    """Everything the daemon needs to know about one kind of reference.

    ``type`` is the config tag and must be the only value of the settings
    model's ``type: Literal[...]``. ``load`` reads the reference (raising
    ``SourceError`` when it cannot, or when it holds no rows); ``key_parts``
    are the kind's own parts of the key its profile is stored under (the
    key changes exactly when they do). ``secrets`` lists the (key,
    environment variable) pairs the reference will read a secret from (by
    default every ``*_env`` key).
    """

    type: str
    settings: builtins.type[ReferenceSettingsModel]  # builtins: ``type`` is the field above
    load: ReferenceLoader
    key_parts: ReferenceKeyParts
    secrets: Callable[[ReferenceSettingsModel], tuple[tuple[str, str], ...]] = env_references

    def __post_init__(self) -> None:
        check_type_tag(self.settings, self.type)
