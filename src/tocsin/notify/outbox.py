"""Writing notifications into the outbox, in the caller's transaction.

The change and its delivery rows commit together or not at all: nothing is sent
from here, and nothing is lost between the change and the send.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, literal, select
from sqlalchemy.orm import Session

from tocsin.components.models import Component
from tocsin.components.status import overall_status
from tocsin.db import utcnow
from tocsin.incidents.models import Incident, IncidentUpdate
from tocsin.incidents.status import CLOSED_STATUSES, IncidentKind, IncidentStatus
from tocsin.notify import service as subscribers
from tocsin.notify.models import (
    Delivery,
    DeliveryStatus,
    Notification,
    NotificationKind,
    Subscriber,
)
from tocsin.pages.models import Page


def kind_of_update(incident: Incident, update: IncidentUpdate, *, first: bool) -> NotificationKind:
    """What an update means to a subscriber: opened, moved on, or closed."""
    if incident.kind is IncidentKind.MAINTENANCE:
        if first:
            return NotificationKind.MAINTENANCE_SCHEDULED
        if update.status is IncidentStatus.COMPLETED:
            return NotificationKind.MAINTENANCE_COMPLETED
        if update.status is IncidentStatus.IN_PROGRESS:
            return NotificationKind.MAINTENANCE_STARTED
        return NotificationKind.MAINTENANCE_UPDATED
    if first:
        return NotificationKind.INCIDENT_CREATED
    if update.status in CLOSED_STATUSES:
        return NotificationKind.INCIDENT_RESOLVED
    return NotificationKind.INCIDENT_UPDATED


def notify_update(
    session: Session,
    *,
    page: Page,
    incident: Incident,
    update: IncidentUpdate | None,
    kind: NotificationKind,
    now: datetime | None = None,
) -> Notification:
    """Record the notification and one pending delivery per subscriber it concerns.

    Subscribers are chosen by the incident's components (a group subscription covers
    its children; no components means the whole page) plus the incident's own.
    """
    component_ids = [link.component_id for link in incident.components]
    notification = _record(session, page, incident, update, kind, now)
    audience = subscribers.subscribers_query(
        page_id=page.id,
        covering_ids=subscribers.covering_ids(session, page.id, component_ids),
        incident_id=incident.id,
    )
    _fan_out(session, notification, audience.with_only_columns(Subscriber.id), now)
    return notification


def notify_subscriber(
    session: Session,
    *,
    page: Page,
    subscriber: Subscriber,
    kind: NotificationKind,
    extra: dict[str, Any],
    now: datetime | None = None,
) -> Notification:
    """A message for one subscriber only, such as the confirmation of a new subscription."""
    notification = Notification(
        page_id=page.id,
        kind=kind,
        payload={"page": page_payload(page), **extra},
        created_at=now or utcnow(),
    )
    session.add(notification)
    session.flush()
    session.add(
        Delivery(
            notification_id=notification.id,
            subscriber_id=subscriber.id,
            status=DeliveryStatus.PENDING,
            next_attempt_at=now or utcnow(),
        )
    )
    return notification


def _record(
    session: Session,
    page: Page,
    incident: Incident,
    update: IncidentUpdate | None,
    kind: NotificationKind,
    now: datetime | None,
) -> Notification:
    notification = Notification(
        page_id=page.id,
        incident_id=incident.id,
        update_id=update.id if update else None,
        kind=kind,
        payload=incident_payload(session, page, incident, update),
        created_at=now or utcnow(),
    )
    session.add(notification)
    session.flush()
    return notification


def _fan_out(
    session: Session, notification: Notification, audience: Any, now: datetime | None
) -> None:
    # One INSERT … SELECT whatever the audience's size: a million rows never pass
    # through Python, and they commit with the change that caused them.
    rows = audience.subquery()
    columns = select(
        literal(notification.id),
        rows.c.id,
        literal(DeliveryStatus.PENDING.value),
        literal(0),
        literal(now or utcnow(), type_=Delivery.__table__.c.next_attempt_at.type),
        literal(now or utcnow(), type_=Delivery.__table__.c.created_at.type),
    ).distinct()
    session.execute(
        insert(Delivery).from_select(
            [
                "notification_id",
                "subscriber_id",
                "status",
                "attempts",
                "next_attempt_at",
                "created_at",
            ],
            columns,
        )
    )


def page_payload(page: Page, session: Session | None = None) -> dict[str, Any]:
    """The page as a message names it; with a session, also its overall status now."""
    payload: dict[str, Any] = {
        "id": page.id,
        "name": page.name,
        "url": page.url,
        "time_zone": page.time_zone,
        "accent_color": page.accent_color,
        "logo_url": page.logo_url,
    }
    if session is not None:
        leaves = session.scalars(
            select(Component.status).where(Component.page_id == page.id, ~Component.is_group)
        )
        indicator, description = overall_status(list(leaves))
        payload["status_indicator"] = indicator.value
        payload["status_description"] = description
    return payload


def incident_payload(
    session: Session, page: Page, incident: Incident, update: IncidentUpdate | None
) -> dict[str, Any]:
    """Everything a channel needs to word the message, as it stands now."""
    names = _component_names(session, page.id)
    history = sorted(incident.updates, key=lambda u: (u.display_at, u.created_at), reverse=True)
    return {
        "page": page_payload(page, session),
        "incident": {
            "id": incident.id,
            "kind": incident.kind.value,
            "name": incident.name,
            "status": incident.status.value,
            "impact": incident.impact.value,
            "created_at": _iso(incident.created_at),
            "updated_at": _iso(incident.updated_at),
            "started_at": _iso(incident.started_at),
            "monitoring_at": _iso(incident.monitoring_at),
            "resolved_at": _iso(incident.resolved_at),
            "scheduled_for": _iso(incident.scheduled_for),
            "scheduled_until": _iso(incident.scheduled_until),
            "writeup_url": incident.writeup_url,
            "has_postmortem": incident.postmortem_body is not None,
            "components": [
                {
                    "id": link.component_id,
                    "name": names.get(link.component_id, ""),
                    "status": (link.status or "operational"),
                }
                for link in incident.components
            ],
        },
        "update": None if update is None else _update_payload(update, names),
        "updates": [_update_payload(item, names) for item in history],
    }


def _update_payload(update: IncidentUpdate, names: dict[str, str]) -> dict[str, Any]:
    return {
        "id": update.id,
        "status": update.status.value,
        "body": update.body,
        "display_at": _iso(update.display_at),
        "created_at": _iso(update.created_at),
        "affected_components": [
            {
                "code": change.component_id,
                "name": names.get(change.component_id, ""),
                "old_status": change.old_status.value,
                "new_status": change.new_status.value,
            }
            for change in update.changes
        ],
    }


def _component_names(session: Session, page_id: str) -> dict[str, str]:
    """Each component's display name; a grouped one reads "Group - Component" as on Statuspage."""
    group = select(Component.id, Component.name).where(Component.page_id == page_id).subquery()
    rows = session.execute(
        select(Component.id, Component.name, group.c.name)
        .outerjoin(group, group.c.id == Component.group_id)
        .where(Component.page_id == page_id)
    )
    return {cid: f"{gname} - {name}" if gname else name for cid, name, gname in rows}


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def delivery_counts(session: Session, *, notification_ids: list[str]) -> dict[str, dict[str, int]]:
    """Pending, sending, sent and failed counts for each notification."""
    counts: dict[str, dict[str, int]] = {
        nid: {status.value: 0 for status in DeliveryStatus} for nid in notification_ids
    }
    rows = session.execute(
        select(Delivery.notification_id, Delivery.status, func.count())
        .where(Delivery.notification_id.in_(notification_ids))
        .group_by(Delivery.notification_id, Delivery.status)
    )
    for nid, status, count in rows:
        counts[nid][status.value] = count
    return counts
