"""Reference profiles: fitted once per reference, stored, and kept in memory per monitor.

A run costs O(current window) because the reference is summarised once:
the first run of a reference fits it and stores the profile under the
reference's key, later runs (in any process) load it, and each process
keeps it in memory until the key changes. ``reference_key`` sits beside
``fit_reference`` because it must cover every setting the fit reads.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd
from sqlalchemy import Engine

from detectors import (
    ColumnProfile,
    MultivariateProfile,
    PerformanceProfile,
    fit_multivariate,
    fit_performance,
    fit_profile,
)
from detectors.performance import PERFORMANCE_FORMAT
from monitor.columns import require_columns
from monitor.config import MonitorSettings, PerformanceSettings
from monitor.references import (
    ReferenceRequest,
    describe_reference,
    load_reference,
    reference_key_parts,
    reference_refits,
)
from monitor.segment_profiles import SegmentationProfile, fit_segments
from monitor.sources import LabelSource, join_labels
from monitor.sources.base import Source
from monitor.store import runs as store
from monitor.store.references import RunReference, profile_stored, prune_profiles

log = logging.getLogger("driftwarden.profiles")

_KEY_VERSION = "driftwarden-reference-v2"


@dataclass(frozen=True)
class ReferenceProfile:
    """Everything a run needs from the reference: per-column profiles and model metrics."""

    columns: Mapping[str, ColumnProfile]
    performance: PerformanceProfile | None
    n_rows: int
    multivariate: MultivariateProfile | None = None
    segments: Mapping[str, SegmentationProfile] = field(default_factory=dict)
    """Per segment column, its segments' profiles (``monitor.segment_profiles``)."""

    def to_bytes(self) -> bytes:
        body = {
            "columns": {name: profile.to_dict() for name, profile in self.columns.items()},
            "performance": self.performance.to_dict() if self.performance else None,
            "n_rows": self.n_rows,
            "multivariate": self.multivariate.to_dict() if self.multivariate else None,
            "segments": {name: seg.to_dict() for name, seg in self.segments.items()},
        }
        return zlib.compress(json.dumps(body).encode())

    @classmethod
    def from_bytes(cls, data: bytes) -> ReferenceProfile:
        body = json.loads(zlib.decompress(data))
        return cls(
            columns={
                name: ColumnProfile.from_dict(profile) for name, profile in body["columns"].items()
            },
            performance=PerformanceProfile.from_dict(body["performance"])
            if body.get("performance")
            else None,
            n_rows=body["n_rows"],
            multivariate=MultivariateProfile.from_dict(body["multivariate"])
            if body.get("multivariate")
            else None,
            segments={
                name: SegmentationProfile.from_dict(seg)
                for name, seg in body.get("segments", {}).items()
            },
        )


def fit_reference(
    monitor: MonitorSettings, reference: pd.DataFrame, labels: LabelSource | None = None
) -> ReferenceProfile:
    """Fit every profile a run compares with; ``labels`` joins a reference that lacks its labels.

    A monitor whose labels come from a label source may take a reference
    that holds them (a file of labelled history) or one that does not (a
    past window of its own source): the latter's labels are then looked
    up by id, every label known now counting.
    """
    names = [column.name for column in monitor.columns]
    require_columns(reference, names, "reference")
    profiles = {
        column.name: fit_profile(reference[column.name], column.kind, max_sorted=1_000_000)
        for column in monitor.columns
    }
    perf = monitor.performance
    metrics = fit_reference_performance(perf, reference, labels) if perf else None
    multivariate = (
        fit_multivariate(reference, [(column.name, column.kind) for column in monitor.columns])
        if monitor.thresholds.multivariate != "none"
        else None
    )
    segments = fit_segments(
        reference,
        [(column.name, column.kind) for column in monitor.columns],
        monitor.segments,
        monitor.segment_min_rows,
    )
    return ReferenceProfile(
        columns=profiles,
        performance=metrics,
        n_rows=len(reference),
        multivariate=multivariate,
        segments=segments,
    )


def fit_reference_performance(
    perf: PerformanceSettings, reference: pd.DataFrame, labels: LabelSource | None
) -> PerformanceProfile:
    label = perf.label_column
    needed = [perf.prediction] + ([perf.score] if perf.score is not None else [])
    if label in reference.columns or labels is None or perf.id_column is None:
        require_columns(reference, [label, *needed], "reference")
        truth = reference[label]
    else:
        require_columns(reference, [perf.id_column, *needed], "reference")
        ids = reference[perf.id_column]
        truth = join_labels(ids, labels.labels(ids.tolist(), None)).rename(label)
    return fit_performance(
        truth,
        reference[perf.prediction],
        reference[perf.score] if perf.score is not None else None,
        task=perf.task,
        metrics=perf.metrics,
        positive_label=perf.positive_label,
        column=label,
    )


def reference_request(
    monitor: MonitorSettings, window_start: datetime | None = None
) -> ReferenceRequest:
    """What the monitor's reference kind reads to load and key the reference of a run.

    ``window_start`` is the start of the run's window: a ``trailing``
    reference is read before it; fixed kinds ignore it.
    """
    return ReferenceRequest(
        monitor=monitor.name,
        reference=monitor.reference,
        source=monitor.source,
        reference_limit=monitor.reference_limit,
        window_start=window_start,
    )


