"""The HTTP API, served by a real uvicorn server on 127.0.0.1, over a SQLite store
(and over both stores where the store decides the answer: out-of-range parameters).

Starlette's TestClient is not used: with plain httpx installed it raises a
deprecation warning (it wants httpx2), and a real server is what the daemon runs.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from monitor.api import build_server, create_app
from monitor.metrics import Metrics
from monitor.store.engine import make_engine, upgrade
from monitor.store.models import MonitorRow, ResultRow, RunRow
from tests.support import bound_port, healthy, serving, wait_for

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
BASE_URL = "https://drift.example.com"


def all_ready() -> dict[str, bool]:
    return {"scheduler": True}


@pytest.fixture
def engine(sqlite_engine: Engine) -> Engine:
    """The API's behaviour does not depend on the backend; storage tests cover both."""
    return sqlite_engine


@pytest.fixture
def any_store(store_url: str) -> Iterator[Engine]:
    """A migrated store, once on SQLite and once on PostgreSQL."""
    store = make_engine(store_url)
    upgrade(store)
    yield store
    store.dispose()


@contextmanager
def make_client(
    engine: Engine,
    readiness: Callable[[], dict[str, bool]] = all_ready,
    metrics: Metrics | None = None,
    redact: Callable[[str], str] | None = None,
) -> Iterator[httpx.Client]:
    app = create_app(engine, metrics or Metrics(), readiness, BASE_URL + "/", redact=redact)
    with serving(app) as client:
        yield client


def add_runs(engine: Engine, monitor: str, count: int) -> list[int]:
    with Session(engine) as session:
        row = MonitorRow(name=monitor)
        session.add(row)
        session.flush()
        runs = []
        for slot in range(count):
            scheduled_for = T0 + timedelta(hours=slot)
            run = RunRow(
                monitor_id=row.id,
                scheduled_for=scheduled_for,
                trigger="schedule",
                status="succeeded",
                started_at=scheduled_for,
                finished_at=scheduled_for + timedelta(seconds=3),
                window_start=scheduled_for - timedelta(hours=1),
                window_end=scheduled_for,
                drifted=True,
                reason="1 of 1 columns drifted",
                n_reference=500,
                n_current=100,
                claimed_by="replica-a",
                reference_key="ab" * 32,
                reference_type="trailing",
                reference_origin="the monitor's source over the trailing 28d",
                reference_start=scheduled_for - timedelta(days=29),
                reference_end=scheduled_for - timedelta(days=1),
            )
            run.results.append(
                ResultRow(
                    check="drift",
                    column="income",
                    method="ks",
                    statistic=0.4,
                    p_value=0.001,
                    p_value_adjusted=0.001,
                    threshold=0.05,
                    drifted=True,
                    n_reference=500,
                    n_current=100,
                    status="ok",
                    reason="p-value 0.001 < 0.05",
                    details={"effect": 0.4},
                )
            )
            session.add(run)
            runs.append(run)
        session.commit()
        return [run.id for run in runs]


def run_json(run_id: int, slot: int) -> dict[str, Any]:
    hour = 12 + slot
    return {
        "id": run_id,
        "monitor": "churn",
        "scheduled_for": f"2024-05-01T{hour}:00:00+00:00",
        "trigger": "schedule",
        "status": "succeeded",
        "started_at": f"2024-05-01T{hour}:00:00+00:00",
        "finished_at": f"2024-05-01T{hour}:00:03+00:00",
        "window_start": f"2024-05-01T{hour - 1}:00:00+00:00",
        "window_end": f"2024-05-01T{hour}:00:00+00:00",
        "drifted": True,
        "reason": "1 of 1 columns drifted",
        "n_reference": 500,
        "n_current": 100,
        "drifted_columns": ["income"],
        "reference": {
            "key": "ab" * 32,
            "type": "trailing",
            "origin": "the monitor's source over the trailing 28d",
            "start": f"2024-04-02T{hour}:00:00+00:00",
            "end": f"2024-04-30T{hour}:00:00+00:00",
        },
        "alert_transitions": [],
        "drifted_segments": [],
        "segments": None,
    }


def test_healthz(engine: Engine) -> None:
    with make_client(engine) as client:
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_when_everything_is_ready(engine: Engine) -> None:
    with make_client(engine) as client:
        response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"store": True, "scheduler": True}}


def test_readyz_names_the_failing_check(engine: Engine) -> None:
    with make_client(engine, readiness=lambda: {"scheduler": False, "delivery": True}) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "not ready",
        "checks": {"store": True, "scheduler": False, "delivery": True},
    }


def test_metrics_over_real_http_are_the_registry_in_prometheus_text(engine: Engine) -> None:
    metrics = Metrics()
    metrics.show_latest("churn", True, T0, [])
    metrics.record_failed_run("fraud", 1.5)
    with make_client(engine, metrics=metrics) as client:
        response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == CONTENT_TYPE_LATEST
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }
    assert samples[("driftwarden_monitor_drifted", (("monitor", "churn"),))] == 1.0
    assert (
        samples[("driftwarden_last_successful_run_timestamp_seconds", (("monitor", "churn"),))]
        == T0.timestamp()
    )
    assert samples[("driftwarden_runs_total", (("monitor", "fraud"), ("outcome", "failed")))] == 1.0


