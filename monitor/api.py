"""HTTP: health, readiness, Prometheus metrics, the run history, the alerts and the report
pages; the schema at /openapi.json.

Handlers that touch the store are plain ``def`` so FastAPI runs them in its
threadpool; ``/healthz`` and ``/metrics`` never touch the store and are
``async`` so that they keep answering even when every pool thread is stuck on
a store that does not respond (a liveness probe must not fail because the
database is slow).

``/metrics`` and ``/api/*`` take the scope they need from the authenticator
(``monitor.auth``); the probes and the schema stay open. Every reason a run
or result shows goes through ``redact`` (``monitor.redaction``).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from importlib import metadata
from typing import Annotated, Any

import uvicorn
from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from monitor.alert_listing import DEFAULT_TRANSITIONS, ConfiguredRules, list_alerts
from monitor.api_models import (
    AUTH_RESPONSES,
    MONITOR_NAME,
    MONITOR_NAME_LENGTH,
    PAGE_NOT_FOUND,
    RUN_NOT_FOUND,
    STORE_RESPONSES,
    AlertList,
    Health,
    Readiness,
    RunDetailModel,
    RunPage,
)
from monitor.auth import Authenticator
from monitor.metrics import Metrics
from monitor.pages import pages_router
from monitor.store import queries
from monitor.store.engine import StoreError, safe_url
from monitor.vocabulary import AlertState

log = logging.getLogger(__name__)

MAX_PAGE = 500
METRICS_RESPONSE = {
    "description": "every metric in the Prometheus text exposition format",
    "content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}},
}


def _reason(exc: BaseException) -> str:
    reason = str(getattr(exc, "orig", None) or exc).strip()
    return reason.splitlines()[0] if reason else type(exc).__name__


class _StoreProbe:
    """``SELECT 1`` with a deadline.

    A connect to an address that drops packets can block far longer than a
    readiness probe waits (``make_engine`` sets no connect timeout), so the
    query runs in a daemon thread and the probe answers "not ready" when the
    deadline passes. While a probe is still stuck, later probes answer at
    once instead of piling up more threads.
    """

    def __init__(self, engine: Engine, timeout: float) -> None:
        self._engine = engine
        self._timeout = timeout
        self._lock = threading.Lock()
        self._stuck: threading.Thread | None = None

    def _select_one(self, outcome: list[bool]) -> None:
        try:
            with self._engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            outcome.append(True)
        except SQLAlchemyError as exc:
            log.warning("readiness: store %s: %s", safe_url(self._engine), _reason(exc))
            outcome.append(False)

    def __call__(self) -> bool:
        with self._lock:
            if self._stuck is not None and self._stuck.is_alive():
                return False
            outcome: list[bool] = []
            worker = threading.Thread(
                target=self._select_one, args=(outcome,), name="readyz-store", daemon=True
            )
            worker.start()
            worker.join(self._timeout)
            if worker.is_alive():
                log.warning(
                    "readiness: store %s: no answer within %.1fs",
                    safe_url(self._engine),
                    self._timeout,
                )
                self._stuck = worker
                return False
            self._stuck = None
            return bool(outcome and outcome[0])


def create_app(
    engine: Engine,
    metrics: Metrics,
    readiness: Callable[[], dict[str, bool]],
    base_url: str,
    *,
    store_timeout: float = 2.0,
    authenticator: Authenticator | None = None,
    redact: Callable[[str], str] | None = None,
    hung_runs: Callable[[], list[str]] | None = None,
    rules: ConfiguredRules | None = None,
) -> FastAPI:
    """The HTTP app. ``readiness`` returns the daemon's own checks (scheduler, ...).

    ``authenticator`` holds the tokens (none: every route is open); ``redact``
    is applied to every reason shown (``monitor.redaction``).

    ``hung_runs`` names monitors whose run is past its deadline: ``/readyz``
    then says "degraded" and names them, but stays 200. Those runs are already
    stored as failed (with their alerts) and hold no capacity the others need,
    and neither a restart nor leaving the Service would unhang their source;
    a 503 would only hide the API and stall rollouts.

    ``rules`` are the configured rules whose alerts ``/api/alerts`` lists
    (none: it lists nothing).
    """
    app = FastAPI(
        title="driftwarden",
        summary="Drift monitoring: health, Prometheus metrics and the run history",
        version=_version(),
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    probe_store = _StoreProbe(engine, store_timeout)
    base = base_url.rstrip("/")
    auth = authenticator or Authenticator(())
    shown = redact or _as_stored
    configured = rules or ConfiguredRules({})
    # The one place a route says what it needs: a dependency per scope.
    read = auth.requires("read")
    refusals = AUTH_RESPONSES if auth.enabled else {}

    def store_unavailable(request: Request, exc: Exception) -> JSONResponse:
        # The reason goes to the log (URL without password); the client learns only
        # that the store is down, never the URL or a traceback.
        log.warning(
            "%s %s: store %s: %s", request.method, request.url.path, safe_url(engine), _reason(exc)
        )
        return JSONResponse({"detail": "store unavailable"}, status_code=503)

    app.add_exception_handler(SQLAlchemyError, store_unavailable)
    app.add_exception_handler(StoreError, store_unavailable)

    @app.get("/healthz", response_model=Health)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
    def readyz() -> JSONResponse:
        checks = {"store": probe_store()}
        for name, ok in readiness().items():
            checks.setdefault(name, bool(ok))
        ready = all(checks.values())
        hung = hung_runs() if hung_runs is not None else []
        body: dict[str, Any] = {
            "status": "not ready" if not ready else "degraded" if hung else "ready",
            "checks": checks,
        }
        if hung:
            body["hung_runs"] = hung
        return JSONResponse(body, status_code=200 if ready else 503)

    @app.get(
        "/metrics",
        dependencies=read,
        # A bare Response has no media type, so FastAPI declares the refusals as the JSON
        # they are and the 200 as only the exposition format.
        response_class=Response,
        responses={200: METRICS_RESPONSE, **refusals},
    )
    async def prometheus_metrics() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get(
        "/api/runs",
        dependencies=read,
        response_model=RunPage,
        responses={**refusals, **STORE_RESPONSES},
    )
    def list_runs(
        monitor: Annotated[
            str | None,
            Query(pattern=MONITOR_NAME, max_length=MONITOR_NAME_LENGTH, description="one monitor"),
        ] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
        before_id: Annotated[
            int | None, Query(ge=1, description="the next page: runs older than this id")
        ] = None,
    ) -> dict[str, Any]:
        # One row more than asked says whether another page follows.
        runs = queries.list_runs(engine, monitor, limit + 1, before_id)
        page = runs[:limit]
        return {
            "runs": [run.redacted(shown).to_dict() for run in page],
            "next_before_id": page[-1].id if len(runs) > limit else None,
        }

    @app.get(
        "/api/runs/{run_id}",
        dependencies=read,
        response_model=RunDetailModel,
        responses={404: RUN_NOT_FOUND, **refusals, **STORE_RESPONSES},
    )
    def get_run(run_id: int) -> Any:
        run = queries.get_run(engine, run_id)
        if run is None:
            return JSONResponse({"detail": f"run {run_id} not found"}, status_code=404)
        return {**run.redacted(shown).to_dict(), "url": f"{base}/api/runs/{run_id}"}

    @app.get(
        "/api/alerts",
        dependencies=read,
        response_model=AlertList,
        responses={**refusals, **STORE_RESPONSES},
    )
    def alerts(
        monitor: Annotated[
            str | None,
            Query(pattern=MONITOR_NAME, max_length=MONITOR_NAME_LENGTH, description="one monitor"),
        ] = None,
        state: Annotated[
            AlertState | None,
            Query(description="only alerts in this state, and changes into it"),
        ] = None,
        limit: Annotated[
            int, Query(ge=1, le=MAX_PAGE, description="how many recent changes")
        ] = DEFAULT_TRANSITIONS,
    ) -> dict[str, Any]:
        return list_alerts(engine, configured, monitor, state, limit)

    app.include_router(
        pages_router(engine, shown),
        dependencies=auth.requires("read", browser=True),
        responses={404: PAGE_NOT_FOUND, **refusals, **STORE_RESPONSES},
    )
    return app


def _as_stored(text: str) -> str:
    return text


def _version() -> str:
    try:
        return metadata.version("driftwarden")
    except metadata.PackageNotFoundError:
        return "0"


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signal handling to the daemon."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # uvicorn >= 0.29 installs SIGINT/SIGTERM handlers here when it runs in
        # the main thread; the daemon owns those signals and sets should_exit.
        yield

    def install_signal_handlers(self) -> None:  # uvicorn < 0.29 used this hook
        pass


def build_server(app: FastAPI, host: str, port: int) -> uvicorn.Server:
    """A server for ``app``; stop it with ``server.should_exit = True``.

    ``port=0`` binds a free port; read it from ``server.servers`` once
    ``server.started`` is true. uvicorn installs no handlers of its own
    (``log_config=None``): its warnings go through the root logger, in the
    daemon's ``--log-format``.
    """
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        log_config=None,
    )
    return _Server(config)
