"""A run's sequential tests: its window pooled with recent ones, at each configured scale.

The pure statistics are ``detectors.sequential``; this module reads the
earlier windows from the store, decides which may be pooled, and says what
this run adds to the history. A window is pooled only with windows it does
not overlap and that were sketched against the same reference, so a row is
never counted twice and a new reference starts afresh.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from detectors import ColumnProfile, ColumnResult, PreparedColumn, apply_correction
from detectors.budget import RunLevels, corrected_level
from detectors.sequential import WindowSketch, pooled_test, sketch_prepared
from monitor.config import MonitorSettings
from monitor.sources.base import Window
from monitor.store.sketches import StoredWindow, recent_windows, sketches_of


@dataclass(frozen=True)
class SequentialOutcome:
    """The pooled results of one run and the sketches it adds to the history (if any)."""

    results: list[ColumnResult]
    sketches: Mapping[str, Any] | None
    """Column -> sketch to store, or None when this window overlaps the newest stored one."""


def sequential_tests(
    engine: Engine,
    monitor: MonitorSettings,
    monitor_id: int,
    reference_key: str,
    profiles: Mapping[str, ColumnProfile],
    window: Window,
    prepared: Mapping[str, PreparedColumn],
    window_results: Sequence[ColumnResult],
    levels: RunLevels,
    cache: SketchCache,
) -> SequentialOutcome:
    """Sketch this window, pool it with earlier ones from the store, and test each pool.

    Columns whose window could not be tested (bad data, identifiers) are
    neither sketched nor pooled.
    """
    if not levels.pooled or not any(column.n_total for column in prepared.values()):
        return SequentialOutcome(results=[], sketches=None)
    sketches = sketch_columns(profiles, prepared, window_results)
    history = recent_windows(engine, monitor_id, reference_key, window.end, history_rows(levels))
    decoded = _decoded(engine, cache, monitor_id, history)
    earlier = [decoded[stored.id] for stored in history if stored.window_end <= window.start]
    overlaps = bool(history) and window.start < history[0].window_end
    return SequentialOutcome(
        results=pooled_results(monitor, profiles, sketches, earlier, levels),
        sketches=None if overlaps else {name: s.to_dict() for name, s in sketches.items()},
    )


SketchCache = dict[int, dict[int, dict[str, WindowSketch]]]
"""Decoded stored windows: monitor id -> row id -> column -> sketch."""


def _decoded(
    engine: Engine, cache: SketchCache, monitor_id: int, history: Sequence[StoredWindow]
) -> dict[int, dict[str, WindowSketch]]:
    """The history's sketches, decoding only rows not seen before; forgets rows no longer read.

    Stored rows never change, so a row decoded once serves every later run
    of the process: a run then reads one new row instead of the whole history.
    The monitor's entry is replaced, never changed in place, so two runs of
    one monitor in two threads never see a half-updated map.
    """
    cached = cache.get(monitor_id, {})
    decoded = {stored.id: cached[stored.id] for stored in history if stored.id in cached}
    missing = [stored.id for stored in history if stored.id not in decoded]
    for row_id, columns in sketches_of(engine, missing).items():
        decoded[row_id] = {
            name: WindowSketch.from_dict(name, data) for name, data in columns.items()
        }
    cache[monitor_id] = decoded
    return decoded


def history_rows(levels: RunLevels) -> int:
    """Windows kept per monitor: twice the largest scale, as untestable windows leave gaps."""
    return 2 * max(levels.pooled, default=0)


def sketch_columns(
    profiles: Mapping[str, ColumnProfile],
    prepared: Mapping[str, PreparedColumn],
    window_results: Sequence[ColumnResult],
) -> dict[str, WindowSketch]:
    """This window's sketch of every column its single-window test could test.

    Windows whose own test flagged a column stay in that column's pools:
    leaving them out would bias a pool towards the windows where a small
    persistent shift happened to look smallest, and the pools would miss
    it. The price: after a short, large shift, a pool that still holds it
    keeps the column drifted while the shift is above the effect floor at
    the pool's size (a 1 sd shift of 4 windows: about 16 windows).
    """
    testable = {r.column for r in window_results if r.status == "ok"}
    return {
        name: sketch_prepared(profile, prepared[name])
        for name, profile in profiles.items()
        if name in testable
    }


def pooled_results(
    monitor: MonitorSettings,
    profiles: Mapping[str, ColumnProfile],
    sketches: Mapping[str, WindowSketch],
    earlier: Sequence[Mapping[str, WindowSketch]],
    levels: RunLevels,
) -> list[ColumnResult]:
    """Test this window pooled with the newest ``earlier`` windows (newest first), per scale.

    A column is pooled at a scale once that many of its sketches exist.
    """
    effect_floors = {column.name: column.effect_floor for column in monitor.columns}
    results: list[ColumnResult] = []
    for scale, level in levels.pooled.items():
        pools = {
            name: [sketch, *[entry[name] for entry in earlier if name in entry][: scale - 1]]
            for name, sketch in sketches.items()
        }
        full = {name: pool for name, pool in pools.items() if len(pool) == scale}
        # Each test's own level is its Bonferroni share (what a distance is held to);
        # the p-value tests are then decided together by the correction below.
        scale_results = [
            pooled_test(
                profiles[name],
                pool,
                level=level / max(len(full), 1),
                effect_floor=effect_floors.get(name),
            )
            for name, pool in full.items()
        ]
        results += _corrected(scale_results, level, monitor)
    return results


def _corrected(
    results: list[ColumnResult], level: float, monitor: MonitorSettings
) -> list[ColumnResult]:
    """Share one scale's level between its columns as the single-window tests do."""
    n_p_value = sum(r.p_value is not None for r in results)
    alpha = corrected_level(level, n_p_value=n_p_value, n_tests=len(results))
    return apply_correction(results, alpha=alpha, correction=monitor.thresholds.correction)
