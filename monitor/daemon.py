"""The long-lived service: objects built from config in one place, then run until a signal."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import uuid
from dataclasses import dataclass
from types import FrameType

from sqlalchemy import Engine

from monitor.alert_listing import ConfiguredRules
from monitor.api import build_server, create_app
from monitor.auth import Authenticator, check_exposure, load_tokens
from monitor.backfill import label_sources
from monitor.config import Settings, secret_references
from monitor.delivery.ratelimit import RateLimiter, receiver_rate_limits
from monitor.delivery.worker import DeliveryWorker
from monitor.metrics import Metrics
from monitor.notifiers.registry import build_notifiers, refresh_receivers, signing_secrets
from monitor.redaction import Redactor, config_strings
from monitor.runner import RunContext
from monitor.scheduler import Scheduler
from monitor.secrets import SecretError, resolve_secret
from monitor.sources import build_source
from monitor.store.engine import make_engine, upgrade
from monitor.store.models import utcnow
from monitor.store.outbox import queue_stats
from monitor.store.performance import latest_performance
from monitor.store.queries import latest_successful_runs
from monitor.store.runs import fail_unfinished_runs

log = logging.getLogger("driftwarden")

SHUTDOWN_TIMEOUT_SECONDS = 8.0


class DaemonError(Exception):
    """The daemon cannot start; the message says why."""


@dataclass(frozen=True)
class Services:
    engine: Engine
    metrics: Metrics
    context: RunContext
    worker_id: str


def worker_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def build_services(settings: Settings) -> Services:
    """Store (migrated), metrics (restored from the store) and the run context."""
    engine = make_engine(settings.store.resolved_url())
    upgrade(engine)
    metrics = Metrics()
    for monitor in settings.monitors:
        metrics.declare_monitor(
            monitor.name,
            monitor.schedule.period(),
            monitor.metrics_segments if monitor.segments else None,
        )
    for receiver in settings.receivers:
        metrics.declare_receiver(receiver.name)
    for run in latest_successful_runs(engine):
        summary = run.summary
        if summary.finished_at is None:
            continue
        metrics.show_latest(
            summary.monitor, bool(summary.drifted), summary.finished_at, run.results
        )
    for name, latest in latest_performance(engine).items():
        metrics.show_performance(name, latest)
    worker_id = worker_identity()
    context = RunContext(
        engine=engine,
        metrics=metrics,
        sources={monitor.name: build_source(monitor.source) for monitor in settings.monitors},
        labels=label_sources(settings.monitors),
        worker_id=worker_id,
        base_url=settings.server.base_url(),
        refresh_receivers=refresh_receivers(settings.receivers),
        lease=settings.scheduler.run_lease,
        run_timeout=settings.scheduler.run_timeout,
    )
    return Services(engine=engine, metrics=metrics, context=context, worker_id=worker_id)


def resolved_secrets(settings: Settings) -> list[tuple[str, str]]:
    """(environment variable, value) of every secret of ``settings`` that is set now."""
    secrets = []
    for key, env_name in secret_references(settings):
        try:
            secrets.append((env_name, resolve_secret(env_name, key)))
        except SecretError:
            continue  # `run` refuses to start without it; nothing to hide
    return secrets


def build_redactor(settings: Settings) -> Redactor:
    """What reasons shown by the API may name: what ``settings`` names (``monitor.redaction``)."""
    strings = list(config_strings(settings.model_dump(mode="json")))
    paths = [value for key, value in strings if key == "path"]
    return Redactor.build(resolved_secrets(settings), [value for _, value in strings], paths)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise DaemonError(
            f"server.listen: cannot listen on {host}:{port} ({exc.strerror})"
        ) from None
    return sock


def run_daemon(settings: Settings) -> int:
    """Serve until SIGTERM or SIGINT; returns the process exit code."""
    check_exposure(settings.server)
    authenticator = Authenticator(load_tokens(settings.server))
    sock = _bind(settings.server.host, settings.server.port)
    services = build_services(settings)
    stop = threading.Event()
    scheduler = Scheduler(
        services.context, settings.monitors, settings.scheduler, settings.store.retention, utcnow
    )
    worker = DeliveryWorker(
        engine=services.engine,
        notifiers=build_notifiers(settings.receivers),
        secrets=signing_secrets(settings.receivers),
        settings=settings.delivery,
        metrics=services.metrics,
        worker_id=services.worker_id,
        limiter=RateLimiter(receiver_rate_limits(settings.receivers)),
    )
    services.metrics.watch_outbox(lambda: queue_stats(services.engine, utcnow()))
    worker_thread = threading.Thread(
        target=worker.run_forever, args=(stop,), name="delivery", daemon=True
    )

    def readiness() -> dict[str, bool]:
        return {"scheduler": scheduler.running, "delivery": worker_thread.is_alive()}

    app = create_app(
        services.engine,
        services.metrics,
        readiness,
        settings.server.base_url(),
        hung_runs=scheduler.hung,
        authenticator=authenticator,
        redact=build_redactor(settings),
        rules=ConfiguredRules.of(settings.monitors),
    )
    server = build_server(app, settings.server.host, settings.server.port)

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s; stopping", signal.Signals(signum).name)
        stop.set()
        server.should_exit = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    scheduler.start()
    worker_thread.start()
    log.info(
        "driftwarden started: %d monitors, %d receivers, http://%s (%s)",
        len(settings.monitors),
        len(settings.receivers),
        settings.server.listen,
        f"{len(settings.server.tokens)} API tokens" if authenticator.enabled else "no API tokens",
    )
    server.run(sockets=[sock])
    stop.set()
    finished_in_time = scheduler.shutdown(timeout=SHUTDOWN_TIMEOUT_SECONDS)
    worker_thread.join(timeout=2.0)
    interrupted = fail_unfinished_runs(
        services.engine, services.worker_id, "interrupted: the daemon stopped during the run"
    )
    if interrupted:
        log.warning("%d runs were interrupted by the stop and stored as failed", interrupted)
    for source in services.context.sources.values():
        source.close()
    for labels in services.context.labels.values():
        labels.close()
    services.engine.dispose()
    log.info("driftwarden stopped")
    if not finished_in_time:
        # Runs still in flight live in pool threads that the interpreter would wait
        # for at exit; their rows are already marked failed, so leave without them.
        logging.shutdown()
        os._exit(0)
    return 0
