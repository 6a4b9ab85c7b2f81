"""Drift per segment: the budget holds over many segments, a shift in one segment is found and
named, the results round-trip through the store, and bad segment settings are refused.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sqlalchemy import Engine

from monitor.alerts.rules import ColumnDriftRule, ColumnFact, RunFacts
from monitor.config import MonitorSettings
from monitor.evaluation import evaluate, prepare_window, run_verdict
from monitor.levels import monitor_levels
from monitor.profiles import ReferenceProfile, fit_reference
from monitor.runner import run_check
from monitor.segment_report import Segment, SegmentReport, SkippedSegments
from monitor.segments import evaluate_segments, plan_segments, segmented_verdict
from monitor.settings_base import ConfigError
from monitor.store.queries import get_run, list_runs
from tests.monitor.segment_support import COUNTRIES, segment_monitor, segmented_rows
from tests.monitor.test_runner import context

RUNS = 150
AT = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _run(
    monitor: MonitorSettings, profile: ReferenceProfile, current: pd.DataFrame
) -> tuple[bool, str, SegmentReport]:
    """One run's verdict as the runner reaches it (``runner._evaluate_and_store``)."""
    levels = monitor_levels(monitor)
    plan = plan_segments(monitor, profile, current)
    prepared = prepare_window(monitor, profile, current)
    results = evaluate(
        monitor, profile, current, prepared, levels, segments=len(plan.report.tested)
    )
    segments = evaluate_segments(monitor, profile, current, plan, levels)
    drifted, reason = segmented_verdict(monitor, results, segments)
    return drifted, reason, plan.report


@pytest.mark.parametrize(
    "thresholds",
    [{"alpha": 0.05, "sequential_scales": []}, {"false_alarms": "1/1d", "sequential_scales": []}],
    ids=["alpha", "budget"],
)
def test_twenty_segments_on_stationary_data_stay_within_the_budget(
    thresholds: dict[str, object],
) -> None:
    """Drifted runs among ``RUNS`` stationary runs of 20 segments stay below the binomial
    99.9 % upper bound of the run's level; 21 families each at that level would alarm up to
    21 times as often."""
    monitor = segment_monitor(thresholds=thresholds)
    level = monitor_levels(monitor).total
    rng = np.random.default_rng(20)
    profile = fit_reference(monitor, segmented_rows(rng, 40_000))
    alarms = 0
    for _ in range(RUNS):
        drifted, _, report = _run(monitor, profile, segmented_rows(rng, 6_000))
        assert len(report.tested) == len(COUNTRIES)
        alarms += drifted
    bound = stats.binom.ppf(0.999, RUNS, level)
    print(f"{thresholds}: {alarms} drifted runs of {RUNS}; level {level:.4f}, bound {bound}")
    assert alarms <= bound


def test_a_shift_in_one_segment_is_found_where_the_whole_window_misses_it() -> None:
    monitor = segment_monitor()
    rng = np.random.default_rng(7)
    profile = fit_reference(monitor, segmented_rows(rng, 40_000))
    current = segmented_rows(rng, 6_000, shifted="C03", shift=1.0)

    drifted, reason, _ = _run(monitor, profile, current)

    whole = segment_monitor(segments=[])
    whole_profile = fit_reference(whole, segmented_rows(np.random.default_rng(7), 40_000))
    whole_results = evaluate(
        whole,
        whole_profile,
        current,
        prepare_window(whole, whole_profile, current),
        monitor_levels(whole),
    )
    assert run_verdict(whole, whole_results) == (False, "no drift: 0 of 5 columns drifted")
    assert drifted
    assert reason == (
        "drift: 1 segment drifted: country=C03 (amount) "
        "(whole window: no drift: 0 of 5 columns drifted)"
    )


def _write_window(path: Path, frame: pd.DataFrame, end: datetime) -> None:
    spacing = timedelta(hours=1) / (len(frame) + 1)
    frame = frame.assign(
        ts=[end - timedelta(hours=1) + spacing * (i + 1) for i in range(len(frame))]
    )
    frame.to_parquet(path)


def _file_monitor(tmp_path: Path, **overrides: object) -> MonitorSettings:
    return segment_monitor(
        source={"type": "file", "path": str(tmp_path / "live.parquet"), "timestamp_column": "ts"},
        reference={"type": "file", "path": str(tmp_path / "reference.parquet")},
        **overrides,
    )


