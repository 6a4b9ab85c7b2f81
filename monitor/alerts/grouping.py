"""What each receiver is told after a run: one message per (monitor, receiver) at most.

Alerts of one monitor that go to the same receiver form a group, as in
Alertmanager: the group fires when its first alert fires, sends again when
its set of firing alerts changes or its repeat interval passes, and resolves
when none is firing. So one run that fires three rules sends one message to
each receiver, not three. Silenced alerts keep a group from resolving but
never make it send.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from monitor.alerts.event import Occasion, Severity
from monitor.vocabulary import GroupStatus

_SEVERITY_ORDER: dict[Severity, int] = {"critical": 0, "error": 1, "warning": 2, "info": 3}


@dataclass(frozen=True)
class Member:
    """One firing alert of the group, as of this run."""

    rule: str
    rule_type: str
    severity: Severity
    silenced: bool
    repeat_interval: timedelta | None
    labels: dict[str, str]


@dataclass(frozen=True)
class Group:
    """Stored notification state of one (monitor, receiver)."""

    fingerprint: str
    status: GroupStatus
    episode: int
    members: tuple[str, ...]
    started_at: datetime | None
    last_sent_at: datetime | None
    sent: int

    @classmethod
    def new(cls, fingerprint: str) -> Group:
        return cls(fingerprint, "inactive", 0, (), None, None, 0)


@dataclass(frozen=True)
class Notice:
    """A message to send: the group after sending, why, and the alert it leads with."""

    group: Group
    occasion: Occasion
    lead: Member | None
    members: tuple[Member, ...]


def group_fingerprint(monitor: str, receiver: str) -> str:
    return hashlib.sha256(f"{monitor}\x00{receiver}".encode()).hexdigest()[:32]


def _lead(members: Sequence[Member]) -> Member:
    return min(members, key=lambda m: (_SEVERITY_ORDER[m.severity], m.rule))


def next_notice(
    group: Group, firing: Sequence[Member], now: datetime, refresh: bool = False
) -> Notice | None:
    """The message this run owes the receiver, if any.

    ``refresh`` receivers (Alertmanager) forget a firing alert unless it is
    re-sent, so they get a "repeat" on every run while the group fires.

    >>> from datetime import UTC, datetime
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> drift = Member("drift", "dataset_drift", "warning", False, None, {})
    >>> notice = next_notice(Group.new("g"), [drift], t)
    >>> notice.occasion, notice.group.episode, next_notice(notice.group, [drift], t)
    ('first', 1, None)
    >>> next_notice(notice.group, [], t).occasion
    'resolved'
    """
    audible = [m for m in firing if not m.silenced]
    names = tuple(sorted(m.rule for m in audible))
    if audible:
        if group.status != "firing":
            occasion: Occasion = "first"
            group = replace(group, status="firing", episode=group.episode + 1, started_at=now)
        elif names != group.members:
            occasion = "changed"
        elif refresh or _repeat_due(group, audible, now):
            occasion = "repeat"
        else:
            return None
        sent = replace(group, members=names, last_sent_at=now, sent=group.sent + 1)
        return Notice(sent, occasion, _lead(audible), tuple(audible))
    if firing or group.status != "firing":
        return None
    resolved = replace(group, status="resolved", members=(), last_sent_at=now, sent=group.sent + 1)
    return Notice(resolved, "resolved", None, ())


def _repeat_due(group: Group, members: Sequence[Member], now: datetime) -> bool:
    intervals = [m.repeat_interval for m in members if m.repeat_interval is not None]
    if not intervals or group.last_sent_at is None:
        return False
    return now - group.last_sent_at >= min(intervals)
