"""The lifecycle of one alert: inactive -> pending -> firing -> resolved, with hysteresis.

``for`` consecutive hits fire an alert and ``resolve_after`` consecutive
clears resolve it, so a column that flips between drifted and not on every
run neither pages nor resolves on every run.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from monitor.alerts.rules import Condition
from monitor.vocabulary import AlertState


@dataclass(frozen=True)
class Alert:
    """Stored state of one (monitor, rule)."""

    fingerprint: str
    state: AlertState
    hits: int
    clears: int
    episode: int
    since: datetime
    started_at: datetime | None

    @classmethod
    def new(cls, fingerprint: str, now: datetime) -> Alert:
        return cls(fingerprint, "inactive", 0, 0, 0, now, None)


def step(
    alert: Alert, condition: Condition, now: datetime, for_runs: int, resolve_after: int
) -> Alert:
    """The alert after one run's condition.

    >>> from datetime import UTC, datetime
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> a = Alert.new("f", t)
    >>> runs = ("hit", "hit", "clear", "hit", "clear", "clear")
    >>> [(a := step(a, c, t, 2, 2)).state for c in runs]
    ['pending', 'firing', 'firing', 'firing', 'firing', 'resolved']
    """
    if condition == "unknown":
        return alert
    if condition == "hit":
        hits, clears = alert.hits + 1, 0
        if alert.state == "firing":
            return replace(alert, hits=hits, clears=clears)
        if hits >= for_runs:
            return replace(
                alert,
                state="firing",
                hits=hits,
                clears=clears,
                episode=alert.episode + 1,
                since=now,
                started_at=now,
            )
        state: AlertState = "pending"
        since = alert.since if alert.state == "pending" else now
        return replace(alert, state=state, hits=hits, clears=clears, since=since)
    hits, clears = 0, alert.clears + 1
    if alert.state == "firing":
        if clears >= resolve_after:
            return replace(alert, state="resolved", hits=hits, clears=clears, since=now)
        return replace(alert, hits=hits, clears=clears)
    if alert.state == "pending":
        return replace(alert, state="inactive", hits=hits, clears=clears, since=now)
    return replace(alert, hits=hits, clears=clears)
