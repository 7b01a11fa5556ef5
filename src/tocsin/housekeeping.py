"""Pruning of rows that have served their purpose, run hourly by the worker and by
`tocsin prune`: each step is bounded and indexed-or-small, so it never stalls the loop."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, delete, exists, select
from sqlalchemy.orm import Session

from tocsin.accounts import signin
from tocsin.accounts.models import AccountEmail
from tocsin.lib import ratelimit
from tocsin.notify.models import Delivery, DeliveryStatus, Notification, Subscriber
from tocsin.settings import Settings

ACCOUNT_EMAILS_KEPT = timedelta(days=30)
INTERVAL = timedelta(hours=1)


@dataclass(frozen=True)
class Pruned:
    rate_limits: int
    sessions: int
    subscribers: int
    notifications: int
    account_emails: int

    def total(self) -> int:
        return (
            self.rate_limits
            + self.sessions
            + self.subscribers
            + self.notifications
            + self.account_emails
        )


def _count(result: Any) -> int:
    return int(result.rowcount or 0) if isinstance(result, CursorResult) else 0


def prune(session: Session, *, settings: Settings, now: datetime) -> Pruned:
    """Delete expired rate-limit buckets and sessions, subscribers whose grace period after
    unsubscribing ran out, finished notifications (with their delivery log) older than
    `TOCSIN_DELIVERY_RETENTION_DAYS`, and account emails sent long ago."""
    unfinished = exists().where(
        Delivery.notification_id == Notification.id,
        Delivery.status.in_([DeliveryStatus.PENDING, DeliveryStatus.SENDING]),
    )
    cutoff = now - timedelta(days=settings.delivery_retention_days)
    old_notifications = select(Notification.id).where(Notification.created_at < cutoff, ~unfinished)
    return Pruned(
        rate_limits=ratelimit.prune(session, now=now.timestamp()),
        sessions=signin.prune_sessions(session, now=now),
        subscribers=_count(
            session.execute(
                delete(Subscriber)
                .where(Subscriber.purge_at.is_not(None), Subscriber.purge_at <= now)
                .execution_options(synchronize_session=False)
            )
        ),
        notifications=_count(
            session.execute(
                delete(Notification)
                .where(Notification.id.in_(old_notifications.scalar_subquery()))
                .execution_options(synchronize_session=False)
            )
        ),
        account_emails=_count(
            session.execute(
                delete(AccountEmail)
                .where(AccountEmail.sent_at.is_not(None))
                .where(AccountEmail.sent_at < now - ACCOUNT_EMAILS_KEPT)
                .execution_options(synchronize_session=False)
            )
        ),
    )
