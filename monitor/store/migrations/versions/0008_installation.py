"""installation: the store's random identity, mixed into message ids and idempotency keys

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 10:00:00
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    installation = op.create_table(
        "installation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("installation_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_installation_one_row"),
        sa.PrimaryKeyConstraint("id"),
    )
    # Written once, here. Of two replicas upgrading one store at the same time,
    # the second fails on the existing table (or on id 1): never two identities.
    op.bulk_insert(
        installation,
        [{"id": 1, "installation_id": uuid.uuid4().hex, "created_at": datetime.now(UTC)}],
    )


def downgrade() -> None:
    op.drop_table("installation")
