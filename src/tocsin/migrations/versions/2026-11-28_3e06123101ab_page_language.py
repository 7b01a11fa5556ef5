"""page language

Revision ID: 3e06123101ab
Revises: c4a5a6276a3d
Create Date: 2026-11-28 18:53:08.254254
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "3e06123101ab"
down_revision = "c4a5a6276a3d"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("language", sa.String(length=8), server_default="en", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("pages", schema=None) as batch_op:
        batch_op.drop_column("language")
