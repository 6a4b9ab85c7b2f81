"""A reference read from Parquet or CSV files (one path or a glob)."""

from __future__ import annotations

import json
from typing import Literal

import pandas as pd

from monitor.references.spec import (
    ReferenceOrigin,
    ReferenceRequest,
    ReferenceSettingsModel,
    ReferenceSpec,
    non_empty,
)
from monitor.sources.base import Source
from monitor.sources.file import match_files, read_frame


class FileReferenceSettings(ReferenceSettingsModel):
    type: Literal["file"]
    path: str
    format: Literal["parquet", "csv", "auto"] = "auto"


def _settings(request: ReferenceRequest) -> FileReferenceSettings:
    assert isinstance(request.reference, FileReferenceSettings)
    return request.reference


def load_file_reference(request: ReferenceRequest, source: Source, seed: int) -> pd.DataFrame:
    reference = _settings(request)
    frame = read_frame(reference.path, reference.format, request.reference_limit, seed)
    return non_empty(request, frame, f"the files {reference.path!r} hold no rows")


def file_key_parts(request: ReferenceRequest) -> list[str]:
    """Each matched file's path, size and modification time, so a replaced file is refitted."""
    files = []
    for path in match_files(_settings(request).path):
        try:
            stat = path.stat()
        except OSError:
            continue
        files.append([str(path.resolve()), stat.st_size, stat.st_mtime_ns])
    return [json.dumps(files)]


def describe_file_reference(request: ReferenceRequest) -> ReferenceOrigin:
    return ReferenceOrigin(f"the files {_settings(request).path}")


SPEC = ReferenceSpec(
    type="file",
    settings=FileReferenceSettings,
    load=load_file_reference,
    key_parts=file_key_parts,
    describe=describe_file_reference,
)
