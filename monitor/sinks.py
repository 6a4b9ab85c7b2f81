"""Sink messages: every completed run, as sinks (MLflow) receive it through the outbox."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from detectors import ColumnResult, finite_or_none
from detectors.performance import ESTIMATED_PREFIX
from monitor.config import MonitorSettings
from monitor.store.installation import installation_id
from monitor.store.outbox import add_outbox
from monitor.store.performance import WindowPerformance
from monitor.store.references import RunReference
from monitor.store.runs import Claim
from monitor.vocabulary import RunStatus

RUN_COMPLETED = "run.completed"
"""The event type of the message every sink gets for a succeeded or empty run."""


@dataclass(frozen=True)
class RunCompleted:
    """A completed run as sinks receive it: the decision and every result's statistics."""

    monitor: str
    run_id: int
    finished_at: datetime
    status: RunStatus
    drifted: bool
    results: Sequence[ColumnResult]
    reference: RunReference
    """The reference the run was tested against (its key, kind, origin and period)."""
    performance: Sequence[WindowPerformance] = ()
    """The windows whose performance the run evaluated: its own, and past ones it backfilled."""

    def to_payload(self) -> dict[str, Any]:
        """The outbox payload: JSON-safe, with null for a statistic that is not finite."""
        return {
            "monitor": self.monitor,
            "run_id": self.run_id,
            "finished_at": self.finished_at.isoformat(),
            "status": self.status,
            "drifted": self.drifted,
            "reference": self.reference.to_dict(),
            "results": [
                {
                    "column": r.column,
                    "method": r.method,
                    "statistic": finite_or_none(r.statistic),
                    "p_value": finite_or_none(r.p_value),
                    "p_value_adjusted": finite_or_none(r.p_value_adjusted),
                    "drifted": r.drifted,
                }
                for r in self.results
            ],
            "performance": [performance_payload(window) for window in self.performance],
        }


def performance_payload(window: WindowPerformance) -> dict[str, Any]:
    """One window's evaluated metrics, realized and estimated, with its label coverage."""
    coverage = window.coverage
    return {
        "window_start": window.window_start.isoformat(),
        "window_end": window.window_end.isoformat(),
        "window_run_id": window.window_run_id,
        "coverage": finite_or_none(coverage.share),
        "n_predictions": coverage.n_predictions,
        "n_labelled": coverage.n_labelled,
        "final": window.final,
        "metrics": [
            {
                "metric": r.method.removeprefix(ESTIMATED_PREFIX),
                "kind": "estimated" if estimated else "realized",
                "value": finite_or_none(r.statistic),
                "reference_value": finite_or_none(r.details.get("reference_value")),
                "lower": finite_or_none(r.details.get("lower")),
                "upper": finite_or_none(r.details.get("upper")),
                "degraded": r.drifted,
                "status": r.status,
            }
            for estimated, results in ((False, window.realized), (True, window.estimated))
            for r in results
        ],
    }


def sink_message_id(installation: str, run_id: int, sink: str) -> str:
    """One message per run and sink, stable across retries; a fresh store's run ids
    start again at 1, so the store's ``installation`` id keeps its messages apart."""
    key = f"{RUN_COMPLETED}:{installation}:{run_id}:{sink}"
    return "run_" + hashlib.sha256(key.encode()).hexdigest()[:32]


def queue_sink_messages(
    session: Session,
    now: datetime,
    monitor: MonitorSettings,
    claim: Claim,
    status: RunStatus,
    drifted: bool,
    results: Sequence[ColumnResult],
    reference: RunReference,
    performance: Sequence[WindowPerformance] = (),
) -> None:
    """Queue one ``run.completed`` message per sink of the monitor, in the run's transaction."""
    if not monitor.sinks:
        return
    payload = RunCompleted(
        monitor.name, claim.run_id, now, status, drifted, results, reference, performance
    ).to_payload()
    installation = installation_id(session)
    for sink in monitor.sinks:
        add_outbox(
            session,
            message_id=sink_message_id(installation, claim.run_id, sink),
            receiver=sink,
            event_type=RUN_COMPLETED,
            payload=payload,
            run_id=claim.run_id,
            now=now,
        )
