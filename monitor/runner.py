"""One check run, start to end, as a plain function: no scheduler needed to call it.

claim -> reference profile (``monitor.profiles``) -> sample -> the window's
tests (``monitor.evaluation``) -> its performance and that of past windows
whose late labels arrived (``monitor.backfill``) -> pooled windows
(``monitor.sequential``) -> verdict -> store run, results, performance,
alert transitions, sink messages (``monitor.sinks``) and window sketches in
one transaction. A run that
cannot complete is stored as failed with a readable reason, whatever the
exception; only a store error leaves the row ``running``, and then its lease
(renewed by a heartbeat while the run is in progress) runs out and any
process's sweep (``expire_claims``) fails it, with its alerts, and hands the
slot back for a retry while it is within its grace.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from detectors import ColumnResult
from detectors.budget import RunLevels
from monitor.alerting import RunContextForAlerts, monitor_rules, process_alerts
from monitor.alerts.rules import NoDataRule, PerformanceFacts, RunFacts
from monitor.backfill import PerformanceOutcome, WindowSlot, run_performance
from monitor.columns import DataError
from monitor.config import MonitorSettings
from monitor.evaluation import evaluate, prepare_window, result_check
from monitor.levels import monitor_levels, window_levels
from monitor.logs import log_context
from monitor.metrics import Metrics
from monitor.performance import metric_level
from monitor.profiles import ProfileCache, ReferenceProfile, stated_reference
from monitor.refits import refit_ahead
from monitor.run_facts import column_fact, drifted_columns
from monitor.segments import SegmentResult, evaluate_segments, plan_segments, segmented_verdict
from monitor.sequential import SequentialOutcome, SketchCache, history_rows, sequential_tests
from monitor.sinks import queue_sink_messages
from monitor.sources import LabelSource
from monitor.sources.base import Source, SourceError, Window
from monitor.store import runs as store
from monitor.store.alerts import last_success
from monitor.store.models import utcnow
from monitor.store.performance import latest_performance, save_window
from monitor.store.queries import ResultView
from monitor.store.references import RunReference, record_reference
from monitor.store.sketches import add_sketch
from monitor.vocabulary import RunStatus
from monitor.windows import read_window

log = logging.getLogger("driftwarden.runner")

DEFAULT_LEASE = timedelta(seconds=15)
MAX_ATTEMPTS = 3
"""Claims of one slot at most: a run that kills its process every time is not retried forever."""
RETRIED_TRIGGERS = frozenset({"schedule", "catch_up"})
EXPIRED_REASON = "claim expired: the process running it stopped or lost the store"
NO_PERFORMANCE = PerformanceFacts()


@dataclass(frozen=True)
class RunContext:
    """What a run needs from the daemon, built once from config and passed in."""

    engine: Engine
    metrics: Metrics
    sources: Mapping[str, Source]
    worker_id: str
    base_url: str
    clock: Callable[[], datetime] = utcnow
    refresh_receivers: frozenset[str] = frozenset()
    """Receivers that must hear about a firing alert on every run (Alertmanager)."""
    profiles: ProfileCache = field(default_factory=ProfileCache)
    """Reference profiles in memory, per monitor."""
    sketches: SketchCache = field(default_factory=dict)
    """Decoded window sketches of the sequential tests' history (``monitor.sequential``)."""
    lease: timedelta = DEFAULT_LEASE
    """How long a claim holds without renewal; renewed every third of it while running."""
    run_timeout: timedelta | None = None
    """A run is no longer renewed past this: its claim then expires even if its thread hangs."""
    labels: Mapping[str, LabelSource] = field(default_factory=dict)
    """Label sources, per monitor whose ``performance.labels`` names one (``label_sources``)."""


@dataclass(frozen=True)
class RunOutcome:
    run_id: int
    monitor: str
    status: RunStatus
    drifted: bool | None
    reason: str
    window: Window
    results: Sequence[ColumnResult] = field(default_factory=tuple)
    performance: PerformanceOutcome = PerformanceOutcome(current=None)
    """The windows whose performance the run evaluated (its own, and late labels' windows)."""
    reference: RunReference | None = None
    """The reference the run was tested against; None for a failed run."""
    segments: Sequence[SegmentResult] = field(default_factory=tuple)
    """The column results inside each tested segment (``monitor.segments``)."""


