"""rate limits

Revision ID: 45a382906be9
Revises: 54dec8e95f7c
Create Date: 2026-11-28 16:28:25.354379
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "45a382906be9"
down_revision = "54dec8e95f7c"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_limits",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("busy_until", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rate_limits")),
    )
    with op.batch_alter_table("rate_limits", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rate_limits_busy_until"), ["busy_until"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("rate_limits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rate_limits_busy_until"))

    op.drop_table("rate_limits")
