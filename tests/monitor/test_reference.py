from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from monitor.config import MonitorSettings
from monitor.profiles import reference_key, reference_request
from monitor.references import load_reference
from monitor.sources import SourceError, build_source

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def _monitor(reference: dict[str, Any], **overrides: Any) -> MonitorSettings:
    return MonitorSettings.model_validate(
        {
            "name": "credit",
            "schedule": "every 1m",
            "source": {"type": "demo"},
            "reference": reference,
            "columns": [{"name": "income", "kind": "numeric"}],
            **overrides,
        }
    )


def _window(end: datetime = T0) -> dict[str, Any]:
    return {"type": "window", "start": end - timedelta(hours=1), "end": end}


def test_window_reference_samples_the_monitor_source() -> None:
    monitor = _monitor(_window(), reference_limit=500)
    source = build_source(monitor.source)
    reference = load_reference(reference_request(monitor), source, seed=0)
    assert len(reference) == 500
    assert reference["timestamp"].min() >= pd.Timestamp(T0 - timedelta(hours=1))
    assert reference.equals(load_reference(reference_request(monitor), source, seed=0))


def test_file_reference_reads_the_files(tmp_path: Path) -> None:
    pd.DataFrame({"income": range(100)}).to_parquet(tmp_path / "reference.parquet")
    monitor = _monitor({"type": "file", "path": str(tmp_path / "*.parquet")}, reference_limit=30)
    reference = load_reference(reference_request(monitor), build_source(monitor.source))
    assert len(reference) == 30
    assert reference.index.tolist() == list(range(30))


def test_sql_reference_runs_the_query(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = sa.create_engine(sqlite_url)
    pd.DataFrame({"income": range(100)}).to_sql("training", engine, index=False)
    engine.dispose()
    monkeypatch.setenv("DW_TEST_REFERENCE_URL", sqlite_url)
    for url in ({"url": sqlite_url}, {"url_env": "DW_TEST_REFERENCE_URL"}):
        monitor = _monitor({"type": "sql", "query": "SELECT income FROM training", **url})
        reference = load_reference(reference_request(monitor), build_source(monitor.source))
        assert sorted(reference["income"]) == list(range(100))


def test_empty_reference_is_an_error(sqlite_url: str) -> None:
    engine = sa.create_engine(sqlite_url)
    pd.DataFrame({"income": range(10)}).to_sql("training", engine, index=False)
    engine.dispose()
    query = "SELECT income FROM training WHERE income > 100"
    monitor = _monitor({"type": "sql", "url": sqlite_url, "query": query})
    with pytest.raises(SourceError, match="reference for monitor credit is empty"):
        load_reference(reference_request(monitor), build_source(monitor.source))


def test_reference_key_is_stable() -> None:
    key = reference_key(_monitor(_window()))
    assert len(key) == 64
    assert key == reference_key(_monitor(_window()))
    assert key == reference_key(_monitor(_window(), sample_limit=5, window="5m"))


def test_reference_key_changes_with_the_reference_or_the_columns() -> None:
    key = reference_key(_monitor(_window()))
    assert key != reference_key(_monitor(_window(T0 + timedelta(hours=1))))
    assert key != reference_key(_monitor(_window(), reference_limit=10))
    assert key != reference_key(
        _monitor(_window(), columns=[{"name": "income", "kind": "categorical"}])
    )
    assert key != reference_key(_monitor(_window(), source={"type": "demo", "seed": 1}))


def test_reference_key_sees_a_replaced_file(tmp_path: Path) -> None:
    path = tmp_path / "reference.csv"
    path.write_text("income\n1\n2\n")
    monitor = _monitor({"type": "file", "path": str(path)})
    key = reference_key(monitor)
    assert key == reference_key(monitor)
    path.write_text("income\n1\n2\n3\n")
    os.utime(path, ns=(1, 1))
    assert key != reference_key(monitor)


# Stored profiles are looked up by ``reference_key``: these digests were
# computed by the code before references became a plug-in family, and must
# never change for the same settings (bump the key version on purpose instead).
KEYS_BEFORE_THE_REFERENCES_PACKAGE = [
    (
        _window(),
        {},
        "811e1b780bcd9283d1808e40920b17c1e8b3fc8426564e17479840d395d63e8c",
    ),
    (
        {"type": "window", "start": "2024-01-01T00:00:00", "end": "2024-01-02T00:00:00"},
        {"source": {"type": "demo", "seed": 3}, "reference_limit": 10},
        "dd5b3693350d7660c3f29e254c935d4ce80bd920d8ce0b1d86b583100fb1ab78",
    ),
    (
        {"type": "sql", "url": "sqlite:///x.db", "query": "SELECT income FROM training"},
        {},
        "c055101e19ca0c5ab851b107a42859630d31b1a954a84a41166ba81c96617eb7",
    ),
    (
        {"type": "sql", "url_env": "DW_REF_URL", "query": "SELECT 1"},
        {"performance": {"task": "classification", "prediction": "p", "label": "y"}},
        # Changed on purpose: the performance profile's layout is in the key, so
        # profiles stored before noise bands and CBPE are refitted, not refused;
        # and again when performance grew score, metrics and labels, and fits the
        # task's default metrics (accuracy, precision, recall, f1) instead of two.
        "9e421fafffe0b80ca2a73c631fb5d8b578b35faf0823fd7546a94b940aa4005d",
    ),
    (
        {"type": "file", "path": "/nonexistent/dir/*.parquet", "format": "parquet"},
        {"thresholds": {"multivariate": "mmd"}},
        "418a978cbc39b7c97bc653ae7a8990d4dd5151ed4fb43e6b5a56ea2561ae0595",
    ),
]


@pytest.mark.parametrize(
    ("reference", "overrides", "expected"),
    KEYS_BEFORE_THE_REFERENCES_PACKAGE,
    ids=["window", "window-naive", "sql-url", "sql-url-env", "file-no-match"],
)
def test_reference_key_is_unchanged_from_before(
    reference: dict[str, Any], overrides: dict[str, Any], expected: str
) -> None:
    assert reference_key(_monitor(reference, **overrides)) == expected


def test_reference_key_of_matched_files_is_unchanged_from_before(tmp_path: Path) -> None:
    # The file's absolute path is in the key, so the digest cannot be fixed
    # here; the layout it hashes is (that of the code before the package).
    path = tmp_path / "reference.csv"
    path.write_bytes(b"income\n1\n2\n")
    os.utime(path, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    monitor = _monitor({"type": "file", "path": str(path)})
    layout = [
        "driftwarden-reference-v2",
        f'{{"type":"file","path":{json.dumps(str(path))},"format":"auto"}}',
        '{"reference_limit": 1000000}',
        '[{"name": "income", "kind": "numeric", "method": null, "threshold": null, '
        '"effect_floor": null}]',
        "null",
        '{"multivariate": "none"}',
        json.dumps([[str(path.resolve()), 11, 1_700_000_000_000_000_000]]),
    ]
    expected = hashlib.sha256("\n".join(layout).encode()).hexdigest()
    assert reference_key(monitor) == expected