def _stored(
    monitor: MonitorSettings, result: ColumnResult, segment: str | None = None
) -> ResultView:
    return ResultView(
        check=result_check(monitor, result),
        column=result.column,
        method=result.method,
        statistic=result.statistic,
        p_value=result.p_value,
        p_value_adjusted=result.p_value_adjusted,
        threshold=result.threshold,
        drifted=result.drifted,
        n_reference=result.n_reference,
        n_current=result.n_current,
        status=result.status,
        reason=result.reason,
        details=dict(result.details),
        effect=result.effect,
        effect_floor=result.effect_floor,
        segment=segment,
    )


def _alert_inputs(
    ctx: RunContext,
    monitor: MonitorSettings,
    claim: store.Claim,
    window: Window,
    status: RunStatus,
    drifted: bool,
    reason: str,
    results: Sequence[ColumnResult],
    performance: PerformanceFacts = NO_PERFORMANCE,
    segments: Sequence[SegmentResult] = (),
) -> tuple[RunContextForAlerts, RunFacts]:
    """What the alert rules see of a run, read before its transaction opens."""
    persistent = frozenset(
        r.column for r in results if r.drifted and result_check(monitor, r) == "sequential"
    )
    facts = RunFacts(
        status=status,
        drifted=drifted,
        reason=reason,
        columns=[
            column_fact(monitor, r, persistent)
            for r in results
            if result_check(monitor, r) != "sequential"
        ],
        segment_columns=[column_fact(monitor, s.result, frozenset()) for s in segments],
        now=ctx.clock(),
        # Only a no_data rule with stale_after reads it: skip the query otherwise.
        last_success=last_success(ctx.engine, claim.monitor_id)
        if any(
            isinstance(rule, NoDataRule) and rule.stale_after is not None
            for rule in monitor_rules(monitor)
        )
        else None,
        performance=performance,
    )
    run = RunContextForAlerts(
        run_id=claim.run_id,
        monitor_id=claim.monitor_id,
        window=window,
        run_url=f"{ctx.base_url}/runs/{claim.run_id}",
        drifted_columns=drifted_columns(results, segments),
        refresh_receivers=ctx.refresh_receivers,
        schedule_period=monitor.schedule.period(),
    )
    return run, facts


def log_queued(messages: int, monitor: MonitorSettings) -> None:
    if messages:
        log.info("monitor %s: %d alert messages queued", monitor.name, messages)


def _add_history(
    session: Session,
    claim: store.Claim,
    window: Window,
    key: str,
    pooled: SequentialOutcome,
    levels: RunLevels,
) -> None:
    """Add this run's window sketches to the sequential tests' history."""
    if pooled.sketches:
        add_sketch(
            session,
            monitor_id=claim.monitor_id,
            run_id=claim.run_id,
            reference_key=key,
            scheduled_for=claim.scheduled_for,
            window_start=window.start,
            window_end=window.end,
            columns=pooled.sketches,
            keep=history_rows(levels),
        )


def _window(monitor: MonitorSettings, scheduled_for: datetime) -> Window:
    return Window(start=scheduled_for - monitor.window, end=scheduled_for)


def claim_slot(
    ctx: RunContext,
    monitor: MonitorSettings,
    scheduled_for: datetime,
    trigger: str,
    retry: store.Claim | None = None,
) -> store.Claim | None:
    """Claim a slot (or, given the expired claim in ``retry``, its next attempt).

    None when another process holds or took it. A store error propagates:
    nothing was claimed, so the caller may try the slot again.
    """
    lease_until = ctx.clock() + ctx.lease
    if retry is not None:
        return store.reclaim_run(ctx.engine, retry, ctx.worker_id, lease_until)
    window = _window(monitor, scheduled_for)
    monitor_id = store.ensure_monitor(ctx.engine, monitor.name)
    return store.claim_run(
        ctx.engine,
        monitor_id,
        scheduled_for,
        trigger,
        window.start,
        window.end,
        ctx.worker_id,
        lease_until,
    )


