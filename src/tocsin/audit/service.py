from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from tocsin.audit.models import AuditEvent


@dataclass(frozen=True)
class Actor:
    """Who is making a change, as the audit log will name them."""

    label: str
    user_id: str | None = None
    ip: str | None = None


SYSTEM = Actor("system")
CLI = Actor("cli")


def record(
    session: Session,
    *,
    actor: Actor,
    action: str,
    page_id: str | None,
    object_type: str,
    object_id: str | None,
    changes: dict[str, Any] | None = None,
) -> AuditEvent:
    event = AuditEvent(
        page_id=page_id,
        user_id=actor.user_id,
        actor=actor.label,
        action=action,
        object_type=object_type,
        object_id=object_id,
        changes=changes or {},
        ip=actor.ip,
    )
    session.add(event)
    return event


def list_events(session: Session, *, page_id: str | None, limit: int = 100) -> list[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.created_at.desc()).limit(limit)
    if page_id is not None:
        query = query.where(AuditEvent.page_id == page_id)
    return list(session.scalars(query))


@dataclass(frozen=True)
class EventFilter:
    """Which of a page's events to show; None matches anything. `until` is exclusive."""

    actor: str | None = None
    action: str | None = None
    object_type: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class Facets:
    """The distinct actors, actions and object types in a page's log, for filter choices."""

    actors: list[str]
    actions: list[str]
    object_types: list[str]


def find_events(
    session: Session, *, page_id: str, where: EventFilter, offset: int = 0, limit: int = 50
) -> list[AuditEvent]:
    """A page's events matching `where`, newest first."""
    query = (
        _filtered(select(AuditEvent), page_id, where)
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return list(session.scalars(query))


def facets(session: Session, *, page_id: str, limit: int = 500) -> Facets:
    def distinct(column: InstrumentedAttribute[str]) -> list[str]:
        query = (
            select(column)
            .where(AuditEvent.page_id == page_id)
            .distinct()
            .order_by(column)
            .limit(limit)
        )
        return list(session.scalars(query))

    return Facets(
        actors=distinct(AuditEvent.actor),
        actions=distinct(AuditEvent.action),
        object_types=distinct(AuditEvent.object_type),
    )


def _filtered(
    query: Select[tuple[AuditEvent]], page_id: str, where: EventFilter
) -> Select[tuple[AuditEvent]]:
    query = query.where(AuditEvent.page_id == page_id)
    if where.actor is not None:
        query = query.where(AuditEvent.actor == where.actor)
    if where.action is not None:
        query = query.where(AuditEvent.action == where.action)
    if where.object_type is not None:
        query = query.where(AuditEvent.object_type == where.object_type)
    if where.since is not None:
        query = query.where(AuditEvent.created_at >= where.since)
    if where.until is not None:
        query = query.where(AuditEvent.created_at < where.until)
    return query
