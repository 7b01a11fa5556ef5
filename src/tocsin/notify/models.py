from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tocsin.db import Base, IdMixin, TimestampMixin, UTCDateTime, enum_type


class SubscriberMode(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    WEBHOOK = "webhook"
    SLACK = "slack"
    DISCORD = "discord"
    TEAMS = "teams"


class SubscriberState(StrEnum):
    """Derived from the timestamps; `unsubscribed` wins over `quarantined` over the rest."""

    ACTIVE = "active"
    UNCONFIRMED = "unconfirmed"
    QUARANTINED = "quarantined"
    UNSUBSCRIBED = "unsubscribed"


class Subscriber(IdMixin, TimestampMixin, Base):
    """Someone to notify about a page, some of its components, or one incident.

    Only a SHA-256 digest of the subscriber's own token is kept: the token is 256-bit
    random, and is what manage/unsubscribe links will carry.
    """

    __tablename__ = "subscribers"
    __table_args__ = (
        Index("ix_subscribers_page_id_created_at", "page_id", "created_at"),
        Index("ix_subscribers_page_id_mode", "page_id", "mode"),
    )

    page_id: Mapped[str] = mapped_column(ForeignKey("pages.id", ondelete="CASCADE"))
    incident_id: Mapped[str | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    mode: Mapped[SubscriberMode] = mapped_column(enum_type(SubscriberMode, "mode"))
    email: Mapped[str | None] = mapped_column(String(254))
    endpoint: Mapped[str | None] = mapped_column(String(2048))
    phone_number: Mapped[str | None] = mapped_column(String(16))
    phone_country: Mapped[str | None] = mapped_column(String(2))
    # One row per destination and scope, enforced by the database whatever the address
    # length: a digest of (page, incident, mode, address). See service.subscription_key.
    subscription_key: Mapped[str] = mapped_column(String(64), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    skip_confirmation: Mapped[bool] = mapped_column(Boolean, default=False)
    confirmation_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    quarantined_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    purge_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failure_count: Mapped[int] = mapped_column(Integer, default=0)
    disabled_reason: Mapped[str | None] = mapped_column(String(255))

    # An explicit flag rather than "no component rows": deleting a subscriber's last
    # component must not widen their subscription to the whole page.
    all_components: Mapped[bool] = mapped_column(Boolean, default=True)
    components: Mapped[list[SubscriberComponent]] = relationship(
        cascade="all, delete-orphan", order_by="SubscriberComponent.component_id"
    )

    @property
    def state(self) -> SubscriberState:
        if self.unsubscribed_at is not None:
            return SubscriberState.UNSUBSCRIBED
        if self.quarantined_at is not None:
            return SubscriberState.QUARANTINED
        if self.confirmed_at is None:
            return SubscriberState.UNCONFIRMED
        return SubscriberState.ACTIVE

    @property
    def address(self) -> str:
        """Where notifications go: the email, the phone number or the endpoint URL."""
        if self.mode is SubscriberMode.SMS:
            return self.phone_number or ""
        if self.mode is SubscriberMode.EMAIL:
            return self.email or ""
        return self.endpoint or ""


class SubscriberComponent(Base):
    """A component or group the subscriber chose; a group covers whatever it holds when sending."""

    __tablename__ = "subscriber_components"

    subscriber_id: Mapped[str] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    )
    component_id: Mapped[str] = mapped_column(
        ForeignKey("components.id", ondelete="CASCADE"), primary_key=True, index=True
    )