def run_check(
    ctx: RunContext, monitor: MonitorSettings, scheduled_for: datetime, trigger: str
) -> RunOutcome | None:
    """Run one slot of one monitor; None when another process already claimed the slot."""
    claim = claim_slot(ctx, monitor, scheduled_for, trigger)
    if claim is None:
        log.info(
            "monitor %s slot %s already claimed; skipping",
            monitor.name,
            scheduled_for,
            extra={"monitor": monitor.name},
        )
        return None
    return run_claimed(ctx, monitor, claim)


class _Heartbeat:
    """Renews a claim's lease every third of it until the run ends or ``run_timeout`` passes.

    A daemon thread that is never joined: a renewal stuck on a store that does
    not answer must not hold up the run that it keeps alive.
    """

    def __init__(self, ctx: RunContext, claim: store.Claim) -> None:
        self._ctx = ctx
        self._claim = claim
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._beat, name=f"lease-{claim.run_id}", daemon=True
        )

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()

    def _beat(self) -> None:
        ctx, claim = self._ctx, self._claim
        until = time.monotonic() + ctx.run_timeout.total_seconds() if ctx.run_timeout else None
        while not self._stop.wait(ctx.lease.total_seconds() / 3):
            if until is not None and time.monotonic() > until:
                return
            try:
                if not store.renew_lease(ctx.engine, claim, ctx.clock() + ctx.lease):
                    return
            except SQLAlchemyError as exc:
                log.warning(
                    "run %d: lease not renewed (%s)",
                    claim.run_id,
                    type(exc).__name__,
                    extra={"run_id": claim.run_id},
                )


def run_claimed(ctx: RunContext, monitor: MonitorSettings, claim: store.Claim) -> RunOutcome | None:
    """Run a claimed slot to its end: stored as succeeded, empty or failed.

    None when the claim was lost before the outcome could be stored (expired or
    timed out meanwhile: another process owns the row now). A store error
    propagates with the row still ``running``; its lease then expires. Once
    the outcome is stored, a moving reference's next profile is fitted if
    it is due (``monitor.refits``).
    """
    outcome = _run_to_end(ctx, monitor, claim)
    if outcome is not None and outcome.status != "failed":
        source = ctx.sources[monitor.name]
        refit_ahead(
            ctx.profiles,
            ctx.engine,
            monitor,
            claim.monitor_id,
            source,
            outcome.window.start,
            ctx.clock(),
            ctx.labels.get(monitor.name),
        )
    return outcome


def _run_to_end(ctx: RunContext, monitor: MonitorSettings, claim: store.Claim) -> RunOutcome | None:
    started = time.monotonic()
    with log_context(monitor=monitor.name, run_id=claim.run_id), _Heartbeat(ctx, claim):
        try:
            return _evaluate_and_store(ctx, monitor, claim, started)
        except store.ClaimLost:
            log.warning(
                "run %d of monitor %s: its claim was lost (expired or timed out); "
                "its outcome was not stored",
                claim.run_id,
                monitor.name,
            )
            return None
        except (SourceError, DataError, ValueError) as exc:
            reason = str(exc)
            log.warning("run %d of monitor %s failed: %s", claim.run_id, monitor.name, reason)
        except SQLAlchemyError:
            raise
        except Exception as exc:
            reason = unexpected_reason(exc)
            log.exception("run %d of monitor %s failed unexpectedly", claim.run_id, monitor.name)
        return store_failure(ctx, monitor, claim, reason, time.monotonic() - started)


def unexpected_reason(exc: BaseException) -> str:
    """One readable line for an exception nobody expected (the log has the traceback)."""
    message = " ".join(str(exc).split())
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return f"unexpected error: {text}"[:500]


