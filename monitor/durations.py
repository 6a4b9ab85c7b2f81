"""Human-written durations ("30s", "5m", "2h", "1d") and rates ("1/30d"), as config takes them."""

from __future__ import annotations

import re
from datetime import timedelta

from detectors.budget import FalseAlarmBudget

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


class DurationTooLong(ValueError):
    """A duration beyond what ``timedelta`` holds (999999999 days)."""


def to_timedelta(seconds: float, text: str) -> timedelta:
    """``seconds`` as a timedelta; ``DurationTooLong`` naming ``text`` past the largest one.

    >>> to_timedelta(1e300, "1e300")
    Traceback (most recent call last):
    ...
    monitor.durations.DurationTooLong: duration "1e300" is too long (at most 999999999 days)
    """
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise DurationTooLong(
            f'duration "{text}" is too long (at most {timedelta.max.days} days)'
        ) from None


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
    return to_timedelta(seconds, text)


_BUDGET = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(\S+)\s*$")


def parse_false_alarms(text: str) -> FalseAlarmBudget:
    """Parse a false-alarm budget such as "1/30d" (alarms per duration).

    >>> parse_false_alarms("1/30d")
    FalseAlarmBudget(alarms=1.0, horizon_hours=720.0)
    """
    expected = 'expected alarms per duration such as "1/30d" or "2/7d"'
    match = _BUDGET.match(text)
    if match is None:
        raise ValueError(f'{expected}, got "{text}"')
    try:
        horizon = parse_duration(match.group(2))
    except ValueError:
        raise ValueError(f'{expected}, got "{text}"') from None
    alarms = float(match.group(1))
    if alarms <= 0:
        raise ValueError(f'{expected} with more than 0 alarms, got "{text}"')
    return FalseAlarmBudget(alarms=alarms, horizon_hours=horizon.total_seconds() / 3600)
