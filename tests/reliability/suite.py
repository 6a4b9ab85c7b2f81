"""The reliability suite: real daemons under kill -9, hangs and a store restart, measured.

One run, phase after phase, each with a deadline (today's daemon has runs
that never end, so nothing here waits without one).

1. set-up: a PostgreSQL cluster of the suite's own (``tests/faults.py``) holds the
   store and the SQL monitors' table; the monitors, receivers and data of
   ``scenario.py``; daemon ``a`` started;
2. steady: the load runs untouched; the ``flaky`` receiver starts refusing
   half-way and comes back ``flaky_seconds`` later;
3. kills: ``kills`` times, after a seeded random uptime, kill -9 a daemon and
   start it again; from kill ``replica_from_kill`` on, replica ``b`` runs too
   and either may be the one killed;
4. outage: the cluster stops (``pg_ctl stop -m fast``) for ``outage_seconds``
   under both daemons, starts again, and the load runs ``recovery_seconds``;
5. drain: replica ``b`` stops; ``a`` runs until every message queued during
   the load was delivered and every slot of the load has a finished run, or
   ``drain_seconds`` pass; then ``a`` stops (SIGTERM, SIGKILL after 20 s).

Then ``figures.py`` computes the figures from the store and the receivers'
records. ``python -m tests.reliability.suite --json out.json`` runs the full
plan (``make reliability``), ``--short`` the one ``test_reliability.py`` runs.
Config keys the daemon does not have today are passed with ``--set KEY=VALUE``
or ``DRIFTWARDEN_RELIABILITY_SET="KEY=VALUE;KEY=VALUE"``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import SQLAlchemyError

from tests.faults import PostgresCluster, TcpFault, free_port, postgres_bin
from tests.reliability.daemons import Daemon, DaemonFailed, start_daemon
from tests.reliability.figures import (
    Phase,
    StoredMessage,
    StoredRun,
    delivery_figures,
    due_slots,
    run_figures,
)
from tests.reliability.scenario import (
    ENV_PREFIX,
    HEALTHY_MONITORS,
    HUNG_MONITORS,
    LATENCY_RECEIVER,
    RECORDING_RECEIVERS,
    SCHEDULE,
    STEADY_MONITOR,
    apply_overrides,
    build_config,
    to_toml,
    write_files,
    write_table,
)
from tests.reliability.servers import RecordingReceiver

OVERRIDES_ENV = "DRIFTWARDEN_RELIABILITY_SET"
STORE_TIMEOUT_SECONDS = 5
START_ATTEMPTS = 3
SERVER_SETTINGS = {"max_connections": "300", "client_connection_check_interval": "1000"}
"""Sessions of a daemon killed mid-query (a pg_sleep) end within a second, not a day."""
LOG_NEEDLES = {
    "tracebacks": "Traceback (most recent call last)",
    "fires skipped, previous run still running": "maximum number of running instances reached",
    "runs skipped, store unavailable": "store unavailable, run skipped",
}
"""Daemon log lines counted after the run: diagnostics beside the figures, not goals."""


@dataclass(frozen=True)
class Plan:
    seed: int = 11
    steady_seconds: float = 60.0
    flaky_seconds: float = 30.0
    kills: int = 20
    replica_from_kill: int = 10
    uptime_before_kill: tuple[float, float] = (1.0, 6.0)
    outage_seconds: float = 40.0
    recovery_seconds: float = 15.0
    drain_seconds: float = 90.0
    hung_sources: int = 2
    hung_receiver: bool = True
    overrides: tuple[str, ...] = ()

    def horizon(self) -> timedelta:
        """How long the data must last: every phase at its deadline, and then some."""
        kills = self.kills * (self.uptime_before_kill[1] + 60.0)
        seconds = self.steady_seconds + kills + self.outage_seconds + self.recovery_seconds
        return timedelta(seconds=seconds + self.drain_seconds + 600.0)


FULL = Plan()
SHORT = Plan(
    steady_seconds=20.0,
    flaky_seconds=10.0,
    kills=3,
    replica_from_kill=2,
    uptime_before_kill=(1.0, 4.0),
    outage_seconds=10.0,
    recovery_seconds=8.0,
    drain_seconds=30.0,
)


@dataclass
class Timeline:
    """What the driver did and when (wall-clock seconds), for the figures and the report."""

    phases: dict[str, Phase] = field(default_factory=dict)
    kills: int = 0
    restart_seconds: list[float] = field(default_factory=list)
    restart_failures: list[str] = field(default_factory=list)
    daemons_dead_after_outage: int = 0
    outage_seconds: float = 0.0
    drained: bool = False
    drain_seconds: float = 0.0
    final_stop_seconds: float = 0.0
    final_stop_forced: bool = False


@dataclass(frozen=True)
class Report:
    plan: Plan
    figures: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"plan": asdict(self.plan), "figures": self.figures}


class SuiteError(Exception):
    """The suite could not set itself up (no PostgreSQL binaries, a cluster that fails)."""


def hold(seconds: float) -> None:
    """Let the load run: how long a phase lasts is the scenario, not synchronisation."""
    time.sleep(max(0.0, seconds))


def _store_engine(url: str) -> Engine:
    return create_engine(
        url,
        connect_args={
            "connect_timeout": STORE_TIMEOUT_SECONDS,
            "options": f"-c statement_timeout={STORE_TIMEOUT_SECONDS * 1000}",
        },
    )


def _epoch(moment: datetime) -> float:
    return moment.timestamp()


def read_runs(engine: Engine) -> list[StoredRun]:
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT m.name, r.scheduled_for, r.status, r.reason, r.started_at, r.finished_at "
                "FROM runs r JOIN monitors m ON m.id = r.monitor_id"
            )
        ).all()
    return [
        StoredRun(
            row.name,
            _epoch(row.scheduled_for),
            row.status,
            row.reason,
            _epoch(row.started_at),
            None if row.finished_at is None else _epoch(row.finished_at),
        )
        for row in rows
    ]


def read_messages(engine: Engine) -> list[StoredMessage]:
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT id, message_id, receiver, created_at, status, payload FROM outbox")
        ).all()
    return [
        StoredMessage(
            id=row.id,
            message_id=row.message_id,
            receiver=row.receiver,
            monitor=str((row.payload or {}).get("monitor", "")),
            created_at=_epoch(row.created_at),
            status=row.status,
        )
        for row in rows
    ]


class Load:
    """The daemons and their counterparts for one run of the suite."""

    def __init__(
        self, plan: Plan, directory: Path, cluster: PostgresCluster, code: Path | None
    ) -> None:
        self.plan = plan
        self.directory = directory
        self.cluster = cluster
        self.timeline = Timeline()
        self.rng = random.Random(plan.seed)
        self.receivers = {name: RecordingReceiver() for name in RECORDING_RECEIVERS}
        self.hung_source = TcpFault("hang")
        self.hung_receiver = TcpFault("hang")
        self.daemons: dict[str, Daemon] = {}
        self.configs: dict[str, tuple[Path, int]] = {}
        self.store_url = cluster.url
        self.code = code
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
        if code is not None:
            self.env["PYTHONPATH"] = str(code)
        self.env.update(
            {
                f"{ENV_PREFIX}STORE_URL": self.store_url,
                f"{ENV_PREFIX}SOURCE_URL": _source_url(cluster),
                f"{ENV_PREFIX}HUNG_SOURCE_URL": (
                    f"postgresql+psycopg://postgres@127.0.0.1:{self.hung_source.port}/hung"
                ),
                f"{ENV_PREFIX}HUNG_URL": f"http://127.0.0.1:{self.hung_receiver.port}/hook",
                **{
                    f"{ENV_PREFIX}{name.upper()}_URL": receiver.url
                    for name, receiver in self.receivers.items()
                },
            }
        )

    def close(self) -> None:
        for daemon in self.daemons.values():
            daemon.kill()
        for receiver in self.receivers.values():
            receiver.close()
        self.hung_source.close()
        self.hung_receiver.close()

    def _config(self, name: str) -> tuple[Path, int]:
        if name not in self.configs:
            port = free_port()
            document = build_config(
                self.directory, port, self.plan.hung_sources, self.plan.hung_receiver
            )
            apply_overrides(document, self.plan.overrides)
            path = self.directory / f"config-{name}.toml"
            path.write_text(to_toml(document))
            self.configs[name] = (path, port)
        return self.configs[name]

    def start(self, name: str) -> None:
        """Start daemon ``name``; a start that fails is a figure, and is tried again."""
        path, port = self._config(name)
        log = self.directory / f"daemon-{name}.log"
        started = time.monotonic()
        for _ in range(START_ATTEMPTS):
            try:
                self.daemons[name] = start_daemon(name, path, self.env, log, port, self.code)
            except DaemonFailed as exc:
                self.timeline.restart_failures.append(str(exc))
                continue
            self.timeline.restart_seconds.append(round(time.monotonic() - started, 2))
            return
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
        raise DaemonFailed(f"daemon {name} failed to start {START_ATTEMPTS} times:\n{tail}")

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start = time.time()
        try:
            yield
        finally:
            self.timeline.phases[name] = (start, time.time())

    def run(self) -> None:
        plan = self.plan
        self.start("a")
        load_start = time.time()
        with self.phase("steady"):
            hold(plan.steady_seconds / 2)
            self.receivers["flaky"].refusing.set()
            back = threading.Timer(plan.flaky_seconds, self.receivers["flaky"].refusing.clear)
            back.daemon = True
            back.start()
            hold(plan.steady_seconds / 2)
        with self.phase("kills"):
            for kill in range(plan.kills):
                if kill == plan.replica_from_kill:
                    self.start("b")
                hold(self.rng.uniform(*plan.uptime_before_kill))
                victim = self.rng.choice(sorted(self.daemons))
                self.daemons[victim].kill()
                self.timeline.kills += 1
                self.start(victim)
        back.join()
        with self.phase("outage"):
            stopped = time.time()
            self.cluster.stop()
            hold(plan.outage_seconds)
            self.cluster.start()
            self.timeline.outage_seconds = round(time.time() - stopped, 1)
        with self.phase("recovery"):
            hold(plan.recovery_seconds)
            for name, daemon in sorted(self.daemons.items()):
                if not daemon.alive():
                    self.timeline.daemons_dead_after_outage += 1
                    self.start(name)
        if "b" in self.daemons:
            self.daemons.pop("b").stop()
        self.timeline.phases["load"] = (load_start, time.time())
        with self.phase("drain"):
            self._drain()
        seconds, forced = self.daemons.pop("a").stop()
        self.timeline.final_stop_seconds = round(seconds, 1)
        self.timeline.final_stop_forced = forced

    def _drained(self, engine: Engine, load: Phase) -> bool:
        """Every message queued in the load delivered or dead; every healthy slot finished."""
        waiting = [
            m
            for m in read_messages(engine)
            if m.receiver in RECORDING_RECEIVERS
            and m.status in ("pending", "sending")
            and m.created_at <= load[1]
        ]
        if waiting:
            return False
        runs = [run for run in read_runs(engine) if run.monitor in HEALTHY_MONITORS]
        finished = {(r.monitor, r.scheduled_for) for r in runs if r.status != "running"}
        slots = due_slots(SCHEDULE, load)
        return all((m, slot) in finished for m in HEALTHY_MONITORS for slot in slots)

    def _drain(self) -> None:
        load = self.timeline.phases["load"]
        started = time.monotonic()
        engine = _store_engine(self.store_url)
        try:
            while time.monotonic() - started < self.plan.drain_seconds:
                try:
                    if self._drained(engine, load):
                        self.timeline.drained = True
                        break
                except SQLAlchemyError:  # a store that answers late is measured, not fatal
                    pass
                hold(1.0)
        finally:
            engine.dispose()
        self.timeline.drain_seconds = round(time.monotonic() - started, 1)

    def figures(self) -> dict[str, Any]:
        engine = _store_engine(self.store_url)
        try:
            runs = read_runs(engine)
            messages = read_messages(engine)
        finally:
            engine.dispose()
        phases = self.timeline.phases
        load = phases["load"]
        hung = HUNG_MONITORS[: self.plan.hung_sources]
        timed = {name: phases[name] for name in ("steady", "kills", "outage", "recovery")}
        logs = [path.read_text(errors="replace") for path in self.directory.glob("daemon-*.log")]
        timeline = self.timeline
        return {
            "runs": run_figures(
                runs, SCHEDULE, HEALTHY_MONITORS, hung, load, timed, STEADY_MONITOR
            ),
            "deliveries": {
                name: delivery_figures(name, receiver.arrivals(), messages, load, phases["steady"])
                for name, receiver in self.receivers.items()
            },
            "latency_receiver": LATENCY_RECEIVER,
            "hung_connections": {
                "source": self.hung_source.accepted,
                "receiver": self.hung_receiver.accepted,
            },
            "daemon": {
                "kills": timeline.kills,
                "restart_seconds_max": max(timeline.restart_seconds, default=0.0),
                "restart_failures": len(timeline.restart_failures),
                "dead_after_outage": timeline.daemons_dead_after_outage,
                "log_lines": {
                    name: sum(log.count(needle) for log in logs)
                    for name, needle in LOG_NEEDLES.items()
                },
                "final_stop_seconds": timeline.final_stop_seconds,
                "final_stop_forced": timeline.final_stop_forced,
            },
            "outage_seconds": timeline.outage_seconds,
            "drained": timeline.drained,
            "drain_seconds": timeline.drain_seconds,
            "phase_seconds": {name: round(end - start, 1) for name, (start, end) in phases.items()},
        }


def _source_url(cluster: PostgresCluster) -> str:
    return f"postgresql+psycopg://postgres@127.0.0.1:{cluster.port}/source"


def _prepare_data(cluster: PostgresCluster, plan: Plan, directory: Path) -> None:
    admin = create_engine(cluster.url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text("CREATE DATABASE source"))
    finally:
        admin.dispose()
    now = datetime.now(UTC).replace(microsecond=0)
    start, end = now - timedelta(minutes=10), now + plan.horizon()
    write_table(_source_url(cluster), start, end, plan.seed)
    write_files(directory, start, end, plan.seed)


def run_suite(plan: Plan, directory: Path, code: Path | None = None) -> Report:
    """Run ``plan`` with ``directory`` for configs, data and daemon logs; return its figures.

    ``code``: a checkout to run the daemon from (default: this one), for figures before a change.
    """
    binaries = postgres_bin()
    if binaries is None:
        raise SuiteError("no PostgreSQL server binaries (initdb, pg_ctl) on this machine")
    try:
        cluster = PostgresCluster(binaries, settings=SERVER_SETTINGS)
    except subprocess.CalledProcessError as exc:
        raise SuiteError(f"own PostgreSQL cluster: {exc}") from None
    try:
        _prepare_data(cluster, plan, directory)
        load = Load(plan, directory, cluster, code)
        try:
            load.run()
            return Report(plan, load.figures())
        finally:
            load.close()
    finally:
        cluster.remove()


def _number(value: Any) -> str:
    return "-" if value is None else str(value)


def render(report: Report) -> str:
    """The figures as a table (what the closing note of issue 11 quotes)."""
    plan, figures = report.plan, report.figures
    runs, daemon = figures["runs"], figures["daemon"]
    healthy = figures["deliveries"][figures["latency_receiver"]]
    lines = [
        f"driftwarden reliability suite: seed {plan.seed}, {daemon['kills']} kills -9, "
        f"PostgreSQL outage {figures['outage_seconds']} s, {plan.hung_sources} hung sources, "
        f"hung receiver {'yes' if plan.hung_receiver else 'no'}",
        f"phases (s): {figures['phase_seconds']}",
        "",
        f"{'figure':<60} value",
    ]

    def row(name: str, value: Any) -> None:
        lines.append(f"{name:<60} {value}")

    row("runs lost (healthy slots without a run)", f"{runs['lost']} of {runs['due']}")
    for phase, lost in runs["lost_by_phase"].items():
        row(f"  lost in {phase}", lost)
    row(
        "runs stuck in running",
        f"{runs['stuck']} (healthy {runs['stuck_healthy']}, hung {runs['stuck_hung']})",
    )
    row(
        f"healthy monitor ({runs['steady_monitor']}): steady slots run in time",
        f"{runs['steady_ran']} of {runs['steady_due']}",
    )
    for name, stats in figures["deliveries"].items():
        row(
            f"[{name}] messages received / queued in load",
            f"{stats['messages_received']} / {stats['messages_queued']}"
            f" (never received {stats['never_received']}: still pending "
            f"{stats['still_pending']}, dead {stats['dead']})",
        )
        row(f"[{name}] duplicate events (same event, other id)", stats["duplicate_events"])
        row(f"[{name}] ids reused for another event", stats["ids_reused"])
        row(f"[{name}] redelivered with the same webhook-id", stats["redelivered_same_id"])
        row(
            f"[{name}] out of order (resolved before firing)",
            f"{stats['out_of_order']} ({stats['resolved_before_firing']})",
        )
    for label, key in (("whole load", "latency_s"), ("steady phase", "steady_latency_s")):
        latency = healthy[key]
        row(
            f"[{figures['latency_receiver']}] latency, {label} (s)",
            f"p50 {_number(latency['p50'])}, p95 {_number(latency['p95'])}, "
            f"max {_number(latency['max'])} (n={latency['n']})",
        )
    row(
        "daemon restarts: slowest (s) / failed",
        f"{daemon['restart_seconds_max']} / {daemon['restart_failures']}",
    )
    row("daemons dead after the outage", daemon["dead_after_outage"])
    for name, count in daemon["log_lines"].items():
        row(f"daemon log lines: {name}", count)
    row(
        "drained within deadline",
        f"{'yes' if figures['drained'] else 'no'} ({figures['drain_seconds']} s)",
    )
    row(
        "final SIGTERM stop (s)",
        f"{daemon['final_stop_seconds']}"
        + (" (forced: SIGKILL)" if daemon["final_stop_forced"] else ""),
    )
    lines.append("")
    lines.append(
        f"{'monitor':<10} {'due':>5} {'lost':>5} {'succeeded':>9} {'empty':>6} "
        f"{'failed':>6} {'running':>7} {'late':>5}"
    )
    for name, stats in runs["per_monitor"].items():
        lines.append(
            f"{name:<10} {stats['due']:>5} {stats['lost']:>5} {stats['succeeded']:>9} "
            f"{stats['empty']:>6} {stats['failed']:>6} {stats['running']:>7} {stats['late']:>5}"
        )
    if runs["failed_reasons"]:
        lines.append("")
        lines.append("healthy monitors' failed runs, by reason:")
        lines.extend(f"  {count:>4}  {reason}" for reason, count in runs["failed_reasons"].items())
    return "\n".join(lines)


def overrides_from_env() -> tuple[str, ...]:
    return tuple(
        part.strip() for part in os.environ.get(OVERRIDES_ENV, "").split(";") if part.strip()
    )


def parse_args(argv: Sequence[str]) -> tuple[Plan, argparse.Namespace]:
    parser = argparse.ArgumentParser(
        prog="python -m tests.reliability.suite",
        description="Real daemons under kill -9, hangs and a store restart, measured.",
    )
    parser.add_argument("--short", action="store_true", help="the short plan of the pytest test")
    parser.add_argument("--json", type=Path, help="write the figures (and the plan) here")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--kills", type=int)
    parser.add_argument("--outage", type=float, help="seconds PostgreSQL stays down")
    parser.add_argument("--steady", type=float, help="seconds of the steady phase")
    parser.add_argument("--hung-sources", type=int, choices=(0, 1, 2))
    parser.add_argument("--no-hung-receiver", action="store_true")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a config key to add, e.g. scheduler.run_timeout=20s or monitors.*.window=4s",
    )
    parser.add_argument(
        "--code", type=Path, help="run the daemon from this checkout (figures before a change)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    args = parser.parse_args(argv)
    plan = SHORT if args.short else FULL
    changes: dict[str, Any] = {"overrides": overrides_from_env() + tuple(args.set)}
    for key, value in (
        ("seed", args.seed),
        ("kills", args.kills),
        ("outage_seconds", args.outage),
        ("steady_seconds", args.steady),
        ("hung_sources", args.hung_sources),
    ):
        if value is not None:
            changes[key] = value
    if args.no_hung_receiver:
        changes["hung_receiver"] = False
    plan = replace(plan, **changes)
    if plan.replica_from_kill > plan.kills:
        plan = replace(plan, replica_from_kill=plan.kills // 2)
    return plan, args


def main(argv: Sequence[str] | None = None) -> int:
    plan, args = parse_args(sys.argv[1:] if argv is None else argv)
    directory = Path(tempfile.mkdtemp(prefix="driftwarden-reliability-"))
    try:
        report = run_suite(plan, directory, args.code)
    except (SuiteError, DaemonFailed) as exc:
        print(f"reliability suite: {exc}", file=sys.stderr)
        return 2
    finally:
        if not args.keep:
            shutil.rmtree(directory, ignore_errors=True)
    print(render(report))
    if args.keep:
        print(f"\nwork directory (configs, daemon and PostgreSQL logs): {directory}")
    if args.json is not None:
        args.json.write_text(json.dumps(report.to_json(), indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
