"""The store's installation id (``InstallationRow``), read inside the caller's transaction."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.store.models import InstallationRow


def installation_id(session: Session) -> str:
    """The random id migration 0008 gave this store; the same for every replica sharing it."""
    return session.execute(
        select(InstallationRow.installation_id).where(InstallationRow.id == 1)
    ).scalar_one()
