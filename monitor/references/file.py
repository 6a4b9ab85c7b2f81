"""A reference read from Parquet or CSV files (one path or a glob)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Literal

import pandas as pd

from monitor.references.spec import ReferenceSettingsModel, ReferenceSpec, non_empty
from monitor.sources.base import Source
from monitor.sources.file import match_files, read_frame

if TYPE_CHECKING:
    from monitor.config import MonitorSettings


class FileReferenceSettings(ReferenceSettingsModel):
    type: Literal["file"]
    path: str
    format: Literal["parquet", "csv", "auto"] = "auto"


def _settings(monitor: MonitorSettings) -> FileReferenceSettings:
    assert isinstance(monitor.reference, FileReferenceSettings)
    return monitor.reference


def load_file_reference(monitor: MonitorSettings, source: Source, seed: int) -> pd.DataFrame:
    reference = _settings(monitor)
    frame = read_frame(reference.path, reference.format, monitor.reference_limit, seed)
    return non_empty(monitor, frame, f"the files {reference.path!r} hold no rows")


def file_key_parts(monitor: MonitorSettings) -> list[str]:
    """Each matched file's path, size and modification time, so a replaced file is refitted."""
    files = []
    for path in match_files(_settings(monitor).path):
        try:
            stat = path.stat()
        except OSError:
            continue
        files.append([str(path.resolve()), stat.st_size, stat.st_mtime_ns])
    return [json.dumps(files)]


SPEC = ReferenceSpec(
    type="file", settings=FileReferenceSettings, load=load_file_reference, key_parts=file_key_parts
)
