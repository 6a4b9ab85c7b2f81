"""When a due slot starts: one run per monitor at a time, bounded capacity, deadlines.

The scheduler (APScheduler) only says which slot of which monitor is due and
hands it here; every run then lives in a thread of its own:

- **One run per monitor.** A monitor's due slots wait in its own queue,
  oldest first, and start one at a time, so a slow or hung monitor delays
  only its own slots.
- **Capacity.** At most ``max_concurrent_runs`` runs are in flight across
  monitors, oldest slot first. A run still in progress after ``run_timeout``
  is stored as failed ("timed out", with its alerts) and stops counting
  against the capacity: Python cannot stop its thread, which lingers until
  whatever it waits on returns (its outcome is then discarded, the claim no
  longer being its own), but its monitor starts nothing new meanwhile. So a
  monitor holds at most one thread however long it hangs, and hung monitors
  take one unit of capacity each and only until their deadline: they cannot
  exhaust it for the others.
- **Grace.** A slot that cannot start within ``misfire_grace`` of its time
  (its monitor busy, capacity taken, the store down) is dropped and logged;
  catch-up slots and the first run at start have no such limit, but a first
  run still waiting when its monitor's next slot is due, and older than that
  slot by more than the grace, gives way to it: with
  many monitors the first runs of all of them (reference fits included) can
  outlast a period, and, older, they would otherwise start before every next
  slot and push those past their grace.
- **Store outages.** A slot whose claim failed because the store did not
  answer goes back to the head of its queue, and slots start again after a
  backoff (0.5 s doubling to 5 s), so the slots due while the store was down
  run once it is back, oldest first, as long as they are within their grace.
  A store error after the claim leaves the row ``running``; its lease runs
  out and a sweep (``runner.expire_claims``) fails and retries it.
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from monitor.config import MonitorSettings
from monitor.logs import log_context
from monitor.runner import RunContext, claim_slot, run_claimed, time_out
from monitor.store.runs import Claim

log = logging.getLogger("driftwarden.dispatch")

MAX_WAITING = 100
"""Due slots one monitor may have waiting; beyond, the oldest are dropped."""
BACKOFF_FIRST, BACKOFF_MAX = 0.5, 5.0


@dataclass(frozen=True)
class DueSlot:
    """A slot to run: ``expires`` is the latest time it may start (None: whenever it can)."""

    monitor: MonitorSettings
    slot: datetime
    trigger: str
    expires: datetime | None
    retry: Claim | None = None
    """The expired claim of this slot, when this is its retry (the row is reclaimed)."""
    first: bool = False
    """The current slot run at start: dropped if the monitor's next slot comes before it starts."""


@dataclass
class _Flight:
    """A run in progress in its own thread."""

    due: DueSlot
    deadline: float  # time.monotonic()
    thread: threading.Thread | None = None
    claim: Claim | None = None
    timed_out: bool = False


@dataclass
class _Backoff:
    """After the store failed a claim, nothing starts before ``until``."""

    delay: float = 0.0
    until: float = 0.0

    def failed(self, now: float) -> None:
        self.delay = min(max(BACKOFF_FIRST, 2 * self.delay), BACKOFF_MAX)
        self.until = now + self.delay

    def answered(self) -> None:
        self.delay = self.until = 0.0


@dataclass
class _State:
    waiting: dict[str, list[DueSlot]] = field(default_factory=dict)
    flights: dict[str, _Flight] = field(default_factory=dict)
    backoff: _Backoff = field(default_factory=_Backoff)
    stopping: bool = False


