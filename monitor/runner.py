"""One check run, start to end, as a plain function: no scheduler needed to call it.

claim -> sample -> fit-or-load the reference profile -> test -> decide ->
store run, results, alert transition and outbox rows in one transaction.
A run that cannot complete is stored as failed with a readable reason.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from detectors import (
    ColumnProfile,
    ColumnResult,
    MultivariateProfile,
    apply_correction,
    compare_performance,
    finite_or_none,
    fit_multivariate,
    fit_profile,
    performance_metrics,
    test_column,
    test_mmd,
    test_pca_reconstruction,
)
from detectors import decide as decide_dataset
from detectors.budget import RunLevels, split_level
from monitor.alerts.event import DriftedColumn
from monitor.alerts.process import RunContextForAlerts, monitor_rules, process_alerts
from monitor.alerts.rules import ColumnFact, NoDataRule, RunFacts
from monitor.config import MonitorSettings
from monitor.levels import monitor_levels
from monitor.metrics import ColumnSample, Metrics
from monitor.reference import load_reference, reference_key
from monitor.sequential import SequentialOutcome, SketchCache, history_rows, sequential_tests
from monitor.sources.base import Source, SourceError, Window
from monitor.store import runs as store
from monitor.store.alerts import add_outbox, last_success
from monitor.store.models import utcnow
from monitor.store.queries import ResultView
from monitor.store.sketches import add_sketch
from monitor.vocabulary import RunStatus

log = logging.getLogger("driftwarden.runner")


MULTIVARIATE_COLUMN = "*"
"""The column name multivariate results carry: the whole row."""


class DataError(Exception):
    """The data cannot be tested as configured (e.g. a configured column is absent)."""


@dataclass(frozen=True)
class ReferenceProfile:
    """Everything a run needs from the reference: per-column profiles and model metrics."""

    columns: Mapping[str, ColumnProfile]
    performance: Mapping[str, float]
    n_rows: int
    multivariate: MultivariateProfile | None = None

    def to_bytes(self) -> bytes:
        body = {
            "columns": {name: profile.to_dict() for name, profile in self.columns.items()},
            "performance": dict(self.performance),
            "n_rows": self.n_rows,
            "multivariate": self.multivariate.to_dict() if self.multivariate else None,
        }
        return zlib.compress(json.dumps(body).encode())

    @classmethod
    def from_bytes(cls, data: bytes) -> ReferenceProfile:
        body = json.loads(zlib.decompress(data))
        return cls(
            columns={
                name: ColumnProfile.from_dict(profile) for name, profile in body["columns"].items()
            },
            performance=body["performance"],
            n_rows=body["n_rows"],
            multivariate=MultivariateProfile.from_dict(body["multivariate"])
            if body.get("multivariate")
            else None,
        )


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
    profiles: dict[int, tuple[str, ReferenceProfile]] = field(default_factory=dict)
    """Reference profiles in memory: monitor id -> (reference key, profile)."""
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


def require_columns(frame: pd.DataFrame, names: Sequence[str], what: str) -> None:
    missing = [name for name in names if name not in frame.columns]
    if missing:
        found = ", ".join(map(str, frame.columns)) or "none"
        listed = ", ".join(f'"{name}"' for name in missing)
        raise DataError(f"{what} has no column {listed} (columns found: {found})")


def fit_reference(monitor: MonitorSettings, reference: pd.DataFrame) -> ReferenceProfile:
    names = [column.name for column in monitor.columns]
    perf = monitor.performance
    require_columns(reference, names + ([perf.label, perf.prediction] if perf else []), "reference")
    profiles = {
        column.name: fit_profile(reference[column.name], column.kind, max_sorted=1_000_000)
        for column in monitor.columns
    }
    metrics = (
        performance_metrics(reference[perf.label], reference[perf.prediction], perf.task)
        if perf
        else {}
    )
    multivariate = (
        fit_multivariate(reference, [(column.name, column.kind) for column in monitor.columns])
        if monitor.thresholds.multivariate != "none"
        else None
    )
    return ReferenceProfile(
        columns=profiles, performance=metrics, n_rows=len(reference), multivariate=multivariate
    )


def reference_profile(
    ctx: RunContext, monitor: MonitorSettings, monitor_id: int, source: Source
) -> ReferenceProfile:
    """The profile of the current reference: from memory, else the store, else fitted now.

    Kept in memory per monitor, so a run costs O(current window) and does not
    even decode the stored profile again; a changed reference has a new key.
    """
    key = reference_key(monitor)
    cached = ctx.profiles.get(monitor_id)
    if cached is not None and cached[0] == key:
        return cached[1]
    stored = store.load_profile(ctx.engine, monitor_id, key)
    if stored is not None:
        profile = ReferenceProfile.from_bytes(stored)
    else:
        log.info("fitting reference profile for monitor %s", monitor.name)
        profile = fit_reference(monitor, load_reference(monitor, source))
        store.save_profile(ctx.engine, monitor_id, key, profile.n_rows, profile.to_bytes())
    ctx.profiles[monitor_id] = (key, profile)
    return profile


def evaluate(
    monitor: MonitorSettings,
    profile: ReferenceProfile,
    current: pd.DataFrame,
    levels: RunLevels | None = None,
) -> list[ColumnResult]:
    """Per-column drift (corrected across columns), then performance when labels are present.

    ``levels`` (default: the monitor's, see ``monitor.levels``) is shared out
    between the columns and the multivariate test by ``split_level``: the
    p-value tests are corrected together at their share, and each distance
    and the multivariate test is held to a Bonferroni share.
    """
    levels = monitor_levels(monitor) if levels is None else levels
    if len(current):
        require_columns(current, [column.name for column in monitor.columns], "current window")
    multivariate = profile.multivariate is not None and len(current) > 0
    n_tests = len(monitor.columns) + (1 if multivariate else 0)
    single = levels.window / n_tests
    drift = [
        test_column(
            profile.columns[column.name],
            current[column.name] if column.name in current else pd.Series([], name=column.name),
            method=column.method,
            threshold=column.threshold,
            effect_floor=column.effect_floor,
            noise_level=single,
        )
        for column in monitor.columns
    ]
    thresholds = monitor.thresholds
    n_p_value = sum(r.p_value is not None for r in drift)
    split = split_level(levels.window, n_p_value=n_p_value, n_other=n_tests - n_p_value)
    results = apply_correction(drift, alpha=split.corrected, correction=thresholds.correction)
    if profile.multivariate is not None and multivariate:
        names = [column.name for column in monitor.columns]
        if thresholds.multivariate == "mmd":
            results.append(test_mmd(profile.multivariate, current[names], alpha=single))
        else:
            results.append(
                test_pca_reconstruction(profile.multivariate, current[names], level=single)
            )
    perf = monitor.performance
    if perf and len(current) and perf.label in current and perf.prediction in current:
        results += compare_performance(
            profile.performance,
            current[perf.label],
            current[perf.prediction],
            perf.task,
            allowed_drop=perf.allowed_drop,
            column=perf.label,
        )
    return results


def run_verdict(monitor: MonitorSettings, results: Sequence[ColumnResult]) -> tuple[bool, str]:
    """Monitor-level decision and the sentence that explains it (``detectors.decide``).

    Single-window column results and the multivariate test decide as the
    thresholds say; a drifted pooled-window (sequential) test or a
    performance drop beyond ``allowed_drop`` also makes the run drift.
    """
    multivariate = next((r for r in results if r.column == MULTIVARIATE_COLUMN), None)
    kinds = [(result_kind(monitor, r), r) for r in results]
    thresholds = monitor.thresholds
    decision = decide_dataset(
        [r for kind, r in kinds if kind == "drift" and r is not multivariate],
        rule="any" if thresholds.drift_share is None else "share",
        share=thresholds.drift_share,
        key_columns=thresholds.key_columns,
        multivariate=multivariate,
        pooled=[r for kind, r in kinds if kind == "sequential"],
        performance=[r for kind, r in kinds if kind == "performance"],
    )
    return decision.drifted, decision.reason


def _performance_methods(monitor: MonitorSettings) -> frozenset[str]:
    if monitor.performance is None:
        return frozenset()
    return frozenset(
        ("accuracy", "f1") if monitor.performance.task == "classification" else ("mae", "rmse")
    )


def result_kind(monitor: MonitorSettings, result: ColumnResult) -> str:
    """ "performance", "sequential" (a pooled-window test) or "drift" (one window)."""
    if result.method in _performance_methods(monitor):
        return "performance"
    if "scale" in result.details:
        return "sequential"
    return "drift"


def _stored(monitor: MonitorSettings, result: ColumnResult) -> ResultView:
    return ResultView(
        kind=result_kind(monitor, result),
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
    kind = result_kind(monitor, result)
    return ColumnFact(
        column=result.column,
        method=result.method,
        kind=kind,
        drifted=result.drifted or (kind == "drift" and result.column in persistent),
        status=result.status,
        missing_share=_share(missing, missing + result.n_current)
        if isinstance(missing, int)
        else None,
        new_category_share=_share(new_rows, result.n_current) if new_rows is not None else None,
    )


def _alerting(
    ctx: RunContext,
    monitor: MonitorSettings,
    claim: store.Claim,
    window: Window,
    status: RunStatus,
    drifted: bool,
    reason: str,
    results: Sequence[ColumnResult],
) -> store.InTransaction:
    """The alert work for a finished run, to run inside its transaction."""
    persistent = frozenset(
        r.column for r in results if r.drifted and result_kind(monitor, r) == "sequential"
    )
    facts = RunFacts(
        status=status,
        drifted=drifted,
        reason=reason,
        columns=[
            _column_fact(monitor, r, persistent)
            for r in results
            if result_kind(monitor, r) != "sequential"
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
        run_url=f"{ctx.base_url}/api/runs/{claim.run_id}",
        drifted_columns=_drifted_columns(results),
        refresh_receivers=ctx.refresh_receivers,
        schedule_period=monitor.schedule.period(),
    )
    return lambda session: log_queued(process_alerts(session, monitor, run, facts), monitor)


def log_queued(messages: int, monitor: MonitorSettings) -> None:
    if messages:
        log.info("monitor %s: %d alert messages queued", monitor.name, messages)


RUN_COMPLETED = "run.completed"
"""The event type of the message every sink gets for a succeeded or empty run."""


def run_payload(
    monitor: MonitorSettings,
    run_id: int,
    finished_at: datetime,
    status: RunStatus,
    drifted: bool,
    results: Sequence[ColumnResult],
) -> dict[str, Any]:
    """A completed run as sinks receive it: the decision and every result's statistics."""
    return {
        "monitor": monitor.name,
        "run_id": run_id,
        "finished_at": finished_at.isoformat(),
        "status": status,
        "drifted": drifted,
        "results": [
            {
                "column": r.column,
                "method": r.method,
                "statistic": finite_or_none(r.statistic),
                "p_value": finite_or_none(r.p_value),
                "p_value_adjusted": finite_or_none(r.p_value_adjusted),
                "drifted": r.drifted,
            }
            for r in results
        ],
    }


def sink_message_id(run_id: int, sink: str) -> str:
    """One message per run and sink, stable across retries."""
    return "run_" + hashlib.sha256(f"{RUN_COMPLETED}:{run_id}:{sink}".encode()).hexdigest()[:32]


def _sinks(
    ctx: RunContext,
    monitor: MonitorSettings,
    claim: store.Claim,
    status: RunStatus,
    drifted: bool,
    results: Sequence[ColumnResult],
) -> store.InTransaction:
    """The sink messages for a completed run, to queue inside its transaction."""
    now = ctx.clock()
    payload = run_payload(monitor, claim.run_id, now, status, drifted, results)

    def queue(session: Session) -> None:
        for sink in monitor.sinks:
            add_outbox(
                session,
                message_id=sink_message_id(claim.run_id, sink),
                receiver=sink,
                event_type=RUN_COMPLETED,
                payload=payload,
                run_id=claim.run_id,
                now=now,
            )

    return queue


def _history(
    claim: store.Claim, window: Window, key: str, pooled: SequentialOutcome, levels: RunLevels
) -> store.InTransaction:
    """This run's window sketches, added to the sequential tests' history in its transaction."""
    sketches = pooled.sketches

    def add(session: Session) -> None:
        if sketches:
            add_sketch(
                session,
                monitor_id=claim.monitor_id,
                run_id=claim.run_id,
                reference_key=key,
                scheduled_for=claim.scheduled_for,
                window_start=window.start,
                window_end=window.end,
                columns=sketches,
                keep=history_rows(levels),
            )

    return add


def _together(*steps: store.InTransaction) -> store.InTransaction:
    def run_all(session: Session) -> None:
        for step in steps:
            step(session)

    return run_all


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
        profile = reference_profile(ctx, monitor, monitor_id, source)
        current = source.sample(window, monitor.sample_limit, seed=int(scheduled_for.timestamp()))
        levels = monitor_levels(monitor)
        results = evaluate(monitor, profile, current, levels)
        key = ctx.profiles[monitor_id][0]
        pooled = sequential_tests(
            ctx.engine,
            monitor,
            monitor_id,
            key,
            profile.columns,
            window,
            current,
            results,
            levels,
            ctx.sketches,
        )
        results += pooled.results
    except (SourceError, DataError, ValueError) as exc:
        reason = str(exc)
        log.warning("run %d of monitor %s failed: %s", claim.run_id, monitor.name, reason)
        store.fail_run(
            ctx.engine,
            claim,
            reason,
            _alerting(ctx, monitor, claim, window, "failed", False, reason, ()),
        )
        ctx.metrics.record_failed_run(monitor.name, time.monotonic() - started)
        return RunOutcome(claim.run_id, monitor.name, "failed", None, reason, window)
    if len(current) == 0:
        drifted, reason = False, f"no data: the window {window.start} .. {window.end} is empty"
    else:
        drifted, reason = run_verdict(monitor, results)
    status: RunStatus = "empty" if len(current) == 0 else "succeeded"
    store.finish_run(
        ctx.engine,
        claim,
        status=status,
        drifted=drifted,
        reason=reason,
        n_reference=profile.n_rows,
        n_current=len(current),
        results=[_stored(monitor, r) for r in results],
        within=_together(
            _alerting(ctx, monitor, claim, window, status, drifted, reason, results),
            _sinks(ctx, monitor, claim, status, drifted, results),
            _history(claim, window, key, pooled, levels),
        ),
    )
    ctx.metrics.record_successful_run(
        monitor.name,
        drifted,
        time.monotonic() - started,
        ctx.clock(),
        [ColumnSample(r.column, r.method, r.statistic, r.p_value, r.drifted) for r in results],
    )
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
