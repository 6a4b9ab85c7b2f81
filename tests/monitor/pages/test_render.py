"""The report pages as pure functions: real detector results in, the exact elements out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

import detectors
from monitor.pages.charts import MAX_BARS, bar_chart, sparkline
from monitor.pages.queries import ColumnTrend, MonitorPage, RunPage, TrendPoint
from monitor.pages.render import render_monitor_page, render_not_found, render_run_page
from monitor.store.queries import ResultView, RunDetail, RunSummary
from monitor.store.references import RunReference
from monitor.vocabulary import ResultCheck
from tests.monitor.pages.html import Element, parse

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SCRIPT = "<script>alert(1)</script>"


def stored(result: detectors.ColumnResult, check: ResultCheck = "drift") -> ResultView:
    return ResultView(check=check, **result.to_dict())


def numeric_result(name: str, shift: float, method: str = "ks") -> ResultView:
    rng = np.random.default_rng(7)
    profile = detectors.fit_profile(pd.Series(rng.normal(0, 1, 2000), name=name), "numeric")
    return stored(
        detectors.compare_column(profile, pd.Series(rng.normal(shift, 1, 1000)), method=method)
    )


def categorical_result(name: str, current: list[str], method: str = "chi2") -> ResultView:
    reference = pd.Series(["a"] * 500 + ["b"] * 300 + ["c"] * 200, name=name)
    profile = detectors.fit_profile(reference, "categorical")
    return stored(detectors.compare_column(profile, pd.Series(current), method=method))


def empty_window_result() -> ResultView:
    profile = detectors.fit_profile(pd.Series([1.0, 2.0, 3.0], name="x"), "numeric")
    return stored(detectors.compare_column(profile, pd.Series([], dtype="float64")))


def summary(run_id: int, status: str = "succeeded", **overrides: object) -> RunSummary:
    at = T0 + timedelta(hours=run_id)
    fields: dict[str, object] = {
        "id": run_id,
        "monitor": "churn",
        "scheduled_for": at,
        "trigger": "schedule",
        "status": status,
        "started_at": at,
        "finished_at": at + timedelta(seconds=2),
        "window_start": at - timedelta(hours=1),
        "window_end": at,
        "drifted": False if status in ("succeeded", "empty") else None,
        "reason": "no drift: 0 of 2 columns drifted",
        "n_reference": 2000,
        "n_current": 1000,
        "drifted_columns": (),
    }
    fields.update(overrides)
    return RunSummary(**fields)  # type: ignore[arg-type]


def point(
    run_id: int, value: float | None, drifted: bool = False, **overrides: object
) -> TrendPoint:
    fields: dict[str, object] = {
        "run_id": run_id,
        "scheduled_for": T0 + timedelta(hours=run_id),
        "run_status": "succeeded",
        "value": value,
        "floor": 0.04,
        "drifted": drifted,
        "method": "ks",
        "status": "ok" if value is not None else None,
    }
    fields.update(overrides)
    return TrendPoint(**fields)  # type: ignore[arg-type]


def drifted_run_page() -> RunPage:
    results = (
        numeric_result("age", 0.0),
        numeric_result("income", 0.8),
        categorical_result("device", ["a"] * 200 + ["b"] * 300 + ["c"] * 500),
        numeric_result("score", 0.8, method="psi"),
    )
    run = summary(
        3, drifted=True, reason="drift: 3 of 4 columns drifted", drifted_columns=("income",)
    )
    trends = tuple(
        ColumnTrend(r.column, (point(1, 0.01), point(2, None), point(3, r.effect, r.drifted)))
        for r in results
    )
    return RunPage(run=RunDetail(summary=run, results=results), trends=trends)


def test_run_page_draws_one_chart_per_column_named_by_a_data_attribute() -> None:
    page = parse(render_run_page(drifted_run_page()))
    charts = page.find("svg", "chart")
    assert [chart.attrs["data-column"] for chart in charts] == ["age", "income", "device", "score"]
    assert [chart.attrs["data-kind"] for chart in charts] == [
        "numeric",
        "numeric",
        "categorical",
        "numeric",
    ]
    for chart in charts:
        bins = chart.find("g", "bin")
        assert len(chart.find("rect", "ref")) == len(chart.find("rect", "cur")) == len(bins)
    assert len(charts[0].find("g", "bin")) == 10  # deciles of the reference
    assert [label.words() for label in charts[2].find("text")[-3:]] == ["a", "b", "c"]
    assert not any("transform" in label.attrs for label in charts[2].find("text"))
    trends = page.find("svg", "sparkline")
    assert [trend.attrs["data-column"] for trend in trends] == ["age", "income", "device", "score"]
    assert len(page.find("circle", "selected")) == 4  # this run, ringed on each trend


def test_drifted_columns_are_marked_in_the_table_and_on_their_charts() -> None:
    page = parse(render_run_page(drifted_run_page()))
    marked = [row.attrs["data-column"] for row in page.find("tr", "drifted")]
    assert marked == ["income", "device", "score"]
    assert [f.attrs["data-column"] for f in page.find("figure", "drifted")] == marked
    assert [f.attrs["data-column"] for f in page.find("figure", data_drifted="false")] == ["age"]
    for figure in page.find("figure", "column"):
        expected = "drifted" if figure.attrs["data-drifted"] == "true" else "ok"
        assert [badge.words() for badge in figure.find("span", "badge")] == [expected]
    decision = page.find("section", "decision")[0]
    assert decision.attrs["data-verdict"] == "drifted"
    assert decision.words() == "drifted drift: 3 of 4 columns drifted"


def cells(row: Element) -> list[str]:
    return [cell.words() for cell in row.find("td")]


def test_numbers_are_formatted_short_and_a_missing_value_is_a_dash() -> None:
    run = drifted_run_page().run
    income = run.results[1]
    page = parse(render_run_page(drifted_run_page()))
    rows = {row.attrs["data-column"]: row for row in page.find("tr", data_drifted="true")}
    assert income.statistic is not None and income.p_value is not None
    assert cells(rows["income"])[:8] == [
        "income",
        "ks",
        f"{income.statistic:.3g}",
        f"{income.p_value:.3g}",
        "–",  # not corrected: the results were not put through a correction
        f"{income.statistic:.3g}",
        "0.04",
        "drifted",
    ]
    assert "e-" in cells(rows["income"])[3]  # a tiny p-value keeps its digits
    assert cells(rows["score"])[3] == "–"  # PSI is a distance: no p-value
    facts = {
        fact.find("dt")[0].words(): fact.find("dd")[0].words()
        for fact in page.find("dl", "facts")[0].find("div")
    }
    assert facts == {
        "window": "2026-03-01 14:00:00 – 15:00:00 UTC",
        "scheduled for": "2026-03-01 15:00:00 UTC (schedule)",
        "finished": "2026-03-01 15:00:02 UTC",
        "rows": "1,000 current, 2,000 reference",
        "drifted": "income",
    }


def test_user_text_is_escaped_everywhere() -> None:
    column = categorical_result(SCRIPT, ["<b>gold</b>"] * 600 + ["a"] * 400)
    run = summary(
        5,
        monitor='x"><img src=x onerror=alert(2)>',
        drifted=True,
        reason=f"drift: 1 of 1 columns drifted ({SCRIPT})",
        drifted_columns=(SCRIPT,),
    )
    trend = ColumnTrend(SCRIPT, (point(5, column.effect, True),))
    html = render_run_page(RunPage(RunDetail(run, (column,)), (trend,)))
    assert SCRIPT not in html and "<b>gold" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    page = parse(html)
    assert page.find("script") == [] and page.find("img") == [] and page.find("b") == []
    assert page.find("svg", "chart")[0].attrs["data-column"] == SCRIPT
    assert page.find("tr", "drifted")[0].find("td")[0].words() == SCRIPT
    assert "<b>gold</b>" in [label.words() for label in page.find("svg", "chart")[0].find("text")]
    assert (
        page.find("a")[0].attrs["href"]
        == "../monitors/x%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert%282%29%3E"
    )
    monitor = render_monitor_page(MonitorPage('x"><img src=x>', (run,), (trend,)))
    assert SCRIPT not in monitor and "<img" not in monitor
    assert parse(monitor).find("svg", "sparkline")[0].attrs["data-column"] == SCRIPT
    assert "<script>" not in render_not_found(f"monitor {SCRIPT}")


@pytest.mark.parametrize(
    ("status", "reason"),
    [("empty", "no data: the window is empty"), ("failed", "source down"), ("running", None)],
)
def test_a_run_that_did_not_succeed_is_shown_as_what_it_is(status: str, reason: str | None) -> None:
    results: tuple[ResultView, ...] = ()
    if status == "empty":
        run, results = summary(4, status, reason=reason, n_current=0), (empty_window_result(),)
    else:
        run = summary(4, status, reason=reason, n_current=None, n_reference=None)
    page = parse(render_run_page(RunPage(RunDetail(run, results), ())))
    decision = page.find("section", "decision")[0]
    assert decision.attrs["data-verdict"] == status
    assert decision.find("span", "badge")[0].words() == status
    assert "ok" not in {badge.words() for badge in page.find("span", "badge")}
    facts = [fact.words() for fact in page.find("dl", "facts")[0].find("dt")]
    if status == "empty":
        assert facts == ["window", "scheduled for", "finished", "rows", "drifted"]
        assert page.find("svg", "chart") == []
        [note] = page.find("p", "no-chart")
        assert note.words() == "Nothing to draw: current window is empty"
    else:  # nothing was counted or decided: no rows, no drifted columns to show
        assert facts == ["window", "scheduled for", "finished"]
        [note] = page.find("p", "empty-state")
        assert note.words() == f"This run stored no results: it {status}."
    monitor = parse(render_monitor_page(MonitorPage("churn", (run, summary(3)), ())))
    assert [row.attrs["data-verdict"] for row in monitor.find("tr", data_run="4")] == [status]


def test_monitor_page_lists_recent_runs_and_a_trend_per_column() -> None:
    runs = (
        summary(
            4, drifted=True, reason="drift: 1 of 2 columns drifted", drifted_columns=("income",)
        ),
        summary(3, "failed", reason="source down"),
        summary(2),
    )
    trends = (
        ColumnTrend(
            "income", (point(2, 0.01), point(3, None, run_status="failed"), point(4, 0.3, True))
        ),
        ColumnTrend(
            "device", (point(2, 0.02, floor=0.1), point(3, None), point(4, 0.03, floor=0.1))
        ),
    )
    page = parse(render_monitor_page(MonitorPage("churn", runs, trends)))
    rows = page.find("table", "runs")[0].find("tr", data_run="4") + page.find("tr", data_run="3")
    assert [cells(row) for row in rows] == [
        ["4", "2026-03-01 16:00:00 UTC", "drifted", "income", "drift: 1 of 2 columns drifted"],
        ["3", "2026-03-01 15:00:00 UTC", "failed", "", "source down"],
    ]
    assert rows[0].find("a")[0].attrs["href"] == "../runs/4"
    lines = page.find("svg", "sparkline")
    assert [line.attrs["data-column"] for line in lines] == ["income", "device"]
    income = lines[0]
    assert [c.attrs["data-run"] for c in income.find("circle", "drifted")] == ["4"]
    assert [c.attrs["data-run"] for c in income.find("circle", "gap")] == ["3"]
    assert income.find("circle", "gap")[0].find("title")[0].words() == (
        "run 3, 2026-03-01 15:00:00 UTC: failed"
    )
    trend_rows = page.find("table", "trends")[0].find("tr", "drifted")
    assert [cells(row)[:1] + cells(row)[2:] for row in trend_rows] == [
        ["income", "ks", "0.3", "0.04", "1 of 3"]
    ]
    assert page.find("section", "decision")[0].attrs["data-verdict"] == "drifted"
    assert page.find("a", href="../api/runs?monitor=churn") != []


def test_a_monitor_without_runs_says_so() -> None:
    page = parse(render_monitor_page(MonitorPage("churn", (), ())))
    assert [p.words() for p in page.find("p", "empty-state")] == [
        "No column has been tested yet.",
        "No runs yet.",
    ]


def test_categorical_chart_folds_the_tail_into_other() -> None:
    categories = [f"c{i:02d}" for i in range(30)]
    result = categorical_result("plan", categories * 10, method="psi")
    chart = bar_chart(result)
    assert chart is not None and len(chart.bars) == MAX_BARS
    assert chart.bars[-1].title.startswith(f"{30 + 3 - (MAX_BARS - 1)} other categories: ")
    assert chart.bars[0].title == "a: reference 50% (500), current 0% (0)"
    assert chart.labels[-1].text == f"other ({30 + 3 - (MAX_BARS - 1)})"
    assert all(label.rotated for label in chart.labels)  # "other (22)" is wider than its bar


def test_numeric_chart_bars_are_shares_over_the_stored_bins() -> None:
    result = numeric_result("income", 0.8)
    chart = bar_chart(result)
    assert chart is not None and chart.kind == "numeric"
    reference = result.details["reference_counts"]
    current = result.details["current_counts"]
    top = max(chart.plot_bottom - bar.current_y for bar in chart.bars)
    tallest = max(c / sum(current) for c in current)
    for bar, n_reference, n_current in zip(chart.bars, reference, current, strict=True):
        assert bar.reference_height / top == pytest.approx(
            n_reference / sum(reference) / tallest, abs=1e-3
        )
        assert bar.current_height / top == pytest.approx(
            n_current / sum(current) / tallest, abs=1e-3
        )
    assert [tick.text for tick in chart.ticks][0] == "0%"
    assert chart.bars[0].title.startswith(f"≤ {result.details['bin_edges'][0]:.3g}: reference 10%")


def test_no_chart_without_histograms() -> None:
    empty = empty_window_result()
    assert bar_chart(empty) is None
    legacy = ResultView(**{**numeric_result("x", 0.0).__dict__, "details": {"bins": [1, 2]}})
    assert bar_chart(legacy) is None


def test_sparkline_breaks_its_line_at_runs_without_a_value() -> None:
    trend = ColumnTrend("x", (point(1, 0.1), point(2, 0.2), point(3, None), point(4, 0.4, True)))
    line = sparkline(trend, selected_run=4)
    assert line.path.count("M") == 2 and line.path.count("L") == 1
    assert [p.marker for p in line.points] == ["ok", "ok", "gap", "drifted"]
    assert [p.selected for p in line.points] == [False, False, False, True]
    assert line.points[3].y < line.points[1].y < line.points[0].y  # larger effect, higher
    assert line.floor_y is not None and line.floor_y > line.points[0].y  # 0.04, under them all
    assert line.n_drifted == 1


def test_not_found_page_names_what_is_missing() -> None:
    page = parse(render_not_found("run 12345"))
    assert page.find("h1")[0].words() == "Not found"
    assert page.find("p")[0].words().startswith("There is no run 12345 in this store.")


def test_a_run_page_states_the_reference_the_run_used() -> None:
    trailing = RunReference(
        "0123456789ab" + "f" * 52,
        "trailing",
        "the monitor's source over the trailing 28d, skipping the last 1d, refitted every 1d",
        datetime(2026, 2, 1, tzinfo=UTC),
        datetime(2026, 3, 1, tzinfo=UTC),
    )
    files = RunReference("c" * 64, "file", f"the files {SCRIPT}.parquet")
    shown = []
    for reference in (trailing, files, None):
        run = summary(1, reference=reference)
        page = parse(render_run_page(RunPage(RunDetail(run, ()), ())))
        facts = page.find("div", "reference")
        shown.append([(f.attrs["data-reference-key"], f.find("dd")[0].words()) for f in facts])
    assert shown == [
        [
            (
                trailing.key,
                "trailing: the monitor's source over the trailing 28d, skipping the last 1d, "
                "refitted every 1d, 2026-02-01 00:00:00 UTC – 2026-03-01 00:00:00 UTC (profile "
                "0123456789ab)",
            )
        ],
        [("c" * 64, f"file: the files {SCRIPT}.parquet (profile cccccccccccc)")],
        [],
    ]
