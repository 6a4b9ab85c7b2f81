"""What a run tests of its window: a sample of its rows, or its summary counted where it lives.

A monitor whose SQL source sets ``profile_in_database`` gets the window's
summary (``detectors.WindowSummary``, from ``monitor.sources.sql_profile``)
instead of rows; every other monitor gets ``sample_limit`` sampled rows.
``monitor.evaluation`` tests either.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

import pandas as pd

from detectors import ColumnProfile, WindowSummary
from monitor.config import MonitorSettings
from monitor.profiles import ReferenceProfile
from monitor.sources import SqlSourceSettings
from monitor.sources.base import Source, SourceError, Window


@runtime_checkable
class SummarisingSource(Protocol):
    """A source that can count a window for the tests instead of returning its rows."""

    def summarise(self, window: Window, profiles: Mapping[str, ColumnProfile]) -> WindowSummary:
        """The window's summary for ``profiles`` (every configured column)."""
        ...


def read_window(
    source: Source,
    monitor: MonitorSettings,
    profile: ReferenceProfile,
    window: Window,
    seed: int,
) -> pd.DataFrame | WindowSummary:
    """The window as the run's tests will see it."""
    settings = monitor.source
    if isinstance(settings, SqlSourceSettings) and settings.profile_in_database:
        if not isinstance(source, SummarisingSource):
            raise SourceError(f"monitor {monitor.name}: its source cannot profile in the database")
        return source.summarise(window, profile.columns)
    return source.sample(window, monitor.sample_limit, seed=seed)