def test_list_runs_pages_newest_first(engine: Engine) -> None:
    ids = add_runs(engine, "churn", 3)
    with make_client(engine) as client:
        first = client.get("/api/runs", params={"limit": 2})
        last = client.get("/api/runs", params={"limit": 2, "before_id": ids[1]})
        everything = client.get("/api/runs")

    assert first.status_code == 200
    assert first.json() == {
        "runs": [run_json(ids[2], 2), run_json(ids[1], 1)],
        "next_before_id": ids[1],
    }
    assert last.json() == {"runs": [run_json(ids[0], 0)], "next_before_id": None}
    # A page that is exactly full has no next page.
    assert everything.json()["next_before_id"] is None
    assert [run["id"] for run in everything.json()["runs"]] == ids[::-1]


def test_list_runs_filters_by_monitor(engine: Engine) -> None:
    add_runs(engine, "churn", 2)
    fraud = add_runs(engine, "fraud", 1)
    with make_client(engine) as client:
        response = client.get("/api/runs", params={"monitor": "fraud"})
        nobody = client.get("/api/runs", params={"monitor": "nobody"})

    assert [run["id"] for run in response.json()["runs"]] == fraud
    assert response.json()["next_before_id"] is None
    assert nobody.json() == {"runs": [], "next_before_id": None}


def test_list_runs_rejects_a_bad_limit(engine: Engine) -> None:
    with make_client(engine) as client:
        for limit in ("0", "501", "ten"):
            response = client.get("/api/runs", params={"limit": limit})
            assert response.status_code == 422, limit
            assert [error["loc"] for error in response.json()["detail"]] == [["query", "limit"]]
        assert client.get("/api/runs", params={"limit": 500}).status_code == 200


def test_get_run_with_results_and_url(engine: Engine) -> None:
    (run_id,) = add_runs(engine, "churn", 1)
    with make_client(engine) as client:
        response = client.get(f"/api/runs/{run_id}")
    assert response.status_code == 200
    assert response.json() == {
        **run_json(run_id, 0),
        "results": [
            {
                "check": "drift",
                "column": "income",
                "method": "ks",
                "statistic": 0.4,
                "p_value": 0.001,
                "p_value_adjusted": 0.001,
                "threshold": 0.05,
                "effect": None,
                "effect_floor": None,
                "drifted": True,
                "n_reference": 500,
                "n_current": 100,
                "status": "ok",
                "reason": "p-value 0.001 < 0.05",
                "details": {"effect": 0.4},
                "segment": None,
            }
        ],
        "performance": {"window": [], "history": [], "backfilled": []},
        "url": f"{BASE_URL}/api/runs/{run_id}",
    }


def test_a_degraded_metric_does_not_name_the_label_column_as_drifted(engine: Engine) -> None:
    (run_id,) = add_runs(engine, "churn", 1)
    with Session(engine) as session:
        session.add(
            ResultRow(
                run_id=run_id,
                check="performance",
                column="label",
                method="accuracy",
                statistic=0.71,
                threshold=0.05,
                drifted=True,
                n_reference=500,
                n_current=100,
                status="ok",
                reason="accuracy 0.71 below its band (0.74, 0.78)",
                details={},
            )
        )
        session.commit()
    with make_client(engine) as client:
        listed = client.get("/api/runs", params={"monitor": "churn"}).json()["runs"]
        detail = client.get(f"/api/runs/{run_id}").json()
    assert [run["drifted_columns"] for run in listed] == [["income"]]
    assert detail["drifted_columns"] == ["income"]
    assert [(r["check"], r["column"], r["drifted"]) for r in detail["results"]] == [
        ("drift", "income", True),
        ("performance", "label", True),
    ]


def test_get_run_that_does_not_exist(engine: Engine) -> None:
    with make_client(engine) as client:
        response = client.get("/api/runs/123")
    assert response.status_code == 404
    assert response.json() == {"detail": "run 123 not found"}


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///{tmp_path}/no/such/directory/driftwarden.db",
        "postgresql+psycopg://driftwarden:s3cret-pw@127.0.0.1:1/driftwarden",
    ],
    ids=["sqlite-missing-directory", "postgres-refused"],
)
def test_store_down_is_503_without_the_url(tmp_path: object, url: str) -> None:
    store_url = url.format(tmp_path=tmp_path)
    engine = make_engine(store_url)
    try:
        with make_client(engine) as client:
            ready = client.get("/readyz")
            responses = [client.get(path) for path in ("/api/runs", "/api/runs/1")]
            alive = client.get("/healthz")
    finally:
        engine.dispose()

    assert ready.status_code == 503
    assert ready.json() == {"status": "not ready", "checks": {"store": False, "scheduler": True}}
    for response in responses:
        assert response.status_code == 503
        assert response.json() == {"detail": "store unavailable"}
    for response in [ready, *responses]:
        assert "s3cret" not in response.text
        assert "127.0.0.1:1" not in response.text
        assert "directory" not in response.text
    assert alive.status_code == 200


