"""runs.reference_*: each run states the reference it was tested against

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Runs stored before keep NULLs: they state no reference.
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reference_key", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("reference_type", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("reference_origin", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("reference_start", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("reference_end", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_column("reference_end")
        batch_op.drop_column("reference_start")
        batch_op.drop_column("reference_origin")
        batch_op.drop_column("reference_type")
        batch_op.drop_column("reference_key")
