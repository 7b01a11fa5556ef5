from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tocsin.components.models import status_type
from tocsin.components.status import ComponentStatus
from tocsin.db import Base, IdMixin, TimestampMixin, UTCDateTime, enum_type, utcnow
from tocsin.incidents.status import Impact, IncidentKind, IncidentStatus


class Incident(IdMixin, TimestampMixin, Base):
    """A realtime incident or a scheduled maintenance; both share one id space, as in the APIs."""

    __tablename__ = "incidents"
    __table_args__ = (
        Index("ix_incidents_page_id_kind_started_at", "page_id", "kind", "started_at"),
    )

    page_id: Mapped[str] = mapped_column(ForeignKey("pages.id", ondelete="CASCADE"))
    kind: Mapped[IncidentKind] = mapped_column(enum_type(IncidentKind, "kind"))
    name: Mapped[str] = mapped_column(String(255))
    status: Mapped[IncidentStatus] = mapped_column(enum_type(IncidentStatus, "status"))
    impact: Mapped[Impact] = mapped_column(enum_type(Impact, "impact"), default=Impact.NONE)
    impact_override: Mapped[Impact | None] = mapped_column(enum_type(Impact, "impact_override"))
    backfilled: Mapped[bool] = mapped_column(Boolean, default=False)
    draft: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """Opened by a monitor for a human to publish: kept off every public view until then."""
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    monitoring_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    scheduled_for: Mapped[datetime | None] = mapped_column(UTCDateTime)
    scheduled_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    auto_start: Mapped[bool] = mapped_column(Boolean, default=True)
    auto_end: Mapped[bool] = mapped_column(Boolean, default=True)
    auto_components: Mapped[bool] = mapped_column(Boolean, default=True)

    scheduled_remind_prior: Mapped[bool] = mapped_column(Boolean, default=False)
    scheduled_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)

    writeup_url: Mapped[str | None] = mapped_column(String(2048))
    postmortem_body: Mapped[str | None] = mapped_column(Text)
    postmortem_body_draft: Mapped[str | None] = mapped_column(Text)
    postmortem_draft_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    postmortem_published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    updates: Mapped[list[IncidentUpdate]] = relationship(
        back_populates="incident",
        cascade="all, delete-orphan",
        order_by="IncidentUpdate.display_at.desc()",
    )
    components: Mapped[list[IncidentComponent]] = relationship(
        back_populates="incident",
        cascade="all, delete-orphan",
        order_by="IncidentComponent.component_id",
    )


class IncidentComponent(Base):
    """A component attached to an incident, and the status the incident currently asks of it."""

    __tablename__ = "incident_components"

    incident_id: Mapped[str] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    component_id: Mapped[str] = mapped_column(
        ForeignKey("components.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    status: Mapped[ComponentStatus | None] = mapped_column(status_type("status"))

    incident: Mapped[Incident] = relationship(back_populates="components")


class IncidentUpdate(IdMixin, TimestampMixin, Base):
    __tablename__ = "incident_updates"
    __table_args__ = (
        Index("ix_incident_updates_incident_id_display_at", "incident_id", "display_at"),
    )

    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    status: Mapped[IncidentStatus] = mapped_column(enum_type(IncidentStatus, "status"))
    body: Mapped[str] = mapped_column(Text, default="")
    display_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deliver_notifications: Mapped[bool] = mapped_column(Boolean, default=True)

    incident: Mapped[Incident] = relationship(back_populates="updates")
    # A fixed order, so the same data always renders to the same bytes (and ETag).
    changes: Mapped[list[UpdateComponentChange]] = relationship(
        back_populates="update",
        cascade="all, delete-orphan",
        order_by="UpdateComponentChange.component_id",
    )


class UpdateComponentChange(Base):
    """What an update did to a component: the status it found and the one it set."""

    __tablename__ = "incident_update_components"

    update_id: Mapped[str] = mapped_column(
        ForeignKey("incident_updates.id", ondelete="CASCADE"), primary_key=True
    )
    component_id: Mapped[str] = mapped_column(
        ForeignKey("components.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    old_status: Mapped[ComponentStatus] = mapped_column(status_type("old_status"))
    new_status: Mapped[ComponentStatus] = mapped_column(status_type("new_status"))

    update: Mapped[IncidentUpdate] = relationship(back_populates="changes")


class IncidentTemplate(IdMixin, TimestampMixin, Base):
    __tablename__ = "incident_templates"

    page_id: Mapped[str] = mapped_column(ForeignKey("pages.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text, default="")
    update_status: Mapped[IncidentStatus] = mapped_column(
        enum_type(IncidentStatus, "update_status"), default=IncidentStatus.INVESTIGATING
    )
    should_send_notifications: Mapped[bool] = mapped_column(Boolean, default=True)
    component_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