def _evaluate_and_store(
    ctx: RunContext, monitor: MonitorSettings, claim: store.Claim, started: float
) -> RunOutcome:
    window = _window(monitor, claim.scheduled_for)
    source = ctx.sources[monitor.name]
    labels = ctx.labels.get(monitor.name)
    keyed = ctx.profiles.get(ctx.engine, monitor, claim.monitor_id, source, window.start, labels)
    key, profile = keyed.key, keyed.profile
    reference = stated_reference(monitor, key, window.start)
    seed = int(claim.scheduled_for.timestamp())
    current = read_window(source, monitor, profile, window, seed)
    levels = monitor_levels(monitor)
    prepared = prepare_window(monitor, profile, current)
    segments = plan_segments(monitor, profile, current)
    tested = len(segments.report.tested)
    results = evaluate(monitor, profile, current, prepared, levels, segments=tested)
    segment_results = evaluate_segments(monitor, profile, current, segments, levels)
    performance = _performance(ctx, monitor, claim, profile, window, current, levels)
    results += performance.results
    pooled = sequential_tests(
        ctx.engine,
        monitor,
        claim.monitor_id,
        key,
        profile.columns,
        window,
        prepared,
        results,
        levels,
        ctx.sketches,
    )
    results += pooled.results
    if len(current) == 0:
        drifted, reason = False, f"no data: the window {window.start} .. {window.end} is empty"
    else:
        drifted, reason = segmented_verdict(monitor, results, segment_results)
    status: RunStatus = "empty" if len(current) == 0 else "succeeded"
    alerts, facts = _alert_inputs(
        ctx,
        monitor,
        claim,
        window,
        status,
        drifted,
        reason,
        results,
        performance.facts,
        segment_results,
    )
    stored = [_stored(monitor, r) for r in results] + [
        _stored(monitor, s.result, s.segment) for s in segment_results
    ]
    # One transaction: a crash leaves either the finished run with everything it caused
    # (results, performance, alert transitions, queued messages, sketches), or a "running"
    # row and nothing.
    with Session(ctx.engine) as session, session.begin():
        store.finish_run(
            session,
            claim,
            status=status,
            drifted=drifted,
            reason=reason,
            n_reference=profile.n_rows,
            n_current=len(current),
            results=stored,
            segments=segments.report if monitor.segments else None,
        )
        record_reference(session, claim.run_id, reference)
        for evaluated in performance.evaluations:
            save_window(session, claim.monitor_id, claim.run_id, ctx.clock(), evaluated)
        log_queued(process_alerts(session, monitor, alerts, facts), monitor)
        queue_sink_messages(
            session,
            ctx.clock(),
            monitor,
            claim,
            status,
            drifted,
            results,
            reference,
            performance.evaluations,
        )
        _add_history(session, claim, window, key, pooled, levels)
    duration = time.monotonic() - started
    if status == "empty":
        ctx.metrics.record_empty_run(monitor.name, duration)
    else:
        ctx.metrics.record_successful_run(monitor.name, drifted, duration, ctx.clock(), stored)
    if monitor.performance is not None:
        latest = latest_performance(ctx.engine, monitor.name).get(monitor.name, [])
        ctx.metrics.show_performance(monitor.name, latest)
    log.info("run %d of monitor %s: %s", claim.run_id, monitor.name, reason)
    return RunOutcome(
        claim.run_id,
        monitor.name,
        status,
        drifted,
        reason,
        window,
        results,
        performance,
        reference,
        segment_results,
    )


def _performance(
    ctx: RunContext,
    monitor: MonitorSettings,
    claim: store.Claim,
    profile: ReferenceProfile,
    window: Window,
    current: pd.DataFrame,
    levels: RunLevels,
) -> PerformanceOutcome:
    """The run's own window's performance and its backfill (``monitor.backfill``)."""
    if monitor.performance is None or profile.performance is None:
        return PerformanceOutcome(current=None)
    level = metric_level(window_levels(monitor, levels).performance, profile.performance)
    return run_performance(
        ctx.engine,
        monitor,
        claim.monitor_id,
        ctx.sources[monitor.name],
        ctx.labels.get(monitor.name),
        profile.performance,
        WindowSlot(claim.run_id, claim.scheduled_for, window),
        current,
        level,
        ctx.clock(),
    )


