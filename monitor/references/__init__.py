"""A monitor's reference, and its kind's part of the key its stored profile is filed under.

One module per kind, chosen by the config's ``type``: each holds its
``<Kind>ReferenceSettings``, its loader, its part of the key and one ``SPEC``
(``monitor.references.spec.ReferenceSpec``). ``SPECS`` below is the one
registry: adding a kind is one module and one entry there; nothing registers
itself on import. ``monitor.config`` builds the ``[monitors.reference]``
union from these specs, in this order (the order a config error lists the
known types in), and ``secret_references`` asks each spec which secrets its
settings name.

A kind sees a ``ReferenceRequest`` (``monitor.profiles.reference_request``
builds it from a monitor's settings), never the config itself, so the config
can import this registry without a cycle.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

import pandas as pd

from monitor.references import file, sql, trailing, window
from monitor.references.file import FileReferenceSettings
from monitor.references.spec import (
    ReferenceOrigin,
    ReferenceRequest,
    ReferenceSettingsModel,
    ReferenceSpec,
    Refits,
)
from monitor.references.sql import SqlReferenceSettings
from monitor.references.trailing import TrailingReferenceSettings
from monitor.references.window import WindowReferenceSettings
from monitor.settings_base import lookup_spec
from monitor.sources.base import Source


class UnknownReferenceError(ValueError):
    """A reference type that is not in the registry (the message lists the known ones)."""


SPECS: Final = (file.SPEC, sql.SPEC, window.SPEC, trailing.SPEC)

REFERENCES: Final[Mapping[str, ReferenceSpec]] = MappingProxyType(
    {spec.type: spec for spec in SPECS}
)
"""Read-only map from reference type (as written in config) to spec."""


def get_reference_spec(reference_type: str) -> ReferenceSpec:
    """Return the spec registered under ``reference_type``.

    >>> get_reference_spec("sql").settings.__name__
    'SqlReferenceSettings'
    >>> get_reference_spec("s3")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    monitor.references.UnknownReferenceError: unknown reference type 's3'; ...: file, ..., window
    """
    return lookup_spec(REFERENCES, reference_type, "reference", UnknownReferenceError)


def load_reference(request: ReferenceRequest, source: Source, seed: int = 0) -> pd.DataFrame:
    """At most ``request.reference_limit`` rows of the requested reference, index reset.

    Raises ``SourceError`` when the reference cannot be read or holds no rows.
    """
    frame = get_reference_spec(request.reference.type).load(request, source, seed)
    return frame.reset_index(drop=True)


def reference_key_parts(request: ReferenceRequest) -> list[str]:
    """The kind's own parts of the profile's key (``monitor.profiles.reference_key``)."""
    return get_reference_spec(request.reference.type).key_parts(request)


def describe_reference(request: ReferenceRequest) -> ReferenceOrigin:
    """Where the requested reference's rows come from, as a run states it."""
    return get_reference_spec(request.reference.type).describe(request)


def reference_refits(reference: ReferenceSettingsModel) -> Refits | None:
    """How the reference is refitted as runs go by; None for a fixed one."""
    return get_reference_spec(reference.type).refits


__all__ = [
    "REFERENCES",
    "SPECS",
    "FileReferenceSettings",
    "ReferenceOrigin",
    "ReferenceRequest",
    "ReferenceSettingsModel",
    "ReferenceSpec",
    "Refits",
    "SqlReferenceSettings",
    "TrailingReferenceSettings",
    "UnknownReferenceError",
    "WindowReferenceSettings",
    "describe_reference",
    "get_reference_spec",
    "load_reference",
    "reference_key_parts",
    "reference_refits",
]
