"""subscribers

Revision ID: b09051577937
Revises: 2f1284c459f9
Create Date: 2026-11-28 16:04:00.052848
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "b09051577937"
down_revision = "2f1284c459f9"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subscribers",
        sa.Column("page_id", sa.String(length=12), nullable=False),
        sa.Column("incident_id", sa.String(length=12), nullable=True),
        sa.Column(
            "mode",
            sa.Enum(
                "email",
                "sms",
                "webhook",
                "slack",
                "discord",
                "teams",
                name="mode",
                native_enum=False,
                create_constraint=True,
                length=15,
            ),
            nullable=False,
        ),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("endpoint", sa.String(length=2048), nullable=True),
        sa.Column("phone_number", sa.String(length=16), nullable=True),
        sa.Column("phone_country", sa.String(length=2), nullable=True),
        sa.Column("subscription_key", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("skip_confirmation", sa.Boolean(), nullable=False),
        sa.Column("confirmation_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("quarantined_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("unsubscribed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("purge_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failure_count", sa.Integer(), nullable=False),
        sa.Column("disabled_reason", sa.String(length=255), nullable=True),
        sa.Column("all_components", sa.Boolean(), nullable=False),
        sa.Column("id", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_subscribers_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["page_id"], ["pages.id"], name=op.f("fk_subscribers_page_id_pages"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscribers")),
        sa.UniqueConstraint("subscription_key", name=op.f("uq_subscribers_subscription_key")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_subscribers_token_hash")),
    )
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_subscribers_incident_id"), ["incident_id"], unique=False
        )
        batch_op.create_index(
            "ix_subscribers_page_id_created_at", ["page_id", "created_at"], unique=False
        )
        batch_op.create_index("ix_subscribers_page_id_mode", ["page_id", "mode"], unique=False)

    op.create_table(
        "subscriber_components",
        sa.Column("subscriber_id", sa.String(length=12), nullable=False),
        sa.Column("component_id", sa.String(length=12), nullable=False),
        sa.ForeignKeyConstraint(
            ["component_id"],
            ["components.id"],
            name=op.f("fk_subscriber_components_component_id_components"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_subscriber_components_subscriber_id_subscribers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "subscriber_id", "component_id", name=op.f("pk_subscriber_components")
        ),
    )
    with op.batch_alter_table("subscriber_components", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_subscriber_components_component_id"), ["component_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("subscriber_components", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subscriber_components_component_id"))

    op.drop_table("subscriber_components")
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.drop_index("ix_subscribers_page_id_mode")
        batch_op.drop_index("ix_subscribers_page_id_created_at")
        batch_op.drop_index(batch_op.f("ix_subscribers_incident_id"))

    op.drop_table("subscribers")
