"""alert_transitions.run_id is indexed: runs list the alert changes they made

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 10:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_alert_transitions_run_id", "alert_transitions", ["run_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_alert_transitions_run_id", table_name="alert_transitions")
