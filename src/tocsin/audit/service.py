from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

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
