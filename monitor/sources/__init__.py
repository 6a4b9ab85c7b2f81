"""Where windows come from: one module per backend, chosen by the config's ``type``.

Each backend module holds its ``<Kind>SourceSettings``, its ``<Kind>Source``
and one ``SPEC`` (``monitor.sources.spec.SourceSpec``). ``SPECS`` below is
the one registry: adding a backend is one module and one entry there; nothing
registers itself on import. ``monitor.config`` builds the
``[monitors.source]`` union from these specs, in this order (the order a
config error lists the known types in), ``build_source`` builds from them and
``secret_references`` asks each spec which secrets its settings name.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from monitor.settings_base import lookup_spec
from monitor.sources import demo, file, sql
from monitor.sources.base import Source, SourceError, Window
from monitor.sources.demo import DemoSource, DemoSourceSettings
from monitor.sources.file import FileSource, FileSourceSettings, read_frame
from monitor.sources.spec import SourceSettingsModel, SourceSpec
from monitor.sources.sql import SqlSource, SqlSourceSettings, read_query


class UnknownSourceError(ValueError):
    """A source type that is not in the registry (the message lists the known ones)."""


SPECS: Final = (demo.SPEC, sql.SPEC, file.SPEC)

SOURCES: Final[Mapping[str, SourceSpec]] = MappingProxyType({spec.type: spec for spec in SPECS})
"""Read-only map from source type (as written in config) to spec."""


def get_source_spec(source_type: str) -> SourceSpec:
    """Return the spec registered under ``source_type``.

    >>> get_source_spec("sql").settings.__name__
    'SqlSourceSettings'
    >>> get_source_spec("kafka")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    monitor.sources.UnknownSourceError: unknown source type 'kafka'; known source types: demo, ...
    """
    return lookup_spec(SOURCES, source_type, "source", UnknownSourceError)


def build_source(settings: SourceSettingsModel) -> Source:
    """The source a monitor's ``source`` table describes."""
    return get_source_spec(settings.type).factory(settings)


__all__ = [
    "SOURCES",
    "SPECS",
    "DemoSource",
    "DemoSourceSettings",
    "FileSource",
    "FileSourceSettings",
    "Source",
    "SourceError",
    "SourceSettingsModel",
    "SourceSpec",
    "SqlSource",
    "SqlSourceSettings",
    "UnknownSourceError",
    "Window",
    "build_source",
    "get_source_spec",
    "read_frame",
    "read_query",
]
