"""publish targets

Revision ID: 0f380af4a977
Revises: 483b60e438bc
Create Date: 2026-11-28 17:04:06.672835
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0f380af4a977"
down_revision = "483b60e438bc"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "publish_targets",
        sa.Column("page_id", sa.String(length=12), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "dir",
                "s3",
                name="publish_target_kind",
                native_enum=False,
                create_constraint=True,
                length=11,
            ),
            nullable=False,
        ),
        sa.Column("config", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("published_version", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["page_id"],
            ["pages.id"],
            name=op.f("fk_publish_targets_page_id_pages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_publish_targets")),
    )
    with op.batch_alter_table("publish_targets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_publish_targets_page_id"), ["page_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("publish_targets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_publish_targets_page_id"))

    op.drop_table("publish_targets")
