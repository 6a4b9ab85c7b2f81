"""Human-written durations ("30s", "5m", "2h", "1d") as used throughout the config."""

from __future__ import annotations

import re
from datetime import timedelta

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str) -> timedelta:
    """Parse "90s", "5m", "1.5h", "7d" into a positive timedelta.

    >>> parse_duration("5m")
    datetime.timedelta(seconds=300)
    """
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f'expected a duration such as "30s", "5m", "2h" or "1d", got "{text}"')
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds <= 0:
        raise ValueError(f'expected a positive duration, got "{text}"')
    return timedelta(seconds=seconds)