def test_segment_results_and_skips_are_stored_and_read_back(engine: Engine, tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    reference = segmented_rows(rng, 40_000)
    reference.loc[reference["country"] == "C19", "country"] = "C18"  # C19 is new in the window
    reference.loc[reference.index[:300], "country"] = "tiny"
    reference.to_parquet(tmp_path / "reference.parquet")
    current = segmented_rows(rng, 6_000, shifted="C03", shift=1.0)
    current.loc[current.index[:50], "country"] = "tiny"  # too few rows in the window
    _write_window(tmp_path / "live.parquet", current, AT)
    monitor = _file_monitor(tmp_path, max_segments=10)

    outcome = run_check(context(engine, monitor), monitor, AT, "schedule")

    assert outcome is not None and outcome.status == "succeeded" and outcome.drifted
    detail = get_run(engine, outcome.run_id)
    assert detail is not None
    by_segment: dict[str | None, list[str]] = {}
    for result in detail.results:
        by_segment.setdefault(result.segment, []).append(result.column)
    tested = by_segment.keys() - {None}
    assert by_segment[None] == ["amount", "items", "latency", "returning", "channel"]
    assert len(tested) == 10 and "country=C03" in tested
    assert all(columns == by_segment[None] for columns in by_segment.values())
    drifted = [(r.segment, r.column) for r in detail.results if r.drifted]
    assert drifted == [("country=C03", "amount")]
    summary = detail.summary
    assert summary.drifted_columns == ()
    assert [s.to_dict() for s in summary.drifted_segments] == [
        {"segment": "country=C03", "columns": ["amount"]}
    ]
    counts = current["country"].value_counts()
    ranked = sorted(counts.drop(["C19", "tiny"]).index, key=lambda c: (-counts[c], c))
    report = summary.segments
    assert report is not None
    assert [s.name for s in report.tested] == [f"country={c}" for c in ranked[:10]]
    assert report.tested[0] == Segment(
        "country",
        report.tested[0].value,
        int(counts[report.tested[0].value]),
        int((reference["country"] == report.tested[0].value).sum()),
    )
    assert report.skipped == (
        SkippedSegments("too_few_rows", 1, ("country=tiny",)),
        SkippedSegments("not_in_reference", 1, ("country=C19",)),
        SkippedSegments("over_max_segments", 9, tuple(f"country={c}" for c in ranked[10:])),
    )
    listed = list_runs(engine, "segmented", 10, None)
    assert listed[0].drifted_segments == summary.drifted_segments
    assert listed[0].segments == report


def test_a_monitor_without_segments_stores_none(engine: Engine, tmp_path: Path) -> None:
    rng = np.random.default_rng(12)
    segmented_rows(rng, 5_000).to_parquet(tmp_path / "reference.parquet")
    _write_window(tmp_path / "live.parquet", segmented_rows(rng, 1_000), AT)
    monitor = _file_monitor(tmp_path, segments=[])

    outcome = run_check(context(engine, monitor), monitor, AT, "schedule")

    assert outcome is not None and outcome.status == "succeeded"
    detail = get_run(engine, outcome.run_id)
    assert detail is not None and detail.summary.segments is None
    assert {r.segment for r in detail.results} == {None}
    assert detail.to_dict()["segments"] is None


@pytest.mark.parametrize("missing_in", ["reference", "current window"])
def test_a_segment_column_missing_from_the_data_fails_the_run_naming_it(
    engine: Engine, tmp_path: Path, missing_in: str
) -> None:
    rng = np.random.default_rng(13)
    reference, current = segmented_rows(rng, 5_000), segmented_rows(rng, 1_000)
    if missing_in == "reference":
        reference = reference.drop(columns="country")
    else:
        current = current.drop(columns="country")
    reference.to_parquet(tmp_path / "reference.parquet")
    _write_window(tmp_path / "live.parquet", current, AT)
    monitor = _file_monitor(tmp_path)

    outcome = run_check(context(engine, monitor), monitor, AT, "schedule")

    assert outcome is not None and outcome.status == "failed"
    assert outcome.reason.startswith(f'segments: the {missing_in} has no column "country"')


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"segments": ["country", "country"]},
            'segments: segments[1]: column "country" is listed twice',
        ),
        ({"segments": [" "]}, "segments: segments[0]: expected a column name, got an empty one"),
        ({"segment_min_rows": 5}, "segment_min_rows: Input should be greater than or equal to 10"),
        ({"max_segments": 0}, "max_segments: Input should be greater than or equal to 1"),
        ({"max_segments": 5000}, "max_segments: Input should be less than or equal to 1000"),
        ({"metrics_segments": -1}, "metrics_segments: Input should be greater than or equal to 0"),
        ({"segments": "country"}, "segments: Input should be a valid"),
    ],
)
def test_bad_segment_settings_are_refused_naming_the_key(
    overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        segment_monitor(**overrides)
    assert f"monitors[0].{message}" in str(raised.value)


def test_segments_need_rows_not_a_summary_counted_in_the_database() -> None:
    with pytest.raises(ConfigError) as raised:
        segment_monitor(
            source={
                "type": "sql",
                "url": "postgresql+psycopg://127.0.0.1/test",
                "table": "events",
                "timestamp_column": "ts",
                "profile_in_database": True,
            }
        )
    assert "monitors[0]: segments: needs the window's rows to split them" in str(raised.value)


def test_a_column_drift_rule_hits_on_its_column_drifting_in_a_segment() -> None:
    rule = ColumnDriftRule(name="amount", type="column_drift", columns=("amount",))

    def fact(drifted: bool) -> ColumnFact:
        return ColumnFact("amount", "ks", "drift", drifted, "ok", 0.0, None)

    def facts(segments: list[ColumnFact]) -> RunFacts:
        return RunFacts(
            status="succeeded",
            drifted=True,
            reason="",
            columns=[fact(False)],
            now=AT,
            last_success=None,
            segment_columns=segments,
        )

    assert rule.evaluate(facts([fact(False), fact(True)])) == "hit"
    assert rule.evaluate(facts([fact(False)])) == "clear"
