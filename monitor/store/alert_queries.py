"""Read-only views of the alerts: where each rule stands, and the changes runs made.

Like ``queries``, every function returns frozen dataclasses and issues a
fixed number of queries. ``rules`` narrows a listing to (monitor, rule)
pairs: the API and the CLI pass the rules the config has now, since a rule
taken out of the config is stepped by no run and would stand still forever.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from typing import Any

from sqlalchemy import ColumnElement, Engine, Select, and_, false, func, or_, select
from sqlalchemy.orm import Session

from monitor.store.models import AlertRow, AlertTransitionRow, MonitorRow
from monitor.vocabulary import AlertState

RuleKey = tuple[str, str]
"""(monitor, rule): one alert."""


@dataclass(frozen=True)
class AlertView:
    """One rule's alert now; ``run_id`` is the run of its last change (None: it never changed,
    or that run was pruned)."""

    monitor: str
    rule: str
    state: AlertState
    since: datetime
    started_at: datetime | None
    episode: int
    run_id: int | None


@dataclass(frozen=True)
class TransitionView:
    """One change of one alert, made by the run ``run_id``."""

    monitor: str
    rule: str
    from_state: AlertState
    to_state: AlertState
    at: datetime
    run_id: int

    def change(self) -> dict[str, Any]:
        """The change alone, as a run lists it: ``{"rule", "from", "to"}``."""
        return {"rule": self.rule, "from": self.from_state, "to": self.to_state}


_TRANSITION_COLUMNS = (
    MonitorRow.name,
    AlertRow.rule,
    AlertTransitionRow.from_state,
    AlertTransitionRow.to_state,
    AlertTransitionRow.at,
    AlertTransitionRow.run_id,
)


def _among(rules: Collection[RuleKey]) -> ColumnElement[bool]:
    pairs = sorted(rules)
    if not pairs:
        return false()
    return or_(
        *(
            and_(MonitorRow.name == monitor, AlertRow.rule.in_([rule for _, rule in group]))
            for monitor, group in groupby(pairs, key=lambda pair: pair[0])
        )
    )


def _scope(rules: Collection[RuleKey], monitor: str | None) -> list[ColumnElement[bool]]:
    """Conditions on ``MonitorRow`` and ``AlertRow``: among ``rules``, of ``monitor`` if given."""
    among = [_among(rules)]
    return among if monitor is None else [*among, MonitorRow.name == monitor]


def current_alerts(
    engine: Engine, rules: Collection[RuleKey], monitor: str | None, state: AlertState | None
) -> list[AlertView]:
    """Every alert among ``rules`` (of ``monitor``, in ``state``), by monitor and rule."""
    last_change = (
        select(AlertTransitionRow.alert_id, func.max(AlertTransitionRow.id).label("transition_id"))
        .group_by(AlertTransitionRow.alert_id)
        .subquery()
    )
    conditions = _scope(rules, monitor)
    if state is not None:
        conditions.append(AlertRow.state == state)
    query = (
        select(
            MonitorRow.name,
            AlertRow.rule,
            AlertRow.state,
            AlertRow.since,
            AlertRow.started_at,
            AlertRow.episode,
            AlertTransitionRow.run_id,
        )
        .join(MonitorRow, MonitorRow.id == AlertRow.monitor_id)
        .outerjoin(last_change, last_change.c.alert_id == AlertRow.id)
        .outerjoin(AlertTransitionRow, AlertTransitionRow.id == last_change.c.transition_id)
        .where(*conditions)
        .order_by(MonitorRow.name, AlertRow.rule)
    )
    with Session(engine) as session:
        return [AlertView(*row) for row in session.execute(query)]


def _transitions(*conditions: ColumnElement[bool]) -> Select[*tuple[Any, ...]]:
    return (
        select(*_TRANSITION_COLUMNS)
        .join(AlertRow, AlertRow.id == AlertTransitionRow.alert_id)
        .join(MonitorRow, MonitorRow.id == AlertRow.monitor_id)
        .where(*conditions)
    )


def recent_transitions(
    engine: Engine,
    rules: Collection[RuleKey],
    monitor: str | None,
    state: AlertState | None,
    limit: int,
) -> list[TransitionView]:
    """The last ``limit`` changes among ``rules`` (into ``state``), newest first."""
    conditions = _scope(rules, monitor)
    if state is not None:
        conditions.append(AlertTransitionRow.to_state == state)
    query = _transitions(*conditions).order_by(AlertTransitionRow.id.desc()).limit(limit)
    with Session(engine) as session:
        return [TransitionView(*row) for row in session.execute(query)]


def run_transitions(session: Session, run_ids: Iterable[int]) -> dict[int, list[TransitionView]]:
    """The alert changes each of ``run_ids`` made, in the order it made them."""
    ids = list(run_ids)
    if not ids:
        return {}
    query = _transitions(AlertTransitionRow.run_id.in_(ids)).order_by(
        AlertTransitionRow.run_id, AlertTransitionRow.id
    )
    changes: dict[int, list[TransitionView]] = {}
    for row in session.execute(query):
        view = TransitionView(*row)
        changes.setdefault(view.run_id, []).append(view)
    return changes
