"""The suite's figures, computed from what the store holds and what receivers recorded.

Pure functions over plain records, so the arithmetic is tested on its own
(``test_figures.py``) and the suite only gathers the records:

- **runs lost**: slots of a healthy monitor due while the load ran that have
  no run row at all (never claimed: skipped, starved, or lost in an outage);
- **runs stuck**: run rows still ``running`` after the last daemon stopped;
- **redelivered (same id)**: a ``webhook-id`` answered 2xx more than once, the
  resend a receiver can de-duplicate; **duplicate events**: one event (monitor,
  run, type, episode) under more than one ``webhook-id``, which it cannot;
  **ids reused**: one ``webhook-id`` carrying different events;
- **out of order**: per (receiver, monitor), first deliveries in arrival order
  whose place in the outbox (its row id: the order the runs queued them) is
  behind one delivered before; **resolved before firing**: an episode's
  resolution delivered before its firing;
- **steady coverage**: the healthy monitor's slots in the steady phase, while
  the hung monitors exist, that succeeded in time: finished within
  ``ON_TIME_SECONDS`` of the slot (a slot caught up by a later daemon does not
  count); **late**: runs that started more than ``LATE_SECONDS`` (the default
  ``misfire_grace``) after their slot;
- **latency**: outbox ``created_at`` to the first 2xx arrival at the healthy
  receiver (p50, p95, max), over the whole load and the steady phase.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from monitor.schedule import parse_schedule
from monitor.scheduler import build_trigger, fire_times
from tests.reliability.servers import Arrival

FINISHED = ("succeeded", "empty", "failed")
ON_TIME_SECONDS = 4.0
LATE_SECONDS = 60.0
Phase = tuple[float, float]
"""(start, end] in wall-clock seconds."""


@dataclass(frozen=True)
class StoredRun:
    monitor: str
    scheduled_for: float
    status: str
    reason: str | None
    started_at: float
    finished_at: float | None


@dataclass(frozen=True)
class StoredMessage:
    id: int
    message_id: str
    receiver: str
    monitor: str
    created_at: float
    status: str


def due_slots(schedule: str, phase: Phase) -> list[float]:
    """The schedule's fire times in (start, end], as the daemon computes them.

    >>> due_slots("every 2s", (946684800.5, 946684806.0))
    [946684802.0, 946684804.0, 946684806.0]
    """
    trigger = build_trigger(parse_schedule(schedule))
    start = datetime.fromtimestamp(phase[0], UTC)
    end = datetime.fromtimestamp(phase[1], UTC) + timedelta(microseconds=1)
    return [slot.timestamp() for slot in fire_times(trigger, start, end) if slot > start]


def _on_time(run: StoredRun) -> bool:
    return (
        run.status in ("succeeded", "empty")
        and run.finished_at is not None
        and run.finished_at - run.scheduled_for <= ON_TIME_SECONDS
    )


def _inside(moment: float, phase: Phase) -> bool:
    return phase[0] < moment <= phase[1]


def run_figures(
    runs: Sequence[StoredRun],
    schedule: str,
    healthy: Sequence[str],
    hung: Sequence[str],
    load: Phase,
    phases: Mapping[str, Phase],
    steady_monitor: str,
) -> dict[str, Any]:
    """Slots due and run per monitor, lost slots per phase, stuck runs, steady coverage."""
    by_monitor: dict[str, dict[float, list[StoredRun]]] = defaultdict(lambda: defaultdict(list))
    for run in runs:
        by_monitor[run.monitor][run.scheduled_for].append(run)
    due = due_slots(schedule, load)
    monitors: dict[str, dict[str, int]] = {}
    lost_slots: list[float] = []
    for name in [*healthy, *hung]:
        slots = by_monitor[name]
        in_load = [run for slot in due for run in slots.get(slot, [])]
        statuses = Counter(run.status for run in in_load)
        lost = [slot for slot in due if slot not in slots]
        if name in healthy:
            lost_slots.extend(lost)
        monitors[name] = {
            "due": len(due),
            "lost": len(lost),
            **{status: statuses.get(status, 0) for status in (*FINISHED, "running")},
            "late": sum(1 for run in in_load if run.started_at - run.scheduled_for > LATE_SECONDS),
        }
    stuck = Counter(run.monitor for run in runs if run.status == "running")
    steady = phases.get("steady", load)
    steady_due = due_slots(schedule, steady)
    steady_ran = sum(
        1
        for slot in steady_due
        if any(_on_time(run) for run in by_monitor[steady_monitor].get(slot, []))
    )
    reasons = Counter(
        (run.reason or "")[:90] for run in runs if run.status == "failed" and run.monitor in healthy
    )
    return {
        "lost": len(lost_slots),
        "due": len(due) * len(healthy),
        "lost_by_phase": {
            name: sum(1 for slot in lost_slots if _inside(slot, phase))
            for name, phase in phases.items()
        },
        "stuck": sum(stuck.values()),
        "stuck_healthy": sum(stuck[name] for name in healthy),
        "stuck_hung": sum(stuck[name] for name in hung),
        "steady_monitor": steady_monitor,
        "steady_due": len(steady_due),
        "steady_ran": steady_ran,
        "per_monitor": monitors,
        "failed_reasons": dict(reasons.most_common(5)),
    }


def _event_key(arrival: Arrival) -> tuple[Any, ...]:
    alert = arrival.data.get("alert") or {}
    run = arrival.data.get("run") or {}
    return (arrival.data.get("monitor"), run.get("id"), arrival.event_type, alert.get("episode"))


def _accepted(arrivals: Iterable[Arrival]) -> list[Arrival]:
    return sorted((a for a in arrivals if 200 <= a.status < 300), key=lambda a: a.at)


def _first_per_id(accepted: Sequence[Arrival]) -> list[Arrival]:
    seen: set[str] = set()
    first = []
    for arrival in accepted:
        if arrival.webhook_id not in seen:
            seen.add(arrival.webhook_id)
            first.append(arrival)
    return first


def _order_figures(
    first: Sequence[Arrival], stored: Mapping[str, StoredMessage]
) -> tuple[int, int]:
    """(out of order, resolved before firing) over first deliveries in arrival order."""
    out_of_order = 0
    newest: dict[str, int] = {}
    for arrival in first:
        message = stored.get(arrival.webhook_id)
        if message is None:
            continue
        if message.id < newest.get(message.monitor, -1):
            out_of_order += 1
        newest[message.monitor] = max(message.id, newest.get(message.monitor, -1))
    resolved_first = 0
    seen_states: dict[tuple[Any, Any], set[str]] = defaultdict(set)
    for arrival in first:
        alert = arrival.data.get("alert") or {}
        episode = (arrival.data.get("monitor"), alert.get("episode"))
        state = str(alert.get("state"))
        if state == "firing" and "resolved" in seen_states[episode]:
            resolved_first += 1
        seen_states[episode].add(state)
    return out_of_order, resolved_first


def _latency(values: Sequence[float]) -> dict[str, float | int | None]:
    if not values:
        return {"n": 0, "p50": None, "p95": None, "max": None}
    array = np.asarray(values)
    return {
        "n": len(values),
        "p50": round(float(np.percentile(array, 50)), 3),
        "p95": round(float(np.percentile(array, 95)), 3),
        "max": round(float(array.max()), 3),
    }


def _created_at(arrival: Arrival, message: StoredMessage | None) -> float | None:
    if message is not None:
        return message.created_at
    try:
        return datetime.fromisoformat(arrival.timestamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def delivery_figures(
    receiver: str,
    arrivals: Sequence[Arrival],
    messages: Sequence[StoredMessage],
    load: Phase,
    steady: Phase,
) -> dict[str, Any]:
    """Duplicates, order, what never arrived and latency, for one recording receiver."""
    stored = {m.message_id: m for m in messages if m.receiver == receiver}
    accepted = _accepted(arrivals)
    first = _first_per_id(accepted)
    ids_per_event: dict[tuple[Any, ...], set[str]] = defaultdict(set)
    events_per_id: dict[str, set[tuple[Any, ...]]] = defaultdict(set)
    for arrival in accepted:
        ids_per_event[_event_key(arrival)].add(arrival.webhook_id)
        events_per_id[arrival.webhook_id].add(_event_key(arrival))
    out_of_order, resolved_first = _order_figures(first, stored)
    latencies: list[float] = []
    steady_latencies: list[float] = []
    for arrival in first:
        created = _created_at(arrival, stored.get(arrival.webhook_id))
        if created is None:
            continue
        latencies.append(arrival.at - created)
        if _inside(created, steady):
            steady_latencies.append(arrival.at - created)
    delivered_ids = {a.webhook_id for a in first}
    queued = [m for m in stored.values() if m.created_at <= load[1]]
    return {
        "requests": len(arrivals),
        "accepted": len(accepted),
        "messages_queued": len(queued),
        "messages_received": sum(1 for m in queued if m.message_id in delivered_ids),
        "never_received": sum(1 for m in queued if m.message_id not in delivered_ids),
        "still_pending": sum(1 for m in queued if m.status in ("pending", "sending")),
        "dead": sum(1 for m in queued if m.status == "dead"),
        "unknown_ids": sum(1 for a in first if a.webhook_id not in stored),
        "redelivered_same_id": len(accepted) - len(first),
        "duplicate_events": sum(len(ids) - 1 for ids in ids_per_event.values()),
        "ids_reused": sum(1 for events in events_per_id.values() if len(events) > 1),
        "out_of_order": out_of_order,
        "resolved_before_firing": resolved_first,
        "latency_s": _latency(latencies),
        "steady_latency_s": _latency(steady_latencies),
    }
