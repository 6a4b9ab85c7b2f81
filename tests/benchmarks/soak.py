"""Many monitors on one machine: real daemons over PostgreSQL tables that keep filling, measured.

Run with `python -m tests.benchmarks.soak` (`make bench` runs it with the
defaults below); prints one measurement of this run, never a pass/fail test.
``tests/reliability/test_soak.py`` runs a small plan against the same goals.

Set-up: a PostgreSQL cluster of the soak's own (``tests.faults``) holds the
store (database ``test``) and the sources (database ``source``): ``tables``
tables ``soak_events_<k>`` of a timestamp and three columns (two numeric,
one categorical), which a thread of the driver fills as time passes, so that
every window of every monitor holds ``rows_per_window`` rows (prefilled for
the reference window and the first windows). ``monitors`` monitors, round
robin over the tables, each on ``schedule`` with a window of one period,
default thresholds, a fixed past window as reference. ``replicas`` daemons
(``driftwarden run --config ...``, ``tests.reliability.daemons``) share the
store; each names its store and source connections (``application_name``)
so the server's ``pg_stat_activity`` tells them apart.

Measured over ``duration`` seconds of load, then a drain (until every slot
due in the load has a finished run, or ``DRAIN_SECONDS``):

- **slots due / completed**: the fire times of each monitor inside the load
  (as the daemon computes them) and the runs stored for them that ended
  ``succeeded`` or ``empty``; failed and never-run slots are counted apart;
- **lateness**: a run's ``started_at`` minus its slot (p50, p95, max);
  every monitor's slot is the same instant, so a slot's runs start as fast
  as the daemons get through them: the **start rate** (runs of a slot over
  the time to its last start, median over slots) tells how many monitors one
  slot can hold within the lateness goal;
- **RSS**: each daemon's resident set (``/proc/<pid>/status``) every
  ``sample_seconds``; start and end are the means of the first and the last
  third of the samples;
- **connections**: the largest count, over the same samples, of each
  daemon's store and source sessions in ``pg_stat_activity``, against the
  store's pool bound (``monitor.store.engine``); the daemons connect as a
  role of their own, so the driver's superuser sessions stay measurable when
  they exhaust the server's ``max_connections``;
- **load average** of the machine over the same samples: anything else that
  runs on it slows the daemons too.

Goals: every slot completed, lateness p95 under 60 s, RSS end at most 10%
above its start, store connections within the pool bound. The tables and the
cluster are removed at the end. ``--code`` runs the daemons from another
checkout (figures before a change).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import SQLAlchemyError

from monitor.schedule import parse_schedule
from tests.faults import PostgresCluster, free_port, postgres_bin
from tests.reliability.daemons import Daemon, start_daemon
from tests.reliability.figures import due_slots
from tests.reliability.scenario import to_toml
from tests.reliability.soak_figures import (
    LATENESS_P95_SECONDS,
    STORE_BOUND,
    Sample,
    goals_missed,
    run_figures,
    sample_figures,
)
from tests.reliability.suite import hold, read_runs

DRAIN_SECONDS = 180.0
MISFIRE_GRACE_SECONDS = 65.0
"""The daemon's default ``misfire_grace`` and a margin: a slot not started by then never is."""
FILL_SECONDS = 1.0
"""How often the tables receive the rows whose time has come."""
SERVER_SETTINGS = {"max_connections": "100", "superuser_reserved_connections": "5"}
"""PostgreSQL's default limit; the daemons connect as a plain role (``DAEMON_ROLE``), so
connections they exhaust leave the driver's own (a superuser's) to measure them."""
DAEMON_ROLE = "driftwarden"
ENV_STORE, ENV_SOURCE = "SOAK_STORE_URL", "SOAK_SOURCE_URL"
COLUMNS = [
    {"name": "x", "kind": "numeric"},
    {"name": "y", "kind": "numeric"},
    {"name": "c", "kind": "categorical"},
]
LOG_NEEDLES = {
    "tracebacks": "Traceback (most recent call last)",
    "slots dropped (misfire_grace)": "could not start within scheduler.misfire_grace",
    "server out of connections (superuser slots left)": "remaining connection slots are reserved",
    "server out of connections": "too many clients",
}


@dataclass(frozen=True)
class Plan:
    monitors: int = 500
    replicas: int = 1
    schedule: str = "every 5m"
    duration: float = 900.0
    rows_per_window: int = 10_000
    tables: int = 50
    sample_seconds: float = 5.0
    seed: int = 5

    @property
    def window(self) -> timedelta:
        return parse_schedule(self.schedule).period()


def monitor_names(plan: Plan) -> list[str]:
    return [f"m{index:04d}" for index in range(plan.monitors)]


