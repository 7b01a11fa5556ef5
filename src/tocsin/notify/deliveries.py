"""The delivery log: which notification went to whom, and how it went. Read-only."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session

from tocsin.notify import service as subscribers
from tocsin.notify.models import Delivery, DeliveryStatus, Notification, Subscriber


@dataclass(frozen=True)
class LogFilter:
    """Which deliveries of a page: one incident's, to addresses containing `q`, in a status."""

    page_id: str
    incident_id: str | None = None
    q: str | None = None
    status: DeliveryStatus | None = None


@dataclass(frozen=True)
class LogEntry:
    delivery: Delivery
    subscriber: Subscriber
    notification: Notification


def list_deliveries(
    session: Session, *, where: LogFilter, offset: int, limit: int
) -> list[LogEntry]:
    """One page of matching deliveries, newest first (ties broken by id, so pages are stable)."""
    query = (
        select(Delivery, Subscriber, Notification)
        .join(Notification, Delivery.notification_id == Notification.id)
        .join(Subscriber, Delivery.subscriber_id == Subscriber.id)
        .where(_matching(where))
        .order_by(Delivery.created_at.desc(), Delivery.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return [LogEntry(d, s, n) for d, s, n in session.execute(query)]


def count_by_status(session: Session, *, where: LogFilter) -> dict[str, int]:
    """Matching deliveries per status, every status present; `where.status` is ignored."""
    everything = LogFilter(page_id=where.page_id, incident_id=where.incident_id, q=where.q)
    query = (
        select(Delivery.status, func.count())
        .join(Notification, Delivery.notification_id == Notification.id)
        .join(Subscriber, Delivery.subscriber_id == Subscriber.id)
        .where(_matching(everything))
        .group_by(Delivery.status)
    )
    counts = {status.value: 0 for status in DeliveryStatus}
    counts.update({status.value: n for status, n in session.execute(query)})
    return counts


def _matching(where: LogFilter) -> ColumnElement[bool]:
    # Both sides carry the page: a delivery is shown only if its notification and its
    # subscriber belong to the page asked for.
    clauses = [Notification.page_id == where.page_id, Subscriber.page_id == where.page_id]
    if where.incident_id is not None:
        clauses.append(Notification.incident_id == where.incident_id)
    if where.status is not None:
        clauses.append(Delivery.status == where.status)
    if where.q:
        clauses.append(subscribers.address_contains(where.q))
    return and_(*clauses)
