"""What each run states about its reference, and the stored profiles of a moving reference.

A run records the reference it was tested against in its own transaction:
the key its profile is stored under, the kind, where its rows came from
and, for a period of the source, that period. So a run's verdict can be
traced to its reference after the reference has moved on (``trailing``)
or the profile has been pruned.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.orm import Session

from monitor.store.models import ProfileRow, RunRow


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


@dataclass(frozen=True)
class RunReference:
    """The reference one run used: its profile's key, kind, origin and period (if any)."""

    key: str
    type: str
    origin: str
    start: datetime | None = None
    end: datetime | None = None

    def summary(self) -> str:
        """One short line: the kind, the period if any, and the profile's key (12 digits).

        >>> RunReference("c416" * 16, "trailing", "...", datetime(2026, 2, 9, tzinfo=UTC),
        ...              datetime(2026, 3, 9, tzinfo=UTC)).summary()
        'trailing 2026-02-09 00:00 .. 2026-03-09 00:00 (c416c416c416)'
        >>> RunReference("c416" * 16, "file", "the files ref.parquet").summary()
        'file (c416c416c416)'
        """
        period = ""
        if self.start is not None and self.end is not None:
            shown = "%Y-%m-%d %H:%M"
            start, end = self.start.astimezone(UTC), self.end.astimezone(UTC)
            period = f" {start.strftime(shown)} .. {end.strftime(shown)}"
        return f"{self.type}{period} ({self.key[:12]})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "type": self.type,
            "origin": self.origin,
            "start": _iso(self.start),
            "end": _iso(self.end),
        }


def record_reference(session: Session, run_id: int, reference: RunReference) -> None:
    """Store on the run, in the run's transaction, the reference it was tested against."""
    session.execute(
        update(RunRow)
        .where(RunRow.id == run_id)
        .values(
            reference_key=reference.key,
            reference_type=reference.type,
            reference_origin=reference.origin,
            reference_start=reference.start,
            reference_end=reference.end,
        )
    )


def stored_reference(
    key: str | None,
    kind: str | None,
    origin: str | None,
    start: datetime | None,
    end: datetime | None,
) -> RunReference | None:
    """The reference read back from a run's columns; None for a run that states none.

    Failed runs, and runs stored before runs stated their reference, state none.
    """
    if key is None or kind is None or origin is None:
        return None
    return RunReference(key, kind, origin, start, end)


def profile_stored(engine: Engine, monitor_id: int, reference_key: str) -> bool:
    """Whether a profile is stored under the key, without reading the profile."""
    with Session(engine) as session:
        found = session.scalar(
            select(ProfileRow.id).where(
                ProfileRow.monitor_id == monitor_id, ProfileRow.reference_key == reference_key
            )
        )
        return found is not None


def prune_profiles(engine: Engine, monitor_id: int, keep: int) -> int:
    """Delete the monitor's stored profiles but the newest ``keep``; returns how many went."""
    with Session(engine) as session, session.begin():
        kept = list(
            session.scalars(
                select(ProfileRow.id)
                .where(ProfileRow.monitor_id == monitor_id)
                .order_by(ProfileRow.created_at.desc(), ProfileRow.id.desc())
                .limit(keep)
            )
        )
        deleted = session.execute(
            delete(ProfileRow).where(
                ProfileRow.monitor_id == monitor_id, ProfileRow.id.not_in(kept)
            )
        )
        return int(deleted.rowcount)  # type: ignore[attr-defined]
