from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, Enum, ForeignKey, Index, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tocsin.components.status import ComponentStatus, StatusCause
from tocsin.db import Base, IdMixin, TimestampMixin, UTCDateTime, enum_type, utcnow


def status_type(name: str) -> Enum:
    """A portable string enum column for component statuses; `name` names its CHECK."""
    return enum_type(ComponentStatus, name)


class Component(IdMixin, TimestampMixin, Base):
    __tablename__ = "components"
    __table_args__ = (Index("ix_components_page_id_position", "page_id", "position"),)

    page_id: Mapped[str] = mapped_column(ForeignKey("pages.id", ondelete="CASCADE"))
    group_id: Mapped[str | None] = mapped_column(ForeignKey("components.id", ondelete="SET NULL"))
    is_group: Mapped[bool] = mapped_column(Boolean, default=False)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[ComponentStatus] = mapped_column(
        status_type("status"), default=ComponentStatus.OPERATIONAL
    )
    showcase: Mapped[bool] = mapped_column(Boolean, default=True)
    only_show_if_degraded: Mapped[bool] = mapped_column(Boolean, default=False)
    show_response_times: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    """Show a response-time sparkline and uptime from checks on the public page."""
    start_date: Mapped[date | None] = mapped_column(Date)

    children: Mapped[list[Component]] = relationship(
        back_populates="group", order_by="Component.position"
    )
    group: Mapped[Component | None] = relationship(
        back_populates="children", remote_side="Component.id"
    )


class StatusChange(IdMixin, Base):
    """A component entered `status` at `changed_at`; uptime is computed from these rows."""

    __tablename__ = "component_status_changes"
    __table_args__ = (
        Index("ix_component_status_changes_component_id_changed_at", "component_id", "changed_at"),
    )

    component_id: Mapped[str] = mapped_column(ForeignKey("components.id", ondelete="CASCADE"))
    status: Mapped[ComponentStatus] = mapped_column(status_type("status"))
    previous_status: Mapped[ComponentStatus | None] = mapped_column(status_type("previous_status"))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cause: Mapped[StatusCause] = mapped_column(enum_type(StatusCause, "cause"))
    incident_id: Mapped[str | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"), index=True
    )
