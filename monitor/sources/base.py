"""The seam every source implements: a bounded sample of one time window."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import pandas as pd


class SourceError(Exception):
    """The source could not be read; the message is shown to users and stored with the run.

    It must never contain a secret (a URL with a password, a token).
    """


@dataclass(frozen=True)
class Window:
    """The half-open period [start, end) in UTC whose rows a run examines."""

    start: datetime
    end: datetime


class Source(Protocol):
    def sample(self, window: Window | None, limit: int, seed: int) -> pd.DataFrame:
        """Return at most ``limit`` rows of ``window`` (all time when None), uniformly sampled.

        Memory stays bounded by ``limit`` whatever the window holds: sampling is
        pushed into the backend where it can be, and done by reservoir over a
        streamed read where it can't. ``seed`` makes the sample repeatable.
        """
        ...

    def close(self) -> None:
        """Release connections or handles; the daemon calls it once, at shutdown."""
        ...
