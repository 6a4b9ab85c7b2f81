"""A claim is a lease: renewed while its run is in progress, failed (with its alert) and
retried within grace once it expires; no run ends ``running``. SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
import pytest
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from monitor.config import MonitorSettings
from monitor.metrics import Metrics
from monitor.runner import (
    EXPIRED_REASON,
    MAX_ATTEMPTS,
    RunContext,
    claim_slot,
    expire_claims,
    run_check,
    run_claimed,
)
from monitor.sources import build_source
from monitor.sources.base import Source, Window
from monitor.store import engine as store_engine
from monitor.store.engine import make_engine, upgrade
from monitor.store.models import AlertRow, OutboxRow, RunRow, utcnow
from monitor.store.retention import prune
from monitor.store.runs import expired_claims, renew_lease
from tests.faults import TcpFault
from tests.monitor.test_runner import QUIET, demo_monitor
from tests.support import wait_for

LEASE = timedelta(seconds=15)
GRACE = timedelta(seconds=60)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def failing_monitor() -> MonitorSettings:
    """The demo monitor with one rule: alert on every failed run."""
    return demo_monitor(rules=[{"name": "failed", "type": "run_failed"}], performance=None)


def context(
    engine: Engine,
    monitor: MonitorSettings,
    worker: str,
    clock: Clock | None = None,
    source: Source | None = None,
    **overrides: Any,
) -> RunContext:
    return RunContext(
        engine=engine,
        metrics=Metrics(),
        sources={monitor.name: source or build_source(monitor.source)},
        worker_id=worker,
        base_url="http://127.0.0.1:8470",
        clock=clock or utcnow,
        lease=overrides.pop("lease", LEASE),
        **overrides,
    )


def run_row(engine: Engine) -> RunRow:
    with Session(engine) as session:
        row = session.scalars(select(RunRow)).one()
        session.expunge(row)
        return row


def alert_states(engine: Engine) -> dict[str, str]:
    with Session(engine) as session:
        return {
            rule: state for rule, state in session.execute(select(AlertRow.rule, AlertRow.state))
        }


def test_a_claim_holds_its_lease_until_it_is_not_renewed(engine: Engine) -> None:
    monitor = failing_monitor()
    clock = Clock(QUIET)
    claim = claim_slot(context(engine, monitor, "a", clock), monitor, QUIET, "schedule")
    assert claim is not None and (claim.claimed_by, claim.attempt) == ("a", 1)
    row = run_row(engine)
    assert (row.status, row.lease_until, row.attempt) == ("running", QUIET + LEASE, 1)

    assert renew_lease(engine, claim, QUIET + 2 * LEASE)
    assert expired_claims(engine, QUIET + LEASE + timedelta(seconds=1)) == []
    [expired] = expired_claims(engine, QUIET + 2 * LEASE + timedelta(seconds=1))
    assert (expired.claim, expired.monitor) == (claim, "demo")


def test_an_expired_claim_fails_with_its_alert_and_its_slot_runs_again(engine: Engine) -> None:
    monitor = failing_monitor()
    started = Clock(QUIET)
    killed = claim_slot(context(engine, monitor, "killed", started), monitor, QUIET, "schedule")
    assert killed is not None  # ... and the process that claimed it dies here

    later = Clock(QUIET + LEASE + timedelta(seconds=1))
    sweeper = context(engine, monitor, "sweeper", later)
    other_replica = context(engine, monitor, "other", later)
    assert expire_claims(sweeper, {"demo": monitor}, GRACE) == [(monitor, killed)]
    assert expire_claims(other_replica, {"demo": monitor}, GRACE) == []

    row = run_row(engine)
    assert (row.status, row.reason, row.lease_until) == ("failed", EXPIRED_REASON, None)
    assert row.reason == "claim expired: the process running it stopped or lost the store"
    assert alert_states(engine) == {"failed": "firing"}
    with Session(engine) as session:
        [message] = session.scalars(select(OutboxRow)).all()
    assert (message.receiver, message.event_type, message.run_id) == (
        "hook",
        "alert.firing",
        row.id,
    )
    assert message.payload["alert"]["rule"] == "failed"
    assert message.payload["decision"]["reason"] == EXPIRED_REASON

    retry = claim_slot(sweeper, monitor, QUIET, "schedule", retry=killed)
    assert claim_slot(other_replica, monitor, QUIET, "schedule", retry=killed) is None
    assert retry is not None and (retry.run_id, retry.attempt) == (row.id, 2)
    outcome = run_claimed(sweeper, monitor, retry)
    assert outcome is not None and outcome.status == "succeeded"
    row = run_row(engine)
    assert (row.status, row.attempt, row.claimed_by, row.lease_until) == (
        "succeeded",
        2,
        "sweeper",
        None,
    )

    # The first claimant comes back: its claim is no longer its own, nothing is stored.
    assert run_claimed(context(engine, monitor, "killed", started), monitor, killed) is None
    assert (run_row(engine).status, run_row(engine).claimed_by) == ("succeeded", "sweeper")


def test_a_slot_past_its_grace_or_its_attempts_is_not_retried(engine: Engine) -> None:
    monitor = failing_monitor()
    claim = claim_slot(context(engine, monitor, "a", Clock(QUIET)), monitor, QUIET, "schedule")
    assert claim is not None
    late = context(engine, monitor, "b", Clock(QUIET + GRACE + timedelta(seconds=1)))
    assert expire_claims(late, {"demo": monitor}, GRACE) == []
    assert run_row(engine).status == "failed"

    slot = QUIET + timedelta(minutes=5)
    clock = Clock(slot)
    ctx = context(engine, monitor, "c", clock)
    claim = claim_slot(ctx, monitor, slot, "schedule")
    for _ in range(MAX_ATTEMPTS - 1):
        clock.now += LEASE + timedelta(seconds=1)
        [(_, expired)] = expire_claims(ctx, {"demo": monitor}, GRACE)
        claim = claim_slot(ctx, monitor, slot, "schedule", retry=expired)
    assert claim is not None and claim.attempt == MAX_ATTEMPTS
    clock.now += LEASE + timedelta(seconds=1)
    assert expire_claims(ctx, {"demo": monitor}, GRACE) == []


def test_the_heartbeat_renews_a_run_in_progress_until_its_timeout(sqlite_engine: Engine) -> None:
    monitor = failing_monitor()
    release = threading.Event()
    source = GatedSource(build_source(monitor.source), release)
    lease = timedelta(milliseconds=300)
    ctx = context(sqlite_engine, monitor, "a", source=source, lease=lease)
    run = threading.Thread(target=run_check, args=(ctx, monitor, QUIET, "schedule"))
    run.start()
    wait_for(lambda: source.waiting.is_set(), "the run to wait in its source")
    first = run_row(sqlite_engine).lease_until
    assert first is not None
    wait_for(lambda: (run_row(sqlite_engine).lease_until or first) > first, "a renewal")
    release.set()
    run.join()
    assert (run_row(sqlite_engine).status, run_row(sqlite_engine).lease_until) == (
        "succeeded",
        None,
    )

    # Past run_timeout a run is no longer renewed: its claim expires though its thread hangs.
    hung = context(
        sqlite_engine,
        monitor,
        "b",
        source=GatedSource(build_source(monitor.source), threading.Event()),
        lease=lease,
        run_timeout=timedelta(milliseconds=500),
    )
    slot = QUIET + timedelta(minutes=5)
    threading.Thread(target=run_check, args=(hung, monitor, slot, "schedule"), daemon=True).start()
    wait_for(lambda: bool(expired_claims(sqlite_engine, utcnow())), "the hung run's lease to end")


def test_an_unexpected_exception_is_a_failed_run_with_a_readable_reason(engine: Engine) -> None:
    monitor = failing_monitor()
    ctx = context(engine, monitor, "a", source=BrokenSource())
    outcome = run_check(ctx, monitor, QUIET, "schedule")
    assert outcome is not None and outcome.status == "failed"
    assert outcome.reason == "unexpected error: ZeroDivisionError: the disk is full of zeros"
    row = run_row(engine)
    assert (row.status, row.reason, row.lease_until) == ("failed", outcome.reason, None)
    assert alert_states(engine) == {"failed": "firing"}


def test_a_store_error_between_claim_and_finish_expires_and_retries(postgres_url: str) -> None:
    monitor = failing_monitor()
    server = "127.0.0.1:5432"
    assert server in postgres_url, "the proxy stands in front of the test server"
    proxy = TcpFault("forward", ("127.0.0.1", 5432))
    engine = make_engine(postgres_url.replace(server, f"127.0.0.1:{proxy.port}"))
    try:
        upgrade(engine)
        clock = Clock(QUIET)
        source = CuttingSource(build_source(monitor.source), proxy)
        ctx = context(engine, monitor, "a", clock, source=source)
        with pytest.raises(OperationalError):
            run_check(ctx, monitor, QUIET, "schedule")
        proxy.set_mode("forward")
        assert run_row(engine).status == "running"

        clock.now += LEASE + timedelta(seconds=1)
        sweeper = context(engine, monitor, "b", clock)
        [(_, expired)] = expire_claims(sweeper, {"demo": monitor}, GRACE)
        assert (run_row(engine).status, run_row(engine).reason) == ("failed", EXPIRED_REASON)
        assert alert_states(engine) == {"failed": "firing"}
        retry = claim_slot(sweeper, monitor, QUIET, "schedule", retry=expired)
        assert retry is not None
        outcome = run_claimed(sweeper, monitor, retry)
        assert outcome is not None and outcome.status == "succeeded"
    finally:
        engine.dispose()
        proxy.close()


def test_retention_prunes_expired_runs(store_url: str) -> None:
    engine = make_engine(store_url)
    upgrade(engine)
    monitor = failing_monitor()
    claim = claim_slot(context(engine, monitor, "a", Clock(QUIET)), monitor, QUIET, "schedule")
    assert claim is not None
    later = context(engine, monitor, "b", Clock(QUIET + LEASE + timedelta(seconds=1)))
    # A monitor no longer configured: failed without its (unknown) rules, so no alert keeps it.
    assert expire_claims(later, {}, GRACE) == []
    assert (run_row(engine).status, run_row(engine).reason) == ("failed", EXPIRED_REASON)
    assert prune(engine, utcnow() + timedelta(days=1)).runs == 1
    engine.dispose()


def test_rows_left_running_before_leases_expire_at_the_first_sweep(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    config = AlembicConfig()
    config.set_main_option("script_location", str(store_engine._MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0005")
        connection.execute(
            text("INSERT INTO monitors (id, name, created_at) VALUES (1, 'm', :t)"), {"t": QUIET}
        )
        connection.execute(
            text(
                "INSERT INTO runs (monitor_id, scheduled_for, trigger, status, started_at, "
                "window_start, window_end, claimed_by) VALUES (1, :t, 'schedule', 'running', "
                ":t, :t, :t, 'gone')"
            ),
            {"t": QUIET.replace(tzinfo=None)},
        )
    upgrade(engine)
    [expired] = expired_claims(engine, QUIET + timedelta(seconds=1))
    assert (expired.monitor, expired.claim.attempt, expired.started_at) == ("m", 1, QUIET)
    engine.dispose()


class GatedSource:
    """A source whose sample waits until the test releases it (a slow source, deterministically)."""

    def __init__(self, inner: Source, release: threading.Event) -> None:
        self._inner = inner
        self._release = release
        self.waiting = threading.Event()

    def sample(self, window: Window | None, limit: int, seed: int) -> pd.DataFrame:
        self.waiting.set()
        self._release.wait()
        return self._inner.sample(window, limit, seed)

    def close(self) -> None:
        self._inner.close()


class BrokenSource:
    def sample(self, window: Window | None, limit: int, seed: int) -> pd.DataFrame:
        raise ZeroDivisionError("the disk is full of zeros")

    def close(self) -> None:
        pass


class CuttingSource:
    """Samples, then cuts the store's connections: the run fails between claim and finish."""

    def __init__(self, inner: Source, proxy: TcpFault) -> None:
        self._inner = inner
        self._proxy = proxy

    def sample(self, window: Window | None, limit: int, seed: int) -> pd.DataFrame:
        frame = self._inner.sample(window, limit, seed)
        if window is not None and window.end == QUIET:
            self._proxy.set_mode("refuse")
        return frame

    def close(self) -> None:
        self._inner.close()
