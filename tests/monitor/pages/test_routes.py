"""The report pages over real HTTP, on SQLite and PostgreSQL, from runs made by ``run_check``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import numpy as np
import pandas as pd
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session

from monitor.api import create_app
from monitor.metrics import Metrics
from monitor.pages.queries import load_monitor_page, load_run_page
from monitor.pages.routes import CONTENT_SECURITY_POLICY
from monitor.runner import RunOutcome, run_check
from monitor.store.engine import make_engine
from monitor.store.models import OutboxRow
from monitor.store.queries import MAX_ROW_ID
from tests.monitor.pages.html import Element, parse
from tests.monitor.test_api import all_ready
from tests.monitor.test_runner import QUIET, context, demo_monitor
from tests.support import serving

SCRIPT = "<script>alert(1)</script>"
DEMO_COLUMNS = ["age", "income", "device", "region"]


def demo_history(engine: Engine, runs: int, first: int = 0) -> list[RunOutcome]:
    """Runs of the demo monitor a minute apart from slot ``first``: calm, drifted, calm, ...

    The drifted ones (odd slots) drift in income and device.
    """
    monitor = demo_monitor()
    ctx = context(engine, monitor)
    slots = [QUIET + timedelta(minutes=k) for k in range(first, first + runs)]
    outcomes = [run_check(ctx, monitor, slot, "schedule") for slot in slots]
    assert all(o is not None for o in outcomes)
    return [o for o in outcomes if o is not None]


@contextmanager
def pages(engine: Engine) -> Iterator[httpx.Client]:
    with serving(create_app(engine, Metrics(), all_ready, "http://127.0.0.1:8470")) as client:
        yield client


def page_at(client: httpx.Client, path: str, status: int = 200) -> Element:
    response = client.get(path)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    return parse(response.text)


def verdicts(page: Element) -> list[str]:
    return [row.attrs["data-verdict"] for row in page.find("table", "runs")[0].find("tr")[1:]]


def test_a_drifted_run_page_draws_every_column_and_marks_the_drifted(engine: Engine) -> None:
    drifted = demo_history(engine, 3)[1]
    assert drifted.drifted is True
    with pages(engine) as client:
        path = f"/runs/{drifted.run_id}"
        page = page_at(client, path)
        charts = page.find("svg", "chart")
        assert [chart.attrs["data-column"] for chart in charts] == DEMO_COLUMNS
        assert all(chart.find("rect", "cur") for chart in charts)
        marked = {figure.attrs["data-column"] for figure in page.find("figure", "drifted")}
        columns = page.find("table", "results")[0]
        assert marked == {row.attrs["data-column"] for row in columns.find("tr", "drifted")}
        assert marked == {"income", "device"}
        assert page.find("section", "decision")[0].attrs["data-verdict"] == "drifted"
        assert [s.attrs["data-column"] for s in page.find("svg", "sparkline")] == DEMO_COLUMNS
        # Its links, resolved as a browser does, open the JSON and the monitor page.
        links = {a.words(): a.attrs["href"] for a in page.find("p", "links")[0].find("a")}
        json_url = urljoin(f"{client.base_url}{path}", links["JSON"])
        assert client.get(json_url).json()["id"] == drifted.run_id
        monitor_url = urljoin(f"{client.base_url}{path}", links["monitor page and recent runs"])
        assert urlsplit(monitor_url).path == "/monitors/demo"
        assert page_at(client, monitor_url).find("h1")[0].words() == "Monitor demo"


def test_the_run_link_of_an_alert_opens_the_run_page(engine: Engine) -> None:
    drifted = demo_history(engine, 2)[1]
    with Session(engine) as session:
        payload: dict[str, Any] = session.scalars(select(OutboxRow.payload)).one()
    assert payload["run"] == {
        "id": drifted.run_id,
        "url": f"http://127.0.0.1:8470/runs/{drifted.run_id}",
    }
    with pages(engine) as client:
        page = page_at(client, urlsplit(payload["run"]["url"]).path)
        assert page.find("h1")[0].words() == f"Run {drifted.run_id} of monitor demo"
        # The JSON stays where it was, with its own URL.
        api = client.get(f"/api/runs/{drifted.run_id}").json()
        assert api["url"] == f"http://127.0.0.1:8470/api/runs/{drifted.run_id}"


def test_monitor_page_lists_recent_runs_and_each_columns_trend(engine: Engine) -> None:
    outcomes = demo_history(engine, 4)
    with pages(engine) as client:
        page = page_at(client, "/monitors/demo")
    assert verdicts(page) == ["drifted", "ok", "drifted", "ok"]
    newest = page.find("table", "runs")[0].find("tr")[1]
    assert newest.find("a")[0].attrs["href"] == f"../runs/{outcomes[-1].run_id}"
    lines = {line.attrs["data-column"]: line for line in page.find("svg", "sparkline")}
    assert list(lines) == DEMO_COLUMNS
    drifted_runs = [str(o.run_id) for o in outcomes if o.drifted]
    for column in ("income", "device"):
        assert [
            c.attrs["data-run"] for c in lines[column].find("circle", "drifted")
        ] == drifted_runs
    assert lines["age"].find("circle", "drifted") == []


def write_files(tmp_path: Path, column: str = "x") -> None:
    rng = np.random.default_rng(5)
    pd.DataFrame(
        {
            column: rng.normal(size=600),
            "plan": rng.choice(["<b>gold</b>", "basic"], 600),
        }
    ).to_parquet(tmp_path / "reference.parquet")
    start = QUIET - timedelta(minutes=30)
    pd.DataFrame(
        {
            "ts": [start + timedelta(seconds=i) for i in range(400)],
            column: rng.normal(2.0, 1.0, 400),
            "plan": rng.choice(["<b>gold</b>", "basic"], 400, p=[0.9, 0.1]),
        }
    ).to_parquet(tmp_path / "live.parquet")


def file_monitor(tmp_path: Path, column: str = "x", *, missing: str | None = None) -> Any:
    """A monitor of the files ``write_files`` wrote; ``missing`` names a column they lack."""
    columns = [{"name": column, "kind": "numeric"}, {"name": "plan", "kind": "categorical"}]
    return demo_monitor(
        name="files",
        window="1h",
        performance=None,
        source={"type": "file", "path": str(tmp_path / "live.parquet"), "timestamp_column": "ts"},
        reference={"type": "file", "path": str(tmp_path / "reference.parquet")},
        columns=columns if missing is None else [{"name": missing, "kind": "numeric"}],
    )


def test_empty_and_failed_runs_are_shown_as_such(engine: Engine, tmp_path: Path) -> None:
    write_files(tmp_path)
    monitor = file_monitor(tmp_path)
    ctx = context(engine, monitor)
    drifted = run_check(ctx, monitor, QUIET, "schedule")
    empty = run_check(ctx, monitor, QUIET + timedelta(days=1), "schedule")
    broken = file_monitor(tmp_path, missing="gone")
    failed = run_check(context(engine, broken), broken, QUIET + timedelta(days=2), "schedule")
    assert drifted and empty and failed
    assert (drifted.status, empty.status, failed.status) == ("succeeded", "empty", "failed")
    with pages(engine) as client:
        empty_page = page_at(client, f"/runs/{empty.run_id}")
        failed_page = page_at(client, f"/runs/{failed.run_id}")
        monitor_page = page_at(client, "/monitors/files")
    assert empty_page.find("section", "decision")[0].attrs["data-verdict"] == "empty"
    assert empty_page.find("svg", "chart") == []
    assert [p.words() for p in empty_page.find("p", "no-chart")] == [
        "Nothing to draw: current window is empty"
    ] * 2
    decision = failed_page.find("section", "decision")[0]
    assert decision.attrs["data-verdict"] == "failed"
    assert decision.find("p")[0].words() == failed.reason
    assert verdicts(monitor_page) == ["failed", "empty", "drifted"]
    line = monitor_page.find("svg", "sparkline", data_column="x")[0]
    assert [c.attrs["data-run"] for c in line.find("circle", "gap")] == [
        str(empty.run_id),
        str(failed.run_id),
    ]


def test_user_supplied_names_reach_the_page_only_as_text(engine: Engine, tmp_path: Path) -> None:
    write_files(tmp_path, column=SCRIPT)
    monitor = file_monitor(tmp_path, column=SCRIPT)
    outcome = run_check(context(engine, monitor), monitor, QUIET, "schedule")
    assert outcome is not None and outcome.drifted is True
    with pages(engine) as client:
        html = client.get(f"/runs/{outcome.run_id}").text
        monitor_html = client.get("/monitors/files").text
    for text in (html, monitor_html):
        assert SCRIPT not in text and "<b>gold" not in text
        assert parse(text).find("script") == [] and parse(text).find("b") == []
    page = parse(html)
    assert [c.attrs["data-column"] for c in page.find("svg", "chart")] == [SCRIPT, "plan"]
    assert {f.attrs["data-column"] for f in page.find("figure", "drifted")} == {SCRIPT, "plan"}
    assert SCRIPT in page.find("section", "decision")[0].words()
    plan = page.find("svg", "chart", data_column="plan")[0]
    assert [t.words() for t in plan.find("text")][-2:] == ["<b>gold</b>", "basic"]


def test_unknown_runs_and_monitors_are_404_pages(engine: Engine) -> None:
    demo_history(engine, 1)
    missing = ["999", "0", "-1", "abc", "1.5", str(MAX_ROW_ID), str(MAX_ROW_ID + 1), "9" * 30]
    with pages(engine) as client:
        for run_id in missing:
            page = page_at(client, f"/runs/{run_id}", status=404)
            assert page.find("p")[0].words().startswith(f"There is no run {run_id} in this store.")
        page = page_at(client, "/monitors/%3Cscript%3Ealert(1)%3C%2Fscript%3E", status=404)
        assert page.find("script") == []
        assert page.find("p")[0].words().startswith(f"There is no monitor {SCRIPT} in this store.")
        assert page_at(client, "/runs/1").find("h1")[0].words() == "Run 1 of monitor demo"


def test_a_page_reads_the_store_a_fixed_number_of_times(engine: Engine) -> None:
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    def reads() -> tuple[int, int]:
        latest = max(o.run_id for o in outcomes)
        statements.clear()
        assert load_run_page(engine, latest) is not None
        run_page = len(statements)
        statements.clear()
        assert load_monitor_page(engine, "demo") is not None
        return run_page, len(statements)

    outcomes = demo_history(engine, 2)
    event.listen(engine, "before_cursor_execute", count)
    try:
        few = reads()
        event.remove(engine, "before_cursor_execute", count)
        outcomes = demo_history(engine, 8, first=2)
        event.listen(engine, "before_cursor_execute", count)
        many = reads()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    # The run page reads its window's performance (one query), and get_run and list_runs
    # each the alert changes of the runs they return (one query each).
    assert few == many == (8, 5)


def test_a_page_on_a_store_that_is_down_is_503_without_the_url() -> None:
    engine = make_engine("postgresql+psycopg://driftwarden:s3cret-pw@127.0.0.1:1/driftwarden")
    try:
        with pages(engine) as client:
            responses = [client.get(path) for path in ("/runs/1", "/monitors/demo")]
    finally:
        engine.dispose()
    for response in responses:
        assert response.status_code == 503
        assert response.json() == {"detail": "store unavailable"}
        assert "s3cret" not in response.text and "127.0.0.1:1" not in response.text
