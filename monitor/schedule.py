"""When a monitor fires, as a user writes it: "every 5m" or a cron expression (UTC)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from monitor.cron import cron_trigger
from monitor.durations import DurationRangeError, parse_duration

MIN_INTERVAL = timedelta(seconds=1)
"""The shortest "every": a run samples, tests and stores a window, which takes longer."""

CRON_HORIZON = timedelta(days=5 * 366)
"""A cron expression must fire within this long of now ("0 0 30 2 *" never does)."""


@dataclass(frozen=True)
class Schedule:
    """When a monitor fires: a fixed interval or a cron expression (UTC)."""

    every: timedelta | None = None
    cron: str | None = None

    def period(self) -> timedelta:
        """The typical time between two fires (for cron: the first gap after a fixed date)."""
        if self.every is not None:
            return self.every
        assert self.cron is not None
        trigger = cron_trigger(self.cron)
        origin = datetime(2026, 1, 5, tzinfo=UTC)
        first = trigger.get_next_fire_time(None, origin)
        second = trigger.get_next_fire_time(first, first + timedelta(microseconds=1))
        return second - first if first and second else timedelta(days=1)


def parse_schedule(text: str) -> Schedule:
    """``Schedule`` of "every <duration>" (at least ``MIN_INTERVAL``) or a cron expression.

    A cron expression must fire within ``CRON_HORIZON`` of now.

    >>> parse_schedule("every 500ms")
    Traceback (most recent call last):
    ...
    ValueError: "every 500ms" is shorter than the shortest interval, 1s
    >>> parse_schedule("0 0 30 2 *")
    Traceback (most recent call last):
    ...
    ValueError: "0 0 30 2 *" never fires (no fire time in the next 5 years)
    """
    expected = 'expected a cron expression or "every 5m"'
    stripped = text.strip()
    if stripped.startswith("every "):
        try:
            every = parse_duration(stripped.removeprefix("every "))
        except DurationRangeError:
            raise
        except ValueError:
            raise ValueError(f'{expected}, got "{text}"') from None
        if every < MIN_INTERVAL:
            raise ValueError(f'"{text}" is shorter than the shortest interval, 1s')
        return Schedule(every=every)
    try:
        trigger = cron_trigger(stripped)
    except ValueError:
        raise ValueError(f'{expected}, got "{text}"') from None
    start = datetime.now(UTC)
    first = trigger.get_next_fire_time(None, start)
    if first is None or first - start > CRON_HORIZON:
        raise ValueError(f'"{text}" never fires (no fire time in the next 5 years)')
    return Schedule(cron=stripped)
