from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tocsin.db import Base, IdMixin, TimestampMixin, UTCDateTime, enum_type, utcnow


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


class NotificationKind(StrEnum):
    INCIDENT_CREATED = "incident_created"
    INCIDENT_UPDATED = "incident_updated"
    INCIDENT_RESOLVED = "incident_resolved"
    WRITEUP_PUBLISHED = "writeup_published"
    MAINTENANCE_SCHEDULED = "maintenance_scheduled"
    MAINTENANCE_STARTED = "maintenance_started"
    MAINTENANCE_UPDATED = "maintenance_updated"
    MAINTENANCE_COMPLETED = "maintenance_completed"
    MAINTENANCE_REMINDER = "maintenance_reminder"
    CONFIRM_SUBSCRIPTION = "confirm_subscription"


class Notification(IdMixin, Base):
    """One thing to tell subscribers, with a snapshot of what to say.

    The payload is frozen when the change is made, so a retry a day later sends the
    same words even if the incident has been edited since.
    """

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_page_id_created_at", "page_id", "created_at"),)

    page_id: Mapped[str] = mapped_column(ForeignKey("pages.id", ondelete="CASCADE"))
    incident_id: Mapped[str | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"), index=True
    )
    update_id: Mapped[str | None] = mapped_column(String(12))
    kind: Mapped[NotificationKind] = mapped_column(enum_type(NotificationKind, "kind"))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class Delivery(Base):
    """One notification to one subscriber: the outbox row a worker claims, sends and records."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("notification_id", "subscriber_id"),
        Index("ix_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_deliveries_notification_id_status", "notification_id", "status"),
        Index("ix_deliveries_subscriber_id", "subscriber_id"),
    )

    # An integer key: a fan-out inserts its rows with one INSERT … SELECT, so the
    # database must be able to number them.
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    notification_id: Mapped[str] = mapped_column(ForeignKey("notifications.id", ondelete="CASCADE"))
    subscriber_id: Mapped[str] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    status: Mapped[DeliveryStatus] = mapped_column(
        enum_type(DeliveryStatus, "status"), default=DeliveryStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(500))
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def idempotency_key(self) -> str:
        """The same for every attempt, so receivers can drop duplicates."""
        return f"{self.notification_id}.{self.subscriber_id}"
