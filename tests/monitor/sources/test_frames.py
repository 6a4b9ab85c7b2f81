from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from monitor.sources._frames import Reservoir, to_utc
from monitor.sources.base import SourceError


def _feed(limit: int, seed: int, frame: pd.DataFrame, batch: int) -> pd.DataFrame:
    reservoir = Reservoir(limit, seed)
    for start in range(0, len(frame), batch):
        reservoir.add(frame.iloc[start : start + batch])
    return reservoir.result()


def test_fewer_rows_than_limit_are_all_kept_in_order() -> None:
    frame = pd.DataFrame({"id": range(50)})
    result = _feed(100, 0, frame, 7)
    assert result["id"].tolist() == list(range(50))
    assert result.index.tolist() == list(range(50))


def test_sample_is_bounded_and_independent_of_batching() -> None:
    frame = pd.DataFrame({"id": range(10_000)})
    small_batches = _feed(300, 5, frame, 17)
    one_batch = _feed(300, 5, frame, 10_000)
    assert len(small_batches) == 300
    assert small_batches["id"].is_unique
    assert small_batches["id"].is_monotonic_increasing
    assert small_batches.equals(one_batch)
    assert not small_batches.equals(_feed(300, 6, frame, 17))


def test_every_row_is_equally_likely() -> None:
    frame = pd.DataFrame({"id": range(100)})
    counts = np.zeros(100)
    for seed in range(2000):
        counts[_feed(10, seed, frame, 13)["id"].to_numpy()] += 1
    assert np.abs(counts / 2000 - 0.1).max() < 0.035


def test_limit_zero_keeps_the_columns() -> None:
    result = _feed(0, 0, pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}), 1)
    assert result.empty
    assert list(result.columns) == ["a", "b"]


def test_negative_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="limit"):
        Reservoir(-1, 0)


def test_to_utc_takes_naive_as_utc_and_converts_offsets() -> None:
    values = pd.Series(["2024-01-01 12:00:00", "2024-01-01T14:00:00+02:00", "2024-01-01T12:00Z"])
    parsed = to_utc(values, "ts", "test")
    assert (parsed == pd.Timestamp("2024-01-01 12:00", tz="UTC")).all()
    naive = pd.Series(pd.to_datetime(["2024-01-01 12:00"]))
    assert to_utc(naive, "ts", "test").iloc[0] == pd.Timestamp("2024-01-01 12:00", tz="UTC")


def test_to_utc_refuses_numbers_and_garbage() -> None:
    with pytest.raises(SourceError, match="'ts' holds numbers"):
        to_utc(pd.Series([1704067200]), "ts", "test")
    with pytest.raises(SourceError, match="'ts' has values that are not timestamps"):
        to_utc(pd.Series(["yesterday-ish", "nope"]), "ts", "test")
