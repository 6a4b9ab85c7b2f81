"""Cron expressions as users write them (standard 5-field cron, UTC) for APScheduler 3."""

from __future__ import annotations

from datetime import UTC

from apscheduler.triggers.cron import CronTrigger

_CRON_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _cron_day_of_week(field: str) -> str:
    """Standard cron's day-of-week (0 or 7 = Sunday) as day names APScheduler reads.

    APScheduler 3 numbers days from Monday = 0, so "1" would silently mean
    Tuesday; names are unambiguous to both.

    >>> _cron_day_of_week("1-5")
    'mon,tue,wed,thu,fri'
    >>> _cron_day_of_week("*/2")
    'sun,tue,thu,sat'
    """
    if not any(character.isdigit() for character in field):
        return field
    days: list[int] = []
    for part in field.split(","):
        span, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if span == "*":
            first, last = 0, 6
        elif "-" in span:
            first_text, last_text = span.split("-", 1)
            first, last = int(first_text), int(last_text)
        else:
            first = int(span)
            last = 6 if step_text else first
        if not (0 <= first <= 7 and 0 <= last <= 7 and first <= last and step >= 1):
            raise ValueError(f'day of week "{field}" is out of range 0-7')
        days.extend(day % 7 for day in range(first, last + 1, step))
    return ",".join(_CRON_DAY_NAMES[day] for day in sorted(set(days)))


def cron_trigger(expression: str) -> CronTrigger:
    """A cron trigger in UTC, day-of-week read as standard cron reads it."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"expected 5 cron fields, got {len(fields)}")
    minute, hour, day, month, day_of_week = fields
    return CronTrigger(
        minute=minute,
        hour=hour,
        day=day,
        month=month,
        day_of_week=_cron_day_of_week(day_of_week),
        timezone=UTC,
    )
