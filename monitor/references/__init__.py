"""A monitor's reference, and the key its stored profile is filed under.

One module per kind, chosen by the config's ``type``: each holds its
``<Kind>ReferenceSettings``, its loader, its part of the key and one ``SPEC``
(``monitor.references.spec.ReferenceSpec``). ``SPECS`` below is the one
registry: adding a kind is one module and one entry there; nothing registers
itself on import. ``monitor.config`` builds the ``[monitors.reference]``
union from these specs, in this order (the order a config error lists the
known types in), and ``secret_references`` asks each spec which secrets its
settings name.

A reference is read once and summarised into a profile; ``reference_key``
changes exactly when that profile would, so the stored profile is reused
until then.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

import pandas as pd

from monitor.references import file, sql, window
from monitor.references.file import FileReferenceSettings
from monitor.references.spec import ReferenceSettingsModel, ReferenceSpec
from monitor.references.sql import SqlReferenceSettings
from monitor.references.window import WindowReferenceSettings
from monitor.settings_base import lookup_spec
from monitor.sources.base import Source

if TYPE_CHECKING:
    from monitor.config import MonitorSettings


class UnknownReferenceError(ValueError):
    """A reference type that is not in the registry (the message lists the known ones)."""


SPECS: Final = (file.SPEC, sql.SPEC, window.SPEC)

REFERENCES: Final[Mapping[str, ReferenceSpec]] = MappingProxyType(
    {spec.type: spec for spec in SPECS}
)
"""Read-only map from reference type (as written in config) to spec."""

_KEY_VERSION = "driftwarden-reference-v2"


def get_reference_spec(reference_type: str) -> ReferenceSpec:
    """Return the spec registered under ``reference_type``.

    >>> get_reference_spec("sql").settings.__name__
    'SqlReferenceSettings'
    >>> get_reference_spec("s3")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    monitor.references.UnknownReferenceError: unknown reference type 's3'; ...: file, sql, window
    """
    return lookup_spec(REFERENCES, reference_type, "reference", UnknownReferenceError)


def load_reference(monitor: MonitorSettings, source: Source, seed: int = 0) -> pd.DataFrame:
    """At most ``monitor.reference_limit`` rows of the monitor's reference, index reset.

    Raises ``SourceError`` when the reference cannot be read or holds no rows.
    """
    frame = get_reference_spec(monitor.reference.type).load(monitor, source, seed)
    return frame.reset_index(drop=True)


def reference_key(monitor: MonitorSettings) -> str:
    """A sha256 hex digest that changes whenever the reference profile would.

    It covers the reference settings, ``reference_limit``, the columns, the
    performance settings and the multivariate method, then the kind's own
    ``key_parts``: for a ``window`` reference the source settings (the
    window is read from it); for a ``file`` reference each matched file's
    path, size and modification time, so a replaced file is refitted.
    A ``sql`` reference is refitted only when its settings change: the key
    cannot see the data behind a query.

    Stored profiles are looked up by this key: a change to what it hashes,
    or to their order, refits every stored profile (bump ``_KEY_VERSION``).
    """
    reference = monitor.reference
    parts = [
        _KEY_VERSION,
        reference.model_dump_json(),
        json.dumps({"reference_limit": monitor.reference_limit}),
        json.dumps([json.loads(column.model_dump_json()) for column in monitor.columns]),
        monitor.performance.model_dump_json() if monitor.performance else "null",
        json.dumps({"multivariate": monitor.thresholds.multivariate}),
        *get_reference_spec(reference.type).key_parts(monitor),
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


__all__ = [
    "REFERENCES",
    "SPECS",
    "FileReferenceSettings",
    "ReferenceSettingsModel",
    "ReferenceSpec",
    "SqlReferenceSettings",
    "UnknownReferenceError",
    "WindowReferenceSettings",
    "get_reference_spec",
    "load_reference",
    "reference_key",
]
