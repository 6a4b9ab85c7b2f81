"""Where windows come from: one module per backend, chosen by the config's ``type``.

Each backend module holds its ``<Kind>SourceSettings``, its ``<Kind>Source``
and one ``SPEC`` (``monitor.sources.spec.SourceSpec``). ``SPECS`` below is
the one registry: adding a backend is one module and one entry there; nothing
registers itself on import. ``monitor.config`` builds the
``[monitors.source]`` union from these specs, in this order (the order a
config error lists the known types in), ``build_source`` builds from them and
``secret_references`` asks each spec which secrets its settings name.

A backend that can also serve labels by id (``monitors[].performance.labels``)
lists a ``LabelSpec`` in ``LABEL_SPECS`` under its own source type; labels
are not a family of their own (``monitor.sources.labels``).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from monitor.settings_base import lookup_spec
from monitor.sources import demo, file, file_labels, sql, sql_labels
from monitor.sources.base import Source, SourceError, Window
from monitor.sources.demo import DemoSource, DemoSourceSettings
from monitor.sources.file import FileSource, FileSourceSettings, read_frame
from monitor.sources.labels import LabelSettingsModel, LabelSource, LabelSpec, join_labels
from monitor.sources.spec import SourceSettingsModel, SourceSpec
from monitor.sources.sql import SqlSource, SqlSourceSettings, read_query


class UnknownSourceError(ValueError):
    """A source type that is not in the registry (the message lists the known ones)."""


SPECS: Final = (demo.SPEC, sql.SPEC, file.SPEC)

SOURCES: Final[Mapping[str, SourceSpec]] = MappingProxyType({spec.type: spec for spec in SPECS})
"""Read-only map from source type (as written in config) to spec."""


LABEL_SPECS: Final = (sql_labels.SPEC, file_labels.SPEC)

LABEL_SOURCES: Final[Mapping[str, LabelSpec]] = MappingProxyType(
    {spec.type: spec for spec in LABEL_SPECS}
)
"""Read-only map from the type of a source that serves labels to its label spec."""


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


def get_label_spec(source_type: str) -> LabelSpec:
    """Return the label spec of ``source_type``, or an error naming those that serve labels."""
    return lookup_spec(LABEL_SOURCES, source_type, "label source", UnknownSourceError)


def build_label_source(settings: LabelSettingsModel) -> LabelSource:
    """The label source a monitor's ``performance.labels`` table describes."""
    return get_label_spec(settings.type).factory(settings)


__all__ = [
    "LABEL_SOURCES",
    "LABEL_SPECS",
    "SOURCES",
    "SPECS",
    "DemoSource",
    "DemoSourceSettings",
    "FileSource",
    "FileSourceSettings",
    "LabelSettingsModel",
    "LabelSource",
    "LabelSpec",
    "Source",
    "SourceError",
    "SourceSettingsModel",
    "SourceSpec",
    "SqlSource",
    "SqlSourceSettings",
    "UnknownSourceError",
    "Window",
    "build_label_source",
    "build_source",
    "get_label_spec",
    "get_source_spec",
    "join_labels",
    "read_frame",
    "read_query",
]