def test_readyz_gives_up_on_a_store_that_does_not_answer(engine: Engine) -> None:
    release = threading.Event()
    original_connect = engine.connect

    def hanging_connect() -> Any:
        release.wait(10)
        return original_connect()

    engine.connect = hanging_connect  # type: ignore[method-assign]
    app = create_app(engine, Metrics(), all_ready, BASE_URL, store_timeout=0.2)
    try:
        with serving(app) as client:
            started = time.monotonic()
            first = client.get("/readyz")
            second = client.get("/readyz")  # the first probe is still stuck: answers at once
            elapsed = time.monotonic() - started
    finally:
        release.set()
    assert elapsed < 5
    assert first.status_code == second.status_code == 503
    assert first.json()["checks"] == second.json()["checks"] == {"store": False, "scheduler": True}


def plain_uvicorn_server(app: FastAPI, host: str, port: int) -> uvicorn.Server:
    return uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))


@pytest.mark.parametrize("make_server", [build_server, plain_uvicorn_server])
def test_server_leaves_signal_handlers_to_the_daemon(
    engine: Engine, make_server: Callable[[FastAPI, str, int], uvicorn.Server]
) -> None:
    """Serve in the main thread, where plain uvicorn takes SIGINT and SIGTERM for itself.

    The plain server is the control: it shows the check would see uvicorn's handlers.
    """
    assert threading.current_thread() is threading.main_thread()
    server = make_server(create_app(engine, Metrics(), all_ready, BASE_URL), "127.0.0.1", 0)
    seen: dict[str, Any] = {}

    def daemon_handler(signum: int, frame: object) -> None:
        raise AssertionError("not expected to be called")

    def observe_then_stop() -> None:
        try:
            wait_for(lambda: server.started, "uvicorn to start")
            seen["healthz"] = healthy(f"http://127.0.0.1:{bound_port(server)}")
            seen["handlers"] = [signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)]
        finally:
            server.should_exit = True

    previous = {sig: signal.signal(sig, daemon_handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    observer = threading.Thread(target=observe_then_stop, daemon=True)
    try:
        observer.start()
        server.run()
        observer.join(10)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    assert seen["healthz"] is True
    if make_server is build_server:
        assert seen["handlers"] == [daemon_handler, daemon_handler]
    else:
        assert seen["handlers"] == [server.handle_exit, server.handle_exit]


@pytest.mark.parametrize(
    "run_id", [2**31 - 1, 2**31, 2**63 - 1, 2**63, 2**64, 10**30, 0, -1, -(2**63) - 1]
)
def test_a_run_id_outside_the_stores_range_is_not_found(any_store: Engine, run_id: int) -> None:
    """Ids >= 2^63 were a 500 with a traceback on SQLite, >= 2^31 a 503 on PostgreSQL."""
    with make_client(any_store) as client:
        response = client.get(f"/api/runs/{run_id}")
    assert response.status_code == 404
    assert response.json() == {"detail": f"run {run_id} not found"}


@pytest.mark.parametrize(
    ("params", "where"),
    [
        ({"monitor": "\x00"}, "monitor"),  # was a 503 on PostgreSQL: text cannot hold NUL
        ({"monitor": "churn\x00"}, "monitor"),
        ({"monitor": "a b"}, "monitor"),
        ({"monitor": "m" * 201}, "monitor"),
        ({"before_id": "0"}, "before_id"),
        ({"before_id": "-1"}, "before_id"),
        ({"before_id": "1.5"}, "before_id"),
        ({"limit": str(2**63)}, "limit"),
        ({"limit": "1e3"}, "limit"),
    ],
)
def test_an_invalid_parameter_is_422_naming_it(
    any_store: Engine, params: dict[str, str], where: str
) -> None:
    with make_client(any_store) as client:
        response = client.get("/api/runs", params=params)
    assert response.status_code == 422, response.text
    assert [error["loc"] for error in response.json()["detail"]] == [["query", where]]


@pytest.mark.parametrize("path", ["/api/runs/abc", "/api/runs/1.5", "/api/runs/%00"])
def test_a_run_id_that_is_no_integer_is_422(any_store: Engine, path: str) -> None:
    with make_client(any_store) as client:
        response = client.get(path)
    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["detail"]] == [["path", "run_id"]]


@pytest.mark.parametrize("before_id", [2**31, 2**63, 2**64, 10**30])
def test_a_before_id_above_every_id_pages_from_the_newest_run(
    any_store: Engine, before_id: int
) -> None:
    ids = add_runs(any_store, "churn", 2)
    with make_client(any_store) as client:
        response = client.get("/api/runs", params={"before_id": str(before_id), "monitor": "churn"})
        first = client.get("/api/runs", params={"before_id": "1"})
    assert response.status_code == 200
    assert [run["id"] for run in response.json()["runs"]] == ids[::-1]
    assert first.json() == {"runs": [], "next_before_id": None}
