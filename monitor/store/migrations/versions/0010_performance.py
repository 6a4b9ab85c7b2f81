"""performance_results: each window's realized and estimated metrics, backfilled as labels arrive

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 20:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    when = sa.DateTime(timezone=True)
    op.create_table(
        "performance_results",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "monitor_id",
            sa.Integer(),
            sa.ForeignKey("monitors.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "window_run_id",
            sa.Integer(),
            sa.ForeignKey("runs.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "evaluated_run_id",
            sa.Integer(),
            sa.ForeignKey("runs.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("scheduled_for", when, nullable=False),
        sa.Column("window_start", when, nullable=False),
        sa.Column("window_end", when, nullable=False),
        sa.Column("column", sa.String(200), nullable=False),
        sa.Column("method", sa.String(50), nullable=False),
        sa.Column("metric", sa.String(50), nullable=False),
        sa.Column("estimated", sa.Boolean(), nullable=False),
        sa.Column("statistic", sa.Float(), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("degraded", sa.Boolean(), nullable=False),
        sa.Column("effect", sa.Float(), nullable=True),
        sa.Column("effect_floor", sa.Float(), nullable=True),
        sa.Column("n_reference", sa.Integer(), nullable=False),
        sa.Column("n_current", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(30), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("coverage", sa.Float(), nullable=True),
        sa.Column("n_predictions", sa.Integer(), nullable=False),
        sa.Column("n_labelled", sa.Integer(), nullable=True),
        sa.Column("evaluated_at", when, nullable=False),
        sa.Column("checked_at", when, nullable=False),
        sa.Column("latest", sa.Boolean(), nullable=False),
        sa.Column("final", sa.Boolean(), nullable=False),
    )
    op.create_index(
        "ix_performance_monitor_latest",
        "performance_results",
        ["monitor_id", "latest", "window_end"],
    )
    op.create_index("ix_performance_window_run", "performance_results", ["window_run_id"])
    op.create_index("ix_performance_evaluated_run", "performance_results", ["evaluated_run_id"])


def downgrade() -> None:
    op.drop_index("ix_performance_evaluated_run", table_name="performance_results")
    op.drop_index("ix_performance_window_run", table_name="performance_results")
    op.drop_index("ix_performance_monitor_latest", table_name="performance_results")
    op.drop_table("performance_results")
