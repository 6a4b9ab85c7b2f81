"""One check run, start to end, as a plain function: no scheduler needed to call it.

claim -> reference profile (``monitor.profiles``) -> sample -> the window's
tests (``monitor.evaluation``) -> pooled windows (``monitor.sequential``) ->
verdict -> store run, results, alert transitions, sink messages
(``monitor.sinks``) and window sketches in one transaction. A run that
cannot complete is stored as failed with a readable reason.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from detectors import ColumnResult
from detectors.budget import RunLevels
from monitor.alerting import RunContextForAlerts, monitor_rules, process_alerts
from monitor.alerts.event import DriftedColumn
from monitor.alerts.rules import ColumnFact, NoDataRule, RunFacts
from monitor.columns import DataError
from monitor.config import MonitorSettings
from monitor.evaluation import evaluate, prepare_window, result_check, run_verdict
from monitor.levels import monitor_levels
from monitor.metrics import Metrics
from monitor.profiles import ProfileCache
from monitor.sequential import SequentialOutcome, SketchCache, history_rows, sequential_tests
from monitor.sinks import queue_sink_messages
from monitor.sources.base import Source, SourceError, Window
from monitor.store import runs as store
from monitor.store.alerts import last_success
from monitor.store.models import utcnow
from monitor.store.queries import ResultView
from monitor.store.sketches import add_sketch
from monitor.vocabulary import RunStatus

log = logging.getLogger("driftwarden.runner")


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


@dataclass(frozen=True)
class RunOutcome:
    run_id: int
    monitor: str
    status: RunStatus
    drifted: bool | None
    reason: str
    window: Window
    results: Sequence[ColumnResult] = field(default_factory=tuple)


def _stored(monitor: MonitorSettings, result: ColumnResult) -> ResultView:
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
    )


def _drifted_columns(results: Sequence[ColumnResult]) -> tuple[DriftedColumn, ...]:
    return tuple(
        DriftedColumn(
            column=r.column,
            method=r.method,
            statistic=r.statistic,
            p_value=r.p_value,
            p_value_adjusted=r.p_value_adjusted,
            threshold=r.threshold,
        )
        for r in results
        if r.drifted
    )


def _share(part: float, whole: float) -> float | None:
    return part / whole if whole > 0 else None


def _column_fact(
    monitor: MonitorSettings, result: ColumnResult, persistent: frozenset[str]
) -> ColumnFact:
    """A rule's view of one result; a column drifted over recent windows counts as drifted."""
    details = result.details
    missing = details.get("n_missing_current")
    reference_counts = details.get("reference_counts")
    current_counts = details.get("current_counts")
    new_rows = (
        sum(n for c, n in current_counts.items() if not reference_counts.get(c))
        if isinstance(reference_counts, dict) and isinstance(current_counts, dict)
        else None
    )
    check = result_check(monitor, result)
    return ColumnFact(
        column=result.column,
        method=result.method,
        check=check,
        drifted=result.drifted or (check == "drift" and result.column in persistent),
        status=result.status,
        missing_share=_share(missing, missing + result.n_current)
        if isinstance(missing, int)
        else None,
        new_category_share=_share(new_rows, result.n_current) if new_rows is not None else None,
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
            _column_fact(monitor, r, persistent)
            for r in results
            if result_check(monitor, r) != "sequential"
        ],
        now=ctx.clock(),
        # Only a no_data rule with stale_after reads it: skip the query otherwise.
        last_success=last_success(ctx.engine, claim.monitor_id)
        if any(
            isinstance(rule, NoDataRule) and rule.stale_after is not None
            for rule in monitor_rules(monitor)
        )
        else None,
    )
    run = RunContextForAlerts(
        run_id=claim.run_id,
        monitor_id=claim.monitor_id,
        window=window,
        run_url=f"{ctx.base_url}/runs/{claim.run_id}",
        drifted_columns=_drifted_columns(results),
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


def run_check(
    ctx: RunContext, monitor: MonitorSettings, scheduled_for: datetime, trigger: str
) -> RunOutcome | None:
    """Run one slot of one monitor; None when another process already claimed the slot."""
    started = time.monotonic()
    window = Window(start=scheduled_for - monitor.window, end=scheduled_for)
    monitor_id = store.ensure_monitor(ctx.engine, monitor.name)
    claim = store.claim_run(
        ctx.engine, monitor_id, scheduled_for, trigger, window.start, window.end, ctx.worker_id
    )
    if claim is None:
        log.info("monitor %s slot %s already claimed; skipping", monitor.name, scheduled_for)
        return None
    source = ctx.sources[monitor.name]
    try:
        keyed = ctx.profiles.get(ctx.engine, monitor, monitor_id, source)
        key, profile = keyed.key, keyed.profile
        current = source.sample(window, monitor.sample_limit, seed=int(scheduled_for.timestamp()))
        levels = monitor_levels(monitor)
        prepared = prepare_window(monitor, profile, current)
        results = evaluate(monitor, profile, current, prepared, levels)
        pooled = sequential_tests(
            ctx.engine,
            monitor,
            monitor_id,
            key,
            profile.columns,
            window,
            prepared,
            results,
            levels,
            ctx.sketches,
        )
        results += pooled.results
    except (SourceError, DataError, ValueError) as exc:
        reason = str(exc)
        log.warning("run %d of monitor %s failed: %s", claim.run_id, monitor.name, reason)
        alerts, facts = _alert_inputs(ctx, monitor, claim, window, "failed", False, reason, ())
        with Session(ctx.engine) as session, session.begin():
            store.fail_run(session, claim, reason)
            log_queued(process_alerts(session, monitor, alerts, facts), monitor)
        ctx.metrics.record_failed_run(monitor.name, time.monotonic() - started)
        return RunOutcome(claim.run_id, monitor.name, "failed", None, reason, window)
    if len(current) == 0:
        drifted, reason = False, f"no data: the window {window.start} .. {window.end} is empty"
    else:
        drifted, reason = run_verdict(monitor, results)
    status: RunStatus = "empty" if len(current) == 0 else "succeeded"
    alerts, facts = _alert_inputs(ctx, monitor, claim, window, status, drifted, reason, results)
    stored = [_stored(monitor, r) for r in results]
    # One transaction: a crash leaves either the finished run with everything it caused
    # (results, alert transitions, queued messages, sketches), or a "running" row and nothing.
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
        )
        log_queued(process_alerts(session, monitor, alerts, facts), monitor)
        queue_sink_messages(session, ctx.clock(), monitor, claim, status, drifted, results)
        _add_history(session, claim, window, key, pooled, levels)
    duration = time.monotonic() - started
    if status == "empty":
        ctx.metrics.record_empty_run(monitor.name, duration)
    else:
        ctx.metrics.record_successful_run(monitor.name, drifted, duration, ctx.clock(), stored)
    log.info("run %d of monitor %s: %s", claim.run_id, monitor.name, reason)
    return RunOutcome(claim.run_id, monitor.name, status, drifted, reason, window, results)


def run_check_safely(
    ctx: RunContext, monitor: MonitorSettings, scheduled_for: datetime, trigger: str
) -> RunOutcome | None:
    """The scheduler's entry: a store outage is logged, never kills the daemon."""
    try:
        return run_check(ctx, monitor, scheduled_for, trigger)
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        log.error("monitor %s: store unavailable, run skipped (%s)", monitor.name, reason)
        return None
