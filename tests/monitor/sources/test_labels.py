"""Label sources: the labels of given ids, as known at a moment, from SQL and from files.

One contract over every backend in ``LABEL_SPECS``: the same label table
(two labels for one id, one label without an arrival time, one id nobody
asked for) is written where each backend reads it, and each must answer
the same.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from monitor.columns import DataError
from monitor.config import parse_settings
from monitor.profiles import fit_reference
from monitor.sources import (
    LABEL_SOURCES,
    SOURCES,
    LabelSettingsModel,
    SourceError,
    build_label_source,
    get_label_spec,
    join_labels,
)

T = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)

TABLE = pd.DataFrame(
    {
        "id": [1, 2, 2, 3, 4, 9],
        "outcome": ["yes", "no", "yes", "no", "yes", "no"],
        # id 2 got a corrected label later; id 4's arrival time is unknown
        "arrived": [
            "2026-05-01 10:00:00",
            "2026-05-01 09:00:00",
            "2026-05-01 13:00:00",
            "2026-05-02 00:00:00",
            None,
            "2026-05-01 08:00:00",
        ],
    }
)


def _sql(tmp_path: Path, frame: pd.DataFrame) -> dict[str, Any]:
    url = f"sqlite:///{tmp_path}/labels.db"
    engine = sa.create_engine(url)
    frame.to_sql("outcomes", engine, index=False)
    engine.dispose()
    return {"type": "sql", "url": url, "table": "outcomes"}


def _sql_query(tmp_path: Path, frame: pd.DataFrame) -> dict[str, Any]:
    settings = _sql(tmp_path, frame)
    del settings["table"]
    return {**settings, "query": "SELECT * FROM outcomes WHERE id < 100;"}


def _csv(tmp_path: Path, frame: pd.DataFrame) -> dict[str, Any]:
    frame.to_csv(tmp_path / "labels.csv", index=False)
    return {"type": "file", "path": str(tmp_path / "labels.csv")}


def _parquet(tmp_path: Path, frame: pd.DataFrame) -> dict[str, Any]:
    for index, part in enumerate((frame.iloc[:3], frame.iloc[3:])):
        part.to_parquet(tmp_path / f"labels-{index}.parquet")
    return {"type": "file", "path": str(tmp_path / "labels-*.parquet")}


BACKENDS: dict[str, Callable[[Path, pd.DataFrame], dict[str, Any]]] = {
    "sql": _sql,
    "sql-query": _sql_query,
    "csv": _csv,
    "parquet": _parquet,
}


def settings_of(table: dict[str, Any], **keys: Any) -> LabelSettingsModel:
    performance = {
        "task": "classification",
        "prediction": "p",
        "id_column": "id",
        "labels": {"id_column": "id", "label_column": "outcome", **table, **keys},
    }
    monitor = {
        "name": "m",
        "schedule": "every 1h",
        "source": {"type": "demo"},
        "reference": {"type": "window", "start": "2026-01-01", "end": "2026-01-02"},
        "columns": [{"name": "age", "kind": "numeric"}],
        "performance": performance,
    }
    labels = parse_settings({"monitors": [monitor]}).monitors[0].performance
    assert labels is not None and labels.labels is not None
    return labels.labels


def test_every_label_backend_belongs_to_a_source_and_has_a_contract_backend(
    tmp_path: Path,
) -> None:
    assert set(LABEL_SOURCES) <= set(SOURCES)
    folders = {name: tmp_path / name for name in BACKENDS}
    for folder in folders.values():
        folder.mkdir()
    types = {write(folders[name], TABLE)["type"] for name, write in BACKENDS.items()}
    assert types == set(LABEL_SOURCES)
    with pytest.raises(ValueError, match="known label source types: file, sql"):
        get_label_spec("demo")


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    return BACKENDS[request.param](tmp_path, TABLE)


def test_labels_known_at_a_moment_the_latest_arrival_winning(backend: dict[str, Any]) -> None:
    source = build_label_source(settings_of(backend, arrived_at_column="arrived"))
    try:
        known = source.labels([1, 2, 3, 4, 5, 2], T)
        assert known.to_dict() == {1: "yes", 2: "no"}
        later = source.labels([1, 2, 3, 4, 5], datetime(2026, 5, 3, tzinfo=UTC))
        assert later.to_dict() == {1: "yes", 2: "yes", 3: "no"}
        everything = source.labels([1, 2, 3, 4], None)
        assert everything.to_dict() == {1: "yes", 2: "yes", 3: "no", 4: "yes"}
        assert source.labels([], T).empty
    finally:
        source.close()


def test_without_arrival_times_every_label_counts_the_last_read_winning(
    backend: dict[str, Any],
) -> None:
    source = build_label_source(settings_of(backend))
    try:
        assert source.labels([2, 4, 9], T).to_dict() == {2: "yes", 4: "yes", 9: "no"}
    finally:
        source.close()


def test_a_missing_column_is_named_with_its_key(backend: dict[str, Any]) -> None:
    source = build_label_source(settings_of(backend, arrived_at_column="recorded_at"))
    try:
        with pytest.raises(SourceError, match="arrived_at_column 'recorded_at' not found in") as e:
            source.labels([1], T)
        assert "(columns: id, outcome, arrived)" in str(e.value)
    finally:
        source.close()


def test_sql_lookup_is_chunked_and_never_shows_the_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    many = pd.DataFrame({"id": range(2500), "outcome": [i % 2 for i in range(2500)]})
    table = _sql(tmp_path, many)
    source = build_label_source(settings_of(table))
    try:
        known = source.labels(list(range(0, 5000, 2)), None)
        assert len(known) == 1250 and known[2498] == 0
    finally:
        source.close()
    monkeypatch.setenv("LABELS_URL", "postgresql+psycopg://u:hunter2@127.0.0.1:1/x")
    unreachable = {"type": "sql", "url_env": "LABELS_URL", "table": "outcomes"}
    source = build_label_source(settings_of(unreachable, connect_timeout="1s"))
    try:
        with pytest.raises(SourceError) as error:
            source.labels([1], None)
        # A URL from the environment is a secret as a whole, as for sources.
        assert str(error.value).startswith("labels sql ($LABELS_URL): cannot connect: ")
        assert "hunter2" not in str(error.value) and "u:" not in str(error.value)
    finally:
        source.close()


def test_join_matches_ids_as_numbers_or_as_text() -> None:
    labels = pd.Series(["a", "b"], index=pd.Index(["10", "11"]))
    joined = join_labels(pd.Series([10, 12, 11]), labels)
    assert joined.fillna("-").tolist() == ["a", "-", "b"]
    numeric = pd.Series([1, 0], index=pd.Index([10, 11]))
    assert join_labels(pd.Series([11.0, 10.0, 13.0]), numeric).tolist()[:2] == [0, 1]


def test_a_reference_without_labels_is_joined_to_the_label_source(tmp_path: Path) -> None:
    reference = pd.DataFrame({"id": [1, 2, 3, 4], "age": [30, 40, 50, 60], "p": [1, 0, 0, 1]})
    labels = _csv(tmp_path, pd.DataFrame({"id": [1, 2, 3, 4], "outcome": [1, 0, 1, 1]}))
    monitor = {
        "name": "m",
        "schedule": "every 1h",
        "source": {"type": "demo"},
        "reference": {"type": "window", "start": "2026-01-01", "end": "2026-01-02"},
        "columns": [{"name": "age", "kind": "numeric"}],
        "performance": {
            "task": "classification",
            "prediction": "p",
            "id_column": "id",
            "metrics": ["accuracy"],
            "labels": {**labels, "id_column": "id", "label_column": "outcome"},
        },
    }
    settings = parse_settings({"monitors": [monitor]}).monitors[0]
    assert settings.performance is not None and settings.performance.labels is not None
    source = build_label_source(settings.performance.labels)
    try:
        profile = fit_reference(settings, reference, source).performance
    finally:
        source.close()
    assert profile is not None and profile.column == "outcome"
    assert profile.n == 4 and profile.reference["accuracy"] == 0.75
    with pytest.raises(DataError, match='reference has no column "outcome"'):
        fit_reference(settings, reference)
