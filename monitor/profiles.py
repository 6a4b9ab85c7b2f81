"""Reference profiles: fitted once per reference, stored, and kept in memory per monitor.

A run costs O(current window) because the reference is summarised once:
the first run of a reference fits it and stores the profile under the
reference's key, later runs (in any process) load it, and each process
keeps it in memory until the key changes.
"""

from __future__ import annotations

import json
import logging
import threading
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Engine

from detectors import (
    ColumnProfile,
    MultivariateProfile,
    fit_multivariate,
    fit_profile,
    performance_metrics,
)
from monitor.columns import require_columns
from monitor.config import MonitorSettings
from monitor.references import load_reference, reference_key
from monitor.sources.base import Source
from monitor.store import runs as store

log = logging.getLogger("driftwarden.profiles")


@dataclass(frozen=True)
class ReferenceProfile:
    """Everything a run needs from the reference: per-column profiles and model metrics."""

    columns: Mapping[str, ColumnProfile]
    performance: Mapping[str, float]
    n_rows: int
    multivariate: MultivariateProfile | None = None

    def to_bytes(self) -> bytes:
        body = {
            "columns": {name: profile.to_dict() for name, profile in self.columns.items()},
            "performance": dict(self.performance),
            "n_rows": self.n_rows,
            "multivariate": self.multivariate.to_dict() if self.multivariate else None,
        }
        return zlib.compress(json.dumps(body).encode())

    @classmethod
    def from_bytes(cls, data: bytes) -> ReferenceProfile:
        body = json.loads(zlib.decompress(data))
        return cls(
            columns={
                name: ColumnProfile.from_dict(profile) for name, profile in body["columns"].items()
            },
            performance=body["performance"],
            n_rows=body["n_rows"],
            multivariate=MultivariateProfile.from_dict(body["multivariate"])
            if body.get("multivariate")
            else None,
        )


def fit_reference(monitor: MonitorSettings, reference: pd.DataFrame) -> ReferenceProfile:
    names = [column.name for column in monitor.columns]
    perf = monitor.performance
    require_columns(reference, names + ([perf.label, perf.prediction] if perf else []), "reference")
    profiles = {
        column.name: fit_profile(reference[column.name], column.kind, max_sorted=1_000_000)
        for column in monitor.columns
    }
    metrics = (
        performance_metrics(reference[perf.label], reference[perf.prediction], perf.task)
        if perf
        else {}
    )
    multivariate = (
        fit_multivariate(reference, [(column.name, column.kind) for column in monitor.columns])
        if monitor.thresholds.multivariate != "none"
        else None
    )
    return ReferenceProfile(
        columns=profiles, performance=metrics, n_rows=len(reference), multivariate=multivariate
    )


@dataclass(frozen=True)
class KeyedProfile:
    """A reference profile and the key of the reference it was fitted on."""

    key: str
    profile: ReferenceProfile


class ProfileCache:
    """Reference profiles in memory, per monitor: from memory, else the store, else fitted now.

    A lock per monitor makes two runs of one monitor in two threads fit a new
    reference once, not twice; per monitor, so that a reference whose source
    hangs holds up no other monitor.
    """

    def __init__(self) -> None:
        self._profiles: dict[int, KeyedProfile] = {}
        self._locks: dict[int, threading.Lock] = {}
        self._locks_lock = threading.Lock()

    def _lock(self, monitor_id: int) -> threading.Lock:
        with self._locks_lock:
            return self._locks.setdefault(monitor_id, threading.Lock())

    def get(
        self, engine: Engine, monitor: MonitorSettings, monitor_id: int, source: Source
    ) -> KeyedProfile:
        key = reference_key(monitor)
        with self._lock(monitor_id):
            cached = self._profiles.get(monitor_id)
            if cached is not None and cached.key == key:
                return cached
            stored = store.load_profile(engine, monitor_id, key)
            if stored is not None:
                profile = ReferenceProfile.from_bytes(stored)
            else:
                log.info("fitting reference profile for monitor %s", monitor.name)
                profile = fit_reference(monitor, load_reference(monitor, source))
                store.save_profile(engine, monitor_id, key, profile.n_rows, profile.to_bytes())
            keyed = KeyedProfile(key, profile)
            self._profiles[monitor_id] = keyed
            return keyed
