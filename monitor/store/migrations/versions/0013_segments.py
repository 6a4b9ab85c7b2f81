"""results.segment and runs.segments: drift per segment (monitor.segments)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 21:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Results stored before are the whole window's (NULL); runs before tested no segment.
    with op.batch_alter_table("results", schema=None) as batch_op:
        batch_op.add_column(sa.Column("segment", sa.String(length=320), nullable=True))
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("segments", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_column("segments")
    with op.batch_alter_table("results", schema=None) as batch_op:
        batch_op.drop_column("segment")
