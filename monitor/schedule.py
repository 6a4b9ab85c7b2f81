"""When a monitor fires, as a user writes it: "every 5m" or a cron expression (UTC)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from monitor.cron import cron_trigger
from monitor.durations import DurationTooLong, parse_duration


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
    expected = 'expected a cron expression or "every 5m"'
    stripped = text.strip()
    if stripped.startswith("every "):
        try:
            return Schedule(every=parse_duration(stripped.removeprefix("every ")))
        except DurationTooLong:
            raise
        except ValueError:
            raise ValueError(f'{expected}, got "{text}"') from None
    try:
        cron_trigger(stripped)
    except ValueError:
        raise ValueError(f'{expected}, got "{text}"') from None
    return Schedule(cron=stripped)
