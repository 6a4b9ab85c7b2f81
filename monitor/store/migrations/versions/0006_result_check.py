"""results.kind is results.check: which check a result comes from, not a column's kind

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("results", schema=None) as batch_op:
        batch_op.alter_column(
            "kind", new_column_name="check", existing_type=sa.String(20), existing_nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("results", schema=None) as batch_op:
        batch_op.alter_column(
            "check", new_column_name="kind", existing_type=sa.String(20), existing_nullable=False
        )
