"""`driftwarden backtest` from outside: real Parquet files, the real CLI, a real receiver.

The data is 48 hourly windows from 2026-11-01T00:00Z; the run at slot k
(scheduled for 01:00 + k hours) examines window k. "shifted" data moves the
numeric column by two standard deviations and changes the categories from
window 30 on; "stationary" data never changes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from monitor.backtest import slots
from monitor.cli import main
from monitor.config import MonitorSettings, parse_settings
from monitor.sources import FileSource, FileSourceSettings, Window
from tests.support import HttpFake

T0 = datetime(2026, 11, 1, tzinfo=UTC)
WINDOWS = 48
SHIFT_FROM = 30
ROWS_PER_WINDOW = 200
FIRST_SLOT = T0 + timedelta(hours=1)
END = FIRST_SLOT + timedelta(hours=WINDOWS)


def _rows(rng: np.random.Generator, n: int, shifted: bool) -> dict[str, object]:
    weights = [0.2, 0.3, 0.5] if shifted else [0.5, 0.3, 0.2]
    return {
        "x": rng.normal(2.0 if shifted else 0.0, 1.0, n),
        "n": rng.poisson(4, n).astype(np.int64),
        "flag": rng.random(n) < 0.3,
        "c": rng.choice(np.array(["a", "b", "c"]), n, p=weights),
    }


def write_data(directory: Path, shift: bool, shift_until: int = WINDOWS) -> None:
    rng = np.random.default_rng(48)
    frames = []
    for window in range(WINDOWS):
        start = T0 + timedelta(hours=window)
        offsets = np.sort(rng.integers(0, 3_600_000_000, ROWS_PER_WINDOW))
        shifted = shift and SHIFT_FROM <= window < shift_until
        frame = pd.DataFrame(_rows(rng, ROWS_PER_WINDOW, shifted))
        frame.insert(0, "ts", pd.Timestamp(start) + pd.to_timedelta(offsets, unit="us"))
        frames.append(frame)
    events = pd.concat(frames, ignore_index=True)
    pq.write_table(pa.Table.from_pandas(events, preserve_index=False), directory / "events.parquet")
    reference = pd.DataFrame(_rows(rng, 2_000, shifted=False))
    pq.write_table(
        pa.Table.from_pandas(reference, preserve_index=False), directory / "reference.parquet"
    )


def write_config(directory: Path, receiver_url: str, source: str = "events.parquet") -> Path:
    config = directory / "config.toml"
    config.write_text(
        f"""
[store]
url = "sqlite:///{directory}/store.db"

[[monitors]]
name = "shifty"
schedule = "every 1h"
window = "1h"
receivers = ["hook"]

[monitors.source]
type = "file"
path = "{directory}/{source}"
timestamp_column = "ts"

[monitors.reference]
type = "file"
path = "{directory}/reference.parquet"

[[monitors.columns]]
name = "x"
kind = "numeric"

[[monitors.columns]]
name = "n"
kind = "numeric"

[[monitors.columns]]
name = "flag"
kind = "categorical"

[[monitors.columns]]
name = "c"
kind = "categorical"

