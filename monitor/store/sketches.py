"""Window sketches: the store side of the sequential tests' state.

Each finished run adds one row (its windows as counts) in its own
transaction, so the state survives restarts and is shared by replicas; a
run reads the newest rows of its monitor and reference before its slot.
A run adds its row only when its window starts at or after the end of the
newest stored window, so the stored windows never overlap (a 5-minute
window run every 20 s stores one row in 15) and a pool never counts a row
twice. Rows beyond what the largest pooled scale needs are deleted as new
ones arrive, so a monitor's state stays a few dozen small rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from monitor.store.models import WindowSketchRow


@dataclass(frozen=True)
class StoredWindow:
    """One earlier run's stored window: its row id (to fetch its sketches) and its span."""

    id: int
    scheduled_for: datetime
    window_start: datetime
    window_end: datetime


def recent_windows(
    engine: Engine, monitor_id: int, reference_key: str, before: datetime, limit: int
) -> list[StoredWindow]:
    """The newest ``limit`` windows stored for a monitor's reference before ``before``."""
    if limit <= 0:
        return []
    with Session(engine) as session:
        rows = session.execute(
            select(
                WindowSketchRow.id,
                WindowSketchRow.scheduled_for,
                WindowSketchRow.window_start,
                WindowSketchRow.window_end,
            )
            .where(
                WindowSketchRow.monitor_id == monitor_id,
                WindowSketchRow.reference_key == reference_key,
                WindowSketchRow.scheduled_for < before,
            )
            .order_by(WindowSketchRow.scheduled_for.desc())
            .limit(limit)
        ).all()
        return [StoredWindow(*row) for row in rows]


def sketches_of(engine: Engine, ids: Sequence[int]) -> dict[int, Mapping[str, Any]]:
    """The stored sketches (column -> sketch data) of the windows with these row ids."""
    if not ids:
        return {}
    with Session(engine) as session:
        rows = session.execute(
            select(WindowSketchRow.id, WindowSketchRow.columns).where(WindowSketchRow.id.in_(ids))
        ).all()
        return {row_id: dict(columns) for row_id, columns in rows}


def add_sketch(
    session: Session,
    *,
    monitor_id: int,
    run_id: int,
    reference_key: str,
    scheduled_for: datetime,
    window_start: datetime,
    window_end: datetime,
    columns: Mapping[str, Any],
    keep: int,
) -> None:
    """Store a run's sketches and drop this monitor's rows older than the newest ``keep``."""
    session.add(
        WindowSketchRow(
            monitor_id=monitor_id,
            run_id=run_id,
            reference_key=reference_key,
            scheduled_for=scheduled_for,
            window_start=window_start,
            window_end=window_end,
            columns=dict(columns),
        )
    )
    session.flush()
    kept = (
        select(WindowSketchRow.id)
        .where(WindowSketchRow.monitor_id == monitor_id)
        .order_by(WindowSketchRow.scheduled_for.desc())
        .limit(keep)
        .scalar_subquery()
    )
    session.execute(
        delete(WindowSketchRow).where(
            WindowSketchRow.monitor_id == monitor_id, WindowSketchRow.id.not_in(kept)
        )
    )
