"""The page of a drifted run in headless Chromium: laid out, drawn, offline, and photographed.

The other page tests read the HTML; this one asks the browser what it drew
(sizes of the laid-out charts, the colours the stylesheet gave the bars) and
what it fetched (nothing beyond the page), then saves a screenshot.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from tests.chromium import Chromium, chromium_or_skip
from tests.monitor.pages.test_routes import DEMO_COLUMNS, demo_history, pages

DRAWN = """
[...document.querySelectorAll('svg.chart')].map(svg => {
  const figure = svg.closest('figure');
  const box = svg.getBoundingClientRect();
  const bars = [...svg.querySelectorAll('rect.cur')].filter(bar => bar.getBBox().height > 0);
  return {
    column: svg.dataset.column,
    width: box.width,
    height: box.height,
    bars: bars.length,
    fill: bars.length ? getComputedStyle(bars[0]).fill : null,
    marked: figure.classList.contains('drifted'),
    badge: figure.querySelector('.badge').textContent,
  };
})
"""
MARKED_ROWS = (
    "[...document.querySelector('table.results').querySelectorAll('tr.drifted')]"
    ".map(row => row.dataset.column)"
)
FETCHED = "performance.getEntriesByType('resource').map(entry => entry.name)"
CURRENT, DRIFTED = "rgb(37, 99, 235)", "rgb(185, 28, 28)"


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def test_drifted_run_page_draws_a_chart_per_column(sqlite_engine: Engine, tmp_path: Path) -> None:
    executable = chromium_or_skip()
    drifted = demo_history(sqlite_engine, 8)[-1]  # its trends span all eight runs
    assert drifted.drifted is True
    with pages(sqlite_engine) as client, Chromium(executable, tmp_path / "profile") as browser:
        tab = browser.open(f"{client.base_url}/runs/{drifted.run_id}", width=1280)
        charts: list[dict[str, Any]] = tab.evaluate(DRAWN)
        marked_rows = tab.evaluate(MARKED_ROWS)
        fetched = tab.evaluate(FETCHED)
        title = tab.evaluate("document.title")
        screenshot = tab.screenshot(tmp_path / "run-page.png")
    print(f"screenshot of the drifted run's page: {screenshot}")

    assert title == f"Run {drifted.run_id} of demo · driftwarden"
    assert [chart["column"] for chart in charts] == DEMO_COLUMNS
    for chart in charts:
        assert chart["width"] > 400 and chart["height"] > 180, chart  # two charts a row
        assert chart["bars"] >= 3, chart
        drifted_column = chart["column"] in ("income", "device")
        assert chart["marked"] is drifted_column, chart
        assert chart["badge"] == ("drifted" if drifted_column else "ok"), chart
        assert chart["fill"] == (DRIFTED if drifted_column else CURRENT), chart
    assert marked_rows == ["income", "device"]
    assert fetched == []  # no stylesheet, script, font or image from anywhere
    width, height = png_size(screenshot)
    assert width == 1280 and height > 1200
