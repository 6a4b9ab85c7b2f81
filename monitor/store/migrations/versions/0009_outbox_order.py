"""outbox.group_key and outbox.supersedable: messages of one alert group are sent in order

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_outbox = sa.table(
    "outbox",
    sa.column("id", sa.Integer()),
    sa.column("event_type", sa.String()),
    sa.column("status", sa.String()),
    sa.column("payload", sa.JSON()),
    sa.column("group_key", sa.String()),
    sa.column("supersedable", sa.Boolean()),
)


def upgrade() -> None:
    # Plain ADD COLUMN on SQLite too: rebuilding the table would cascade its
    # delete to delivery_attempts.
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("group_key", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("supersedable", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.create_index("ix_outbox_group", ["group_key", "status"], unique=False)
    # Messages still on their way join their alert group, so they too go in order.
    connection = op.get_bind()
    unfinished = connection.execute(
        sa.select(_outbox.c.id, _outbox.c.payload).where(
            _outbox.c.status.in_(("pending", "sending")), _outbox.c.event_type.like("alert.%")
        )
    ).all()
    for row_id, payload in unfinished:
        connection.execute(
            sa.update(_outbox)
            .where(_outbox.c.id == row_id)
            .values(
                group_key=payload["alert"]["fingerprint"],
                supersedable=payload.get("occasion") in ("changed", "repeat"),
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_group")
        batch_op.drop_column("supersedable")
        batch_op.drop_column("group_key")
