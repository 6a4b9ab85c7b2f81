"""APScheduler wiring: it only decides when; ``runner.run_check`` does the work.

Fire times are a pure function of the schedule (intervals are aligned to a
fixed origin, cron is evaluated in UTC), so every replica computes the same
slots and the store's unique (monitor, scheduled_for) key lets exactly one of
them run each slot.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor as JobExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.exc import SQLAlchemyError

from monitor.config import MonitorSettings, SchedulerSettings
from monitor.cron import cron_trigger
from monitor.runner import RunContext, run_check_safely
from monitor.schedule import Schedule
from monitor.store.retention import prune
from monitor.store.runs import latest_scheduled_slot

log = logging.getLogger("driftwarden.scheduler")

SLOT_ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)
MAX_CATCH_UP_SLOTS = 100


def build_trigger(schedule: Schedule) -> BaseTrigger:
    if schedule.every is not None:
        return IntervalTrigger(
            seconds=schedule.every.total_seconds(), start_date=SLOT_ORIGIN, timezone=UTC
        )
    assert schedule.cron is not None
    return cron_trigger(schedule.cron)


def _next_after(trigger: BaseTrigger, fire_time: datetime) -> datetime | None:
    after = fire_time + timedelta(microseconds=1)
    following: datetime | None = trigger.get_next_fire_time(fire_time, after)
    return following


def latest_slot(trigger: BaseTrigger, now: datetime) -> datetime | None:
    """The latest fire time at or before ``now`` (None if there is none within a year)."""
    horizon = timedelta(seconds=1)
    while horizon < timedelta(days=400):
        candidate: datetime | None = trigger.get_next_fire_time(None, now - horizon)
        if candidate is not None and candidate <= now:
            while (following := _next_after(trigger, candidate)) is not None and following <= now:
                candidate = following
            return candidate
        horizon *= 2
    return None


def _fire_times_from(
    trigger: BaseTrigger, first: datetime | None, until: datetime
) -> Iterator[datetime]:
    current = first
    while current is not None and current <= until:
        yield current
        current = _next_after(trigger, current)


def fire_times(trigger: BaseTrigger, start: datetime, end: datetime) -> Iterator[datetime]:
    """Every fire time in [start, end), oldest first, uncapped (``backtest`` runs them all).

    ``start`` need not be a fire time itself.
    """
    first: datetime | None = trigger.get_next_fire_time(None, start)
    return _fire_times_from(trigger, first, end - timedelta(microseconds=1))


def slots_between(trigger: BaseTrigger, after: datetime, until: datetime) -> list[datetime]:
    """Fire times in (after, until], oldest first, at most MAX_CATCH_UP_SLOTS of the newest."""
    return list(_fire_times_from(trigger, _next_after(trigger, after), until))[-MAX_CATCH_UP_SLOTS:]


class Scheduler:
    """Fires every monitor on its schedule, runs in a bounded thread pool."""

    def __init__(
        self,
        ctx: RunContext,
        monitors: tuple[MonitorSettings, ...],
        settings: SchedulerSettings,
        retention: timedelta,
        clock: Callable[[], datetime],
    ) -> None:
        self._ctx = ctx
        self._retention = retention
        self._monitors = monitors
        self._settings = settings
        self._clock = clock
        self._triggers = {monitor.name: build_trigger(monitor.schedule) for monitor in monitors}
        self._scheduler = BackgroundScheduler(
            timezone=UTC,
            executors={"default": JobExecutor(settings.max_concurrent_runs)},
            job_defaults={
                "coalesce": not settings.catch_up,
                "max_instances": 1,
                "misfire_grace_time": int(settings.misfire_grace.total_seconds()) or 1,
            },
        )
        self._catch_up_pool: ThreadPoolExecutor | None = None

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)

    def start(self) -> None:
        missed = self._missed_slots() if self._settings.catch_up else []
        for monitor in self._monitors:
            self._scheduler.add_job(
                self._fire,
                self._triggers[monitor.name],
                args=[monitor],
                id=monitor.name,
                name=f"monitor {monitor.name}",
            )
            # The current slot also runs at once, so a newcomer sees a result
            # straight away; if another replica already ran it, its claim wins.
            self._scheduler.add_job(
                self._fire, args=[monitor], id=f"{monitor.name}:start", name="first run"
            )
        self._scheduler.add_job(
            self._prune,
            IntervalTrigger(hours=1, timezone=UTC),
            id="retention",
            name="retention",
            next_run_time=self._clock(),
        )
        self._scheduler.start()
        if missed:
            self._catch_up_pool = ThreadPoolExecutor(1, thread_name_prefix="catch-up")
            for monitor, slot in missed:
                self._catch_up_pool.submit(run_check_safely, self._ctx, monitor, slot, "catch_up")

    def _fire(self, monitor: MonitorSettings) -> None:
        slot = latest_slot(self._triggers[monitor.name], self._clock())
        if slot is not None:
            run_check_safely(self._ctx, monitor, slot, "schedule")

    def _prune(self) -> None:
        try:
            pruned = prune(self._ctx.engine, self._clock() - self._retention)
        except SQLAlchemyError as exc:
            log.error("retention: store unavailable (%s)", type(exc).__name__)
            return
        if pruned.runs or pruned.deliveries:
            log.info("retention: pruned %d runs and %d deliveries", pruned.runs, pruned.deliveries)

    def _missed_slots(self) -> list[tuple[MonitorSettings, datetime]]:
        """Slots missed while no daemon was running, oldest first per monitor.

        Read before the scheduler starts: once it runs, the current slot is
        stored and would hide what came before it.
        """
        now = self._clock()
        missed: list[tuple[MonitorSettings, datetime]] = []
        for monitor in self._monitors:
            last = latest_scheduled_slot(self._ctx.engine, monitor.name)
            if last is None:
                continue
            trigger = self._triggers[monitor.name]
            current = latest_slot(trigger, now)
            slots = [slot for slot in slots_between(trigger, last, now) if slot != current]
            if slots:
                log.info("monitor %s: catching up %d missed slots", monitor.name, len(slots))
            missed.extend((monitor, slot) for slot in slots)
        return missed

    def shutdown(self, timeout: float) -> bool:
        """Stop firing; wait up to ``timeout`` seconds for runs in flight (False if some remain)."""
        self._scheduler.pause()
        if self._catch_up_pool is not None:
            self._catch_up_pool.shutdown(wait=False, cancel_futures=True)
        waiter: Future[None] = ThreadPoolExecutor(1).submit(self._scheduler.shutdown, True)
        try:
            waiter.result(timeout=timeout)
        except TimeoutError:
            log.warning("runs still in flight after %.0fs; stopping without them", timeout)
            return False
        return True
