"""Trailing references: their periods, one fit per refit period (fitted ahead), what runs state.

The runs here are hourly, with a trailing day skipping the last hour and
refitted every 6 hours, over a Parquet file of stationary rows; the store
tests run on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from monitor.commands import history
from monitor.config import MonitorSettings, parse_settings
from monitor.levels import monitor_levels
from monitor.metrics import Metrics
from monitor.profiles import reference_key, reference_request, stated_reference
from monitor.references.trailing import (
    GRID_ORIGIN,
    KEPT_PROFILES,
    TrailingReferenceSettings,
    next_refit_start,
    reference_period,
)
from monitor.runner import RunContext, RunOutcome, run_check
from monitor.settings_base import ConfigError
from monitor.sources import Window, build_source
from monitor.sources.base import Source, SourceError
from monitor.store.models import ProfileRow, WindowSketchRow
from monitor.store.queries import get_run
from monitor.store.references import RunReference
from tests.support import Clock

DAY0 = datetime(2026, 3, 1, tzinfo=UTC)
"""The data starts here; the runs examine the windows of DAY2."""
DAY2 = DAY0 + timedelta(days=2)
HOUR = timedelta(hours=1)
ROWS_PER_HOUR = 120
ORIGIN = "the monitor's source over the trailing 1d, skipping the last 1h, refitted every 6h"


def monitor_dict(path: Path, reference: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": "rolling",
        "schedule": "every 1h",
        "window": "1h",
        "source": {"type": "file", "path": str(path), "timestamp_column": "ts"},
        "reference": reference or {"type": "trailing", "span": "1d", "skip": "1h", "refit": "6h"},
        "columns": [{"name": "x", "kind": "numeric"}],
        "thresholds": {"sequential_scales": [4, 16]},
    }


def rolling_monitor(path: Path, **reference: Any) -> MonitorSettings:
    return parse_settings({"monitors": [monitor_dict(path, reference or None)]}).monitors[0]


def write_events(directory: Path, days: int = 3) -> Path:
    rng = np.random.default_rng(14)
    n = days * 24 * ROWS_PER_HOUR
    offsets = np.sort(rng.integers(0, days * 24 * 3_600_000_000, n))
    events = pd.DataFrame(
        {
            "ts": pd.Timestamp(DAY0) + pd.to_timedelta(offsets, unit="us"),
            "x": rng.normal(0, 1, n),
        }
    )
    path = directory / "events.parquet"
    events.to_parquet(path)
    return path


class RecordingSource:
    """The monitor's real source, noting every window it is asked for, in order.

    A window in ``fail_once`` fails the first time it is asked for, as a
    source that timed out would.
    """

    def __init__(self, source: Source, fail_once: frozenset[Window] = frozenset()) -> None:
        self.source = source
        self.windows: list[Window | None] = []
        self.fail_once = set(fail_once)

    def sample(self, window: Window | None, limit: int, seed: int) -> pd.DataFrame:
        self.windows.append(window)
        if window in self.fail_once:
            self.fail_once.discard(window)
            raise SourceError("statement timeout")
        return self.source.sample(window, limit, seed)

    def close(self) -> None:
        self.source.close()


def reference_of(boundary: datetime) -> Window:
    """The reference of the refit period starting at ``boundary``: the day before, less 1h."""
    return Window(boundary - HOUR - timedelta(days=1), boundary - HOUR)


def run_day(
    engine: Engine, monitor: MonitorSettings, fail_once: frozenset[Window] = frozenset()
) -> tuple[RecordingSource, list[RunOutcome]]:
    """Every hourly slot whose window starts on DAY2, with a clock that reads the slot."""
    source = RecordingSource(build_source(monitor.source), fail_once)
    clock = Clock(DAY2)
    ctx = RunContext(
        engine=engine,
        metrics=Metrics(),
        sources={monitor.name: source},
        worker_id="test",
        base_url="http://127.0.0.1:8470",
        clock=clock,
    )
    outcomes = []
    for hour in range(24):
        clock.now = DAY2 + (hour + 1) * HOUR
        outcome = run_check(ctx, monitor, clock.now, "schedule")
        assert outcome is not None and outcome.status == "succeeded", outcome
        outcomes.append(outcome)
    return source, outcomes


def test_each_refit_period_is_fitted_once_and_ahead_of_the_runs_that_use_it(
    engine: Engine, tmp_path: Path
) -> None:
    monitor = rolling_monitor(write_events(tmp_path))
    source, outcomes = run_day(engine, monitor)

    # The first run fits its own reference; every later period's reference is fitted
    # after the run that finds all its rows have arrived (the window starting 4h into
    # the period, at whose end the next reference's last hour is in), before any run
    # of that period, so no run waits for a fit.
    expected: list[Window | None] = [reference_of(DAY2)]
    for hour in range(24):
        expected.append(Window(DAY2 + hour * HOUR, DAY2 + (hour + 1) * HOUR))
        if hour % 6 == 4:
            expected.append(reference_of(DAY2 + (hour + 2) * HOUR))
    assert source.windows == expected

    # Each run states the reference of its refit period ...
    for hour, outcome in enumerate(outcomes):
        boundary = DAY2 + (hour // 6) * 6 * HOUR
        period = reference_of(boundary)
        assert outcome.reference == RunReference(
            reference_key(monitor, DAY2 + hour * HOUR), "trailing", ORIGIN, period.start, period.end
        )
    assert len({outcome.reference for outcome in outcomes}) == 4
    # ... and a monitor keeps its newest profiles only: the one fitted ahead, the one
    # in use and the one before.
    with Session(engine) as session:
        kept = set(session.scalars(select(ProfileRow.reference_key)))
    assert len(kept) == KEPT_PROFILES
    assert kept == {reference_key(monitor, DAY2 + hours * HOUR) for hours in (12, 18, 24)}


def test_a_fit_ahead_that_fails_is_logged_and_tried_again_after_the_next_run(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    monitor = rolling_monitor(write_events(tmp_path))
    failing = reference_of(DAY2 + 6 * HOUR)
    source, outcomes = run_day(engine, monitor, fail_once=frozenset({failing}))

    assert all(outcome.status == "succeeded" for outcome in outcomes)
    assert source.windows[5:9] == [
        Window(DAY2 + 4 * HOUR, DAY2 + 5 * HOUR),
        failing,
        Window(DAY2 + 5 * HOUR, DAY2 + 6 * HOUR),
        failing,
    ]
    assert [r.getMessage() for r in caplog.records if r.name == "driftwarden.refits"] == [
        "monitor rolling: the next reference was not fitted ahead: statement timeout"
    ]
    assert outcomes[6].reference is not None and outcomes[6].reference.end == failing.end


def test_pooled_windows_restart_with_each_refit(engine: Engine, tmp_path: Path) -> None:
    monitor = rolling_monitor(write_events(tmp_path))
    # Six hourly windows share a profile: a pool of 16 would never fill, so it is
    # left out and its share of the budget goes to the single window and the pool of 4.
    levels = monitor_levels(monitor)
    assert sorted(levels.pooled) == [4]
    assert levels.window + levels.pooled[4] == pytest.approx(levels.total)

    _, outcomes = run_day(engine, monitor)

    pooled = [hour for hour, o in enumerate(outcomes) if any("@" in r.method for r in o.results)]
    assert pooled == [hour for hour in range(24) if hour % 6 >= 3]
    assert all(r.method == "ks@4" for o in outcomes for r in o.results if "@" in r.method)
    with Session(engine) as session:
        keys = session.scalars(
            select(WindowSketchRow.reference_key).order_by(WindowSketchRow.scheduled_for)
        ).all()
    assert keys == [o.reference.key for o in outcomes if o.reference][-len(keys) :]


def test_a_run_states_its_reference_in_the_store_and_its_history(
    engine: Engine, store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monitor = rolling_monitor(write_events(tmp_path))
    _, outcomes = run_day(engine, monitor)
    run = outcomes[7]
    period = reference_of(DAY2 + 6 * HOUR)
    key = reference_key(monitor, DAY2 + 7 * HOUR)

    detail = get_run(engine, run.run_id)
    assert detail is not None
    assert detail.to_dict()["reference"] == {
        "key": key,
        "type": "trailing",
        "origin": ORIGIN,
        "start": "2026-03-02T05:00:00+00:00",
        "end": "2026-03-03T05:00:00+00:00",
    }
    assert (period.start, period.end) == (
        datetime(2026, 3, 2, 5, tzinfo=UTC),
        datetime(2026, 3, 3, 5, tzinfo=UTC),
    )

    settings = parse_settings(
        {"store": {"url": store_url}, "monitors": [monitor_dict(tmp_path / "events.parquet")]}
    )
    assert history(settings, "rolling", 24, "text") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[24 - 1 - 7].endswith(
        f"[reference trailing 2026-03-02 05:00 .. 2026-03-03 05:00 ({key[:12]})]"
    )


def test_fixed_references_state_their_key_and_where_they_come_from(tmp_path: Path) -> None:
    path = tmp_path / "events.parquet"
    window = {"type": "window", "start": "2026-01-01T00:00:00Z", "end": "2026-01-08T00:00:00Z"}
    sql = {
        "type": "sql",
        "url": "postgresql+psycopg://reader:hunter2@db.internal/models",
        "query": "SELECT x\n  FROM   training\n WHERE split = 'train'",
    }
    files = {"type": "file", "path": str(tmp_path / "training-*.parquet")}
    stated = {}
    for reference in (window, sql, files):
        monitor = parse_settings({"monitors": [monitor_dict(path, reference)]}).monitors[0]
        stated[reference["type"]] = stated_reference(monitor, reference_key(monitor))
        assert stated[reference["type"]].key == reference_key(monitor)
    assert {kind: s.to_dict() | {"key": None} for kind, s in stated.items()} == {
        "window": {
            "key": None,
            "type": "window",
            "origin": "a fixed window of the monitor's source",
            "start": "2026-01-01T00:00:00+00:00",
            "end": "2026-01-08T00:00:00+00:00",
        },
        "sql": {
            "key": None,
            "type": "sql",
            "origin": "the query SELECT x FROM training WHERE split = 'train'",
            "start": None,
            "end": None,
        },
        "file": {
            "key": None,
            "type": "file",
            "origin": f"the files {tmp_path}/training-*.parquet",
            "start": None,
            "end": None,
        },
    }


def test_refit_defaults_to_a_quarter_of_the_span_and_at_most_a_day() -> None:
    def refit(**keys: str) -> timedelta | None:
        return TrailingReferenceSettings.model_validate({"type": "trailing", **keys}).refit

    assert refit(span="28d") == timedelta(days=1)
    assert refit(span="8h") == timedelta(hours=2)
    assert refit(span="28d", refit="6h") == timedelta(hours=6)
    # Written out or left to its default, one refit keys its profiles alike.
    assert TrailingReferenceSettings.model_validate(
        {"type": "trailing", "span": "28d"}
    ) == TrailingReferenceSettings.model_validate(
        {"type": "trailing", "span": "28d", "refit": "1d"}
    )


@pytest.mark.parametrize(
    ("reference", "error"),
    [
        ({"skip": "1d"}, "monitors[0].reference.span: required key is missing"),
        ({"span": "0d"}, 'monitors[0].reference.span: expected a positive duration, got "0d"'),
        (
            {"span": "28d", "skip": "-1d"},
            'monitors[0].reference.skip: expected 0 or a positive duration such as "1d", '
            "got '-1d'",
        ),
        ({"span": "28d", "refit": "0s"}, 'reference.refit: expected a positive duration, got "0s"'),
        (
            {"span": "four weeks"},
            'monitors[0].reference.span: expected a duration such as "30s", "5m", "2h" or "1d", '
            'got "four weeks"',
        ),
        ({"span": "28d", "window": "1h"}, "monitors[0].reference.window: unknown key"),
    ],
)
def test_config_errors_name_the_key(tmp_path: Path, reference: dict[str, str], error: str) -> None:
    config = monitor_dict(tmp_path / "events.parquet", {"type": "trailing", **reference})
    with pytest.raises(ConfigError) as raised:
        parse_settings({"monitors": [config]})
    assert error in str(raised.value)


def test_skip_takes_zero_for_no_gap() -> None:
    for zero in ("0", "0s", "0d", 0):
        settings = TrailingReferenceSettings.model_validate(
            {"type": "trailing", "span": "28d", "skip": zero}
        )
        assert settings.skip == timedelta(0)


MICROSECOND = timedelta(microseconds=1)


@given(
    window_start=st.datetimes(
        min_value=datetime(2001, 1, 1), max_value=datetime(2099, 1, 1), timezones=st.just(UTC)
    ),
    span=st.integers(1, 60 * 86_400),
    skip=st.integers(0, 7 * 86_400),
    refit_us=st.integers(1, 7 * 86_400 * 10**6),
)
def test_the_reference_period_is_exact_at_grid_boundaries(
    window_start: datetime, span: int, skip: int, refit_us: int
) -> None:
    refit = timedelta(microseconds=refit_us)
    settings = TrailingReferenceSettings(
        type="trailing", span=timedelta(seconds=span), skip=timedelta(seconds=skip), refit=refit
    )
    period = reference_period(settings, window_start)
    boundary = period.end + settings.skip
    # The period ends `skip` before the start of the refit period that holds the window's
    # start, on the grid, and spans `span`: it never reaches into the window.
    assert (boundary - GRID_ORIGIN) % refit == timedelta(0)
    assert boundary <= window_start < boundary + refit
    assert period.end - period.start == settings.span
    assert period.end <= window_start - settings.skip
    # Every window starting in that refit period shares it; one a microsecond earlier
    # has the previous period's, and the first of the next period the next one.
    assert reference_period(settings, boundary) == period
    assert reference_period(settings, boundary + refit - MICROSECOND) == period
    assert reference_period(settings, boundary - MICROSECOND).end == period.end - refit
    assert reference_period(settings, boundary + refit).end == period.end + refit


@given(
    window_start=st.datetimes(
        min_value=datetime(2001, 1, 1), max_value=datetime(2099, 1, 1), timezones=st.just(UTC)
    ),
    skip=st.integers(0, 3 * 86_400),
    refit=st.integers(1, 3 * 86_400),
    now_after=st.integers(-6 * 86_400, 6 * 86_400),
)
def test_the_next_profile_is_due_once_its_last_row_is_in(
    window_start: datetime, skip: int, refit: int, now_after: int
) -> None:
    settings = TrailingReferenceSettings(
        type="trailing",
        span=timedelta(days=28),
        skip=timedelta(seconds=skip),
        refit=timedelta(seconds=refit),
    )
    request = reference_request(
        rolling_monitor(Path("events.parquet"), **settings.model_dump()), window_start
    )
    now = window_start + timedelta(seconds=now_after)
    following = (
        reference_period(settings, window_start).end + settings.skip + settings.refit_every()
    )
    next_end = reference_period(settings, following).end
    due = next_refit_start(request, now)
    assert due == (following if now >= next_end else None)
