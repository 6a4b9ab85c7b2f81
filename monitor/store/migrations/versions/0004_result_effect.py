"""results.effect and results.effect_floor: why a significant column was or was not drift

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 22:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("results", schema=None) as batch_op:
        batch_op.add_column(sa.Column("effect", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("effect_floor", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("results", schema=None) as batch_op:
        batch_op.drop_column("effect_floor")
        batch_op.drop_column("effect")