def _performance_part(monitor: MonitorSettings) -> str:
    """The performance settings and the layout of the profile fitted for them.

    The layout is part of the key so that a stored performance profile of an
    older layout is refitted rather than refused; a monitor without
    ``performance`` keeps its key.
    """
    if monitor.performance is None:
        return "null"
    return monitor.performance.model_dump_json() + f"\nperformance-format-{PERFORMANCE_FORMAT}"


def _segments_part(monitor: MonitorSettings) -> list[str]:
    """The segment settings the fit reads; none without segments, so such keys stay as they were."""
    if not monitor.segments:
        return []
    return [
        json.dumps({"segments": monitor.segments, "segment_min_rows": monitor.segment_min_rows})
    ]


def reference_key(monitor: MonitorSettings, window_start: datetime | None = None) -> str:
    """A sha256 hex digest that changes whenever the reference profile would.

    It covers the reference settings, ``reference_limit``, the columns, the
    performance settings, the multivariate method and the segments, then the kind's own
    ``key_parts``: for a ``window`` reference the source settings (the
    window is read from it); for a ``file`` reference each matched file's
    path, size and modification time, so a replaced file is refitted.
    A ``sql`` reference is refitted only when its settings change: the key
    cannot see the data behind a query. A ``trailing`` reference adds the
    source settings and its period, which ``window_start`` (the start of
    the run's window) decides: each refit period has a key of its own.

    Stored profiles are looked up by this key: a change to what it hashes,
    or to their order, refits every stored profile (bump ``_KEY_VERSION``).
    """
    parts = [
        _KEY_VERSION,
        monitor.reference.model_dump_json(),
        json.dumps({"reference_limit": monitor.reference_limit}),
        json.dumps([json.loads(column.model_dump_json()) for column in monitor.columns]),
        _performance_part(monitor),
        json.dumps({"multivariate": monitor.thresholds.multivariate}),
        *reference_key_parts(reference_request(monitor, window_start)),
        *_segments_part(monitor),
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def stated_reference(
    monitor: MonitorSettings, key: str, window_start: datetime | None = None
) -> RunReference:
    """What a run whose window starts at ``window_start`` states about its reference."""
    origin = describe_reference(reference_request(monitor, window_start))
    return RunReference(key, monitor.reference.type, origin.description, origin.start, origin.end)


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
        self._ahead: dict[int, KeyedProfile] = {}
        """Per monitor, the profile fitted ahead for the next refit period, until it is used."""
        self._locks: dict[int, threading.Lock] = {}
        self._locks_lock = threading.Lock()

    def _lock(self, monitor_id: int) -> threading.Lock:
        with self._locks_lock:
            return self._locks.setdefault(monitor_id, threading.Lock())

    def get(
        self,
        engine: Engine,
        monitor: MonitorSettings,
        monitor_id: int,
        source: Source,
        window_start: datetime | None = None,
        labels: LabelSource | None = None,
    ) -> KeyedProfile:
        """The profile of the reference of a run whose window starts at ``window_start``.

        ``labels`` joins the reference's labels by id when it holds none (``fit_reference``).
        """
        key = reference_key(monitor, window_start)
        with self._lock(monitor_id):
            cached = self._profiles.get(monitor_id)
            if cached is not None and cached.key == key:
                return cached
            ahead = self._ahead.get(monitor_id)
            if ahead is not None and ahead.key == key:
                self._profiles[monitor_id] = self._ahead.pop(monitor_id)
                return ahead
            stored = store.load_profile(engine, monitor_id, key)
            if stored is not None:
                profile = ReferenceProfile.from_bytes(stored)
            else:
                profile = _fit_and_store(
                    engine, monitor, monitor_id, source, key, window_start, labels
                )
            keyed = KeyedProfile(key, profile)
            self._profiles[monitor_id] = keyed
            return keyed

    def fit_ahead(
        self,
        engine: Engine,
        monitor: MonitorSettings,
        monitor_id: int,
        source: Source,
        window_start: datetime,
        labels: LabelSource | None = None,
    ) -> bool:
        """Fit and store the profile runs from ``window_start`` will need, unless it is stored.

        Under the monitor's lock, so a run that needs it meanwhile waits for
        this fit instead of fitting it twice. The profile in use stays in
        memory, and the new one beside it until the first run that needs it,
        which then need not read it back. True when it was fitted now.
        """
        key = reference_key(monitor, window_start)
        with self._lock(monitor_id):
            known = (self._profiles.get(monitor_id), self._ahead.get(monitor_id))
            if any(k is not None and k.key == key for k in known) or profile_stored(
                engine, monitor_id, key
            ):
                return False
            profile = _fit_and_store(engine, monitor, monitor_id, source, key, window_start, labels)
            self._ahead[monitor_id] = KeyedProfile(key, profile)
            return True


def _fit_and_store(
    engine: Engine,
    monitor: MonitorSettings,
    monitor_id: int,
    source: Source,
    key: str,
    window_start: datetime | None,
    labels: LabelSource | None,
) -> ReferenceProfile:
    """Fit the reference, store its profile, and prune what a moving reference no longer needs."""
    log.info("fitting reference profile for monitor %s", monitor.name)
    request = reference_request(monitor, window_start)
    profile = fit_reference(monitor, load_reference(request, source), labels)
    store.save_profile(engine, monitor_id, key, profile.n_rows, profile.to_bytes())
    refits = reference_refits(monitor.reference)
    if refits is not None:
        prune_profiles(engine, monitor_id, refits.keep)
    return profile