class RunDispatcher:
    """Starts due slots as capacity, per-monitor order and deadlines allow (see the module)."""

    def __init__(
        self,
        ctx: RunContext,
        capacity: int,
        run_timeout: timedelta,
        clock: Callable[[], datetime],
    ) -> None:
        self._ctx = ctx
        self._capacity = capacity
        self._timeout = run_timeout
        self._clock = clock
        self._state = _State()
        self._changed = threading.Condition()
        self._loop = threading.Thread(target=self._dispatch, name="dispatch", daemon=True)

    @property
    def running(self) -> bool:
        return self._loop.is_alive()

    def start(self) -> None:
        self._loop.start()

    def submit(self, due: DueSlot) -> None:
        """Queue a due slot; a slot already waiting or in flight is not queued twice."""
        name = due.monitor.name
        with self._changed:
            state = self._state
            if state.stopping:
                return
            waiting = state.waiting.setdefault(name, [])
            flight = state.flights.get(name)
            queued = [d.slot for d in waiting] + ([flight.due.slot] if flight else [])
            if due.retry is None and due.slot in queued:
                return
            if due.trigger == "schedule" and not due.first and due.expires is not None:
                self._drop_first_runs(name, waiting, due)
            bisect.insort(waiting, due, key=lambda d: d.slot)
            self._drop_late(name, waiting)
            if len(waiting) > MAX_WAITING:
                dropped = waiting.pop(0)
                log.warning("monitor %s: slot %s dropped: too many waiting", name, dropped.slot)
            self._changed.notify_all()

    def hung(self) -> list[str]:
        """Monitors whose run is past its deadline and still has not returned."""
        with self._changed:
            return sorted(name for name, f in self._state.flights.items() if f.timed_out)

    def stop(self, timeout: float) -> bool:
        """Start nothing more; wait up to ``timeout`` s for runs in flight (False: some remain).

        Runs past their deadline are not waited for: they are stored as failed already.
        """
        with self._changed:
            self._state.stopping = True
            self._state.waiting.clear()
            self._changed.notify_all()
            flights = list(self._state.flights.values())
        end = time.monotonic() + timeout
        for flight in flights:
            if flight.thread is not None and not flight.timed_out:
                flight.thread.join(max(0.0, end - time.monotonic()))
        return not any(f.thread is not None and f.thread.is_alive() for f in flights)

    def _dispatch(self) -> None:
        with self._changed:
            while not self._state.stopping:
                now = time.monotonic()
                self._expire_deadlines(now)
                self._start_due(now)
                self._changed.wait(self._next_wakeup(now))

    def _next_wakeup(self, now: float) -> float | None:
        state = self._state
        times = [f.deadline for f in state.flights.values() if not f.timed_out]
        if any(state.waiting.values()) and state.backoff.until > now:
            times.append(state.backoff.until)
        return max(0.0, min(times) - now) if times else None

    def _expire_deadlines(self, now: float) -> None:
        for name, flight in self._state.flights.items():
            if flight.timed_out or now < flight.deadline:
                continue
            flight.timed_out = True
            self._ctx.metrics.show_hung(name, True)
            log.error(
                "monitor %s: the run of slot %s is still in progress after %ss; "
                "no more runs of it start until it returns",
                name,
                flight.due.slot,
                f"{self._timeout.total_seconds():g}",
            )
            if flight.claim is not None:
                self._spawn_time_out(flight.due.monitor, flight.claim)

    def _spawn_time_out(self, monitor: MonitorSettings, claim: Claim) -> None:
        # The store may be the thing that hangs: never wait for it here.
        threading.Thread(
            target=self._time_out, args=(monitor, claim), name="time-out", daemon=True
        ).start()

    def _time_out(self, monitor: MonitorSettings, claim: Claim) -> None:
        try:
            time_out(self._ctx, monitor, claim, self._timeout)
        except SQLAlchemyError as exc:
            log.error(
                "run %d: timed out, and the store is unavailable (%s); its lease will expire",
                claim.run_id,
                type(exc).__name__,
            )

    def _start_due(self, now: float) -> None:
        state = self._state
        if now < state.backoff.until:
            return
        active = sum(not f.timed_out for f in state.flights.values())
        ready = sorted(
            (waiting[0].slot, name)
            for name, waiting in state.waiting.items()
            if waiting and name not in state.flights
        )
        for _, name in ready:
            if active >= self._capacity:
                return
            due = self._next_in_time(name)
            if due is None:
                continue
            flight = _Flight(due, deadline=now + self._timeout.total_seconds())
            flight.thread = threading.Thread(
                target=self._run, args=(flight,), name=f"run-{name}", daemon=True
            )
            state.flights[name] = flight
            flight.thread.start()
            active += 1

    def _next_in_time(self, name: str) -> DueSlot | None:
        waiting = self._state.waiting[name]
        self._drop_late(name, waiting)
        return waiting.pop(0) if waiting else None

    def _drop_late(self, name: str, waiting: list[DueSlot]) -> None:
        """Drop the slots at the head of the queue that can no longer start in time."""
        wall = self._clock()
        while waiting and waiting[0].expires is not None and wall > waiting[0].expires:
            late = waiting.pop(0)
            log.warning(
                "monitor %s: slot %s not run: it could not start within scheduler.misfire_grace",
                name,
                late.slot,
            )

    def _drop_first_runs(self, name: str, waiting: list[DueSlot], following: DueSlot) -> None:
        """Drop first runs that ``following`` finds waiting past the grace it has itself.

        A first run only a moment older than the next slot (a restart between two
        slots of a fast schedule) still runs: dropping it would lose its slot.
        """
        assert following.expires is not None
        grace = following.expires - following.slot
        stale = [due for due in waiting if due.first and due.slot + grace < following.slot]
        for first in stale:
            waiting.remove(first)
            log.info(
                "monitor %s: slot %s (the first run at start) gave way to the next slot",
                name,
                first.slot,
            )

    def _run(self, flight: _Flight) -> None:
        with log_context(monitor=flight.due.monitor.name):
            self._run_slot(flight)

    def _run_slot(self, flight: _Flight) -> None:
        due = flight.due
        store_down = False
        try:
            claim = claim_slot(self._ctx, due.monitor, due.slot, due.trigger, due.retry)
            if claim is None:
                log.info("monitor %s slot %s already claimed; skipping", due.monitor.name, due.slot)
                return
            with self._changed:
                flight.claim = claim
                late = flight.timed_out
            if late:  # the claim itself took longer than the whole run may
                self._time_out(due.monitor, claim)
                return
            run_claimed(self._ctx, due.monitor, claim)
        except SQLAlchemyError as exc:
            store_down = flight.claim is None
            reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
            if store_down:
                log.error(
                    "monitor %s: store unavailable, slot %s will be tried again (%s)",
                    due.monitor.name,
                    due.slot,
                    reason,
                )
            else:
                log.error(
                    "monitor %s: store unavailable during run %d; its claim will expire and "
                    "the slot be retried (%s)",
                    due.monitor.name,
                    flight.claim.run_id if flight.claim else 0,
                    reason,
                )
        except Exception:
            log.exception("monitor %s: slot %s could not be run", due.monitor.name, due.slot)
        finally:
            self._finish(flight, store_down)

    def _finish(self, flight: _Flight, store_down: bool) -> None:
        name = flight.due.monitor.name
        with self._changed:
            state = self._state
            if state.flights.get(name) is flight:
                del state.flights[name]
            if flight.timed_out:
                self._ctx.metrics.show_hung(name, False)
                log.info("monitor %s: the hung run of slot %s returned", name, flight.due.slot)
            if not store_down:
                state.backoff.answered()
            elif not state.stopping:
                state.waiting.setdefault(name, []).insert(0, flight.due)
                state.backoff.failed(time.monotonic())
            self._changed.notify_all()
