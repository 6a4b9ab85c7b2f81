"""deploy/grafana/driftwarden.json: the dashboard's model (its queries: test_prometheus.py)."""

from __future__ import annotations

import json
from typing import Any

from tests.deploy.support import DEPLOY

GRAFANA = DEPLOY / "grafana"

SCHEMA_VERSION = 42
"""The classic dashboard model's last schema version (Grafana 12.2 and later)."""


def dashboard() -> dict[str, Any]:
    document: dict[str, Any] = json.loads((GRAFANA / "driftwarden.json").read_text())
    return document


def test_the_dashboard_has_the_panels_an_operator_looks_for() -> None:
    model = dashboard()
    assert model["schemaVersion"] == SCHEMA_VERSION
    assert model["uid"] == "driftwarden"
    titles = {panel["title"] for panel in model["panels"] if panel["type"] != "row"}
    assert titles >= {
        "Drifted monitors",
        "Runs by outcome",
        "Run duration",
        "Column statistics",
        "Column p-values",
        "Last success age",
        "Outbox by status",
        "Deliveries by receiver and outcome",
    }


def test_every_panel_reads_the_chosen_prometheus_and_fits_the_grid() -> None:
    model = dashboard()
    variables = {variable["name"]: variable for variable in model["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    panels = model["panels"]
    assert len({panel["id"] for panel in panels}) == len(panels)
    occupied: set[tuple[int, int]] = set()
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        cells = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not cells & occupied, f"{panel['title']} overlaps another panel"
        occupied |= cells
        if panel["type"] == "row":
            continue
        assert panel["description"], panel["title"]
        sources = [panel["datasource"], *(target["datasource"] for target in panel["targets"])]
        assert all(source == {"type": "prometheus", "uid": "${datasource}"} for source in sources)
        assert len({target["refId"] for target in panel["targets"]}) == len(panel["targets"])
