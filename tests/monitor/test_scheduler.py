"""Slots are a pure function of the schedule, so replicas agree on them; the daemon fires them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from monitor.config import Settings, parse_settings
from monitor.daemon import build_services
from monitor.runner import run_check
from monitor.schedule import Schedule
from monitor.scheduler import Scheduler, build_trigger, latest_slot, slots_between
from monitor.service_settings import SchedulerSettings
from monitor.store.models import RunRow, utcnow
from tests.support import Clock, wait_for

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


def _demo_settings(store_url: str) -> Settings:
    return parse_settings(
        {
            "store": {"url": store_url},
            "monitors": [
                {
                    "name": "demo",
                    "schedule": "every 1s",
                    "window": "1m",
                    "source": {"type": "demo", "rows_per_window": 200},
                    "reference": {
                        "type": "window",
                        "start": "2026-01-01T00:00:00Z",
                        "end": "2026-01-01T00:00:30Z",
                    },
                    "columns": [{"name": "age", "kind": "numeric"}],
                }
            ],
        }
    )


def _stored_slots(engine: Engine) -> list[tuple[datetime, str, str]]:
    with Session(engine) as session:
        rows = session.execute(
            select(RunRow.scheduled_for, RunRow.status, RunRow.claimed_by).order_by(RunRow.id)
        ).all()
    return [(scheduled_for, status, claimed_by) for scheduled_for, status, claimed_by in rows]


def test_two_replicas_share_the_slots_and_run_each_once(store_url: str) -> None:
    settings = _demo_settings(store_url)
    replicas = []
    for _ in range(2):
        services = build_services(settings)
        scheduler = Scheduler(
            services.context, settings.monitors, settings.scheduler, timedelta(days=1), utcnow
        )
        replicas.append((services, scheduler))
    engine = replicas[0][0].engine
    for _, scheduler in replicas:
        scheduler.start()
    try:
        wait_for(
            lambda: len({slot for slot, _, _ in _stored_slots(engine)}) >= 4,
            "four slots run by the two replicas",
            deadline=30,
        )
    finally:
        for _, scheduler in replicas:
            assert scheduler.shutdown(timeout=10)
    stored = _stored_slots(engine)
    slots = [slot for slot, _, _ in stored]
    assert len(slots) == len(set(slots))
    assert all(slot.microsecond == 0 for slot in slots)
    assert {status for _, status, _ in stored} == {"succeeded"}
    for services, _ in replicas:
        services.engine.dispose()


def test_catch_up_runs_the_missed_slots_oldest_first(sqlite_url: str) -> None:
    settings = _demo_settings(sqlite_url)
    monitor = settings.monitors[0].model_copy(
        update={"schedule": Schedule(every=timedelta(hours=1))}
    )
    services = build_services(settings)
    now = utcnow()
    trigger = build_trigger(monitor.schedule)
    current = latest_slot(trigger, now)
    assert current is not None
    last_run = current - timedelta(hours=3)
    assert run_check(services.context, monitor, last_run, "schedule") is not None
    scheduler = Scheduler(
        services.context,
        (monitor,),
        SchedulerSettings(catch_up=True),
        timedelta(days=1),
        utcnow,
    )
    scheduler.start()
    try:
        wait_for(
            lambda: len(_stored_slots(services.engine)) >= 4,
            "the missed slots and the current one",
            deadline=15,
        )
    finally:
        assert scheduler.shutdown(timeout=10)
    with Session(services.engine) as session:
        rows = session.execute(select(RunRow.scheduled_for, RunRow.trigger)).all()
    services.engine.dispose()
    by_trigger = sorted((trigger_name, slot) for slot, trigger_name in rows)
    assert by_trigger == [
        ("catch_up", current - timedelta(hours=2)),
        ("catch_up", current - timedelta(hours=1)),
        ("schedule", current - timedelta(hours=3)),
        ("schedule", current),
    ]


def test_a_late_fire_also_submits_the_slots_it_skipped_within_their_grace(
    sqlite_url: str,
) -> None:
    """A loaded machine fires late: a fire after the next slot's time must not lose one."""
    settings = _demo_settings(sqlite_url)
    monitor = settings.monitors[0].model_copy(
        update={"schedule": Schedule(every=timedelta(hours=1))}
    )
    current = latest_slot(build_trigger(monitor.schedule), utcnow())
    assert current is not None
    clock = Clock(current + timedelta(seconds=5))
    services = build_services(settings)
    scheduler = Scheduler(
        services.context,
        (monitor,),
        SchedulerSettings(misfire_grace=timedelta(minutes=90)),
        timedelta(days=1),
        clock,
    )
    scheduler.start()
    try:
        wait_for(lambda: len(_stored_slots(services.engine)) == 1, "the current slot")
        # The next fire comes 70 minutes after the slot after next: the slot between
        # is still within its 90 minutes of grace, the one before the start is not run.
        clock.now = current + timedelta(hours=3, minutes=10)
        scheduler._fire(monitor)  # what APScheduler calls, late
        wait_for(lambda: len(_stored_slots(services.engine)) == 3, "the two skipped slots")
    finally:
        assert scheduler.shutdown(timeout=10)
    slots = [slot for slot, _, _ in _stored_slots(services.engine)]
    services.engine.dispose()
    assert slots == [current, current + timedelta(hours=2), current + timedelta(hours=3)]


def test_a_slot_that_begins_while_the_scheduler_starts_is_not_lost(sqlite_url: str) -> None:
    """The missed slots and the current one are read at one moment of the clock."""
    settings = _demo_settings(sqlite_url)
    monitor = settings.monitors[0].model_copy(
        update={"schedule": Schedule(every=timedelta(hours=1))}
    )
    trigger = build_trigger(monitor.schedule)
    current = latest_slot(trigger, utcnow())
    assert current is not None
    services = build_services(settings)
    assert run_check(services.context, monitor, current - timedelta(hours=2), "schedule")
    # Every reading of the clock after the first is past the next slot's start.
    readings = iter([current + timedelta(minutes=59, seconds=59)])

    def clock() -> datetime:
        return next(readings, current + timedelta(hours=1, seconds=1))

    scheduler = Scheduler(
        services.context,
        (monitor,),
        SchedulerSettings(catch_up=True),
        timedelta(days=1),
        clock,
    )
    scheduler.start()
    try:
        wait_for(lambda: len(_stored_slots(services.engine)) >= 3, "the missed and current slots")
    finally:
        assert scheduler.shutdown(timeout=10)
    slots = sorted(slot for slot, _, _ in _stored_slots(services.engine))
    services.engine.dispose()
    assert slots == [current - timedelta(hours=2), current - timedelta(hours=1), current]