def table_name(index: int) -> str:
    return f"soak_events_{index}"


def build_config(plan: Plan, port: int, reference: tuple[datetime, datetime]) -> dict[str, Any]:
    """One daemon's config: the store and sources come from ``SOAK_*`` variables."""
    window = f"{plan.window.total_seconds():g}s"
    monitors = [
        {
            "name": name,
            "schedule": plan.schedule,
            "window": window,
            "source": {
                "type": "sql",
                "url_env": ENV_SOURCE,
                "table": table_name(index % plan.tables),
                "timestamp_column": "ts",
            },
            "reference": {
                "type": "window",
                "start": reference[0].isoformat(),
                "end": reference[1].isoformat(),
            },
            "columns": COLUMNS,
        }
        for index, name in enumerate(monitor_names(plan))
    ]
    return {
        "store": {"url_env": ENV_STORE},
        "server": {"listen": f"127.0.0.1:{port}"},
        "monitors": monitors,
    }


class Filler:
    """Keeps every table receiving rows: row ``k`` of a table is due at ``origin + k * step``.

    Rows are made in the database (``generate_series``), seeded once, so the
    driver spends no time building them.
    """

    def __init__(self, url: str, plan: Plan, origin: float) -> None:
        self._engine = create_engine(url)
        self._tables = plan.tables
        self._step = plan.window.total_seconds() / plan.rows_per_window
        self._origin = origin
        self._next = 0
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="filler", daemon=True)

    def prepare(self, seed: int) -> None:
        with self._engine.begin() as connection:
            connection.execute(text("SELECT setseed(:seed)"), {"seed": (seed % 1000) / 1000})
            for index in range(self._tables):
                name = table_name(index)
                connection.execute(
                    text(
                        f"CREATE TABLE {name} (ts timestamptz NOT NULL, x double precision, "
                        "y double precision, c text)"
                    )
                )
                connection.execute(text(f"CREATE INDEX {name}_ts ON {name} (ts)"))
                connection.execute(text(f"GRANT SELECT ON {name} TO {DAEMON_ROLE}"))
        self.fill_until(time.time())

    def fill_until(self, moment: float) -> None:
        last = int((moment - self._origin) / self._step)
        if last < self._next:
            return
        normal = "sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())"
        with self._engine.begin() as connection:
            for index in range(self._tables):
                connection.execute(
                    text(
                        f"INSERT INTO {table_name(index)} (ts, x, y, c) "
                        f"SELECT to_timestamp(:origin + k * :step), {normal}, 5 + 2 * {normal}, "
                        "CASE WHEN random() < 0.6 THEN 'a' WHEN random() < 0.75 THEN 'b' "
                        "ELSE 'c' END FROM generate_series(CAST(:first AS bigint), "
                        "CAST(:last AS bigint)) AS k"
                    ),
                    {"origin": self._origin, "step": self._step, "first": self._next, "last": last},
                )
        self._next = last + 1

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(FILL_SECONDS):
            try:
                self.fill_until(time.time())
            except SQLAlchemyError:  # a server that refused once is measured, not fatal
                self.errors += 1

    def drop(self) -> None:
        """Stop filling and drop the tables."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        with self._engine.begin() as connection:
            for index in range(self._tables):
                connection.execute(text(f"DROP TABLE IF EXISTS {table_name(index)}"))
        self._engine.dispose()


def _rss(pid: int) -> int | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return None


class Sampler:
    """Reads the daemons' RSS and their sessions in ``pg_stat_activity`` every few seconds."""

    def __init__(self, url: str, daemons: Mapping[str, Daemon], every: float) -> None:
        self._engine = create_engine(url)
        self._daemons = daemons
        self._every = every
        self.samples: list[Sample] = []
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)

    def _read(self) -> Sample:
        sample = Sample(time.time(), os.getloadavg()[0])
        for name, daemon in self._daemons.items():
            rss = _rss(daemon.process.pid)
            if rss is not None:
                sample.rss[name] = rss
        with self._engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT application_name, count(*) AS n FROM pg_stat_activity "
                    "WHERE application_name LIKE 'soak-%' GROUP BY application_name"
                )
            ).all()
        for row in rows:
            _, kind, name = str(row.application_name).split("-", 2)
            getattr(sample, kind)[name] = int(row.n)
        return sample

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                self.samples.append(self._read())
            except SQLAlchemyError:
                self.errors += 1
            if self._stop.wait(self._every):
                return

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        self._engine.dispose()


