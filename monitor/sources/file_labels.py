"""Labels in Parquet or CSV files (a path or a glob), read batch by batch and kept by id.

Every lookup streams the files with the file source's readers (Parquet
decoded once and cached while it fits, CSV chunk by chunk) and keeps only
the rows of the wanted ids, so memory is O(ids + one batch).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

import pandas as pd

from monitor.sources.file import CACHE_BYTES, FileLocation, ParquetCache, file_batches
from monitor.sources.labels import (
    LabelSettingsModel,
    LabelSpec,
    known_labels,
    label_columns,
    missing_columns,
    wanted_ids,
)


class FileLabelSettings(FileLocation, LabelSettingsModel):
    type: Literal["file"]


class FileLabelSource:
    """The labels of given ids, from the files ``path`` names."""

    def __init__(self, settings: FileLabelSettings, cache_bytes: int = CACHE_BYTES) -> None:
        self.settings = settings
        self._origin = f"labels file ({settings.path})"
        self._columns = label_columns(settings)
        self.cache = ParquetCache(cache_bytes)

    def labels(self, ids: Sequence[Any], arrived_by: datetime | None) -> pd.Series:
        wanted = pd.Series(wanted_ids(ids))
        kept: list[pd.DataFrame] = []
        settings = self.settings
        batches = file_batches(settings.path, settings.format, None, None, self._origin, self.cache)
        for path, batch in batches:
            missing_columns(settings, list(batch.columns), repr(str(path)), self._origin)
            kept.append(batch.loc[_of(batch[settings.id_column], wanted), self._columns])
        frame = pd.concat(kept, ignore_index=True) if kept else pd.DataFrame(columns=self._columns)
        return known_labels(frame, settings, arrived_by, self._origin)

    def close(self) -> None:
        self.cache.clear()


def _of(ids: pd.Series, wanted: pd.Series) -> pd.Series:
    """Rows whose id is wanted; numbers compare as numbers, anything else as text."""
    if pd.api.types.is_numeric_dtype(ids.dtype) and pd.api.types.is_numeric_dtype(wanted.dtype):
        return ids.isin(wanted)
    return ids.astype(str).isin(wanted.astype(str))


SPEC = LabelSpec(type="file", settings=FileLabelSettings, factory=FileLabelSource)