[[receivers]]
name = "hook"
type = "webhook"
url = "{receiver_url}"
"""
    )
    return config


@pytest.fixture
def receiver() -> Iterator[HttpFake]:
    with HttpFake() as server:
        yield server


def backtest(
    config: Path, capsys: pytest.CaptureFixture[str], *extra: str, start: str = "", end: str = ""
) -> tuple[int, str, str]:
    code = main(
        [
            "backtest",
            "--config",
            str(config),
            "--monitor",
            "shifty",
            "--from",
            start or FIRST_SLOT.isoformat(),
            "--to",
            end or END.isoformat(),
            *extra,
        ]
    )
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def test_a_planted_shift_drifts_every_later_run_and_fires_at_its_slot(
    tmp_path: Path, receiver: HttpFake, capsys: pytest.CaptureFixture[str]
) -> None:
    write_data(tmp_path, shift=True)
    config = write_config(tmp_path, receiver.url)

    code, out, err = backtest(config, capsys, "--format", "json")

    assert code == 1, err
    body = json.loads(out)
    assert body["monitor"] == "shifty"
    runs = body["runs"]
    assert [run["scheduled_for"] for run in runs] == [
        iso(FIRST_SLOT + timedelta(hours=k)) for k in range(WINDOWS)
    ]
    assert all(run["status"] == "succeeded" for run in runs)
    assert set(runs[0]) == {
        "scheduled_for",
        "status",
        "drifted",
        "drifted_columns",
        "drifted_segments",
        "reason",
        "performance",
        "reference",
    }
    assert {run["reference"]["origin"] for run in runs} == {
        f"the files {tmp_path}/reference.parquet"
    }
    after = runs[SHIFT_FROM:]
    assert all(run["drifted"] is True for run in after)
    assert all({"x", "c"} <= set(run["drifted_columns"]) for run in after)
    assert [run["scheduled_for"] for run in runs[:SHIFT_FROM] if run["drifted"]] == []
    # The default rule fires on the first drifted run and never resolves while drift lasts.
    assert body["alerts"] == [
        {"rule": "drift", "state": "firing", "at": iso(FIRST_SLOT + timedelta(hours=SHIFT_FROM))}
    ]
    # Nothing stored in the configured store, nothing sent to the configured receiver.
    assert not list(tmp_path.glob("store.db*"))
    assert receiver.requests == []


def test_stationary_data_fires_nothing_and_leaves_an_existing_store_as_it_was(
    tmp_path: Path, receiver: HttpFake, capsys: pytest.CaptureFixture[str]
) -> None:
    write_data(tmp_path, shift=False)
    config = write_config(tmp_path, receiver.url)
    assert main(["db", "upgrade", "--config", str(config)]) == 0
    capsys.readouterr()
    store = {path.name: path.stat() for path in tmp_path.glob("store.db*")}
    before = {name: (s.st_size, s.st_mtime_ns) for name, s in store.items()}

    code, out, err = backtest(config, capsys, "--format", "json")

    body = json.loads(out)
    drifted = [run["scheduled_for"] for run in body["runs"] if run["drifted"]]
    assert (code, drifted, body["alerts"]) == (0, [], []), err
    assert len(body["runs"]) == WINDOWS
    after = {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in tmp_path.glob("store.db*")}
    assert after == before
    assert receiver.requests == []


def test_text_lists_each_run_and_alert_then_a_summary_and_accepts_dates(
    tmp_path: Path, receiver: HttpFake, capsys: pytest.CaptureFixture[str]
) -> None:
    write_data(tmp_path, shift=True)
    config = write_config(tmp_path, receiver.url)

    code, out, err = backtest(config, capsys, start="2026-11-02", end="2026-11-02T07:30")

    assert code == 1, err
    lines = out.splitlines()
    # Slots 00:00 .. 07:00 of Nov 2 examine windows 23 .. 30; 07:30 is excluded.
    assert len(lines) == 8 + 1 + 1
    assert lines[0].startswith("2026-11-02 00:00:00Z  succeeded  ok     no drift")
    assert lines[7].startswith("2026-11-02 07:00:00Z  succeeded  DRIFT  drift: ")
    assert lines[8] == "2026-11-02 07:00:00Z  alert drift FIRING"
    assert lines[9] == (
        "monitor shifty, 2026-11-02T00:00:00+00:00 .. 2026-11-02T07:30:00+00:00: "
        "8 runs, 1 drifted, 0 failed, 1 alert fired"
    )


def test_an_alert_resolves_after_the_configured_clean_runs_once_the_shift_ends(
    tmp_path: Path, receiver: HttpFake, capsys: pytest.CaptureFixture[str]
) -> None:
    write_data(tmp_path, shift=True, shift_until=SHIFT_FROM + 4)
    config = write_config(tmp_path, receiver.url)
    slot = [FIRST_SLOT + timedelta(hours=k) for k in range(WINDOWS)]

    code, out, err = backtest(
        config, capsys, "--format", "json", start=iso(slot[SHIFT_FROM - 2]), end=iso(slot[-1])
    )

    assert code == 1, err
    alerts = json.loads(out)["alerts"]
    assert alerts[0] == {"rule": "drift", "state": "firing", "at": iso(slot[SHIFT_FROM])}
    assert (alerts[1]["rule"], alerts[1]["state"]) == ("drift", "resolved")
    # resolve_after = 2: at the earliest on the second clean window after the shift.
    assert datetime.fromisoformat(alerts[1]["at"]) >= slot[SHIFT_FROM + 4 + 1]
    assert receiver.requests == []


def test_a_source_error_on_a_slot_is_a_failed_run_not_an_error(
    tmp_path: Path, receiver: HttpFake, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not an error (exit 2): the failed runs fire the default run_failed rule on the third."""
    write_data(tmp_path, shift=False)
    config = write_config(tmp_path, receiver.url, source="missing-*.parquet")

    code, out, err = backtest(
        config, capsys, "--format", "json", end=iso(FIRST_SLOT + timedelta(hours=3))
    )

    assert code == 1, err
    report = json.loads(out)
    runs = report["runs"]
    assert [run["status"] for run in runs] == ["failed"] * 3
    assert all("no files match" in run["reason"] for run in runs)
    assert all(run["drifted"] is None and run["drifted_columns"] == [] for run in runs)
    assert report["alerts"] == [
        {"rule": "run_failed", "state": "firing", "at": iso(FIRST_SLOT + timedelta(hours=2))}
    ]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--monitor", "nope"], 'no monitor named "nope" (known: shifty)'),
        (["--from", "2026-11-02", "--to", "2026-11-01"], "must be after --from"),
        (["--from", "2026-11-02", "--to", "2026-11-02"], "must be after --from"),
        (["--from", "yesterday"], "--from: expected an ISO-8601 date or datetime"),
        (["--to", "2026-13-01"], "--to: expected an ISO-8601 date or datetime"),
        (["--from", "2026-11-01T00:10", "--to", "2026-11-01T00:50"], "has no scheduled slot"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    arguments: list[str],
    message: str,
) -> None:
    write_data(tmp_path, shift=False)
    config = write_config(tmp_path, "http://127.0.0.1:9/")
    defaults = {"--monitor": "shifty", "--from": "2026-11-01", "--to": "2026-11-02"}
    given = dict(zip(arguments[::2], arguments[1::2], strict=True))
    flags = [item for pair in {**defaults, **given}.items() for item in pair]

    code = main(["backtest", "--config", str(config), *flags])

    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("driftwarden: error: ") and message in err
    assert not list(tmp_path.glob("store.db*"))


