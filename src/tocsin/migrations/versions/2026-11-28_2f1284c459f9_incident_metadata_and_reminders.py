"""incident metadata and reminders

Revision ID: 2f1284c459f9
Revises: c8ce81e68088
Create Date: 2026-11-28 15:57:56.878958
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "2f1284c459f9"
down_revision = "c8ce81e68088"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "scheduled_remind_prior", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
        batch_op.add_column(
            sa.Column("scheduled_reminded_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("metadata", sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
        )


def downgrade() -> None:
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_column("metadata")
        batch_op.drop_column("scheduled_reminded_at")
        batch_op.drop_column("scheduled_remind_prior")
