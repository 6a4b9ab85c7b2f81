"""Slots are a pure function of the schedule, so replicas agree on them; the daemon fires them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.config import Schedule
from monitor.scheduler import build_trigger, latest_slot, slots_between

NOW = datetime(2026, 11, 25, 12, 7, 41, 250000, tzinfo=UTC)


def test_interval_slots_are_aligned_to_a_fixed_origin() -> None:
    trigger = build_trigger(Schedule(every=timedelta(minutes=5)))
    assert latest_slot(trigger, NOW) == datetime(2026, 11, 25, 12, 5, tzinfo=UTC)
    exact = datetime(2026, 11, 25, 12, 10, tzinfo=UTC)
    assert latest_slot(trigger, exact) == exact
    assert latest_slot(build_trigger(Schedule(every=timedelta(seconds=1))), NOW) == NOW.replace(
        microsecond=0
    )


def test_cron_slots_in_utc() -> None:
    hourly = build_trigger(Schedule(cron="0 * * * *"))
    assert latest_slot(hourly, NOW) == datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    weekly = build_trigger(Schedule(cron="30 6 * * 1"))  # Mondays 06:30
    assert latest_slot(weekly, NOW) == datetime(2026, 11, 23, 6, 30, tzinfo=UTC)


def test_missed_slots_between_two_times() -> None:
    trigger = build_trigger(Schedule(every=timedelta(minutes=5)))
    after = datetime(2026, 11, 25, 11, 50, tzinfo=UTC)
    assert slots_between(trigger, after, NOW) == [
        datetime(2026, 11, 25, 11, 55, tzinfo=UTC),
        datetime(2026, 11, 25, 12, 0, tzinfo=UTC),
        datetime(2026, 11, 25, 12, 5, tzinfo=UTC),
    ]
    every_second = build_trigger(Schedule(every=timedelta(seconds=1)))
    assert len(slots_between(every_second, NOW - timedelta(hours=1), NOW)) == 100
