"""A run's segments wherever its results go: the API, the run page, /metrics and the alerts,
each read over real HTTP on 127.0.0.1."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from monitor.api import create_app
from monitor.config import parse_settings
from monitor.metrics import Metrics
from monitor.notifiers.alertmanager import AlertmanagerNotifier, AlertmanagerReceiverSettings
from monitor.notifiers.base import OutboundMessage
from monitor.runner import run_check
from monitor.store.models import OutboxRow
from tests.monitor.segment_support import segmented_rows
from tests.monitor.test_runner import context
from tests.support import MIXED_COLUMNS, HttpFake, serving

AT = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
BASE_URL = "http://127.0.0.1:8470"


def _write(tmp_path: Path) -> pd.DataFrame:
    rng = np.random.default_rng(21)
    segmented_rows(rng, 40_000).to_parquet(tmp_path / "reference.parquet")
    current = segmented_rows(rng, 6_000, shifted="C03", shift=1.0)
    current.loc[current.index[:30], "country"] = "new"
    spacing = timedelta(hours=1) / (len(current) + 1)
    stamps = [AT - timedelta(hours=1) + spacing * (i + 1) for i in range(len(current))]
    current.assign(ts=stamps).to_parquet(tmp_path / "live.parquet")
    return current


def test_api_page_metrics_and_alerts_name_the_drifted_segment(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    current = _write(tmp_path)
    with HttpFake() as alertmanager:
        settings = parse_settings(
            {
                "monitors": [
                    {
                        "name": "segmented",
                        "schedule": "every 1h",
                        "source": {
                            "type": "file",
                            "path": str(tmp_path / "live.parquet"),
                            "timestamp_column": "ts",
                        },
                        "reference": {"type": "file", "path": str(tmp_path / "reference.parquet")},
                        "columns": [{"name": n, "kind": k} for n, k in MIXED_COLUMNS],
                        "segments": ["country"],
                        "metrics_segments": 3,
                        "receivers": ["am"],
                    }
                ],
                "receivers": [{"name": "am", "type": "alertmanager", "url": alertmanager.url}],
            }
        )
        monitor = settings.monitors[0]
        metrics = Metrics()
        metrics.declare_monitor(monitor.name, monitor.schedule.period(), monitor.metrics_segments)
        outcome = run_check(context(sqlite_engine, monitor, metrics), monitor, AT, "schedule")
        assert outcome is not None and outcome.drifted

        app = create_app(sqlite_engine, metrics, lambda: {}, BASE_URL + "/")
        with serving(app) as client:
            detail = client.get(f"/api/runs/{outcome.run_id}").json()
            listed = client.get("/api/runs", params={"monitor": "segmented"}).json()
            page = client.get(f"/runs/{outcome.run_id}").text
            monitor_page = client.get("/monitors/segmented").text
            exposition = client.get("/metrics").text

        with Session(sqlite_engine) as session:
            row = session.scalars(select(OutboxRow).where(OutboxRow.receiver == "am")).one()
        message = OutboundMessage(row.message_id, row.event_type, row.payload, row.created_at, 1)
        receiver = settings.receiver("am")
        assert isinstance(receiver, AlertmanagerReceiverSettings)
        request = AlertmanagerNotifier(receiver, "receivers[0]").build_request(message)
        assert request is not None
        with httpx.Client() as http:
            assert http.send(request).status_code == 200
        posted = alertmanager.requests[0].json()

    drifted = [(r["segment"], r["column"]) for r in detail["results"] if r["drifted"]]
    assert drifted == [("country=C03", "amount")]
    assert {r["segment"] for r in detail["results"]} >= {None, "country=C03"}
    assert detail["drifted_columns"] == []
    assert detail["drifted_segments"] == [{"segment": "country=C03", "columns": ["amount"]}]
    assert len(detail["segments"]["tested"]) == 20
    assert detail["segments"]["skipped"] == [
        {
            "reason": "not_in_reference",
            "explanation": "a value the reference does not have",
            "count": 1,
            "segments": ["country=new"],
        }
    ]
    run = listed["runs"][0]
    assert (run["drifted_segments"], run["segments"]) == (
        detail["drifted_segments"],
        detail["segments"],
    )

    assert 'data-segment="country=C03" data-drifted="true"' in page
    assert page.count('<section class="segment') == 20
    assert 'data-reason="not_in_reference" data-count="1"' in page
    assert "country=new" in page
    assert "<td>country=C03: amount</td>" in monitor_page

    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }
    counts = current.loc[current["country"] != "new", "country"].value_counts()
    top = sorted(counts.index, key=lambda c: (-counts[c], c))[:3]
    shown = {
        dict(labels)["segment"]
        for name, labels in samples
        if name == "driftwarden_segment_column_drifted"
    }
    assert shown == {f"country={c}" for c in top} | {"other"}
    assert samples[("driftwarden_segments_pooled", (("monitor", "segmented"),))] == 17
    c03 = "country=C03" if "C03" in top else "other"
    key = (("column", "amount"), ("monitor", "segmented"), ("segment", c03))
    assert samples[("driftwarden_segment_column_drifted", key)] == 1.0
    rows = samples[("driftwarden_segment_rows", (("monitor", "segmented"), ("segment", "other")))]
    assert rows == sum(counts[c] for c in counts.index if c not in top)

    assert [alert["labels"]["segment"] for alert in posted] == ["country=C03"]
    assert posted[0]["labels"]["alertname"] == "DriftwardenDatasetDrift"
    assert posted[0]["annotations"]["drifted_columns"] == "amount"
    assert (
        posted[0]["annotations"]["description"]
        .splitlines()[1]
        .startswith("amount in country=C03 (ks): statistic")
    )
    assert row.payload["drifted_columns"][0]["segment"] == "country=C03"
