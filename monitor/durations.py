"""Human-written durations ("30s", "5m", "2h", "1d") and rates ("1/30d"), as config takes them."""

from __future__ import annotations

import math
import re
from datetime import timedelta

from detectors.budget import FalseAlarmBudget

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}

MAX_DURATION = timedelta(days=36500)
"""The longest duration config takes (100 years): any longer is a typo, and datetimes
around "now" plus or minus it would leave the calendar (year 1 to 9999)."""


class DurationRangeError(ValueError):
    """A well-formed duration that is not above zero or is longer than ``MAX_DURATION``."""


def parse_duration(text: str) -> timedelta:
    """Parse "90s", "5m", "1.5h", "7d" into a positive timedelta.

    >>> parse_duration("5m")
    datetime.timedelta(seconds=300)
    >>> parse_duration("0s")
    Traceback (most recent call last):
    ...
    monitor.durations.DurationRangeError: expected a positive duration, got "0s"
    """
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f'expected a duration such as "30s", "5m", "2h" or "1d", got "{text}"')
    return duration_of(float(match.group(1)) * _UNIT_SECONDS[match.group(2)], f'"{text}"')


def duration_of(seconds: float, shown: str) -> timedelta:
    """``seconds`` as a timedelta, if positive, finite and at most ``MAX_DURATION``.

    ``shown`` is how the value reads in the config, for the message.

    >>> duration_of(1e10, "1e10")
    Traceback (most recent call last):
    ...
    monitor.durations.DurationRangeError: expected a duration up to 36500d (100 years), got 1e10
    """
    if math.isnan(seconds) or seconds <= 0:
        raise DurationRangeError(f"expected a positive duration, got {shown}")
    if seconds > MAX_DURATION.total_seconds():
        raise DurationRangeError(
            f"expected a duration up to {MAX_DURATION.days}d (100 years), got {shown}"
        )
    return timedelta(seconds=seconds)


def format_duration(duration: timedelta) -> str:
    """A duration as config writes it, in the largest unit that divides it.

    >>> format_duration(timedelta(days=28)), format_duration(timedelta(minutes=90))
    ('28d', '90m')
    >>> format_duration(timedelta(0)), format_duration(timedelta(seconds=1.5))
    ('0s', '1.5s')
    """
    seconds = duration.total_seconds()
    for unit in ("d", "h", "m"):
        whole, rest = divmod(seconds, _UNIT_SECONDS[unit])
        if whole and not rest:
            return f"{whole:.0f}{unit}"
    return f"{seconds:g}s"


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
    if math.isinf(alarms):
        raise ValueError(f'{expected}, got "{text}" (too many alarms)')
    return FalseAlarmBudget(alarms=alarms, horizon_hours=horizon.total_seconds() / 3600)
