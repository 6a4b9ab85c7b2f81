"""The soak's figures, from what the store holds and what the sampler read (``soak.py``).

Pure functions over plain records, so the arithmetic is tested here on its
own (doctests) and the soak only gathers the records.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from monitor.store.engine import STORE_MAX_OVERFLOW, STORE_POOL_SIZE
from tests.reliability.figures import StoredRun, due_slots

LATENESS_P95_SECONDS = 60.0
RSS_GROWTH = 1.10
"""The end RSS may be at most this multiple of the start RSS."""
STORE_BOUND = STORE_POOL_SIZE + STORE_MAX_OVERFLOW


@dataclass
class Sample:
    """One reading of every daemon's RSS (bytes) and sessions, by daemon name."""

    at: float
    load: float
    """The machine's load average over the last minute (other processes count too)."""
    rss: dict[str, int] = field(default_factory=dict)
    store: dict[str, int] = field(default_factory=dict)
    source: dict[str, int] = field(default_factory=dict)


def percentile(values: Sequence[float], q: float) -> float | None:
    return round(float(np.percentile(np.asarray(values), q)), 2) if values else None


def run_figures(
    runs: Sequence[StoredRun], monitors: Sequence[str], schedule: str, load: tuple[float, float]
) -> dict[str, Any]:
    """Slots due in the load, runs completed, failed and missing, and their lateness.

    >>> runs = [StoredRun("a", 946684802.0, "succeeded", None, 946684803.5, 946684804.0),
    ...         StoredRun("a", 946684804.0, "failed", "boom", 946684804.5, 946684805.0)]
    >>> figures = run_figures(runs, ["a"], "every 2s", (946684800.5, 946684806.0))
    >>> figures["due"], figures["completed"], figures["failed"], figures["not_run"]
    (3, 1, 1, 1)
    >>> figures["lateness_s"]["max"], figures["start_rate_per_s"]
    (1.5, None)
    """
    by_slot = {(run.monitor, run.scheduled_for): run for run in runs}
    slots = due_slots(schedule, load)
    due = [(name, slot) for name in monitors for slot in slots]
    found = [by_slot[key] for key in due if key in by_slot]
    lateness = [run.started_at - run.scheduled_for for run in found]
    rates = []
    for slot in slots:
        starts = [run.started_at - slot for run in found if run.scheduled_for == slot]
        if len(starts) > 1 and max(starts) > 0:
            rates.append(len(starts) / max(starts))
    reasons: dict[str, int] = {}
    for run in found:
        if run.status == "failed":
            reason = (run.reason or "")[:100]
            reasons[reason] = reasons.get(reason, 0) + 1
    return {
        "slots_per_monitor": len(slots),
        "due": len(due),
        "completed": sum(1 for run in found if run.status in ("succeeded", "empty")),
        "failed": sum(1 for run in found if run.status == "failed"),
        "running": sum(1 for run in found if run.status == "running"),
        "not_run": len(due) - len(found),
        "lateness_s": {
            "p50": percentile(lateness, 50),
            "p95": percentile(lateness, 95),
            "max": round(max(lateness), 2) if lateness else None,
        },
        "start_rate_per_s": round(float(np.median(rates)), 1) if rates else None,
        "failed_reasons": dict(sorted(reasons.items(), key=lambda item: -item[1])[:5]),
    }


def _thirds(values: Sequence[int]) -> tuple[float, float]:
    third = max(1, len(values) // 3)
    return float(np.mean(values[:third])), float(np.mean(values[-third:]))


def sample_figures(samples: Sequence[Sample], daemons: Sequence[str]) -> dict[str, Any]:
    """Per daemon: RSS start/end (MB, means of the first and last third), peak sessions.

    >>> samples = [Sample(t, 1, {"a": (100 + t) * 2**20}, {"a": 3 + t}, {"a": 1}) for t in range(6)]
    >>> sample_figures(samples, ["a"])["a"]
    {'rss_start_mb': 100.5, 'rss_end_mb': 104.5, 'store_max': 8, 'source_max': 1}
    """
    figures: dict[str, Any] = {}
    for name in daemons:
        rss = [sample.rss[name] for sample in samples if name in sample.rss]
        start, end = _thirds(rss) if rss else (0.0, 0.0)
        figures[name] = {
            "rss_start_mb": round(start / 2**20, 1),
            "rss_end_mb": round(end / 2**20, 1),
            "store_max": max((sample.store.get(name, 0) for sample in samples), default=0),
            "source_max": max((sample.source.get(name, 0) for sample in samples), default=0),
        }
    return figures


def goals_missed(figures: Mapping[str, Any]) -> list[str]:
    """The goals (see the module) the figures miss, one line each; empty when all are met."""
    runs, missed = figures["runs"], []
    if runs["completed"] != runs["due"]:
        missed.append(
            f"{runs['completed']} of {runs['due']} slots completed "
            f"({runs['failed']} failed, {runs['not_run']} not run, {runs['running']} running)"
        )
    p95 = runs["lateness_s"]["p95"]
    if p95 is None or p95 >= LATENESS_P95_SECONDS:
        missed.append(f"lateness p95 {p95} s (goal < {LATENESS_P95_SECONDS:g} s)")
    for name, daemon in figures["daemons"].items():
        if daemon["rss_end_mb"] > RSS_GROWTH * daemon["rss_start_mb"]:
            missed.append(
                f"{name}: RSS grew from {daemon['rss_start_mb']} MB to {daemon['rss_end_mb']} MB"
            )
        if daemon["store_max"] > STORE_BOUND:
            missed.append(
                f"{name}: {daemon['store_max']} store connections (pool bound {STORE_BOUND})"
            )
    return missed
