"""`driftwarden deliveries list|replay`: what operators see of the outbox, and re-sending.

Nothing shown here holds a secret: rows carry no URL or header, and
``last_error`` was redacted when it was written.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import Engine

from monitor.store.outbox import (
    MessageNotFound,
    NotReplayable,
    OutboxView,
    Status,
    list_outbox,
    replay,
)

__all__ = ["DeliveryAdminError", "list_deliveries", "render", "replay_delivery"]


class DeliveryAdminError(Exception):
    """The operator's request cannot be done; the message says why (exit code 2)."""


def list_deliveries(engine: Engine, status: Status | None, limit: int) -> list[OutboxView]:
    if limit < 1:
        raise DeliveryAdminError(f"--limit must be at least 1, got {limit}")
    return list_outbox(engine, status, limit)


def replay_delivery(engine: Engine, key: str, now: datetime) -> OutboxView:
    try:
        return replay(engine, key, now)
    except (MessageNotFound, NotReplayable) as exc:
        raise DeliveryAdminError(str(exc)) from None


def _when(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S}Z" if value is not None else "-"


def render(views: list[OutboxView], output_format: str) -> str:
    """JSON (one object per row) or an aligned text table, newest first."""
    if output_format == "json":
        return json.dumps([view.to_dict() for view in views], indent=2)
    if not views:
        return "no deliveries"
    header = (
        f"{'id':>6}  {'message_id':<36}  {'receiver':<16}  {'event_type':<18}  "
        f"{'status':<9}  {'att':>3}  {'created_at':<20}  {'next_attempt_at':<20}  last_error"
    )
    lines = [header]
    for view in views:
        lines.append(
            f"{view.id:>6}  {view.message_id:<36}  {view.receiver:<16}  {view.event_type:<18}  "
            f"{view.status:<9}  {view.attempts:>3}  {_when(view.created_at):<20}  "
            f"{_when(view.next_attempt_at):<20}  {view.last_error or ''}"
        )
    return "\n".join(lines)