def test_a_bad_config_exits_2_with_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[[monitors]]\nname = "shifty"\nschedule = "sometimes"\n')

    code = main(
        [
            "backtest",
            "-c",
            str(config),
            "-m",
            "shifty",
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-02",
        ]
    )

    err = capsys.readouterr().err
    assert code == 2
    assert "monitors[0].schedule" in err and "Traceback" not in err


def _monitor(schedule: str) -> MonitorSettings:
    return parse_settings(
        {
            "monitors": [
                {
                    "name": "m",
                    "schedule": schedule,
                    "source": {"type": "file", "path": "x.parquet", "timestamp_column": "ts"},
                    "reference": {"type": "file", "path": "r.parquet"},
                    "columns": [{"name": "x", "kind": "numeric"}],
                }
            ]
        }
    ).monitors[0]


def test_slots_are_the_schedules_fire_times_in_the_half_open_range_uncapped() -> None:
    minutely = _monitor("every 1m")
    found = slots(minutely, T0, T0 + timedelta(hours=3))
    assert len(found) == 180  # more than the daemon's 100 catch-up slots
    assert (found[0], found[-1]) == (T0, T0 + timedelta(hours=3) - timedelta(minutes=1))
    hourly = _monitor("every 1h")
    assert slots(hourly, T0 + timedelta(minutes=30), T0 + timedelta(hours=2)) == [
        T0 + timedelta(hours=1)
    ]
    cron = _monitor("0 */6 * * *")
    assert slots(cron, T0, T0 + timedelta(days=1)) == [
        T0 + timedelta(hours=h) for h in (0, 6, 12, 18)
    ]


# The file source keeps decoded Parquet between samples (what makes a backtest fast);
# the sample for a seed must be the same as without the cache.


def _source(path: Path, cache_bytes: int) -> FileSource:
    settings = FileSourceSettings(type="file", path=str(path), timestamp_column="ts")
    return FileSource(settings, cache_bytes=cache_bytes)


@pytest.mark.parametrize("row_group_size", [None, 250])
def test_the_file_cache_yields_the_same_sample_as_streaming(
    tmp_path: Path, row_group_size: int | None
) -> None:
    write_data(tmp_path, shift=True)
    path = tmp_path / "events.parquet"
    if row_group_size is not None:
        pq.write_table(pq.read_table(path), path, row_group_size=row_group_size)
    cached, streamed = _source(path, 64 * 2**20), _source(path, 0)
    for hours, limit, seed in [(1, 100, 1), (3, 200, 2), (2, 10_000, 3), (200, 500, 4)]:
        start = T0 + timedelta(hours=28, minutes=17)
        window = Window(start, start + timedelta(hours=hours))
        pd.testing.assert_frame_equal(
            cached.sample(window, limit, seed), streamed.sample(window, limit, seed)
        )
    assert cached.cache.nbytes > 0 and streamed.cache.nbytes == 0
    cached.close()
    assert cached.cache.nbytes == 0


def test_the_file_cache_rereads_a_rewritten_file(tmp_path: Path) -> None:
    write_data(tmp_path, shift=False)
    path = tmp_path / "events.parquet"
    source = _source(path, 64 * 2**20)
    window = Window(T0, T0 + timedelta(hours=1))
    assert len(source.sample(window, 10_000, 0)) == ROWS_PER_WINDOW
    table = pq.read_table(path)
    pq.write_table(table.slice(0, 10), path)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert len(source.sample(window, 10_000, 0)) == 10
