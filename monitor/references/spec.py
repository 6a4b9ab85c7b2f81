"""What one reference kind declares about itself, once, in its own module.

Each reference module exports ``SPEC``; ``monitor.references`` lists them, and
the config union (``monitors[].reference``), ``load_reference``,
``reference_key_parts`` and the secrets checked at start
(``secret_references``) read the specs instead of naming each kind.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

from monitor.settings_base import SettingsModel, check_type_tag, env_references
from monitor.sources.base import Source, SourceError
from monitor.sources.spec import SourceSettingsModel


class ReferenceSettingsModel(SettingsModel):
    """The ``[monitors.reference]`` table of some kind; each narrows ``type`` to its tag."""

    type: str


@dataclass(frozen=True)
class ReferenceRequest:
    """What a reference kind is given of its monitor: what loading and keying it read.

    Built from a monitor's settings in one place
    (``monitor.profiles.reference_request``), so that a reference kind
    depends on these few fields and not on the whole config.
    """

    monitor: str
    """The monitor's name, which errors name."""
    reference: ReferenceSettingsModel
    """The ``[monitors.reference]`` table, of the kind's own settings model."""
    source: SourceSettingsModel
    """The monitor's own source: a ``window`` reference is read from it."""
    reference_limit: int
    """At most this many rows are read."""
    window_start: datetime | None = None
    """The start of the run's window, which a reference that moves with the runs
    (``trailing``) is read before; fixed kinds never read it."""


ReferenceLoader = Callable[[ReferenceRequest, Source, int], pd.DataFrame]
"""Reads at most ``reference_limit`` rows of the requested reference with a seed."""

ReferenceKeyParts = Callable[[ReferenceRequest], list[str]]
"""What the kind adds to ``reference_key`` beyond the settings every kind shares."""


@dataclass(frozen=True)
class ReferenceOrigin:
    """Where a reference's rows come from, as a run states it (never a secret).

    ``start`` and ``end`` bound the period of the source it was read from,
    when it is one (``window``, ``trailing``); a file or a query has none.
    """

    description: str
    start: datetime | None = None
    end: datetime | None = None


ReferenceDescriber = Callable[[ReferenceRequest], ReferenceOrigin]
"""Says where the requested reference comes from, without reading it."""


@dataclass(frozen=True, kw_only=True)
class Refits:
    """How a reference that moves with the runs is refitted; fixed kinds have none.

    ``next_start`` answers, after a run, whether the profile the next runs
    will need can be fitted now: the start of a window in the next refit
    period once every row of that period's reference has arrived (by
    ``now``), else None. ``windows`` is how many windows that do not
    overlap, of a given length and schedule period, share one profile (a
    pooled test over more windows never fills). A monitor keeps its newest
    ``keep`` stored profiles; older ones are deleted as new ones are stored.
    """

    next_start: Callable[[ReferenceRequest, datetime], datetime | None]
    windows: Callable[[ReferenceSettingsModel, timedelta, timedelta], int]
    keep: int


def non_empty(request: ReferenceRequest, frame: pd.DataFrame, why_empty: str) -> pd.DataFrame:
    """``frame``, or the error every kind raises for an empty reference, saying why."""
    if frame.empty:
        raise SourceError(f"reference for monitor {request.monitor} is empty: {why_empty}")
    return frame


@dataclass(frozen=True, kw_only=True)
class ReferenceSpec:
    """Everything the daemon needs to know about one kind of reference.

    ``type`` is the config tag and must be the only value of the settings
    model's ``type: Literal[...]``. ``load`` reads the reference (raising
    ``SourceError`` when it cannot, or when it holds no rows); ``key_parts``
    are the kind's own parts of the key its profile is stored under (the
    key changes exactly when they do); ``describe`` says where its rows
    come from, as each run states it. ``secrets`` lists the (key,
    environment variable) pairs the reference will read a secret from (by
    default every ``*_env`` key). ``refits`` is for a kind whose reference
    moves with the runs (``trailing``): how it is refitted and kept.
    """

    type: str
    settings: builtins.type[ReferenceSettingsModel]  # builtins: ``type`` is the field above
    load: ReferenceLoader
    key_parts: ReferenceKeyParts
    describe: ReferenceDescriber
    secrets: Callable[[ReferenceSettingsModel], tuple[tuple[str, str], ...]] = env_references
    refits: Refits | None = None

    def __post_init__(self) -> None:
        check_type_tag(self.settings, self.type)