def _url(cluster: PostgresCluster, user: str, database: str, application: str = "") -> str:
    """A URL of the soak's cluster; ``application`` names its sessions in pg_stat_activity."""
    url = f"postgresql+psycopg://{user}@127.0.0.1:{cluster.port}/{database}"
    return f"{url}?application_name={application}" if application else url


def _drained(engine: Engine, plan: Plan, load: tuple[float, float]) -> bool:
    """No run in progress, and every slot due has one or is past ``misfire_grace`` (60 s)."""
    try:
        figures = run_figures(read_runs(engine), monitor_names(plan), plan.schedule, load)
    except SQLAlchemyError:
        return False
    slots = due_slots(plan.schedule, load)
    given_up = not slots or time.time() > slots[-1] + MISFIRE_GRACE_SECONDS
    return bool(figures["running"] == 0 and (figures["not_run"] == 0 or given_up))


@dataclass(frozen=True)
class Report:
    plan: Plan
    figures: dict[str, Any]


@contextmanager
def _cluster() -> Iterator[PostgresCluster]:
    binaries = postgres_bin()
    if binaries is None:
        raise SoakError("no PostgreSQL server binaries (initdb, pg_ctl) on this machine")
    cluster = PostgresCluster(binaries, settings=SERVER_SETTINGS)
    try:
        yield cluster
    finally:
        cluster.remove()


class SoakError(Exception):
    """The soak cannot set itself up; the message says why."""


