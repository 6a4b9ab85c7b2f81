"""A monitor's reference, and the key its stored profile is filed under.

A reference is read once and summarised into a profile; ``reference_key``
changes exactly when that profile would, so the stored profile is reused
until then.
"""

from __future__ import annotations

import hashlib
import json

import pandas as pd

from monitor.config import FileReferenceSettings, MonitorSettings, SqlReferenceSettings
from monitor.secrets import SecretError, resolve_secret
from monitor.sources.base import Source, SourceError, Window
from monitor.sources.file import match_files, read_frame
from monitor.sources.sql import read_query

_KEY_VERSION = "driftwarden-reference-v2"


def load_reference(monitor: MonitorSettings, source: Source, seed: int = 0) -> pd.DataFrame:
    """At most ``monitor.reference_limit`` rows of the monitor's reference, index reset.

    Raises ``SourceError`` when the reference cannot be read or holds no rows.
    """
    reference = monitor.reference
    limit = monitor.reference_limit
    if isinstance(reference, FileReferenceSettings):
        frame = read_frame(reference.path, reference.format, limit, seed)
        what = f"the files {reference.path!r} hold no rows"
    elif isinstance(reference, SqlReferenceSettings):
        frame = read_query(_reference_url(monitor, reference), reference.query, limit, seed)
        what = "its query returned no rows"
    else:
        frame = source.sample(Window(reference.start, reference.end), limit, seed)
        what = (
            f"its source has no rows in [{reference.start.isoformat()}, "
            f"{reference.end.isoformat()})"
        )
    if frame.empty:
        raise SourceError(f"reference for monitor {monitor.name} is empty: {what}")
    return frame.reset_index(drop=True)


def _reference_url(monitor: MonitorSettings, reference: SqlReferenceSettings) -> str:
    if reference.url_env is None:
        assert reference.url is not None
        return reference.url
    try:
        return resolve_secret(reference.url_env, "reference.url_env")
    except SecretError as exc:
        raise SourceError(f"reference for monitor {monitor.name}: {exc}") from None


def reference_key(monitor: MonitorSettings) -> str:
    """A sha256 hex digest that changes whenever the reference profile would.

    It covers the reference settings, ``reference_limit``, the columns, the
    performance settings and the multivariate method; for a ``window``
    reference also the source settings (the window is read from it); for a
    ``file`` reference also each matched file's path, size and modification
    time, so a replaced file is refitted.
    A ``sql`` reference is refitted only when its settings change: the key
    cannot see the data behind a query.
    """
    reference = monitor.reference
    parts = [
        _KEY_VERSION,
        reference.model_dump_json(),
        json.dumps({"reference_limit": monitor.reference_limit}),
        json.dumps([json.loads(column.model_dump_json()) for column in monitor.columns]),
        monitor.performance.model_dump_json() if monitor.performance else "null",
        json.dumps({"multivariate": monitor.thresholds.multivariate}),
    ]
    if reference.type == "window":
        parts.append(monitor.source.model_dump_json())
    if isinstance(reference, FileReferenceSettings):
        files = []
        for path in match_files(reference.path):
            try:
                stat = path.stat()
            except OSError:
                continue
            files.append([str(path.resolve()), stat.st_size, stat.st_mtime_ns])
        parts.append(json.dumps(files))
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()
