"""alert sources

Revision ID: 483b60e438bc
Revises: 352bffdc0ac5
Create Date: 2026-11-28 17:01:41.607953
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "483b60e438bc"
down_revision = "352bffdc0ac5"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_sources",
        sa.Column("page_id", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "alertmanager",
                "grafana",
                "generic",
                name="kind",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("token_digest", sa.String(length=64), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("id", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["page_id"],
            ["pages.id"],
            name=op.f("fk_alert_sources_page_id_pages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_sources")),
        sa.UniqueConstraint("token_digest", name=op.f("uq_alert_sources_token_digest")),
    )
    with op.batch_alter_table("alert_sources", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_sources_page_id"), ["page_id"], unique=False)

    with op.batch_alter_table("components", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "show_response_times", sa.Boolean(), server_default=sa.false(), nullable=False
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("components", schema=None) as batch_op:
        batch_op.drop_column("show_response_times")

    with op.batch_alter_table("alert_sources", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_sources_page_id"))

    op.drop_table("alert_sources")
