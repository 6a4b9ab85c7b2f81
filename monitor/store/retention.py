"""Pruning: runs (with their results and transitions) and finished deliveries past retention."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from monitor.store.models import AlertRow, OutboxRow, RunRow
from monitor.store.outbox import UNFINISHED


@dataclass(frozen=True)
class Pruned:
    runs: int
    deliveries: int


def prune(engine: Engine, older_than: datetime) -> Pruned:
    """Delete what finished before ``older_than``; pending deliveries and live alerts stay.

    A run still referenced by an alert as its latest run is kept, so an
    alert's history always leads to the run that set its state.
    """
    with Session(engine) as session, session.begin():
        kept = select(AlertRow.last_run_id).where(AlertRow.last_run_id.is_not(None))
        old_runs = select(RunRow.id).where(
            RunRow.started_at < older_than, RunRow.status != "running", RunRow.id.not_in(kept)
        )
        run_ids = list(session.scalars(old_runs))
        deliveries = session.execute(
            delete(OutboxRow).where(
                OutboxRow.created_at < older_than, OutboxRow.status.not_in(UNFINISHED)
            )
        ).rowcount  # type: ignore[attr-defined]
        # Results and alert transitions go with their run (ON DELETE CASCADE).
        for start in range(0, len(run_ids), 500):
            session.execute(delete(RunRow).where(RunRow.id.in_(run_ids[start : start + 500])))
        return Pruned(runs=len(run_ids), deliveries=int(deliveries or 0))
