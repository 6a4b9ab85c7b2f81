from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from monitor.sources import FileSource, FileSourceSettings, SourceError, Window, read_frame

T0 = datetime(2024, 1, 1, tzinfo=UTC)
MICRO = timedelta(microseconds=1)
WINDOW = Window(T0, T0 + timedelta(hours=1))


def _source(path: Path | str, format: Literal["parquet", "csv", "auto"] = "auto") -> FileSource:
    return FileSource(
        FileSourceSettings(type="file", path=str(path), format=format, timestamp_column="ts")
    )


def _write(frame: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=250)
    return path


def _events(first_id: int, count: int, start: datetime = T0) -> pd.DataFrame:
    """``count`` rows, one per second from ``start``, with ids from ``first_id``."""
    return pd.DataFrame(
        {
            "id": np.arange(first_id, first_id + count),
            "ts": pd.date_range(start, periods=count, freq="s"),
            "device": np.where(np.arange(count) % 2 == 0, "ios", "web"),
        }
    )


@pytest.fixture(params=[".parquet", ".csv"])
def suffix(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_window_is_exact_at_its_boundaries(tmp_path: Path, suffix: str) -> None:
    moments = [
        WINDOW.start - MICRO,
        WINDOW.start,
        WINDOW.start + timedelta(minutes=30),
        WINDOW.end - MICRO,
        WINDOW.end,
    ]
    frame = pd.DataFrame({"id": range(5), "ts": pd.to_datetime(moments)})
    path = _write(frame, tmp_path / f"events{suffix}")
    result = _source(path).sample(WINDOW, 100, seed=0)
    assert result["id"].tolist() == [1, 2, 3]
    assert str(result["ts"].dt.tz) == "UTC"
    assert result["ts"].iloc[0] == pd.Timestamp(WINDOW.start)
    assert result.index.tolist() == [0, 1, 2]


def test_naive_timestamps_are_utc_and_offsets_are_converted(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text(
        "id,ts\n"
        "0,2023-12-31 23:59:59\n"
        "1,2024-01-01 00:00:00\n"
        "2,2024-01-01T02:30:00+02:00\n"  # 00:30 UTC
        "3,2024-01-01T01:00:00+02:00\n"  # 23:00 UTC the day before
        "4,2024-01-01T01:00:00Z\n"
    )
    result = _source(path).sample(WINDOW, 100, seed=0)
    assert result["id"].tolist() == [1, 2]
    assert result["ts"].tolist() == [pd.Timestamp(T0), pd.Timestamp(T0 + timedelta(minutes=30))]


def test_glob_reads_every_matching_file(tmp_path: Path, suffix: str) -> None:
    for part in range(3):
        _write(
            _events(part * 1000, 1000, T0 + timedelta(seconds=part * 1000)),
            tmp_path / f"p{part}{suffix}",
        )
    _write(_events(9000, 10), tmp_path / f"other{suffix}.bak")
    result = _source(tmp_path / f"p*{suffix}").sample(None, 10_000, seed=0)
    assert sorted(result["id"]) == list(range(3000))
    in_window = _source(tmp_path / f"p*{suffix}").sample(
        Window(T0 + timedelta(seconds=500), T0 + timedelta(seconds=2500)), 10_000, seed=0
    )
    assert sorted(in_window["id"]) == list(range(500, 2500))


def test_limit_gives_a_seeded_uniform_sample(tmp_path: Path, suffix: str) -> None:
    for part in range(4):
        _write(_events(part * 5000, 5000), tmp_path / f"p{part}{suffix}")
    source = _source(tmp_path / f"p*{suffix}")
    sample = source.sample(None, 2000, seed=1)
    assert len(sample) == 2000
    assert sample["id"].is_unique
    assert sample.equals(source.sample(None, 2000, seed=1))
    assert not sample.equals(source.sample(None, 2000, seed=2))
    # Each file holds a quarter of the rows, so each gives about a quarter of the sample.
    shares = (sample["id"] // 5000).value_counts(normalize=True)
    assert np.allclose(shares.sort_index(), 0.25, atol=0.04)
    assert sample["id"].mean() == pytest.approx(10_000, rel=0.05)


def test_explicit_format_overrides_the_extension(tmp_path: Path) -> None:
    path = _write(_events(0, 10), tmp_path / "events.parquet")
    renamed = path.rename(tmp_path / "events.data")
    with pytest.raises(SourceError, match="cannot tell the format"):
        _source(renamed).sample(None, 100, seed=0)
    assert len(_source(renamed, format="parquet").sample(None, 100, seed=0)) == 10


def test_no_matching_files_names_the_pattern(tmp_path: Path) -> None:
    pattern = str(tmp_path / "missing-*.parquet")
    with pytest.raises(SourceError, match="no files match") as raised:
        _source(pattern).sample(WINDOW, 100, seed=0)
    assert pattern in str(raised.value)


def test_missing_timestamp_column_lists_the_columns(tmp_path: Path, suffix: str) -> None:
    path = _write(_events(0, 10).rename(columns={"ts": "event_time"}), tmp_path / f"e{suffix}")
    with pytest.raises(SourceError) as raised:
        _source(path).sample(WINDOW, 100, seed=0)
    message = str(raised.value)
    assert "timestamp column 'ts' not found" in message
    assert "columns: id, event_time, device" in message


def test_unreadable_file_is_a_source_error(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"broken{suffix}"
    path.write_bytes(b"" if suffix == ".csv" else b"not parquet at all")
    with pytest.raises(SourceError, match="cannot read") as raised:
        _source(path).sample(WINDOW, 100, seed=0)
    assert str(path) in str(raised.value)


def test_window_without_rows_keeps_the_columns(tmp_path: Path, suffix: str) -> None:
    path = _write(_events(0, 10), tmp_path / f"e{suffix}")
    result = _source(path).sample(Window(T0 - timedelta(days=2), T0 - timedelta(days=1)), 10, 0)
    assert result.empty
    assert list(result.columns) == ["id", "ts", "device"]


def test_read_frame_samples_without_a_time_filter(tmp_path: Path, suffix: str) -> None:
    path = _write(_events(0, 1000), tmp_path / f"e{suffix}")
    assert len(read_frame(str(path), "auto", 10_000, seed=0)) == 1000
    sample = read_frame(str(path), "auto", 100, seed=0)
    assert len(sample) == 100
    assert sample.equals(read_frame(str(path), "auto", 100, seed=0))


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_naive_parquet_timestamps_of_any_unit_are_utc(tmp_path: Path, unit: str) -> None:
    moments = [WINDOW.start - timedelta(seconds=1), WINDOW.start, WINDOW.end - timedelta(seconds=1)]
    naive = pa.array([moment.replace(tzinfo=None) for moment in moments], pa.timestamp(unit))
    path = tmp_path / "naive.parquet"
    pq.write_table(pa.table({"id": [0, 1, 2], "ts": naive}), path)
    result = _source(path).sample(WINDOW, 100, seed=0)
    assert result["id"].tolist() == [1, 2]
    assert str(result["ts"].dt.tz) == "UTC"


def test_read_frame_without_a_limit_reads_everything(tmp_path: Path) -> None:
    for part in range(3):
        _write(_events(part * 100, 100), tmp_path / f"p{part}.parquet")
    frame = read_frame(str(tmp_path / "p*.parquet"), "auto", None, seed=0)
    assert frame["id"].tolist() == list(range(300))


def test_errors_show_a_home_directory_as_the_config_wrote_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "svc-account"))
    data = tmp_path / "svc-account" / "data"
    data.mkdir(parents=True)
    (data / "broken.parquet").write_bytes(b"not parquet")
    with pytest.raises(SourceError) as raised:
        _source("~/data/*.parquet").sample(WINDOW, 10, seed=0)
    message = str(raised.value)
    assert message.startswith(
        "source file (~/data/*.parquet): cannot read '~/data/broken.parquet' as parquet: "
    )
    assert "svc-account" not in message
