"""initial schema

Revision ID: c8ce81e68088
Revises:
Create Date: 2026-11-28 15:33:34.652371
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "c8ce81e68088"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pages",
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=True),
        sa.Column("domain", sa.String(length=253), nullable=True),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("logo_url", sa.String(length=2048), nullable=True),
        sa.Column("accent_color", sa.String(length=9), nullable=True),
        sa.Column("partial_outage_weight", sa.Float(), nullable=False),
        sa.Column("id", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pages")),
        sa.UniqueConstraint("domain", name=op.f("uq_pages_domain")),
    )
    op.create_table(
        "users",
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("id", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_table(
        "api_keys",
        sa.Column("user_id", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_keys_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_keys_user_id"), ["user_id"], unique=False)

    op.create_table(
        "audit_events",
        sa.Column("page_id", sa.String(length=12), nullable=True),
        sa.Column("user_id", sa.String(length=12), nullable=True),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("object_type", sa.String(length=32), nullable=False),
        sa.Column("object_id", sa.String(length=12), nullable=True),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.String(length=12), nullable=False),
        sa.ForeignKeyConstraint(
            ["page_id"],
            ["pages.id"],
            name=op.f("fk_audit_events_page_id_pages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_audit_events_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_audit_events_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            "ix_audit_events_page_id_created_at", ["page_id", "created_at"], unique=False
        )

    op.create_table(
        "components",
        sa.Column("page_id", sa.String(length=12), nullable=False),
        sa.Column("group_id", sa.String(length=12), nullable=True),
        sa.Column("is_group", sa.Boolean(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "operational",
                "under_maintenance",
                "degraded_performance",
                "partial_outage",
                "major_outage",
                name="status",
                native_enum=False,
                create_constraint=True,
                length=28,
            ),
            nullable=False,
        ),
        sa.Column("showcase", sa.Boolean(), nullable=False),
        sa.Column("only_show_if_degraded", sa.Boolean(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("id", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["components.id"],
            name=op.f("fk_components_group_id_components"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["page_id"], ["pages.id"], name=op.f("fk_components_page_id_pages"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_components")),
    )
    with op.batch_alter_table("components", schema=None) as batch_op:
        batch_op.create_index(
            "ix_components_page_id_position", ["page_id", "position"], unique=False
        )

    op.create_table(
        "incident_templates",
        sa.Column("page_id", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column(
            "update_status",
            sa.Enum(
                "investigating",
                "identified",
                "monitoring",
                "resolved",
                "postmortem",
                "scheduled",
                "in_progress",
                "verifying",
                "completed",
                name="update_status",
                native_enum=False,
                create_constraint=True,
                length=21,
            ),
            nullable=False,
        ),
        sa.Column("should_send_notifications", sa.Boolean(), nullable=False),
        sa.Column("component_ids", sa.JSON(), nullable=False),
        sa.Column("id", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["page_id"],
            ["pages.id"],
            name=op.f("fk_incident_templates_page_id_pages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_templates")),
    )
    with op.batch_alter_table("incident_templates", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_incident_templates_page_id"), ["page_id"], unique=False
        )

    op.create_table(
        "incidents",
        sa.Column("page_id", sa.String(length=12), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "incident",
                "maintenance",
                name="kind",
                native_enum=False,
                create_constraint=True,
                length=19,
            ),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "investigating",
                "identified",
                "monitoring",
                "resolved",
                "postmortem",
                "scheduled",
                "in_progress",
                "verifying",
                "completed",
                name="status",
                native_enum=False,
                create_constraint=True,
                length=21,
            ),
            nullable=False,
        ),
        sa.Column(
            "impact",
            sa.Enum(
                "none",
                "maintenance",
                "minor",
                "major",
                "critical",
                name="impact",
                native_enum=False,
                create_constraint=True,
                length=19,
            ),
            nullable=False,
        ),
        sa.Column(
            "impact_override",
            sa.Enum(
                "none",
                "maintenance",
                "minor",
                "major",
                "critical",
                name="impact_override",
                native_enum=False,
                create_constraint=True,
                length=19,
            ),
            nullable=True,
        ),
        sa.Column("backfilled", sa.Boolean(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("monitoring_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("scheduled_for", sa.DateTime(timezone=True), nullable=True),
        sa.Column("scheduled_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("auto_start", sa.Boolean(), nullable=False),
        sa.Column("auto_end", sa.Boolean(), nullable=False),
        sa.Column("auto_components", sa.Boolean(), nullable=False),
        sa.Column("writeup_url", sa.String(length=2048), nullable=True),
        sa.Column("postmortem_body", sa.Text(), nullable=True),
        sa.Column("postmortem_body_draft", sa.Text(), nullable=True),
        sa.Column("postmortem_draft_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("postmortem_published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["page_id"], ["pages.id"], name=op.f("fk_incidents_page_id_pages"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
    )
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.create_index(
            "ix_incidents_page_id_kind_started_at", ["page_id", "kind", "started_at"], unique=False
        )

    op.create_table(
        "memberships",
        sa.Column("user_id", sa.String(length=12), nullable=False),
        sa.Column("page_id", sa.String(length=12), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "owner",
                "admin",
                "editor",
                "viewer",
                name="role",
                native_enum=False,
                create_constraint=True,
                length=14,
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["page_id"], ["pages.id"], name=op.f("fk_memberships_page_id_pages"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_memberships_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "page_id", name=op.f("pk_memberships")),
    )
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_memberships_page_id"), ["page_id"], unique=False)

    op.create_table(
        "component_status_changes",
        sa.Column("component_id", sa.String(length=12), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "operational",
                "under_maintenance",
                "degraded_performance",
                "partial_outage",
                "major_outage",
                name="status",
                native_enum=False,
                create_constraint=True,
                length=28,
            ),
            nullable=False,
        ),
        sa.Column(
            "previous_status",
            sa.Enum(
                "operational",
                "under_maintenance",
                "degraded_performance",
                "partial_outage",
                "major_outage",
                name="previous_status",
                native_enum=False,
                create_constraint=True,
                length=28,
            ),
            nullable=True,
        ),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "cause",
            sa.Enum(
                "manual",
                "incident",
                "maintenance",
                "monitor",
                name="cause",
                native_enum=False,
                create_constraint=True,
                length=19,
            ),
            nullable=False,
        ),
        sa.Column("incident_id", sa.String(length=12), nullable=True),
        sa.Column("id", sa.String(length=12), nullable=False),
        sa.ForeignKeyConstraint(
            ["component_id"],
            ["components.id"],
            name=op.f("fk_component_status_changes_component_id_components"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_component_status_changes_incident_id_incidents"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_component_status_changes")),
    )
    with op.batch_alter_table("component_status_changes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_component_status_changes_component_id_changed_at",
            ["component_id", "changed_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_component_status_changes_incident_id"), ["incident_id"], unique=False
        )

    op.create_table(
        "incident_components",
        sa.Column("incident_id", sa.String(length=12), nullable=False),
        sa.Column("component_id", sa.String(length=12), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "operational",
                "under_maintenance",
                "degraded_performance",
                "partial_outage",
                "major_outage",
                name="status",
                native_enum=False,
                create_constraint=True,
                length=28,
            ),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["component_id"],
            ["components.id"],
            name=op.f("fk_incident_components_component_id_components"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_components_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("incident_id", "component_id", name=op.f("pk_incident_components")),
    )
    with op.batch_alter_table("incident_components", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_incident_components_component_id"), ["component_id"], unique=False
        )

    op.create_table(
        "incident_updates",
        sa.Column("incident_id", sa.String(length=12), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "investigating",
                "identified",
                "monitoring",
                "resolved",
                "postmortem",
                "scheduled",
                "in_progress",
                "verifying",
                "completed",
                name="status",
                native_enum=False,
                create_constraint=True,
                length=21,
            ),
            nullable=False,
        ),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("display_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deliver_notifications", sa.Boolean(), nullable=False),
        sa.Column("id", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_updates_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_updates")),
    )
    with op.batch_alter_table("incident_updates", schema=None) as batch_op:
        batch_op.create_index(
            "ix_incident_updates_incident_id_display_at",
            ["incident_id", "display_at"],
            unique=False,
        )

    op.create_table(
        "incident_update_components",
        sa.Column("update_id", sa.String(length=12), nullable=False),
        sa.Column("component_id", sa.String(length=12), nullable=False),
        sa.Column(
            "old_status",
            sa.Enum(
                "operational",
                "under_maintenance",
                "degraded_performance",
                "partial_outage",
                "major_outage",
                name="old_status",
                native_enum=False,
                create_constraint=True,
                length=28,
            ),
            nullable=False,
        ),
        sa.Column(
            "new_status",
            sa.Enum(
                "operational",
                "under_maintenance",
                "degraded_performance",
                "partial_outage",
                "major_outage",
                name="new_status",
                native_enum=False,
                create_constraint=True,
                length=28,
            ),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["component_id"],
            ["components.id"],
            name=op.f("fk_incident_update_components_component_id_components"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["update_id"],
            ["incident_updates.id"],
            name=op.f("fk_incident_update_components_update_id_incident_updates"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "update_id", "component_id", name=op.f("pk_incident_update_components")
        ),
    )
    with op.batch_alter_table("incident_update_components", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_incident_update_components_component_id"), ["component_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("incident_update_components", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incident_update_components_component_id"))

    op.drop_table("incident_update_components")
    with op.batch_alter_table("incident_updates", schema=None) as batch_op:
        batch_op.drop_index("ix_incident_updates_incident_id_display_at")

    op.drop_table("incident_updates")
    with op.batch_alter_table("incident_components", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incident_components_component_id"))

    op.drop_table("incident_components")
    with op.batch_alter_table("component_status_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_component_status_changes_incident_id"))
        batch_op.drop_index("ix_component_status_changes_component_id_changed_at")

    op.drop_table("component_status_changes")
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_memberships_page_id"))

    op.drop_table("memberships")
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_index("ix_incidents_page_id_kind_started_at")

    op.drop_table("incidents")
    with op.batch_alter_table("incident_templates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incident_templates_page_id"))

    op.drop_table("incident_templates")
    with op.batch_alter_table("components", schema=None) as batch_op:
        batch_op.drop_index("ix_components_page_id_position")

    op.drop_table("components")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_page_id_created_at")
        batch_op.drop_index(batch_op.f("ix_audit_events_created_at"))

    op.drop_table("audit_events")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_keys_user_id"))

    op.drop_table("api_keys")
    op.drop_table("users")
    op.drop_table("pages")