def run_soak(plan: Plan, directory: Path, code: Path | None = None) -> Report:
    """Run ``plan`` with ``directory`` for configs and daemon logs; return its figures."""
    with _cluster() as cluster:
        admin = create_engine(cluster.url, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as connection:
                connection.execute(text(f"CREATE ROLE {DAEMON_ROLE} LOGIN"))
                connection.execute(text(f"CREATE DATABASE store OWNER {DAEMON_ROLE}"))
                connection.execute(text("CREATE DATABASE source"))
        finally:
            admin.dispose()
        now = time.time()
        window = plan.window.total_seconds()
        origin = now - 3 * window
        reference = (
            datetime.fromtimestamp(origin, UTC),
            datetime.fromtimestamp(origin + window, UTC),
        )
        filler = Filler(_url(cluster, "postgres", "source"), plan, origin)
        filler.prepare(plan.seed)
        try:
            filler.start()
            return _load(plan, directory, code, cluster, reference, filler)
        finally:
            filler.drop()


def _load(
    plan: Plan,
    directory: Path,
    code: Path | None,
    cluster: PostgresCluster,
    reference: tuple[datetime, datetime],
    filler: Filler,
) -> Report:
    daemons: dict[str, Daemon] = {}
    names = [chr(ord("a") + index) for index in range(plan.replicas)]
    base_env = dict(os.environ)
    if code is not None:
        base_env["PYTHONPATH"] = str(code)
    sampler = Sampler(cluster.url, daemons, plan.sample_seconds)
    store = create_engine(_url(cluster, "postgres", "store"))
    try:
        started = time.monotonic()
        for name in names:
            port = free_port()
            config = directory / f"config-{name}.toml"
            config.write_text(to_toml(build_config(plan, port, reference)))
            env = {
                **base_env,
                ENV_STORE: _url(cluster, DAEMON_ROLE, "store", f"soak-store-{name}"),
                ENV_SOURCE: _url(cluster, DAEMON_ROLE, "source", f"soak-source-{name}"),
            }
            log = directory / f"daemon-{name}.log"
            daemons[name] = start_daemon(name, config, env, log, port, code)
        start_seconds = round(time.monotonic() - started, 1)
        sampler.start()
        load_start = time.time()
        hold(plan.duration)
        load = (load_start, time.time())
        drain_started = time.monotonic()
        while time.monotonic() - drain_started < DRAIN_SECONDS and not _drained(store, plan, load):
            hold(1.0)
        drain_seconds = round(time.monotonic() - drain_started, 1)
        sampler.stop()
        for daemon in daemons.values():
            daemon.stop()
        runs = read_runs(store)
    finally:
        sampler.stop()
        for daemon in daemons.values():
            daemon.kill()
        store.dispose()
    logs = [path.read_text(errors="replace") for path in directory.glob("daemon-*.log")]
    figures = {
        "runs": run_figures(runs, monitor_names(plan), plan.schedule, load),
        "daemons": sample_figures(sampler.samples, names),
        "samples": len(sampler.samples),
        "load_average": {
            "mean": round(float(np.mean([s.load for s in sampler.samples])), 2),
            "max": round(max(s.load for s in sampler.samples), 2),
        }
        if sampler.samples
        else None,
        "start_seconds": start_seconds,
        "drain_seconds": drain_seconds,
        "driver_errors": {"filler": filler.errors, "sampler": sampler.errors},
        "log_lines": {
            key: sum(log.count(needle) for log in logs) for key, needle in LOG_NEEDLES.items()
        },
    }
    return Report(plan, figures)


def render(report: Report) -> str:
    plan, figures = report.plan, report.figures
    runs, daemons = figures["runs"], figures["daemons"]
    lateness = runs["lateness_s"]
    lines = [
        f'soak: {plan.monitors} monitors "{plan.schedule}" over {plan.tables} PostgreSQL tables '
        f"of {plan.rows_per_window:,} rows a window, {plan.replicas} replica(s), "
        f"{plan.duration:g} s of load (+ {figures['drain_seconds']} s drain), "
        f"{os.cpu_count()} cores",
        "",
        "| monitors | replicas | slots due | runs completed | failed | not run "
        "| lateness p50 / p95 / max (s) | RSS start / end (MB) | max store connections "
        f"(bound {STORE_BOUND}) | max source connections |",
        "|---:|---:|---:|---:|---:|---:|---|---|---|---|",
    ]
    rss = ", ".join(
        f"{name}: {d['rss_start_mb']:.0f} / {d['rss_end_mb']:.0f}" for name, d in daemons.items()
    )
    store = ", ".join(f"{name}: {d['store_max']}" for name, d in daemons.items())
    source = ", ".join(f"{name}: {d['source_max']}" for name, d in daemons.items())
    lines.append(
        f"| {plan.monitors} | {plan.replicas} | {runs['due']} | {runs['completed']} "
        f"| {runs['failed']} | {runs['not_run']} "
        f"| {lateness['p50']} / {lateness['p95']} / {lateness['max']} | {rss} | {store} "
        f"| {source} |"
    )
    lines.append("")
    rate = runs["start_rate_per_s"]
    if rate is not None:
        lines.append(
            f"runs started per second after a slot (median over slots): {rate}; at that rate "
            f"one slot of about {rate * LATENESS_P95_SECONDS / 0.95:.0f} monitors starts "
            f"its 95th percentile within {LATENESS_P95_SECONDS:g} s"
        )
    load = figures["load_average"]
    if load is not None:
        lines.append(
            f"machine load average (1 min) over the load: mean {load['mean']}, max {load['max']}"
        )
    for key, count in figures["log_lines"].items():
        lines.append(f"daemon log lines, {key}: {count}")
    for reason, count in runs["failed_reasons"].items():
        lines.append(f"failed runs: {count} x {reason}")
    missed = goals_missed(figures)
    lines.append("goals: " + ("all met" if not missed else "missed: " + "; ".join(missed)))
    return "\n".join(lines)


def parse_args(argv: Sequence[str]) -> tuple[Plan, argparse.Namespace]:
    parser = argparse.ArgumentParser(
        prog="python -m tests.benchmarks.soak",
        description="Many monitors, real daemons, PostgreSQL tables that keep filling; measured.",
    )
    defaults = Plan()
    parser.add_argument("--monitors", type=int, default=defaults.monitors)
    parser.add_argument("--replicas", type=int, default=defaults.replicas)
    parser.add_argument("--schedule", default=defaults.schedule, help='e.g. "every 5m"')
    parser.add_argument("--duration", type=float, default=defaults.duration, help="seconds of load")
    parser.add_argument("--rows-per-window", type=int, default=defaults.rows_per_window)
    parser.add_argument("--tables", type=int, default=defaults.tables)
    parser.add_argument("--json", type=Path, help="write the figures (and the plan) here")
    parser.add_argument(
        "--code", type=Path, help="run the daemons from this checkout (figures before a change)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    args = parser.parse_args(argv)
    plan = replace(
        defaults,
        monitors=args.monitors,
        replicas=args.replicas,
        schedule=args.schedule,
        duration=args.duration,
        rows_per_window=args.rows_per_window,
        tables=min(args.tables, args.monitors),
    )
    return plan, args


def main(argv: Sequence[str] | None = None) -> int:
    plan, args = parse_args(sys.argv[1:] if argv is None else argv)
    directory = Path(tempfile.mkdtemp(prefix="driftwarden-soak-"))
    try:
        report = run_soak(plan, directory, args.code)
    except SoakError as exc:
        print(f"soak: {exc}", file=sys.stderr)
        return 2
    finally:
        if not args.keep:
            shutil.rmtree(directory, ignore_errors=True)
    print(render(report))
    if args.keep:
        print(f"\nwork directory (configs, daemon logs): {directory}")
    if args.json is not None:
        document = {"plan": asdict(plan), "figures": report.figures}
        args.json.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
