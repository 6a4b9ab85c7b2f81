"""Where windows come from: one class per backend, chosen by the config's ``type``.

``SOURCE_TYPES`` is the one registry; adding a backend is one module and one
line here.
"""

from __future__ import annotations

from typing import Any

from monitor.config import DemoSourceSettings, FileSourceSettings, SqlSourceSettings
from monitor.sources.base import Source, SourceError, Window
from monitor.sources.demo import DemoSource
from monitor.sources.file import FileSource, read_frame
from monitor.sources.sql import SqlSource, read_query

SOURCE_TYPES: dict[str, type[Any]] = {
    "demo": DemoSource,
    "sql": SqlSource,
    "file": FileSource,
}


def build_source(settings: DemoSourceSettings | SqlSourceSettings | FileSourceSettings) -> Source:
    """The source a monitor's ``source`` table describes."""
    try:
        source_type = SOURCE_TYPES[settings.type]
    except KeyError:
        known = ", ".join(sorted(SOURCE_TYPES))
        raise ValueError(f"unknown source type {settings.type!r} (known: {known})") from None
    source: Source = source_type(settings)
    return source


__all__ = [
    "SOURCE_TYPES",
    "DemoSource",
    "FileSource",
    "Source",
    "SourceError",
    "SqlSource",
    "Window",
    "build_source",
    "read_frame",
    "read_query",
]