def store_failure(
    ctx: RunContext,
    monitor: MonitorSettings,
    claim: store.Claim,
    reason: str,
    duration: float,
    *,
    expired_before: datetime | None = None,
) -> RunOutcome | None:
    """Store the claimed run as failed and advance its alerts, in one transaction.

    None when the claim no longer holds (``expired_before``: when its lease was
    renewed after all). Should the alert work itself break, the run is still
    stored as failed, without it: a row must never stay ``running``.
    """
    with log_context(monitor=monitor.name, run_id=claim.run_id):
        window = _window(monitor, claim.scheduled_for)
        try:
            alerts, facts = _alert_inputs(ctx, monitor, claim, window, "failed", False, reason, ())
            with Session(ctx.engine) as session, session.begin():
                store.fail_run(session, claim, reason, expired_before=expired_before)
                log_queued(process_alerts(session, monitor, alerts, facts), monitor)
        except store.ClaimLost:
            return None
        except SQLAlchemyError:
            raise
        except Exception:
            log.exception("run %d of monitor %s: alerts not processed", claim.run_id, monitor.name)
            try:
                with Session(ctx.engine) as session, session.begin():
                    store.fail_run(session, claim, reason, expired_before=expired_before)
            except store.ClaimLost:
                return None
        ctx.metrics.record_failed_run(monitor.name, duration)
        return RunOutcome(claim.run_id, monitor.name, "failed", None, reason, window)


def expire_claims(
    ctx: RunContext, monitors: Mapping[str, MonitorSettings], grace: timedelta
) -> list[tuple[MonitorSettings, store.Claim]]:
    """Fail every run whose lease ran out (with its alerts); returns the claims to retry.

    Any process may sweep: the conditional update lets one of them fail each
    row. A slot is handed back for a retry when it is a scheduled one, still
    within ``grace`` of its time, and has had fewer than ``MAX_ATTEMPTS``
    claims. A monitor this process does not know (not in its config) is
    failed without alerts: its rules are not known here.
    """
    now = ctx.clock()
    retries: list[tuple[MonitorSettings, store.Claim]] = []
    for expired in store.expired_claims(ctx.engine, now):
        claim = expired.claim
        monitor = monitors.get(expired.monitor)
        if not _expire(ctx, monitor, expired, now):
            continue
        log.warning(
            "run %d of monitor %s (slot %s): %s",
            claim.run_id,
            expired.monitor,
            claim.scheduled_for,
            EXPIRED_REASON,
            extra={"monitor": expired.monitor, "run_id": claim.run_id},
        )
        if (
            monitor is not None
            and claim.trigger in RETRIED_TRIGGERS
            and claim.attempt < MAX_ATTEMPTS
            and now <= claim.scheduled_for + grace
        ):
            retries.append((monitor, claim))
    return retries


def _expire(
    ctx: RunContext, monitor: MonitorSettings | None, expired: store.ExpiredClaim, now: datetime
) -> bool:
    """Fail one expired claim; False when it was renewed, or swept elsewhere, meanwhile."""
    if monitor is not None:
        duration = (now - expired.started_at).total_seconds()
        failed = store_failure(
            ctx, monitor, expired.claim, EXPIRED_REASON, duration, expired_before=now
        )
        return failed is not None
    with Session(ctx.engine) as session, session.begin():
        try:
            store.fail_run(session, expired.claim, EXPIRED_REASON, expired_before=now)
        except store.ClaimLost:
            return False
    return True


def time_out(
    ctx: RunContext, monitor: MonitorSettings, claim: store.Claim, limit: timedelta
) -> None:
    """Store a run still in progress past ``limit`` as failed; its thread's outcome is dropped."""
    reason = (
        f"timed out: still running after {limit.total_seconds():g}s (scheduler.run_timeout); "
        "the source may be hung"
    )
    if store_failure(ctx, monitor, claim, reason, limit.total_seconds()) is not None:
        log.error(
            "run %d of monitor %s %s",
            claim.run_id,
            monitor.name,
            reason,
            extra={"monitor": monitor.name, "run_id": claim.run_id},
        )
