"""APScheduler wiring: it only decides when; ``monitor.dispatch`` starts runs, ``runner`` runs.

Fire times are a pure function of the schedule (intervals are aligned to a
fixed origin, cron is evaluated in UTC), so every replica computes the same
slots and the store's unique (monitor, scheduled_for) key lets exactly one of
them run each slot. A fire only hands the slot to the dispatcher, so no job
of APScheduler's ever waits for a run; besides the monitors' jobs there are
two of the store's: the sweep of expired claims (every third of
``run_lease``, and at start) and retention (hourly).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor as JobExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.exc import SQLAlchemyError

from monitor.config import MonitorSettings
from monitor.cron import cron_trigger
from monitor.dispatch import DueSlot, RunDispatcher
from monitor.runner import RunContext, expire_claims
from monitor.schedule import Schedule
from monitor.service_settings import SchedulerSettings
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
    """Fires every monitor on its schedule; the dispatcher runs the slots."""

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
        self._dispatcher = RunDispatcher(
            ctx, settings.max_concurrent_runs, settings.run_timeout, clock
        )
        self._last_fired: dict[str, datetime] = {}
        """The newest slot each monitor's fire submitted (see ``_fire``)."""
        self._scheduler = BackgroundScheduler(
            timezone=UTC,
            # Fires only queue a slot; the store's jobs get threads of their own, so a
            # store that hangs them cannot hold up the fires.
            executors={"default": JobExecutor(2), "store": JobExecutor(2)},
            job_defaults={
                "coalesce": not settings.catch_up,
                "max_instances": 1,
                "misfire_grace_time": int(settings.misfire_grace.total_seconds()) or 1,
            },
        )

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running) and self._dispatcher.running

    def hung(self) -> list[str]:
        """Monitors with a run past ``run_timeout`` that has not returned."""
        return self._dispatcher.hung()

    def start(self) -> None:
        # One moment for the missed slots and the current one: a slot that began
        # between two readings of the clock would be neither.
        now = self._clock()
        missed = self._missed_slots(now) if self._settings.catch_up else []
        for monitor in self._monitors:
            self._scheduler.add_job(
                self._fire,
                self._triggers[monitor.name],
                args=[monitor],
                id=monitor.name,
                name=f"monitor {monitor.name}",
            )
        self._scheduler.add_job(
            self._sweep,
            IntervalTrigger(seconds=self._settings.run_lease.total_seconds() / 3, timezone=UTC),
            id="sweep",
            name="expired claims",
            executor="store",
            next_run_time=self._clock(),
        )
        self._scheduler.add_job(
            self._prune,
            IntervalTrigger(hours=1, timezone=UTC),
            id="retention",
            name="retention",
            executor="store",
            next_run_time=self._clock(),
        )
        self._dispatcher.start()
        for monitor, slot in missed:
            self._dispatcher.submit(DueSlot(monitor, slot, "catch_up", expires=None))
        for monitor in self._monitors:
            # The current slot also runs at once, so a newcomer sees a result
            # straight away; if another replica already ran it, its claim wins.
            # Not started by the next slot, it gives way to that one (``dispatch``).
            current = latest_slot(self._triggers[monitor.name], now)
            if current is not None:
                self._last_fired[monitor.name] = current
                self._dispatcher.submit(
                    DueSlot(monitor, current, "schedule", expires=None, first=True)
                )
        self._scheduler.start()

    def _fire(self, monitor: MonitorSettings) -> None:
        """Submit the slot due now, and any this monitor's fires skipped since the last one.

        APScheduler fires late on a loaded machine, and a fire that comes after
        the next slot's time would otherwise submit only the newest slot: each
        slot in between is submitted too, while it is within ``misfire_grace``.
        """
        trigger, now = self._triggers[monitor.name], self._clock()
        latest = latest_slot(trigger, now)
        if latest is None:
            return
        previous = self._last_fired.get(monitor.name)
        slots = slots_between(trigger, previous, latest) if previous is not None else [latest]
        self._last_fired[monitor.name] = max(latest, previous or latest)
        for slot in slots:
            expires = slot + self._settings.misfire_grace
            if expires >= now:
                self._dispatcher.submit(DueSlot(monitor, slot, "schedule", expires))

    def _sweep(self) -> None:
        """Fail runs whose claim expired (any replica's) and retry those within their grace."""
        monitors = {monitor.name: monitor for monitor in self._monitors}
        grace = self._settings.misfire_grace
        try:
            retries = expire_claims(self._ctx, monitors, grace)
        except SQLAlchemyError as exc:
            log.error("sweep: store unavailable (%s)", type(exc).__name__)
            return
        for monitor, claim in retries:
            expires = claim.scheduled_for + grace
            self._dispatcher.submit(
                DueSlot(monitor, claim.scheduled_for, claim.trigger, expires, retry=claim)
            )

    def _prune(self) -> None:
        try:
            pruned = prune(self._ctx.engine, self._clock() - self._retention)
        except SQLAlchemyError as exc:
            log.error("retention: store unavailable (%s)", type(exc).__name__)
            return
        if pruned.runs or pruned.deliveries:
            log.info("retention: pruned %d runs and %d deliveries", pruned.runs, pruned.deliveries)

    def _missed_slots(self, now: datetime) -> list[tuple[MonitorSettings, datetime]]:
        """Slots missed while no daemon was running, oldest first per monitor.

        Read before the scheduler starts: once it runs, the current slot is
        stored and would hide what came before it. The slot current at ``now``
        is not among them: ``start`` submits it as the first run.
        """
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
        finished = self._dispatcher.stop(timeout)
        if not finished:
            log.warning("runs still in flight after %.0fs; stopping without them", timeout)
        # The store's jobs may hang on a store that does not answer: do not wait for them.
        self._scheduler.shutdown(wait=False)
        return finished
